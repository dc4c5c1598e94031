//! Simulated devices for a plan: every NodeMCU device group (a NodeMCU template's hardwareIds
//! with its topics) gets a fleet of virtual NodeMCUs on the embedded broker, and the plan's
//! `pubSubServer` inputs point at that broker. Device state lives under the data dir, per
//! instance, so an undeploy after a restart finds the devices as they were.

use super::DeployOptions;
use super::services::Services;
use super::sim_connections::HostMap;
use provisio_engines::drivers::nodemcu::parse_hardware_ids;
use provisio_engines::engine::instance::InstanceState;
use provisio_engines::events::{EventSink, Level};
use provisio_firmware::agent::runner::parse_broker_url;
use provisio_firmware::{Fleet, FleetConfig, FleetHandle, OnlineGauge};
use provisio_model::plan::{InputSource, Plan};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// The node whose devices a step addresses: where its hardwareIds came from.
pub fn device_node(step: &provisio_model::plan::Step) -> String {
    step.inputs
        .iter()
        .find(|i| i.name == "hardwareIds")
        .and_then(|i| match &i.source {
            InputSource::Host(h) => Some(h.clone()),
            _ => None,
        })
        .unwrap_or_else(|| step.node.clone())
}

/// Simulated device groups: their fleets, and for groups whose broker is a container of the
/// same deployment, the gate their first step waits at (see `await_devices`).
pub struct Fleets {
    pub fleets: Vec<FleetHandle>,
    pub gates: HashMap<String, (OnlineGauge, usize)>,
    /// The brokers the groups' devices use.
    pub brokers: Vec<String>,
}

/// Starts a fleet per device group. A group whose `pubSubServer` is on a simulated host
/// (`hosts`: a broker container of this deployment) connects to that container once it runs;
/// every other group uses the embedded broker. On an error the fleets started so far are
/// stopped (and done writing their state) before it returns.
pub async fn start_fleets(
    plan: &mut Plan,
    keys: &[Option<&'static str>],
    services: &Services,
    opts: &DeployOptions,
    instance: &InstanceState,
    hosts: &HostMap,
    events: &EventSink,
) -> Result<Fleets, String> {
    let mut out = Fleets {
        fleets: Vec::new(),
        gates: HashMap::new(),
        brokers: Vec::new(),
    };
    match spawn_groups(
        plan, keys, services, opts, instance, hosts, events, &mut out,
    )
    .await
    {
        Ok(()) => Ok(out),
        Err(e) => {
            for f in out.fleets {
                f.shutdown().await;
            }
            Err(e)
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn spawn_groups(
    plan: &mut Plan,
    keys: &[Option<&'static str>],
    services: &Services,
    opts: &DeployOptions,
    instance: &InstanceState,
    hosts: &HostMap,
    events: &EventSink,
    out: &mut Fleets,
) -> Result<(), String> {
    // The broker of groups outside the topology: the embedded one, or one given (the bench's
    // Mosquitto in its own process).
    let embedded = match (&opts.simulated_broker, &services.broker) {
        (Some(external), _) if external.host.contains(':') => {
            format!("tcp://[{}]:{}", external.host, external.port)
        }
        (Some(external), _) => format!("tcp://{}:{}", external.host, external.port),
        (None, Some(b)) => b.url(),
        (None, None) => return Ok(()),
    };
    let mut groups: BTreeMap<String, (Vec<String>, String, String, String)> = BTreeMap::new();
    for (step, key) in plan.steps.iter_mut().zip(keys) {
        if *key != Some("nodemcu") {
            continue;
        }
        let mut url = embedded.clone();
        for i in &mut step.inputs {
            if i.name == "pubSubServer" {
                i.value = super::sim_connections::broker_url(&i.value, hosts, Some(&embedded));
                url = i.value.clone();
            }
        }
        // The embedded broker is plain TCP and anonymous: the real broker's TLS settings and
        // credentials do not apply to it.
        step.inputs.retain(|i| {
            !provisio_engines::drivers::nodemcu::security::INPUTS.contains(&i.name.as_str())
        });
        let ids = parse_hardware_ids(step.input("hardwareIds").unwrap_or("[]"))?;
        let control = step.input("controlTopic").unwrap_or("control").to_string();
        let response = step
            .input("responseTopic")
            .unwrap_or("response")
            .to_string();
        groups
            .entry(device_node(step))
            .or_insert((ids, control, response, url));
    }
    // Device state belongs to the deployment that created it (undeploy reuses it).
    let sim_root = super::sim_hosts::sim_root(opts, instance);
    for (node, (ids, control, response, url)) in groups {
        let (addr, _) = parse_broker_url(&url).map_err(|e| format!("{node}: {e}"))?;
        let in_topology = url != embedded;
        if !out.brokers.contains(&url) {
            out.brokers.push(url.clone());
        }
        let mut cfg = FleetConfig::new(ids.clone(), addr, control, response, sim_root.join(&node));
        cfg.faults = opts.faults.clone();
        cfg.seed = opts.seed;
        let fleet = Fleet::spawn(cfg).map_err(|e| format!("simulated devices of {node}: {e}"))?;
        let expected = ids.iter().filter(|id| !fleet.faults(id).offline).count();
        // Connects are gated (64 at a time): large fleets get longer, 5 ms per device.
        let wait = Duration::from_secs(20).max(Duration::from_millis(5 * expected as u64));
        if in_topology {
            // The broker container starts during the deploy: the group's first step waits.
            out.gates
                .insert(node.clone(), (fleet.online_gauge(), expected));
        } else if !fleet.wait_online(expected, wait).await {
            events.log(
                Level::Warn,
                Some(&node),
                format!(
                    "only {} of {expected} simulated devices came online",
                    fleet.online()
                ),
            );
        }
        events.log(
            Level::Info,
            Some(&node),
            format!("{} simulated NodeMCU(s) on {url}", ids.len()),
        );
        out.fleets.push(fleet);
    }
    Ok(())
}

/// With simulated devices, deploy inputs nobody gave (passwords of stand-in hosts) get a
/// placeholder: the stand-ins do not check them.
pub fn fill_missing_inputs(
    lib: &provisio_model::Library,
    st: &provisio_model::tosca::ServiceTemplate,
    inputs: &mut BTreeMap<String, String>,
    undeploy: bool,
) {
    let plan = if undeploy {
        provisio_model::plan::build_open_undeploy_plan(lib, st, inputs)
    } else {
        provisio_model::plan::build_open_deploy_plan(lib, st, inputs)
    };
    if let Ok((_, missing)) = plan {
        for m in missing {
            let key = m.deploy_input.unwrap_or(m.input.clone());
            // Values the stand-ins replace anyway, in a form the drivers accept. Addresses
            // differ by input: two Pis whose addresses are two inputs are two simulated hosts.
            let value = match m.input.as_str() {
                "hardwareIds" => r#"["100001","100002","100003"]"#.to_string(),
                "addresses" => serde_json::json!([format!("simulated-{key}")]).to_string(),
                "certificates" => r#"["simulated"]"#.to_string(),
                "pubSubServer" => "tcp://127.0.0.1:1883".to_string(),
                _ => "simulated".to_string(),
            };
            inputs.entry(key).or_insert(value);
        }
    }
}
