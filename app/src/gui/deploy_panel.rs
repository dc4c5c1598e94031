//! One-click deploy from the editor: validate, ask for deploy inputs, run the same engine as
//! `provisio deploy` on a background runtime (the UI never blocks), and turn its events into
//! canvas overlays, a step list, a per-device table and a log. Cancel and undeploy included.

use super::canvas::device_ids;
use super::state::{DeviceMarker, EditorState, NodeOverlay, NodeRun};
use crate::deploy::{DeployOptions, DeployOutcome, default_data_dir};
use provisio_engines::engine::instance::InstanceState;
use provisio_engines::events::{DeployEvent, DeviceState, EventSink, Level};
use provisio_firmware::{FaultSpec, FleetHandle};
use provisio_model::plan::{PlanError, build_deploy_plan, build_open_deploy_plan, is_secret_name};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

mod view;
pub use view::PanelRects;

/// A step as the panel shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct StepRow {
    pub id: String,
    pub node: String,
    pub state: NodeRun,
}

struct Running {
    cancel: CancellationToken,
    events: tokio::sync::mpsc::UnboundedReceiver<DeployEvent>,
    result: tokio::sync::oneshot::Receiver<Result<DeployOutcome, String>>,
    started: Instant,
    undeploy: bool,
    /// The run is of the topology on the canvas and of the panel's own deployment (its
    /// overlays show it); an undeploy started from the Instances window of another instance
    /// leaves them alone.
    on_canvas: bool,
    /// The run deploys, or undeploys the panel's instance: its outcome becomes the panel's
    /// instance. Undeploying another instance leaves it (and the canvas) alone.
    panel: bool,
    /// The run powered off the simulated devices of this window's last run (a deploy, or the
    /// undeploy of the instance they belong to): its own devices and stand-ins replace them.
    /// Another instance's undeploy leaves them running.
    took_fleets: bool,
}

/// The deploy panel's state.
pub struct DeployUi {
    runtime: Option<tokio::runtime::Runtime>,
    pub simulate: bool,
    /// Faults for simulated devices (e.g. `refuse-start@1361877`), from the panel or tests.
    pub faults: Vec<FaultSpec>,
    pub inputs: BTreeMap<String, String>,
    /// Inputs the user must still give before the deploy starts.
    pub asking: Option<Vec<String>>,
    /// Those of them that feed a secret (masked in the dialog), whatever their name.
    pub asking_secret: std::collections::BTreeSet<String>,
    running: Option<Running>,
    pub steps: Vec<StepRow>,
    pub log: Vec<(Level, String)>,
    pub instance: Option<InstanceState>,
    pub fleets: Vec<FleetHandle>,
    /// The instance `fleets` (and `stand_ins`) belong to.
    fleets_of: Option<String>,
    /// The simulated sshd/MICA stand-ins of the last run, kept while the window is open.
    pub stand_ins: Vec<Box<dyn std::any::Any + Send>>,
    pub elapsed: Option<Duration>,
    pub filter: String,
    pub open: bool,
    pub data_dir: std::path::PathBuf,
    /// Trust SSH host keys seen for the first time (the user's explicit choice).
    pub accept_new_host_keys: bool,
    /// Device table sort column: 0 node, 1 device, 2 state.
    pub sort: usize,
    /// Readings per device (seconds since the panel started, temperature).
    pub telemetry: BTreeMap<String, std::collections::VecDeque<[f64; 2]>>,
    telemetry_rx: Option<std::sync::mpsc::Receiver<(String, f64)>>,
    telemetry_started: Option<Instant>,
    telemetry_stop: Option<CancellationToken>,
    last_step_of: BTreeMap<String, String>,
    /// Where the panel drew its parts last frame (tests assert they never overlap).
    pub rects: PanelRects,
    /// The service template (`{ns}id`) whose run the steps, log and telemetry show: after a
    /// switch to another tab the panel says whose they are.
    pub run_of: Option<String>,
}

