//! The Instances window (View ▸ Instances) driven like a user with egui_kittest: it lists every
//! instance recorded in the data directory (deployed, failed, interrupted, unreadable, one a
//! live process of its own works on) and reads the list again only now and then; Forget asks
//! first (Cancel keeps the instance, Forget removes it) and is refused, naming the instance,
//! when another process took it meanwhile; a simulated deploy of another topology is undeployed
//! from the list through the engine's undeploy.

mod common;

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use provisio_app::deploy::lease::{Holder, lease_path};
use provisio_app::gui::{Modal, ProvisioApp, files};
use provisio_engines::engine::instance::InstanceState;
use std::path::Path;
use std::time::{Duration, Instant};

const NS: &str = "http://provisio.dev/tosca/servicetemplates";

fn harness(app: ProvisioApp, w: f32, h: f32) -> Harness<'static, ProvisioApp> {
    let mut h = Harness::builder()
        .with_size(egui::vec2(w, h))
        .build_ui_state(|ui, app: &mut ProvisioApp| app.ui(ui), app);
    settle(&mut h);
    h
}

fn settle(h: &mut Harness<'static, ProvisioApp>) {
    h.run_steps(6);
}

fn app_in(data: &Path) -> ProvisioApp {
    let mut app = ProvisioApp::with_document(files::new_document());
    app.deploy.data_dir = data.to_path_buf();
    app
}

fn open_instances(h: &mut Harness<'static, ProvisioApp>) {
    h.get_by_label("View").click();
    settle(h);
    h.get_by_label("Instances…").click();
    settle(h);
    assert!(h.state().instances.open);
}

fn disabled(n: &egui_kittest::Node<'_>) -> bool {
    n.accesskit_node().is_disabled()
}

fn instances(data: &Path) -> std::path::PathBuf {
    data.join("instances")
}

fn record(data: &Path, id: &str, template: &str, created: u64, phase: &str) {
    InstanceState {
        source: "builtin".into(),
        created,
        ..common::instance_record(id, &format!("{{{NS}}}{template}"), phase)
    }
    .save(&instances(data))
    .unwrap();
}

/// Another live process (a `sleep`), ended when dropped.
struct Other(std::process::Child);

impl Other {
    fn start() -> Other {
        Other(
            std::process::Command::new("sleep")
                .arg("600")
                .spawn()
                .unwrap(),
        )
    }

    /// Writes the lease of `id` as this process holding it.
    fn hold(&self, data: &Path, id: &str) {
        let pid = self.0.id();
        // Field 22 of /proc/<pid>/stat, counted after the name in parentheses.
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let start = stat.rsplit_once(')').unwrap().1.split_whitespace().nth(19);
        let h = Holder {
            pid,
            start: start.unwrap().parse().unwrap(),
            ..Holder::current()
        };
        assert!(h.is_live());
        std::fs::write(
            lease_path(&instances(data), id),
            serde_json::to_vec(&h).unwrap(),
        )
        .unwrap();
    }
}

impl Drop for Other {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Steps until `done` holds (at most `secs` seconds).
fn until(h: &mut Harness<'static, ProvisioApp>, secs: u64, done: impl Fn(&ProvisioApp) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done(h.state()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        h.step();
    }
    settle(h);
    assert!(
        done(h.state()),
        "timed out; status: {}",
        h.state().state.status
    );
}

