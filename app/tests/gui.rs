//! The editor driven like a user with egui_kittest: drag a type from the palette onto the
//! canvas, connect two nodes through the offered relationship types, edit a property, undo and
//! redo, save and reopen, deploy the constrained scenario with simulated devices and watch the
//! device markers; plus snapshot images of the main states.

mod common;

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use provisio_app::gui::ProvisioApp;
use provisio_app::gui::files;
use provisio_app::gui::state::Selected;

fn harness(app: ProvisioApp) -> Harness<'static, ProvisioApp> {
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 860.0))
        .build_ui_state(|ui, app: &mut ProvisioApp| app.ui(ui), app);
    settle(&mut h);
    h
}

/// Runs frames until the UI settles (grids and panels size themselves over a few frames).
fn settle(h: &mut Harness<'static, ProvisioApp>) {
    h.run_steps(8);
}

fn thesis() -> ProvisioApp {
    ProvisioApp::with_document(files::open_example("ThesisScenario").unwrap())
}

/// Screen position of a node's centre (or its connection handle).
fn node_pos(app: &ProvisioApp, id: &str, handle: bool) -> egui::Pos2 {
    let s = &app.state;
    let n = s.doc.node(id).unwrap();
    let world = egui::pos2(n.x.unwrap() as f32, n.y.unwrap() as f32);
    let size = egui::vec2(
        provisio_app::gui::canvas::NODE_W,
        provisio_app::gui::canvas::NODE_H,
    );
    let local = if handle {
        world + egui::vec2(size.x, size.y / 2.0)
    } else {
        world + size / 2.0
    };
    s.canvas.rect.min + s.view.pan + local.to_vec2() * s.view.zoom
}

fn count_type(app: &ProvisioApp, local: &str) -> usize {
    app.state
        .doc
        .topology()
        .node_templates
        .iter()
        .filter(|n| n.type_ref.local == local)
        .count()
}

#[test]
fn drag_a_type_from_the_palette_creates_a_node_where_it_is_dropped() {
    let mut h = harness(thesis());
    assert_eq!(count_type(h.state(), "Mosquitto"), 0);
    let from = h.get_by_label("Mosquitto").rect().center();
    let canvas = h.state().state.canvas.rect;
    let to = canvas.center() + egui::vec2(0.0, 250.0);
    h.drag_at(from);
    settle(&mut h);
    h.hover_at(from + egui::vec2(30.0, 10.0));
    settle(&mut h);
    h.hover_at(to);
    settle(&mut h);
    h.drop_at(to);
    settle(&mut h);
    let app = h.state();
    assert_eq!(count_type(app, "Mosquitto"), 1, "a node was created");
    let n = app
        .state
        .doc
        .topology()
        .node_templates
        .iter()
        .find(|n| n.type_ref.local == "Mosquitto")
        .unwrap();
    assert_eq!(n.id, "Mosquitto");
    assert!(
        app.state
            .selection
            .contains(&Selected::Node("Mosquitto".into()))
    );
    // It sits where it was dropped (its centre under the pointer).
    let c = node_pos(app, "Mosquitto", false);
    assert!((c - to).length() < 3.0, "{c:?} vs {to:?}");
    assert!(app.state.dirty);
}

#[test]
fn connecting_offers_valid_types_and_undo_redo_restore_the_topology() {
    let mut h = harness(thesis());
    let before = h.state().state.doc.topology().relationship_templates.len();
    let from = node_pos(h.state(), "NodeMCU", true);
    let to = node_pos(h.state(), "RaspberryPi3", false);
    h.drag_at(from);
    settle(&mut h);
    h.hover_at(from + egui::vec2(20.0, 20.0));
    settle(&mut h);
    h.hover_at(to);
    settle(&mut h);
    h.drop_at(to);
    settle(&mut h);
    let menu = h
        .state()
        .state
        .connect_menu
        .clone()
        .expect("the connect menu is open");
    assert_eq!(menu.types[0].local, "HostedOn", "{:?}", menu.types);
    assert!(
        menu.types.iter().all(|t| t.local != "LXContainer"),
        "only relationship types are offered"
    );
    h.get_by_label("ConnectsTo").click();
    settle(&mut h);
    let topo = h.state().state.doc.topology();
    assert_eq!(topo.relationship_templates.len(), before + 1);
    let r = topo.relationship_templates.last().unwrap();
    assert_eq!(
        (
            r.source.as_str(),
            r.target.as_str(),
            r.type_ref.local.as_str()
        ),
        ("NodeMCU", "RaspberryPi3", "ConnectsTo")
    );
    // Undo with the keyboard, then redo.
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    settle(&mut h);
    assert_eq!(
        h.state().state.doc.topology().relationship_templates.len(),
        before
    );
    h.key_press_modifiers(
        egui::Modifiers::COMMAND | egui::Modifiers::SHIFT,
        egui::Key::Z,
    );
    settle(&mut h);
    assert_eq!(
        h.state().state.doc.topology().relationship_templates.len(),
        before + 1
    );
}

