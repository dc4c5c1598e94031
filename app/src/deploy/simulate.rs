//! Simulated devices for a plan: every NodeMCU device group (a NodeMCU template's hardwareIds
//! with its topics) gets a fleet of virtual NodeMCUs on the embedded broker, and the plan's
//! `pubSubServer` inputs point at that broker. Device state lives under the data dir, per
//! instance, so an undeploy after a restart finds the devices as they were.

use super::DeployOptions;
use super::services::Services;
use provisio_engines::drivers::nodemcu::parse_hardware_ids;
use provisio_engines::engine::instance::InstanceState;
use provisio_engines::events::{EventSink, Level};
use provisio_firmware::agent::runner::BrokerAddr;
use provisio_firmware::{Fleet, FleetConfig, FleetHandle};
use provisio_model::plan::{InputSource, Plan};
use std::collections::BTreeMap;
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

pub async fn start_fleets(
    plan: &mut Plan,
    keys: &[Option<&'static str>],
    services: &Services,
    opts: &DeployOptions,
    instance: &InstanceState,
    events: &EventSink,
) -> Result<Vec<FleetHandle>, String> {
    let addr = match (&opts.simulated_broker, &services.broker) {
        (Some(external), _) => external.clone(),
        (None, Some(embedded)) => BrokerAddr {
            host: embedded.addr().ip().to_string(),
            port: embedded.addr().port(),
        },
        (None, None) => return Ok(Vec::new()),
    };
    let url = if addr.host.contains(':') {
        format!("tcp://[{}]:{}", addr.host, addr.port)
    } else {
        format!("tcp://{}:{}", addr.host, addr.port)
    };
    let mut groups: BTreeMap<String, (Vec<String>, String, String)> = BTreeMap::new();
    for (step, key) in plan.steps.iter_mut().zip(keys) {
        if *key != Some("nodemcu") {
            continue;
        }
        for i in &mut step.inputs {
            if i.name == "pubSubServer" {
                i.value = url.clone();
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
            .or_insert((ids, control, response));
    }
    // Device state belongs to the deployment that created it (undeploy reuses it).
    let sim_root = opts
        .data_dir
        .join("simulated")
        .join(instance_root(instance));
    let mut fleets = Vec::new();
    for (node, (ids, control, response)) in groups {
        let mut cfg = FleetConfig::new(
            ids.clone(),
            addr.clone(),
            control,
            response,
            sim_root.join(&node),
        );
        cfg.faults = opts.faults.clone();
        cfg.seed = opts.seed;
        let fleet = Fleet::spawn(cfg).map_err(|e| format!("simulated devices of {node}: {e}"))?;
        let expected = ids.iter().filter(|id| !fleet.faults(id).offline).count();
        // Connects are gated (64 at a time): large fleets get longer, 5 ms per device.
        let wait = Duration::from_secs(20).max(Duration::from_millis(5 * expected as u64));
        if !fleet.wait_online(expected, wait).await {
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
        fleets.push(fleet);
    }
    Ok(fleets)
}

/// Deploy and undeploy of one instance share its device state directory.
fn instance_root(instance: &InstanceState) -> String {
    instance.id.clone()
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
            // Values the stand-ins replace anyway, in a form the drivers accept.
            let value = match m.input.as_str() {
                "hardwareIds" => r#"["100001","100002","100003"]"#,
                "addresses" | "certificates" => r#"["simulated"]"#,
                "pubSubServer" => "tcp://127.0.0.1:1883",
                _ => "simulated",
            };
            inputs
                .entry(m.deploy_input.unwrap_or(m.input))
                .or_insert_with(|| value.to_string());
        }
    }
}

/// The stand-in for a plan's Raspberry Pi steps: a local sshd (this machine's LXC), the steps'
/// addresses and user pointed at it, and a driver configured to trust exactly its host key.
pub fn start_pi_standin(
    plan: &mut Plan,
    keys: &[Option<&'static str>],
    opts: &DeployOptions,
    instance: &InstanceState,
    aliases: &mut BTreeMap<String, String>,
) -> Result<
    Option<(
        provisio_engines::standin::SshdStandIn,
        provisio_engines::drivers::raspberry::RaspberryConfig,
    )>,
    String,
> {
    if !keys.contains(&Some("raspberry")) {
        return Ok(None);
    }
    let root = opts
        .data_dir
        .join("simulated")
        .join(instance_root(instance));
    let sshd = provisio_engines::standin::SshdStandIn::start(&root.join("pi-sshd"))?;
    let lxc_path = root.join("lxc");
    std::fs::create_dir_all(&lxc_path).map_err(|e| format!("{}: {e}", lxc_path.display()))?;
    let addresses = serde_json::to_string(&[sshd.address()]).unwrap_or_default();
    for (step, key) in plan.steps.iter_mut().zip(keys) {
        if *key != Some("raspberry") {
            continue;
        }
        for i in &mut step.inputs {
            match i.name.as_str() {
                "addresses" => {
                    aliases.extend(alias(&sshd.address(), &i.value));
                    i.value = addresses.clone()
                }
                "userName" => i.value = "root".into(),
                _ => {}
            }
        }
    }
    let config = provisio_engines::drivers::raspberry::RaspberryConfig {
        host_keys: provisio_engines::drivers::ssh::HostKeys::Pinned(vec![
            sshd.host_fingerprint.clone(),
        ]),
        key: Some(sshd.client_key.clone()),
        lxc_path: lxc_path.display().to_string(),
        default_config: provisio_engines::standin::standin_lxc_config(&root.join("pi-sshd"))?,
        timeout: Duration::from_secs(120),
    };
    Ok(Some((sshd, config)))
}

/// The stand-in for a plan's MICA steps: the MICA emulator, with the steps' addresses,
/// credentials and pinned certificates pointed at it.
pub async fn start_mica_standin(
    plan: &mut Plan,
    keys: &[Option<&'static str>],
    opts: &DeployOptions,
    instance: &InstanceState,
    aliases: &mut BTreeMap<String, String>,
) -> Result<Option<provisio_engines::mica_emulator::MicaEmulator>, String> {
    if !keys.contains(&Some("mica")) {
        return Ok(None);
    }
    let root = opts
        .data_dir
        .join("simulated")
        .join(instance_root(instance))
        .join("mica");
    let emu =
        provisio_engines::mica_emulator::MicaEmulator::start("admin", "simulated", root, 8 << 30)
            .await?;
    let addresses = serde_json::to_string(&[emu.url()]).unwrap_or_default();
    let certs = serde_json::to_string(std::slice::from_ref(&emu.cert_pem)).unwrap_or_default();
    for (step, key) in plan.steps.iter_mut().zip(keys) {
        if *key != Some("mica") {
            continue;
        }
        for i in &mut step.inputs {
            match i.name.as_str() {
                "addresses" => {
                    aliases.extend(alias(&emu.url(), &i.value));
                    i.value = addresses.clone()
                }
                "certificates" => i.value = certs.clone(),
                "userName" => i.value = "admin".into(),
                "userPassword" => i.value = "simulated".into(),
                _ => {}
            }
        }
    }
    Ok(Some(emu))
}

/// The pair (stand-in, first address of the template's list).
fn alias(standin: &str, original_list: &str) -> Option<(String, String)> {
    serde_json::from_str::<Vec<String>>(original_list)
        .ok()
        .and_then(|l| l.into_iter().next())
        .map(|first| (standin.to_string(), first))
}