impl Default for DeployUi {
    fn default() -> Self {
        DeployUi {
            runtime: None,
            simulate: true,
            faults: Vec::new(),
            inputs: BTreeMap::new(),
            asking: None,
            asking_secret: Default::default(),
            running: None,
            steps: Vec::new(),
            log: Vec::new(),
            instance: None,
            fleets: Vec::new(),
            fleets_of: None,
            stand_ins: Vec::new(),
            elapsed: None,
            filter: String::new(),
            open: false,
            data_dir: default_data_dir(),
            accept_new_host_keys: false,
            sort: 0,
            telemetry: BTreeMap::new(),
            telemetry_rx: None,
            telemetry_started: None,
            telemetry_stop: None,
            last_step_of: BTreeMap::new(),
            rects: PanelRects::default(),
            run_of: None,
        }
    }
}

impl DeployUi {
    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    fn runtime(&mut self) -> Result<&tokio::runtime::Runtime, String> {
        if self.runtime.is_none() {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("provisio-deploy")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            self.runtime = Some(rt);
        }
        self.runtime
            .as_ref()
            .ok_or_else(|| "no runtime".to_string())
    }

    /// The Deploy button: refuses with diagnostics, asks for inputs, then starts.
    pub fn request_deploy(&mut self, state: &mut EditorState) {
        self.open = true;
        if self.is_running() {
            return;
        }
        let errors = state.diagnostics.iter().filter(|d| d.is_error()).count();
        if errors > 0 {
            // Named: several service templates may be open, and the log outlives the tab.
            state.status = format!(
                "deploy refused: fix {errors} error(s) in service template {} first (see \
                 Diagnostics)",
                state.doc.st().id
            );
            self.log.push((Level::Error, state.status.clone()));
            return;
        }
        if !self.simulate {
            // Real devices: every deploy input must be given (passwords are asked, not stored).
            if let Err(PlanError::MissingInputs(m)) =
                build_deploy_plan(state.doc.library(), state.doc.st(), &self.inputs)
            {
                self.asking_secret = m
                    .iter()
                    .filter(|m| {
                        is_secret_name(&m.input)
                            || m.deploy_input.as_deref().is_some_and(is_secret_name)
                    })
                    .filter_map(|m| m.deploy_input.clone())
                    .collect();
                let mut names: Vec<String> = m
                    .into_iter()
                    .map(|m| m.deploy_input.unwrap_or(m.input))
                    .collect();
                names.sort();
                names.dedup();
                self.asking = Some(names);
                return;
            }
        }
        self.start(state, false);
    }

    /// Starts the deploy (or the undeploy of the last instance).
    pub fn start(&mut self, state: &mut EditorState, undeploy: bool) {
        let job = if undeploy {
            match &self.instance {
                Some(i) => Job::Undeploy(i.id.clone()),
                None => {
                    state.status = "undeploy: nothing deployed".into();
                    return;
                }
            }
        } else {
            Job::Deploy
        };
        let of = state.doc.st().qname().to_string();
        self.launch(state, job, of);
    }

    /// Undeploys instance `id` of service template `of` (`{ns}id`) with the engine's undeploy,
    /// as the panel's Undeploy does; its steps and log show in the panel, and on the canvas
    /// when `of` is the topology shown there. Refused while a run of this window goes on.
    pub fn undeploy_instance(&mut self, state: &mut EditorState, id: &str, of: &str) {
        if self.is_running() {
            state.status = format!(
                "undeploy of {id} refused: a deploy or undeploy of this window runs; wait for it"
            );
            return;
        }
        self.open = true;
        self.launch(state, Job::Undeploy(id.to_string()), of.to_string());
    }