#[test]
fn the_list_shows_every_recorded_instance_with_its_state() {
    let data = tempfile::tempdir().unwrap();
    let d = data.path();
    record(d, "Busy-1796136000-000", "Busy", 1_796_136_000, "running");
    record(
        d,
        "SensorFleet-1796135405-000",
        "SensorFleet",
        1_796_135_405,
        "deployed",
    );
    // Its process ended while the plan ran (phase still `running`, nobody holds it).
    record(
        d,
        "ThesisScenario-1796135000-000",
        "ThesisScenario",
        1_796_135_000,
        "running",
    );
    record(d, "Room-1796134000-000", "Room", 1_796_134_000, "failed");
    std::fs::write(instances(d).join("Broken-1796133000-000.json"), b"{").unwrap();
    let other = Other::start();
    other.hold(d, "Busy-1796136000-000");

    let mut h = harness(app_in(d), 1024.0, 640.0);
    assert!(h.query_by_label("SensorFleet-1796135405-000").is_none());
    open_instances(&mut h);
    for id in [
        "Busy-1796136000-000",
        "SensorFleet-1796135405-000",
        "ThesisScenario-1796135000-000",
        "Room-1796134000-000",
        "Broken-1796133000-000",
    ] {
        h.get_by_label(id);
    }
    h.get_by_label("SensorFleet");
    h.get_by_label("ThesisScenario");
    h.get_by_label("2026-12-01 14:30");
    h.get_by_label("deployed");
    h.get_by_label("interrupted");
    h.get_by_label("failed");
    h.get_by_label("unreadable record");
    h.get_by_label(&format!("running in process {}", other.0.id()));
    // Rows newest first, the unreadable record last: the live one's buttons are disabled, and
    // so is Undeploy of the unreadable record.
    let undeploy: Vec<bool> = h
        .get_all_by_label("Undeploy")
        .map(|n| disabled(&n))
        .collect();
    assert_eq!(undeploy, [true, false, false, false, true]);
    let forget: Vec<bool> = h
        .get_all_by_label("Forget…")
        .map(|n| disabled(&n))
        .collect();
    assert_eq!(forget, [true, false, false, false, false]);
    // Hovering the live one's Forget says why, naming the instance and the process.
    h.get_all_by_label("Forget…").next().unwrap().hover();
    h.run_steps(60);
    h.get_by_label_contains(&format!(
        "instance Busy-1796136000-000 is being deployed or undeployed by process {}",
        other.0.id()
    ));

    // Read when opened, not every frame.
    let reads = h.state().instances.reads;
    h.run_steps(30);
    assert_eq!(
        h.state().instances.reads,
        reads,
        "read again within seconds"
    );
    // Refresh reads at once; on its own the open window reads again after a few seconds.
    record(d, "New-1796137000-000", "New", 1_796_137_000, "deployed");
    h.get_by_label("⟳ Refresh").click();
    settle(&mut h);
    h.get_by_label("New-1796137000-000");
    record(
        d,
        "Later-1796138000-000",
        "Later",
        1_796_138_000,
        "cancelled",
    );
    drop(other);
    std::thread::sleep(provisio_app::gui::instances::REFRESH + Duration::from_millis(200));
    settle(&mut h);
    h.get_by_label("Later-1796138000-000");
    // Its process gone, the busy one is interrupted now.
    assert_eq!(h.get_all_by_label("interrupted").count(), 2);
    // Closed, it reads nothing.
    let reads = h.state().instances.reads;
    h.get_by_label("Close window").click();
    settle(&mut h);
    assert!(!h.state().instances.open);
    std::thread::sleep(provisio_app::gui::instances::REFRESH);
    settle(&mut h);
    assert_eq!(h.state().instances.reads, reads);
}

#[test]
fn forget_asks_first_cancel_keeps_it_and_forget_removes_it() {
    let data = tempfile::tempdir().unwrap();
    let d = data.path();
    let id = "ThesisScenario-1796135000-000";
    record(d, id, "ThesisScenario", 1_796_135_000, "running");
    std::fs::write(InstanceState::snapshot_in(&instances(d), id), b"csar").unwrap();
    std::fs::write(instances(d).join("Broken-1796133000-000.json"), b"{").unwrap();
    // The deploy panel shows it (as after reopening its topology).
    let mut app = app_in(d);
    app.deploy.instance = Some(InstanceState::load(&instances(d), id).unwrap());
    let mut h = harness(app, 1024.0, 640.0);
    open_instances(&mut h);

    // Cancel keeps it.
    h.get_all_by_label("Forget…").next().unwrap().click();
    settle(&mut h);
    assert_eq!(h.state().active_modal(), Some(Modal::ForgetInstance));
    h.get_by_label(&format!("Forget instance {id}?"));
    h.get_by_label_contains("interrupted while its plan ran");
    h.get_by_label_contains("Nothing on its devices is touched");
    h.get_by_label_contains("use Undeploy instead");
    h.get_by_label("Cancel").click();
    settle(&mut h);
    assert_eq!(h.state().active_modal(), None);
    assert!(InstanceState::path_in(&instances(d), id).exists());
    h.get_by_label(id);
    assert_eq!(h.state().state.status, format!("instance {id} kept"));

    // Forget removes its record and snapshot, and the list shows it gone.
    h.get_all_by_label("Forget…").next().unwrap().click();
    settle(&mut h);
    h.get_by_label("Forget").click();
    until(&mut h, 30, |a| !a.instances.is_forgetting());
    assert!(!InstanceState::path_in(&instances(d), id).exists());
    assert!(!InstanceState::snapshot_in(&instances(d), id).exists());
    assert!(h.query_by_label(id).is_none(), "still listed");
    assert!(
        h.state().deploy.instance.is_none(),
        "the deploy panel still offers it"
    );
    assert!(
        h.state()
            .state
            .status
            .contains(&format!("instance {id} forgotten")),
        "{}",
        h.state().state.status
    );

    // An unreadable record: the confirmation says so, and Forget removes it.
    h.get_by_label("Forget…").click();
    settle(&mut h);
    h.get_by_label_contains("record cannot be read");
    h.get_by_label("Forget").click();
    until(&mut h, 30, |a| !a.instances.is_forgetting());
    assert!(!instances(d).join("Broken-1796133000-000.json").exists());
    h.get_by_label_contains("No instances recorded yet");
}

