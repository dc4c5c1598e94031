//! Deploying from the application: one path for the CLI and the GUI. Builds the plan, serves
//! artifacts, starts the embedded broker and simulated devices when asked, and runs the very
//! same engine for simulated and real devices.

pub mod artifacts;
pub mod await_devices;
pub mod image_use;
pub mod lease;
pub mod listing;
pub mod readings;
pub mod recover;
pub mod services;
pub mod sim_connections;
pub mod sim_hosts;
pub mod simulate;

use provisio_engines::drivers::nodemcu::{NodeMcuConfig, NodeMcuDriver};
use provisio_engines::drivers::raspberry::{RaspberryConfig, RaspberryDriver};
use provisio_engines::drivers::ssh::HostKeys;
use provisio_engines::engine::driver::{DriverRegistry, ServedArtifact, driver_keys};
use provisio_engines::engine::instance::InstanceState;
use provisio_engines::engine::run::{PreparedStep, RunOptions, run_plan};
use provisio_engines::events::{EventSink, Level};
use provisio_firmware::{FaultSpec, FleetHandle};
use provisio_model::Loaded;
use provisio_model::plan::{
    Plan, PlanError, build_deploy_plan, build_undeploy_plan, is_secret_name,
};
use provisio_model::tosca::ServiceTemplate;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// How to deploy.
#[derive(Debug, Clone)]
pub struct DeployOptions {
    /// Simulated devices: embedded broker, fleet simulator, local stand-ins.
    pub simulate: bool,
    /// Faults for simulated devices.
    pub faults: Vec<FaultSpec>,
    pub seed: u64,
    /// Where instances and simulated device state live.
    pub data_dir: PathBuf,
    /// Host name or IP devices use to reach the artifact server (default 127.0.0.1 when
    /// simulating, else this machine's address must be given for real devices).
    pub artifact_host: Option<String>,
    pub nodemcu: NodeMcuConfig,
    pub max_parallel: usize,
    /// Trust SSH host keys seen for the first time (and remember them in known_hosts).
    pub accept_new_host_keys: bool,
    /// Where devices fetch artifacts instead of the engine's server (a CDN or caching proxy
    /// that serves the same paths); a NodeMCU template's `artifactBaseUrl` takes precedence.
    pub artifact_base_url: Option<String>,
    /// Skip the validation gate. Only for tests that prove each deploy check predicts a real
    /// failure; no command or button sets it.
    pub skip_checks: bool,
    /// With `simulate`: connect the simulated devices and the engine to this broker instead of
    /// the embedded one (e.g. a Mosquitto in its own process, so 10,000 devices and their
    /// broker-side connections do not share one process's open-files limit).
    pub simulated_broker: Option<provisio_firmware::agent::runner::BrokerAddr>,
}

impl DeployOptions {
    pub fn new(data_dir: PathBuf, simulate: bool) -> Self {
        DeployOptions {
            simulate,
            faults: Vec::new(),
            seed: 0,
            data_dir,
            artifact_host: None,
            nodemcu: NodeMcuConfig::default(),
            max_parallel: 8,
            accept_new_host_keys: false,
            skip_checks: false,
            artifact_base_url: None,
            simulated_broker: None,
        }
    }

    pub fn instances_dir(&self) -> PathBuf {
        self.data_dir.join("instances")
    }
}

pub use crate::data_dir::default_data_dir;

/// Where a NodeMCU device group is reached behind an edge gateway (decisions.md, Gateways).
#[derive(Debug, Clone, Default)]
struct Gateway {
    /// Where the engine publishes and listens (else the devices' `pubSubServer`).
    engine_broker: Option<String>,
    /// Where devices fetch artifacts (a caching proxy), else the engine's artifact server.
    artifact_base_url: Option<String>,
    /// Topic on the engine's broker where the gateway's bridge reports its connection (`1`/`0`).
    status_topic: Option<String>,
}

/// The gateway settings of the device group a NodeMCU step addresses: the `engineBroker` and
/// `artifactBaseUrl` properties of the node its hardwareIds come from, else `--artifact-base-url`.
fn gateway_of(
    st: &ServiceTemplate,
    step: &provisio_model::plan::Step,
    opts: &DeployOptions,
) -> Gateway {
    let node = simulate::device_node(step);
    let prop = |k: &str| {
        st.topology
            .node(&node)
            .and_then(|n| n.property(k))
            .map(str::trim)
            .filter(|v| !v.is_empty() && provisio_model::tosca::properties::input_name(v).is_none())
            .map(str::to_string)
    };
    Gateway {
        engine_broker: prop("engineBroker"),
        artifact_base_url: prop("artifactBaseUrl").or_else(|| opts.artifact_base_url.clone()),
        status_topic: prop("gatewayStatusTopic"),
    }
}