    /// Runs `job` on the background runtime; `of` is the service template it is of.
    fn launch(&mut self, state: &mut EditorState, job: Job, of: String) {
        let panel = match &job {
            Job::Deploy => true,
            Job::Undeploy(id) => self.instance.as_ref().is_some_and(|i| &i.id == id),
        };
        let on_canvas = panel && of == state.doc.st().qname().to_string();
        let undeploy = matches!(job, Job::Undeploy(_));
        let loaded = state.doc.loaded.clone();
        let st = state.doc.st().clone();
        let inputs = self.inputs.clone();
        let mut opts = DeployOptions::new(self.data_dir.clone(), self.simulate);
        opts.faults = self.faults.clone();
        opts.accept_new_host_keys = self.accept_new_host_keys;
        if !undeploy {
            let keep = inputs_to_remember(state.doc.library(), state.doc.st(), &self.inputs);
            remember_inputs(&self.data_dir, &state.doc.st().qname().to_string(), &keep);
        }
        let (sink, events) = EventSink::new();
        let (tx, result) = tokio::sync::oneshot::channel();
        let cancel = CancellationToken::new();
        let c = cancel.clone();
        // Devices of this window's last run power off before a run that starts them again:
        // a deploy, or the undeploy of their instance.
        let took_fleets = match &job {
            Job::Deploy => true,
            Job::Undeploy(id) => self.fleets_of.as_deref() == Some(id.as_str()),
        };
        let old_fleets = if took_fleets {
            std::mem::take(&mut self.fleets)
        } else {
            Vec::new()
        };
        let rt = match self.runtime() {
            Ok(rt) => rt,
            Err(e) => {
                state.status = format!("cannot start the deploy runtime: {e}");
                return;
            }
        };
        rt.spawn(async move {
            // Devices of an earlier run power off before a new run starts them again.
            for f in old_fleets {
                f.shutdown().await;
            }
            let r = match job {
                Job::Undeploy(id) => crate::deploy::undeploy(&id, &inputs, &opts, sink, c)
                    .await
                    .map_err(|e| e.to_string()),
                Job::Deploy => crate::deploy::deploy(&loaded, &st, &inputs, &opts, sink, c)
                    .await
                    .map_err(|e| e.to_string()),
            };
            let _ = tx.send(r);
        });
        self.running = Some(Running {
            cancel,
            events,
            result,
            started: Instant::now(),
            undeploy,
            on_canvas,
            panel,
            took_fleets,
        });
        self.steps.clear();
        self.log.clear();
        self.elapsed = None;
        self.run_of = Some(of);
        state.status = if undeploy {
            "undeploying…".into()
        } else {
            "deploying…".into()
        };
        if !on_canvas {
            return;
        }
        // Every node starts pending; device groups show one grey marker per device.
        state.overlays.clear();
        for n in &state.doc.topology().node_templates {
            let devices = device_ids(n)
                .into_iter()
                .map(|id| DeviceMarker {
                    id,
                    state: DeviceState::Offline,
                    last_message: None,
                })
                .collect();
            state
                .overlays
                .insert(n.id.clone(), NodeOverlay { run: None, devices });
        }
    }

    pub fn cancel(&mut self) {
        if let Some(r) = &self.running {
            r.cancel.cancel();
        }
    }

    /// Subscribes to the devices' readings (`sensors/+`, as the SensorPublisher publishes) on
    /// the brokers the simulated devices use (a new deploy replaces the subscription).
    fn listen_telemetry(&mut self, brokers: Vec<String>) {
        let stop = CancellationToken::new();
        if let Some(old) = self.telemetry_stop.replace(stop.clone()) {
            old.cancel();
        }
        let Ok(rt) = self.runtime() else { return };
        let (tx, rx) = std::sync::mpsc::channel();
        rt.spawn(async move {
            let _ = crate::deploy::readings::listen(&brokers, &["sensors/+"], stop, |topic, p| {
                let device = topic.rsplit('/').next().unwrap_or("").to_string();
                let v: serde_json::Value = serde_json::from_slice(p).unwrap_or_default();
                if let Some(t) = v.get("temperature").and_then(serde_json::Value::as_f64) {
                    let _ = tx.send((device, t));
                }
            })
            .await;
        });
        self.telemetry_rx = Some(rx);
        self.telemetry_started = Some(Instant::now());
    }