/// A record that is valid JSON with every listed field but steps undeploy cannot read
/// (`"steps": 5`): listed as an unreadable record (it used to be listed deployed with
/// Undeploy enabled, and the undeploy then failed), the reason (file, what is wrong) on hover,
/// Undeploy disabled, Forget available and removing it.
#[test]
fn a_record_with_bad_steps_is_unreadable_and_only_forgotten() {
    let data = tempfile::tempdir().unwrap();
    let d = data.path();
    let id = "BadSteps-1796134000-000";
    record(d, id, "BadSteps", 1_796_134_000, "deployed");
    let file = InstanceState::path_in(&instances(d), id);
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    v["steps"] = 5.into();
    std::fs::write(&file, v.to_string()).unwrap();
    let mut h = harness(app_in(d), 1024.0, 640.0);
    open_instances(&mut h);
    h.get_by_label(id);
    assert!(h.query_by_label("deployed").is_none());
    assert!(disabled(&h.get_by_label("Undeploy")));
    assert!(!disabled(&h.get_by_label("Forget…")));
    h.get_by_label("unreadable record").hover();
    h.run_steps(60);
    h.get_by_label_contains(&format!(
        "Instance {id}'s record cannot be read: {}: not a valid instance file: invalid type: \
         integer `5`",
        file.display()
    ));
    h.get_by_label("Forget…").click();
    settle(&mut h);
    h.get_by_label_contains("record cannot be read");
    h.get_by_label("Forget").click();
    until(&mut h, 30, |a| !a.instances.is_forgetting());
    assert!(!file.exists());
    h.get_by_label_contains("No instances recorded yet");
}

#[test]
fn forget_is_refused_naming_the_instance_when_another_process_took_it() {
    let data = tempfile::tempdir().unwrap();
    let d = data.path();
    let id = "Room-1796134000-000";
    record(d, id, "Room", 1_796_134_000, "failed");
    let mut h = harness(app_in(d), 1024.0, 640.0);
    open_instances(&mut h);
    h.get_by_label("Forget…").click();
    settle(&mut h);
    // Another process starts undeploying it while the confirmation is shown.
    let other = Other::start();
    other.hold(d, id);
    h.get_by_label("Forget").click();
    until(&mut h, 30, |a| !a.instances.is_forgetting());
    assert!(InstanceState::path_in(&instances(d), id).exists());
    let why = format!(
        "instance {id} is being deployed or undeployed by process {}",
        other.0.id()
    );
    assert!(
        h.state().state.status.starts_with("forget refused: ")
            && h.state().state.status.contains(&why),
        "{}",
        h.state().state.status
    );
    // The window says so too (the status line is the other), and the list now shows it
    // running with its buttons disabled.
    assert_eq!(h.get_all_by_label_contains(&why).count(), 2);
    h.get_by_label(&format!("failed, busy in process {}", other.0.id()));
    assert!(disabled(&h.get_by_label("Undeploy")));
    assert!(disabled(&h.get_by_label("Forget…")));
}