/// Why a deployment could not start.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("{0}")]
    Plan(#[from] PlanError),
    #[error("{0}")]
    Setup(String),
    /// The instance is undeployed already: nothing was touched.
    #[error("instance {} is already undeployed; nothing to do", .0.id)]
    AlreadyUndeployed(Box<InstanceState>),
    /// Validation found errors: nothing ran, no instance was created.
    #[error("{} error(s) in the topology; nothing was deployed:\n{}", .0.len(), .0.iter().map(|d| format!("  {d}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<provisio_model::Diagnostic>),
}

/// The validation errors that stop `st` from deploying (the same checks the editor shows).
pub fn deploy_blockers(loaded: &Loaded, st: &ServiceTemplate) -> Vec<provisio_model::Diagnostic> {
    let file = loaded
        .library
        .service_templates()
        .into_iter()
        .find(|(_, s)| s.qname() == st.qname())
        .map(|(f, _)| loaded.library.file(f).path.clone());
    crate::validation::validate_all(loaded, st, file)
        .into_iter()
        .filter(|d| d.is_error())
        .collect()
}

/// A finished (or failed) run, with the simulated fleets still running (the GUI keeps them,
/// the CLI shuts them down).
pub struct DeployOutcome {
    pub instance: InstanceState,
    pub fleets: Vec<FleetHandle>,
    /// Simulated stand-ins (sshd, MICA emulator) of this run: they stop when dropped, so a
    /// caller that keeps the simulated system running (`deploy --watch`, the GUI) holds them.
    pub stand_ins: Vec<Box<dyn std::any::Any + Send>>,
    /// The brokers the simulated devices publish to (the embedded one, or a broker container
    /// of the deployment), for watching their readings.
    pub device_brokers: Vec<String>,
}