    /// Drains engine events into the editor (called every frame).
    pub fn poll(&mut self, state: &mut EditorState, ctx: &egui::Context) {
        if let (Some(rx), Some(t0)) = (&self.telemetry_rx, self.telemetry_started) {
            let mut got = false;
            while let Ok((device, v)) = rx.try_recv() {
                let series = self.telemetry.entry(device).or_default();
                series.push_back([t0.elapsed().as_secs_f64(), v]);
                if series.len() > 200 {
                    series.pop_front();
                }
                got = true;
            }
            let _ = got;
            // Keep polling while readings may come.
            ctx.request_repaint_after(Duration::from_millis(500));
        }
        let Some(running) = &mut self.running else {
            return;
        };
        ctx.request_repaint_after(Duration::from_millis(100));
        let on_canvas = running.on_canvas;
        while let Ok(e) = running.events.try_recv() {
            apply_event(
                &mut self.steps,
                &mut self.log,
                &mut self.last_step_of,
                on_canvas.then_some(&mut *state),
                e,
            );
        }
        self.elapsed = Some(running.started.elapsed());
        match running.result.try_recv() {
            Ok(r) => {
                let undeploy = running.undeploy;
                let panel = running.panel;
                let took_fleets = running.took_fleets;
                // Drain what is left.
                while let Ok(e) = running.events.try_recv() {
                    apply_event(
                        &mut self.steps,
                        &mut self.log,
                        &mut self.last_step_of,
                        on_canvas.then_some(&mut *state),
                        e,
                    );
                }
                self.running = None;
                match r {
                    Ok(outcome) => {
                        state.status = format!(
                            "instance {} is {}",
                            outcome.instance.id, outcome.instance.phase
                        );
                        if self.simulate && !undeploy && !outcome.device_brokers.is_empty() {
                            self.listen_telemetry(outcome.device_brokers.clone());
                        }
                        if on_canvas && undeploy && outcome.instance.phase == "undeployed" {
                            super::state::mark_undeployed(&mut state.overlays);
                        }
                        // The devices and stand-ins of this window's last run, and the
                        // panel's instance, are replaced only by a run of their own.
                        if took_fleets {
                            self.fleets = outcome.fleets;
                            self.stand_ins = outcome.stand_ins;
                            self.fleets_of = Some(outcome.instance.id.clone());
                        }
                        if panel {
                            self.instance = Some(outcome.instance);
                        }
                    }
                    Err(e) => {
                        let what = if undeploy { "undeploy" } else { "deploy" };
                        state.status = format!("{what} failed: {e}");
                        self.log.push((Level::Error, e));
                    }
                }
            }
            Err(tokio::sync::oneshot::error::TryRecvError::Empty) => {}
            Err(_) => {
                self.running = None;
                state.status = "deploy task ended unexpectedly".into();
            }
        }
    }

    /// The inputs dialog.
    pub fn inputs_dialog(&mut self, ctx: &egui::Context, state: &mut EditorState) {
        let Some(names) = self.asking.clone() else {
            return;
        };
        let mut go = false;
        let mut cancel = false;
        egui::Modal::new(egui::Id::new("provisio-modal")).show(ctx, |ui| {
            ui.heading("Deploy inputs");
            ui.label(
                "These values are asked for at deploy time (get_input). Passwords are not stored.",
            );
            egui::Grid::new("inputs").num_columns(2).show(ui, |ui| {
                for n in &names {
                    ui.label(n);
                    let v = self.inputs.entry(n.clone()).or_default();
                    let secret = is_secret_name(n) || self.asking_secret.contains(n);
                    ui.add(egui::TextEdit::singleline(v).password(secret));
                    ui.end_row();
                }
            });
            ui.horizontal(|ui| {
                go = ui.button("Deploy").clicked();
                cancel = ui.button("Cancel").clicked();
            });
        });
        if cancel {
            self.asking = None;
        }
        if go {
            self.asking = None;
            self.start(state, false);
        }
    }
}

/// What a run does.
enum Job {
    Deploy,
    /// Undeploys the instance of this id.
    Undeploy(String),
}