/// A simulated deploy of the SensorFleet (NodeMCU fleet) from the deploy panel; with another
/// topology on the canvas, Undeploy in the list runs the engine's undeploy of it: the record
/// says undeployed, the list shows it, the deploy panel shows its steps, the canvas is left
/// alone.
#[test]
fn a_simulated_deploy_is_undeployed_from_the_list() {
    let data = tempfile::tempdir().unwrap();
    let _net = common::SimCleanup(data.path().to_path_buf());
    let d = data.path();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/constrained.tosca");
    let mut app = ProvisioApp::with_document(files::open_path(&fixture).unwrap());
    app.deploy.data_dir = d.to_path_buf();
    assert!(app.deploy.simulate);
    let mut h = harness(app, 1600.0, 1000.0);
    h.get_by_label("▶ Deploy").click();
    h.step();
    until(&mut h, 120, |a| !a.deploy.is_running());
    let instance = h.state().deploy.instance.clone().unwrap();
    assert_eq!(instance.phase, "deployed", "{:?}", h.state().deploy.log);

    // Another topology on the canvas; the list shows the instance deployed.
    h.get_by_label("File").click();
    settle(&mut h);
    h.get_by_label("New topology").click();
    settle(&mut h);
    assert!(h.state().deploy.instance.is_none());
    open_instances(&mut h);
    h.get_by_label(&instance.id);
    h.get_by_label("deployed");
    h.get_by_label("Undeploy").click();
    h.step();
    assert!(h.state().deploy.is_running());
    assert_eq!(
        h.state().instances.message,
        Some((
            false,
            format!("undeploying {}: progress in the Deploy panel", instance.id)
        ))
    );
    until(&mut h, 120, |a| !a.deploy.is_running());
    let after = InstanceState::load(&instances(d), &instance.id).unwrap();
    assert_eq!(after.phase, "undeployed", "{:?}", h.state().deploy.log);
    assert_eq!(
        h.state().state.status,
        format!("instance {} is undeployed", instance.id)
    );
    assert_eq!(
        h.get_all_by_label(&format!("instance {} is undeployed", instance.id))
            .count(),
        2,
        "the window says so as the status line does"
    );
    // The list read it again after the run: undeployed, nothing left to undeploy.
    h.get_by_label("undeployed");
    assert!(disabled(&h.get_by_label("Undeploy")));
    let app = h.state();
    assert_eq!(
        app.deploy.run_of.as_deref(),
        Some(instance.service_template.as_str())
    );
    assert!(
        app.deploy
            .steps
            .iter()
            .any(|s| s.id.ends_with(".uninstall")),
        "{:?}",
        app.deploy.steps
    );
    assert!(
        app.state.overlays.is_empty(),
        "the new topology's canvas was left alone"
    );
    assert!(app.deploy.instance.is_none());
}

/// Undeploying another instance from the list (here one of the same service template, the
/// canvas's) leaves the panel's own deployment alone: its instance, its running simulated
/// devices and its canvas overlays.
#[test]
fn undeploying_another_instance_leaves_the_panels_deployment_running() {
    // In a process of its own: the process-wide artifact server runs on the runtime of the
    // first window that deployed (one per process in the product), and another test's window
    // in this process may be gone.
    if common::in_own_data_dir("undeploying_another_instance_leaves_the_panels_deployment_running")
    {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let _net = common::SimCleanup(data.path().to_path_buf());
    let d = data.path();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/constrained.tosca");
    let mut app = ProvisioApp::with_document(files::open_path(&fixture).unwrap());
    app.deploy.data_dir = d.to_path_buf();
    let mut h = harness(app, 1600.0, 1000.0);
    h.get_by_label("▶ Deploy").click();
    h.step();
    until(&mut h, 120, |a| !a.deploy.is_running());
    let mine = h.state().deploy.instance.clone().unwrap();
    assert_eq!(mine.phase, "deployed", "{:?}", h.state().deploy.log);
    let online = |a: &ProvisioApp| a.deploy.fleets.iter().map(|f| f.online()).sum::<usize>();
    assert_eq!(online(h.state()), 3);

    // Another instance of the same service template, recorded later (so listed first).
    let other = InstanceState {
        source: "builtin".into(),
        created: mine.created + 1000,
        ..common::instance_record("SensorFleet-other", &mine.service_template, "deployed")
    };
    other.save(&instances(d)).unwrap();
    open_instances(&mut h);
    h.get_by_label("SensorFleet-other");
    h.get_all_by_label("Undeploy").next().unwrap().click();
    h.step();
    until(&mut h, 120, |a| !a.deploy.is_running());
    let app = h.state();
    assert_eq!(
        app.deploy.instance.as_ref().map(|i| i.id.as_str()),
        Some(mine.id.as_str()),
        "{:?}",
        app.deploy.log
    );
    assert_eq!(online(app), 3, "the panel's devices were powered off");
    assert!(
        app.state
            .overlays
            .values()
            .all(|o| o.run != Some(provisio_app::gui::state::NodeRun::Undeployed)),
        "the canvas shows the other instance's undeploy"
    );
}