/// The deploy inputs an instance file (or the GUI's remembered inputs) may keep: not of a
/// secret name, not read by a property of a secret name anywhere in the topology
/// (`ccuPassword: get_input: ccu`, whether or not a step uses it), and not feeding a secret of
/// the plan under another name (`powerfoxPassword: get_input: pf`). Without a plan (it could
/// not be built) the first two rules still apply.
pub fn non_secret(
    inputs: &BTreeMap<String, String>,
    st: &ServiceTemplate,
    plan: Option<&Plan>,
) -> BTreeMap<String, String> {
    let read_by_secret = secret_properties_inputs(st);
    let feeds_secret = |name: &str| {
        plan.into_iter().flat_map(|p| &p.steps).flat_map(|s| &s.inputs).any(|i| {
            i.secret && matches!(&i.source, provisio_model::plan::InputSource::DeployInput(n) if n == name)
        })
    };
    inputs
        .iter()
        .filter(|(k, _)| !is_secret_name(k) && !read_by_secret.contains(*k) && !feeds_secret(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The deploy inputs that a property of a secret name reads (`get_input: NAME`), on any node
/// or relationship template of `st`.
fn secret_properties_inputs(st: &ServiceTemplate) -> std::collections::BTreeSet<String> {
    let nodes = st.topology.node_templates.iter().map(|n| &n.properties);
    let relationships = st
        .topology
        .relationship_templates
        .iter()
        .map(|r| &r.properties);
    nodes
        .chain(relationships)
        .flatten()
        .flat_map(|p| p.inputs())
        .filter(|(k, _)| is_secret_name(k))
        .map(|(_, input)| input)
        .collect()
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Deploys `st` of `loaded`.
pub async fn deploy(
    loaded: &Loaded,
    st: &ServiceTemplate,
    inputs: &BTreeMap<String, String>,
    opts: &DeployOptions,
    events: EventSink,
    cancel: CancellationToken,
) -> Result<DeployOutcome, DeployError> {
    let blockers = if opts.skip_checks {
        Vec::new()
    } else {
        deploy_blockers(loaded, st)
    };
    if !blockers.is_empty() {
        return Err(DeployError::Invalid(blockers));
    }
    let mut inputs = inputs.clone();
    if opts.simulate {
        simulate::fill_missing_inputs(&loaded.library, st, &mut inputs, false);
    }
    let inputs = &inputs;
    let plan = build_deploy_plan(&loaded.library, st, inputs)?;
    // The instance keeps the exact definitions it deploys (undeploy needs no source file).
    let snapshot = artifacts::export_csar(loaded, st)
        .map_err(|e| DeployError::Setup(format!("cannot snapshot the definitions: {e}")))?;
    let instance = InstanceState {
        id: InstanceState::new_id(&st.id),
        source: std::fs::canonicalize(&loaded.path).unwrap_or_else(|_| loaded.path.clone()),
        service_template: st.qname().to_string(),
        created: now_secs(),
        simulated: opts.simulate,
        inputs: non_secret(inputs, st, Some(&plan)),
        steps: Vec::new(),
        devices: BTreeMap::new(),
        phase: "new".into(),
    };
    let dir = opts.instances_dir();
    std::fs::create_dir_all(&dir)
        .map_err(|e| DeployError::Setup(format!("{}: {e}", dir.display())))?;
    log_swept(&opts.data_dir, &events);
    // Until the plan runs, a failed or dropped deploy leaves nothing (no network, snapshot or
    // simulated state), and a killed one is recognised by the next start (`recover`).
    let mut lease = lease::Lease::acquire(&dir, &instance.id)
        .map_err(DeployError::Setup)?
        .for_setup(&opts.data_dir);
    let snap = InstanceState::snapshot_in(&dir, &instance.id);
    provisio_model::save::write_atomic(&snap, &snapshot.bytes)
        .map_err(|e| DeployError::Setup(format!("{}: {e}", snap.display())))?;
    let out = run(
        loaded,
        st,
        plan,
        instance,
        opts,
        events,
        cancel,
        Some(&mut lease),
    )
    .await;
    // The fleets and stand-ins of a failed setup are stopped; the lease removes the rest.
    drop(lease);
    out
}

/// Removes what deploys interrupted during setup left under `data_dir` (see `recover`), saying
/// so in the log.
fn log_swept(data_dir: &std::path::Path, events: &EventSink) {
    for s in recover::sweep(data_dir) {
        events.log(Level::Warn, None, s.to_string());
    }
}

/// Undeploys the instance `id` (its topology is read again from where it came from).
pub async fn undeploy(
    id: &str,
    extra_inputs: &BTreeMap<String, String>,
    opts: &DeployOptions,
    events: EventSink,
    cancel: CancellationToken,
) -> Result<DeployOutcome, DeployError> {
    let dir = opts.instances_dir();
    log_swept(&opts.data_dir, &events);
    let mut instance =
        InstanceState::load(&dir, id).map_err(|e| DeployError::Setup(e.to_string()))?;
    if instance.phase == "undeployed" {
        return Err(DeployError::AlreadyUndeployed(Box::new(instance)));
    }
    let _lease = lease::Lease::acquire(&dir, id).map_err(DeployError::Setup)?;
    let snapshot = InstanceState::snapshot_in(&dir, id);
    let loaded = if snapshot.is_file() {
        crate::library::open_with_builtin(&snapshot)
            .map_err(|e| DeployError::Setup(format!("snapshot of {id}: {e}")))?
    } else if instance.source.as_os_str() == "builtin" {
        crate::library::builtin_loaded()
    } else {
        crate::library::open_with_builtin(&instance.source)
            .map_err(|e| DeployError::Setup(e.to_string()))?
    };
    let q = provisio_model::QName::parse(&instance.service_template).map_err(DeployError::Setup)?;
    let st = loaded
        .library
        .service_template(&q)
        .cloned()
        .ok_or_else(|| {
            DeployError::Setup(format!(
                "{} no longer defines {}",
                instance.source.display(),
                q
            ))
        })?;
    let mut inputs = instance.inputs.clone();
    inputs.extend(extra_inputs.clone());
    if instance.simulated {
        simulate::fill_missing_inputs(&loaded.library, &st, &mut inputs, true);
    }
    let plan = build_undeploy_plan(&loaded.library, &st, &inputs)?;
    let mut opts = opts.clone();
    opts.simulate = instance.simulated;
    instance.phase = "undeploying".into();
    let mut out = run(
        &loaded,
        &st,
        plan,
        instance,
        &opts,
        events.clone(),
        cancel,
        None,
    )
    .await?;
    if out.instance.simulated && out.instance.phase == "undeployed" {
        // The simulated hosts and devices served their last undeploy: their network and
        // their state go too (a failed undeploy keeps both for its retry).
        out.stand_ins.clear();
        for f in std::mem::take(&mut out.fleets) {
            f.shutdown().await;
        }
        // `ip netns` calls and removing container trees, per host: off the async workers.
        let (data_dir, id) = (opts.data_dir.clone(), out.instance.id.clone());
        let removed =
            tokio::task::spawn_blocking(move || sim_hosts::remove_simulated(&data_dir, &id))
                .await
                .unwrap_or_else(|e| Err(format!("removing the simulated hosts: {e}")));
        if let Err(e) = removed {
            events.log(Level::Warn, None, e);
        }
    }
    Ok(out)
}

/// Sets up (simulated hosts, fleets, artifacts) and runs `plan`; `setup` is a deploy's lease,
/// told when the plan starts.
#[allow(clippy::too_many_arguments)]
async fn run(
    loaded: &Loaded,
    st: &ServiceTemplate,
    mut plan: Plan,
    instance: InstanceState,
    opts: &DeployOptions,
    events: EventSink,
    cancel: CancellationToken,
    setup: Option<&mut lease::Lease>,
) -> Result<DeployOutcome, DeployError> {
    let lib = &loaded.library;
    let services = services::get(opts.simulate)
        .await
        .map_err(DeployError::Setup)?;
    if let Some(note) = &services.broker_note {
        events.log(Level::Warn, None, note.clone());
    }
    if let (Some(b), None) = (&services.broker, &opts.simulated_broker) {
        events.log(
            Level::Info,
            None,
            format!("local broker: {} at {}", b.describe(), b.url()),
        );
    }
    // Simulation: the local broker replaces pubSubServer, a fleet stands in for the devices.
    let mut fleets = Vec::new();
    let mut registry = DriverRegistry::new();
    let mut raspberry = RaspberryConfig::default();
    if let HostKeys::KnownHosts { accept_new, .. } = &mut raspberry.host_keys {
        *accept_new = opts.accept_new_host_keys;
    }
    let mut standins: Vec<Box<dyn std::any::Any + Send>> = Vec::new();
    let mut aliases = BTreeMap::new();
    let keys = driver_keys(lib, &plan);
    let mut gates = std::collections::HashMap::new();
    let mut device_brokers = Vec::new();
    // Simulated hosts that could not start: their steps fail, never reaching real addresses.
    let mut unavailable: BTreeMap<&'static str, String> = BTreeMap::new();
    // The drivers of the simulated hosts: each step to its own host's stand-in.
    let mut simulated_drivers = Vec::new();
    if opts.simulate {
        let root = sim_hosts::sim_root(opts, &instance);
        let mut hosts = sim_connections::HostMap::new();
        let mut broker_url = None;
        let network = {
            let (keys, instance) = (keys.clone(), instance.clone());
            tokio::task::spawn_blocking(move || sim_hosts::network(&keys, &instance))
                .await
                .unwrap_or_else(|e| Some(Err(format!("{e}"))))
        };
        match network {
            None => {}
            // Without root/iproute2 the Pi and MICA steps fail with this reason; the rest runs.
            Some(Err(e)) => {
                let why = format!("no simulated hosts: {e}");
                events.log(Level::Error, None, why.clone());
                unavailable.insert("raspberry", why.clone());
                unavailable.insert("mica", why);
            }
            Some(Ok(net)) => {
                // Each Pi and MICA of the plan on a host of its own.
                let started = sim_hosts::start::start(&mut plan, &keys, &net, &root, &events).await;
                hosts = started.hosts;
                aliases = started.aliases;
                standins.extend(started.stand_ins);
                simulated_drivers = started.drivers;
                // Containers reach the embedded broker at the bridge.
                if let Some(b) = &services.broker {
                    match provisio_engines::simnet::forward((net.gateway, 0).into(), b.addr()).await
                    {
                        Ok(relay) => {
                            broker_url = Some(format!("tcp://{}", relay.addr()));
                            standins.push(Box::new(relay));
                        }
                        Err(e) => events.log(
                            Level::Warn,
                            None,
                            format!("containers cannot reach the embedded broker: {e}"),
                        ),
                    }
                }
            }
        }
        let started =
            simulate::start_fleets(&mut plan, &keys, services, opts, &instance, &hosts, &events)
                .await
                .map_err(DeployError::Setup)?;
        fleets = started.fleets;
        gates = started.gates;
        device_brokers = started.brokers;
        if let Err(e) = sim_connections::rewrite(&mut plan, &keys, &hosts, broker_url.as_deref()) {
            for f in fleets {
                f.shutdown().await;
            }
            return Err(DeployError::Setup(e));
        }
    }
    registry.insert(
        "mica",
        Arc::new(provisio_engines::drivers::mica::MicaDriver::default()),
    );
    registry.insert("raspberry", Arc::new(RaspberryDriver { config: raspberry }));
    for (key, driver) in simulated_drivers {
        registry.insert(key, Arc::new(driver));
    }
    for (key, why) in unavailable {
        registry.insert(key, Arc::new(sim_hosts::Unavailable(why)));
    }
    let nodemcu: Arc<dyn provisio_engines::engine::driver::Driver> = Arc::new(NodeMcuDriver {
        config: opts.nodemcu.clone(),
    });
    registry.insert(
        "nodemcu",
        if gates.is_empty() {
            nodemcu
        } else {
            Arc::new(await_devices::AwaitDevices {
                inner: nodemcu,
                gates,
            })
        },
    );
    let token = provisio_engines::artifact_server::new_token();
    let mut prepared = Vec::new();
    // The images the recipes became (recorded with the instance) and those built now.
    let mut images_used = std::collections::BTreeSet::new();
    let mut images_built = Vec::new();
    for (step, key) in plan.steps.iter_mut().zip(&keys) {
        let gateway = if *key == Some("nodemcu") {
            gateway_of(st, step, opts)
        } else {
            Gateway::default()
        };
        if let Some(b) = &gateway.engine_broker
            && !opts.simulate
        {
            // The engine publishes to the central broker; devices keep their pubSubServer.
            for i in step.inputs.iter_mut().filter(|i| i.name == "pubSubServer") {
                i.value = b.clone();
            }
        }
        if let Some(t) = &gateway.status_topic
            && !opts.simulate
        {
            // The driver reports the group offline as soon as the bridge says it is down.
            step.inputs.push(provisio_model::plan::ResolvedInput {
                name: "gatewayStatusTopic".into(),
                value: t.clone(),
                source: provisio_model::plan::InputSource::Host(simulate::device_node(step)),
                secret: false,
            });
        }
        let mut served: Vec<ServedArtifact> = Vec::new();
        for a in &step.artifacts {
            for file in &a.files {
                match artifacts::load_for_deploy_image(loaded, file, &events, &step.node).await {
                    Ok(found) => {
                        let bytes = found.bytes;
                        if let Some(image) = found.image {
                            if let Some(f) = image.file_name() {
                                images_used.insert(f.to_string_lossy().into_owned());
                            }
                            if found.built {
                                images_built.push(image);
                            }
                        }
                        let file_name = file.rsplit('/').next().unwrap_or(file).to_string();
                        let bytes = Arc::new(bytes);
                        // The origin always serves; behind a gateway cache devices fetch the
                        // same path from the cache's base URL.
                        let mut a_served =
                            services
                                .artifacts
                                .register(&token, &a.name, &file_name, bytes.clone());
                        if let Some(base) = &gateway.artifact_base_url {
                            a_served.url = provisio_engines::artifact_server::external(
                                base, &token, &a.name, &file_name, bytes,
                            )
                            .url;
                        }
                        served.push(a_served);
                    }
                    Err(why) => events.log(
                        Level::Warn,
                        Some(&step.node),
                        format!("artifact {}: {why}", a.name),
                    ),
                }
            }
        }
        prepared.push(PreparedStep {
            driver: key.map(str::to_string),
            artifacts: served,
        });
    }
    if let Some(lease) = setup {
        // Cancelled (Ctrl-C) before anything ran: the deploy leaves nothing, as if it failed.
        if cancel.is_cancelled() {
            services.artifacts.remove(&token);
            for f in fleets {
                f.shutdown().await;
            }
            return Err(DeployError::Setup(
                "cancelled before the plan ran; nothing was deployed".into(),
            ));
        }
        // The plan runs: whatever it does, the instance is recorded and its undeploy (or
        // `undeploy --force`) removes the network.
        lease.plan_runs();
        // Before the plan runs, so `provisio images prune` keeps them from now on.
        if let Err(e) = image_use::record(&opts.instances_dir(), &instance.id, &images_used) {
            events.log(Level::Warn, None, format!("container images used: {e}"));
        }
    }
    let run_opts = RunOptions {
        max_parallel: opts.max_parallel,
        state_dir: Some(opts.instances_dir()),
        device_aliases: aliases,
    };
    let instance = run_plan(
        &plan,
        prepared,
        &registry,
        instance,
        run_opts,
        events.clone(),
        cancel,
    )
    .await;
    if !images_built.is_empty() {
        // This deploy's record names its images: superseded ones nothing keeps can go.
        let data_dir = opts.data_dir.clone();
        let removed = tokio::task::spawn_blocking(move || {
            image_use::prune_superseded(&images_built, &data_dir)
        })
        .await
        .unwrap_or_default();
        for line in removed {
            events.log(Level::Info, None, line);
        }
    }
    services.artifacts.remove(&token);
    Ok(DeployOutcome {
        instance,
        fleets,
        stand_ins: standins,
        device_brokers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deploy input feeding a secret under a harmless name stays out of the instance file,
    /// also when it is the password of the CCU a poller takes the login of.
    #[test]
    fn instance_inputs_leave_out_whatever_feeds_a_secret() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/home_automation.tosca");
        let loaded = crate::library::open_with_builtin(&path).unwrap();
        let mut st = loaded
            .library
            .service_templates()
            .into_iter()
            .map(|(_, s)| s.clone())
            .find(|s| s.topology.node_templates.iter().any(|n| n.id == "Powerfox"))
            .unwrap();
        for n in st.topology.node_templates.iter_mut() {
            if n.id == "Powerfox" {
                n.properties
                    .as_mut()
                    .unwrap()
                    .set("powerfoxPassword", "get_input: pf");
            }
            if n.id == "CCU" {
                let p = n.properties.as_mut().unwrap();
                p.set("ccuUser", "admin");
                p.set("ccuPassword", "get_input: ccu");
            }
        }
        let inputs = BTreeMap::from([
            ("raspberryPassword".to_string(), "r".to_string()),
            ("ttnApiKey".to_string(), "k".to_string()),
            ("pf".to_string(), "pf-value".to_string()),
            ("ccu".to_string(), "ccu-value".to_string()),
            ("site".to_string(), "kitchen".to_string()),
        ]);
        let plan = build_deploy_plan(&loaded.library, &st, &inputs).unwrap();
        let poller = plan.steps.iter().find(|s| s.id == "Poller.configure");
        assert_eq!(
            poller.and_then(|s| s.input("ccuPassword")),
            Some("ccu-value")
        );
        let kept = non_secret(&inputs, &st, Some(&plan));
        assert_eq!(kept.keys().collect::<Vec<_>>(), ["site"], "{kept:?}");
        // The GUI remembers the same (raspberryPassword goes by its name when written).
        let remembered =
            crate::gui::deploy_panel::inputs_to_remember(&loaded.library, &st, &inputs);
        assert!(!remembered.contains_key("ccu") && !remembered.contains_key("pf"));
        assert!(remembered.contains_key("site"), "{remembered:?}");

        // The poller brings its own login: no step reads `ccu` any more, but the CCU's
        // password property still does, so it is kept nowhere; nor without a plan.
        for n in st.topology.node_templates.iter_mut() {
            if n.id == "Poller" {
                let p = n.properties.as_mut().unwrap();
                p.set("ccuUser", "poller");
                p.set("ccuPassword", "get_input: pollerPassword");
            }
        }
        let inputs = BTreeMap::from([
            ("pollerPassword".to_string(), "p".to_string()),
            ("raspberryPassword".to_string(), "r".to_string()),
            ("pf".to_string(), "pf-value".to_string()),
            ("ccu".to_string(), "ccu-value".to_string()),
            ("site".to_string(), "kitchen".to_string()),
        ]);
        let plan = build_deploy_plan(&loaded.library, &st, &inputs).unwrap();
        assert!(
            plan.steps
                .iter()
                .flat_map(|s| &s.inputs)
                .all(|i| i.value != "ccu-value"),
            "a step still reads the CCU's password"
        );
        for kept in [
            non_secret(&inputs, &st, Some(&plan)),
            non_secret(&inputs, &st, None),
        ] {
            assert_eq!(kept.keys().collect::<Vec<_>>(), ["site"], "{kept:?}");
        }
    }
}