/// Applies one event to the panel's steps and log, and to the canvas's overlays when the run is
/// of the topology shown (`canvas`).
fn apply_event(
    steps: &mut Vec<StepRow>,
    log: &mut Vec<(Level, String)>,
    last_step_of: &mut BTreeMap<String, String>,
    mut canvas: Option<&mut EditorState>,
    e: DeployEvent,
) {
    let node_of = |step: &str| {
        step.rsplit_once('.')
            .map(|(n, _)| n.to_string())
            .unwrap_or_default()
    };
    let set_run = |state: &mut Option<&mut EditorState>, node: &str, run: NodeRun| {
        let Some(state) = state else { return };
        if let Some(o) = state.overlays.get_mut(node) {
            // A failure stays visible when later steps of the node are skipped.
            if !matches!(o.run, Some(NodeRun::Failed(_))) {
                o.run = Some(run);
            }
        }
    };
    match e {
        DeployEvent::PlanStarted { steps: ids, .. } => {
            last_step_of.clear();
            for id in &ids {
                last_step_of.insert(node_of(id), id.clone());
            }
            for (node, o) in canvas.iter_mut().flat_map(|s| s.overlays.iter_mut()) {
                o.run = last_step_of.contains_key(node).then_some(NodeRun::Pending);
            }
            *steps = ids
                .iter()
                .map(|id| StepRow {
                    id: id.clone(),
                    node: node_of(id),
                    state: NodeRun::Pending,
                })
                .collect();
        }
        DeployEvent::StepStarted {
            step,
            node,
            operation,
        } => {
            set_run(&mut canvas, &node, NodeRun::Running(operation.clone()));
            if let Some(s) = steps.iter_mut().find(|s| s.id == step) {
                s.state = NodeRun::Running(operation);
            }
        }
        DeployEvent::StepFinished { step, outputs } => {
            let node = node_of(&step);
            if last_step_of.get(&node) == Some(&step) {
                set_run(&mut canvas, &node, NodeRun::Done);
            }
            if let Some(s) = steps.iter_mut().find(|s| s.id == step) {
                s.state = NodeRun::Done;
            }
            let out: Vec<String> = outputs.iter().map(|(k, v)| format!("{k}={v}")).collect();
            log.push((Level::Info, format!("✔ {step} {}", out.join(" "))));
        }
        DeployEvent::StepFailed { step, reason } => {
            set_run(
                &mut canvas,
                &node_of(&step),
                NodeRun::Failed(reason.clone()),
            );
            if let Some(s) = steps.iter_mut().find(|s| s.id == step) {
                s.state = NodeRun::Failed(reason.clone());
            }
            log.push((Level::Error, format!("✖ {step}: {reason}")));
        }
        DeployEvent::StepSkipped { step, reason } => {
            set_run(
                &mut canvas,
                &node_of(&step),
                NodeRun::Skipped(reason.clone()),
            );
            if let Some(s) = steps.iter_mut().find(|s| s.id == step) {
                s.state = NodeRun::Skipped(reason);
            }
        }
        DeployEvent::StepCancelled { step } => {
            if let Some(s) = steps.iter_mut().find(|s| s.id == step) {
                s.state = NodeRun::Skipped("cancelled".into());
            }
        }
        DeployEvent::DeviceState {
            node,
            device,
            state: ds,
        } => {
            let Some(state) = canvas else { return };
            // The marker lives on the node that lists the device (e.g. the NodeMCU group).
            let owners: Vec<String> = state
                .doc
                .topology()
                .node_templates
                .iter()
                .filter(|n| n.id == node || device_ids(n).contains(&device))
                .map(|n| n.id.clone())
                .collect();
            for owner in owners {
                if let Some(o) = state.overlays.get_mut(&owner) {
                    match o.devices.iter_mut().find(|d| d.id == device) {
                        Some(d) => d.state = ds.clone(),
                        None => o.devices.push(DeviceMarker {
                            id: device.clone(),
                            state: ds.clone(),
                            last_message: None,
                        }),
                    }
                }
            }
        }
        DeployEvent::Log {
            level,
            node,
            message,
        } => log.push((
            level,
            format!(
                "{}{message}",
                node.map(|n| format!("{n}: ")).unwrap_or_default()
            ),
        )),
        DeployEvent::DeploymentFinished { ok, summary, .. } => {
            log.push((if ok { Level::Info } else { Level::Error }, summary));
        }
        DeployEvent::StepProgress { .. } | DeployEvent::Telemetry { .. } => {}
    }
}

fn inputs_file(data_dir: &std::path::Path) -> std::path::PathBuf {
    data_dir.join("inputs.json")
}