#[test]
fn editing_a_property_validates_and_save_reopen_keeps_it() {
    let mut h = harness(thesis());
    let p = node_pos(h.state(), "NodeMCU", false);
    h.hover_at(p);
    settle(&mut h);
    h.drag_at(p);
    h.drop_at(p);
    settle(&mut h);
    assert!(
        h.state()
            .state
            .selection
            .contains(&Selected::Node("NodeMCU".into()))
    );
    // The inspector shows controlTopic; type a new value into it.
    let field = h
        .get_all_by_value("controlTopic")
        .next()
        .expect("the controlTopic field");
    field.focus();
    settle(&mut h);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.get_all_by_value("controlTopic")
        .next()
        .unwrap()
        .type_text("devices/control");
    settle(&mut h);
    let app = h.state();
    let value = app
        .state
        .doc
        .node("NodeMCU")
        .unwrap()
        .property("controlTopic")
        .unwrap()
        .to_string();
    assert!(value.ends_with("devices/control"), "{value}");
    // Breaking hardwareIds gives a marker-worthy error immediately.
    h.state_mut()
        .state
        .apply(provisio_app::gui::commands::Command::SetProperty {
            node: "NodeMCU".into(),
            key: "hardwareIds".into(),
            value: "1,2".into(),
        });
    settle(&mut h);
    assert!(
        h.state()
            .state
            .diagnostics
            .iter()
            .any(|d| d.is_error() && d.code == "json-list")
    );
    // Save and reopen.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("thesis.tosca");
    h.state_mut().state.save_to(&path).unwrap();
    assert!(!h.state().state.dirty);
    let reopened = files::open_path(&path).unwrap();
    assert_eq!(
        reopened.node("NodeMCU").unwrap().property("controlTopic"),
        Some(value.as_str())
    );
    assert_eq!(
        reopened.node("NodeMCU").unwrap().property("hardwareIds"),
        Some("1,2")
    );
}

fn run_deploy(h: &mut Harness<'static, ProvisioApp>) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while h.state().deploy.is_running() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
        h.step();
    }
    h.run_steps(4);
    assert!(!h.state().deploy.is_running(), "deploy finished");
}

/// Issue 9's scenario: the whole thesis topology with simulated devices (NodeMCU fleet, sshd +
/// LXC stand-in, MICA emulator), one NodeMCU refusing to start; then undeploy.
#[test]
fn deploy_the_thesis_scenario_with_a_failing_device_then_undeploy() {
    let mut app = thesis();
    let data = tempfile::tempdir().unwrap();
    let _net = common::SimCleanup(data.path().to_path_buf());
    app.deploy.data_dir = data.path().to_path_buf();
    app.deploy.faults = vec!["refuse-start@1361877".parse().unwrap()];
    let mut h = harness(app);
    h.get_by_label("▶ Deploy").click();
    h.step();
    run_deploy(&mut h);
    let app = h.state();
    use provisio_app::gui::state::NodeRun;
    use provisio_engines::events::DeviceState;
    let o = &app.state.overlays["NodeMCU"];
    let state_of = |id: &str| o.devices.iter().find(|d| d.id == id).unwrap().state.clone();
    assert_eq!(state_of("1345963"), DeviceState::Running);
    assert_eq!(state_of("8797990"), DeviceState::Running);
    assert_eq!(
        state_of("1361877"),
        DeviceState::Failed {
            reason: "app refused to start".into()
        }
    );
    assert!(
        matches!(app.state.overlays["SensorPublisher"].run, Some(NodeRun::Failed(ref r)) if r.contains("1361877"))
    );
    assert_eq!(
        app.state.overlays["NodeRED"].run,
        Some(NodeRun::Done),
        "{:?}",
        app.deploy.log
    );
    assert_eq!(app.state.overlays["InfluxDB"].run, Some(NodeRun::Done));
    assert_eq!(
        app.state.overlays["RaspberryPi3"].run, None,
        "hardware has no steps and no badge"
    );
    assert_eq!(app.deploy.instance.as_ref().unwrap().phase, "failed");
    // The Logs tab scores the deployment's log.
    h.get_by_label("Logs").click();
    h.run_steps(3);
    h.get_by_label("Analyze deploy log").click();
    h.run_steps(3);
    let scored = h
        .state()
        .logs
        .result
        .as_ref()
        .map(|a| a.lines.len())
        .unwrap_or(0);
    assert!(scored > 3, "{scored} scored lines");
    let _app = h.state();
    // Reopening the topology restores the deployment's state.
    let mut reopened = thesis();
    reopened.deploy.data_dir = data.path().to_path_buf();
    reopened.deploy.restore(&mut reopened.state);
    assert_eq!(
        reopened.deploy.instance.as_ref().map(|i| i.phase.as_str()),
        Some("failed")
    );
    let o = &reopened.state.overlays["NodeMCU"];
    assert_eq!(
        o.devices.iter().find(|d| d.id == "1345963").unwrap().state,
        DeviceState::Running
    );
    assert!(matches!(
        reopened.state.overlays["SensorPublisher"].run,
        Some(NodeRun::Failed(_))
    ));
    // Undeploy from the deploy panel.
    h.get_by_label("Deploy").click();
    h.run_steps(3);
    h.get_by_label("⏏ Undeploy").click();
    h.step();
    run_deploy(&mut h);
    let app = h.state();
    assert_eq!(
        app.deploy.instance.as_ref().unwrap().phase,
        "undeployed",
        "{:?}",
        app.deploy.log
    );
    let o = &app.state.overlays["NodeMCU"];
    assert!(
        o.devices
            .iter()
            .all(|d| d.state == DeviceState::Uninstalled),
        "{:?}",
        o.devices
    );
    // Cards tell the truth: undeployed, not the "done" of the undeploy's steps...
    for node in ["SensorPublisher", "NodeRED", "InfluxDB"] {
        assert_eq!(
            app.state.overlays[node].run,
            Some(NodeRun::Undeployed),
            "{node}"
        );
    }
    // ...and so after reopening the topology.
    let mut reopened = thesis();
    reopened.deploy.data_dir = data.path().to_path_buf();
    reopened.deploy.restore(&mut reopened.state);
    assert_eq!(
        reopened.state.overlays["NodeRED"].run,
        Some(NodeRun::Undeployed)
    );
}

#[test]
fn snapshot_of_the_thesis_scenario() {
    let mut h = harness(thesis());
    settle(&mut h);
    h.snapshot("thesis_scenario");
}