/// The deploy inputs of `st` that may be remembered: not what feeds a secret of its plan
/// under a harmless name (`ccuPassword: get_input: ccu`); secret names go in
/// [`remember_inputs`].
pub fn inputs_to_remember(
    lib: &provisio_model::Library,
    st: &provisio_model::tosca::ServiceTemplate,
    inputs: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let plan = build_open_deploy_plan(lib, st, inputs).ok();
    crate::deploy::non_secret(inputs, st, plan.as_ref().map(|(p, _)| p))
}

/// Remembers the non-secret deploy inputs of a topology (passwords are never written).
pub fn remember_inputs(
    data_dir: &std::path::Path,
    topology: &str,
    inputs: &BTreeMap<String, String>,
) {
    let mut all: BTreeMap<String, BTreeMap<String, String>> = std::fs::read(inputs_file(data_dir))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let keep: BTreeMap<String, String> = inputs
        .iter()
        .filter(|(k, _)| !is_secret_name(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    all.insert(topology.to_string(), keep);
    let _ = std::fs::create_dir_all(data_dir);
    if let Ok(b) = serde_json::to_vec_pretty(&all) {
        let _ = provisio_model::save::write_atomic(&inputs_file(data_dir), &b);
    }
}

/// The remembered non-secret inputs of a topology.
pub fn remembered_inputs(data_dir: &std::path::Path, topology: &str) -> BTreeMap<String, String> {
    std::fs::read(inputs_file(data_dir))
        .ok()
        .and_then(|b| serde_json::from_slice::<BTreeMap<String, BTreeMap<String, String>>>(&b).ok())
        .and_then(|mut all| all.remove(topology))
        .unwrap_or_default()
}

impl DeployUi {
    /// Restores the last instance of this topology (overlays and Undeploy) and its inputs.
    pub fn restore(&mut self, state: &mut EditorState) {
        let st = state.doc.st().qname().to_string();
        self.inputs = remembered_inputs(&self.data_dir, &st);
        let dir = self.data_dir.join("instances");
        let Some(last) = InstanceState::list(&dir)
            .into_iter()
            .find(|i| i.service_template == st)
        else {
            return;
        };
        for n in &state.doc.topology().node_templates {
            let run = last.steps.iter().filter(|s| s.node == n.id).fold(
                None,
                |acc: Option<NodeRun>, s| {
                    use provisio_engines::engine::executor::StepStatus;
                    match (&acc, &s.status) {
                        (Some(NodeRun::Failed(_)), _) => acc,
                        (_, StepStatus::Failed(r)) => Some(NodeRun::Failed(r.clone())),
                        (_, StepStatus::Skipped(r)) => Some(NodeRun::Skipped(r.clone())),
                        (_, StepStatus::Done) => Some(NodeRun::Done),
                        (_, StepStatus::Cancelled) => Some(NodeRun::Skipped("cancelled".into())),
                        _ => Some(NodeRun::Pending),
                    }
                },
            );
            let devices = device_ids(n)
                .into_iter()
                .map(|id| {
                    let rec = last.devices.values().find_map(|m| m.get(&id));
                    let state = match rec.map(|r| r.state.as_str()) {
                        Some("running") => DeviceState::Running,
                        Some("installed") => DeviceState::Installed,
                        Some("configured") => DeviceState::Configured,
                        Some("stopped") => DeviceState::Stopped,
                        Some("uninstalled") => DeviceState::Uninstalled,
                        Some("failed") => DeviceState::Failed {
                            reason: rec.and_then(|r| r.detail.clone()).unwrap_or_default(),
                        },
                        Some("timed_out") => DeviceState::TimedOut,
                        _ => DeviceState::Offline,
                    };
                    DeviceMarker {
                        id,
                        state,
                        last_message: None,
                    }
                })
                .collect();
            state
                .overlays
                .insert(n.id.clone(), NodeOverlay { run, devices });
        }
        if last.phase == "undeployed" {
            super::state::mark_undeployed(&mut state.overlays);
        }
        use crate::deploy::recover::{Progress, progress};
        let phase = match progress(&dir, &last.id, &last.phase) {
            Progress::Settled => last.phase.clone(),
            Progress::Running(pid) => format!("{} in process {pid}", last.phase),
            Progress::Interrupted => "interrupted: see Instances in the View menu".into(),
        };
        state.status = format!("last deployment: {} ({phase})", last.id);
        self.instance = Some(last);
    }
}
