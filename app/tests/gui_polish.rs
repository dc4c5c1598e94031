//! The editor's polish, driven like a user with egui_kittest: the deploy panel at a small and a
//! large window size (no part drawn over another), every glyph the UI draws covered by the
//! fonts, one modal at a time, status lines with paths, auto layout a person would draw, and
//! `provisio PATH --service-template` opening a chosen service template.

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use provisio_app::gui::state::{DeviceMarker, NodeOverlay, NodeRun};
use provisio_app::gui::{BottomTab, Modal, PathDialog, ProvisioApp, files, layout};
use provisio_engines::events::{DeviceState, Level};

fn harness(app: ProvisioApp, w: f32, h: f32) -> Harness<'static, ProvisioApp> {
    let mut h = Harness::builder()
        .with_size(egui::vec2(w, h))
        .build_ui_state(|ui, app: &mut ProvisioApp| app.ui(ui), app);
    h.run_steps(8);
    h
}

fn thesis() -> ProvisioApp {
    ProvisioApp::with_document(files::open_example("ThesisScenario").unwrap())
}

/// The thesis scenario as it looks after a deploy with one failing device (fixed content, so
/// snapshots are stable): every step, every NodeMCU, a long log.
fn deployed_thesis() -> ProvisioApp {
    let mut app = thesis();
    app.deploy.data_dir = tempfile::tempdir().unwrap().keep();
    let nodes: Vec<String> = app
        .state
        .doc
        .topology()
        .node_templates
        .iter()
        .map(|n| n.id.clone())
        .collect();
    let mut k = 0;
    for node in &nodes {
        for op in ["install", "configure", "start"] {
            let state = match k % 5 {
                3 => NodeRun::Failed("device 1361877: app refused to start".into()),
                4 => NodeRun::Running(op.into()),
                _ => NodeRun::Done,
            };
            k += 1;
            app.deploy
                .steps
                .push(provisio_app::gui::deploy_panel::StepRow {
                    id: format!("{node}.{op}"),
                    node: node.clone(),
                    state,
                });
        }
    }
    let devices = ["1345963", "8797990", "1361877", "2201345", "3306021"];
    let markers = devices
        .iter()
        .map(|id| DeviceMarker {
            id: id.to_string(),
            state: if *id == "1361877" {
                DeviceState::Failed {
                    reason: "app refused to start after the firmware update of SensorPublisher"
                        .into(),
                }
            } else {
                DeviceState::Running
            },
            last_message: None,
        })
        .collect();
    app.state.overlays.insert(
        "NodeMCU".into(),
        NodeOverlay {
            run: Some(NodeRun::Done),
            devices: markers,
        },
    );
    for i in 0..40 {
        let level = if i % 7 == 6 {
            Level::Error
        } else {
            Level::Info
        };
        app.deploy.log.push((
            level,
            format!(
                "RaspbianStretchLXC.install: line {i} of a long log message that runs far past \
                 the column's right edge so it must be elided rather than drawn over anything"
            ),
        ));
    }
    for (k, id) in devices.iter().enumerate() {
        let series = (0..60)
            .map(|t| [t as f64, 20.0 + k as f64 + (t as f64 / 7.0).sin()])
            .collect();
        app.deploy.telemetry.insert(id.to_string(), series);
    }
    app.tab = BottomTab::Deploy;
    app.deploy.sort = 2;
    app
}

fn assert_apart(a: egui::Rect, b: egui::Rect, what: &str) {
    let i = a.intersect(b);
    assert!(
        !i.is_positive() || i.width() < 0.5,
        "{what} overlap: {a:?} and {b:?}"
    );
}

fn check_panel(h: &Harness<'static, ProvisioApp>, size: egui::Vec2) {
    let r = h.state().deploy.rects;
    for (name, rect) in [("steps", r.steps), ("devices", r.devices), ("log", r.log)] {
        assert!(rect.is_positive(), "{name} drawn: {rect:?}");
        assert!(
            rect.min.x >= 0.0 && rect.max.x <= size.x + 0.5 && rect.max.y <= size.y + 0.5,
            "{name} inside the window: {rect:?}"
        );
        assert!(rect.height() >= 40.0, "{name} has room for rows: {rect:?}");
    }
    assert_apart(r.steps, r.devices, "steps and devices");
    assert_apart(r.devices, r.log, "devices and log");
    assert_apart(r.steps, r.log, "steps and log");
    assert!(r.telemetry.is_positive(), "the plot has its column");
    for (name, rect) in [("steps", r.steps), ("devices", r.devices), ("log", r.log)] {
        assert_apart(r.telemetry, rect, name);
    }
    assert!(r.steps.max.x <= r.devices.min.x + 0.5 && r.devices.max.x <= r.log.min.x + 0.5);
    assert!(r.log.width() >= 200.0, "the log is no sliver: {:?}", r.log);
    assert!(r.devices.width() >= 240.0, "devices: {:?}", r.devices);
    // The table's header and the log's title are both visible, apart.
    let state = h.get_by_label("state ⏷").rect();
    let log = h.get_by_label_contains("Log (").rect();
    assert_apart(state, log, "the devices header and the log title");
    assert!(r.devices.contains_rect(state.shrink(1.0)), "{state:?}");
}

fn deploy_panel_at(w: f32, hgt: f32, name: &str) {
    let mut h = harness(deployed_thesis(), w, hgt);
    check_panel(&h, egui::vec2(w, hgt));
    // Sort by device with a click on its header: the table reorders.
    h.get_by_label("device").click();
    h.run_steps(3);
    assert_eq!(h.state().deploy.sort, 1);
    h.state_mut().deploy.sort = 2;
    h.run_steps(3);
    h.snapshot(name);
}

#[test]
fn deploy_panel_at_1024x640_never_overlaps() {
    deploy_panel_at(1024.0, 640.0, "deploy_panel_small");
}

#[test]
fn deploy_panel_at_1600x1000_never_overlaps() {
    deploy_panel_at(1600.0, 1000.0, "deploy_panel_large");
}

#[test]
fn the_bottom_panel_resizes_by_its_edge_and_keeps_the_height() {
    let mut h = harness(deployed_thesis(), 1024.0, 640.0);
    let before = h.state().deploy.rects.log.min.y;
    // The panel's top edge is just above the tab row.
    let tab = h.get_by_label("Diagnostics").rect();
    let edge = egui::pos2(500.0, tab.min.y - 4.0);
    h.drag_at(edge);
    h.run_steps(2);
    h.hover_at(edge - egui::vec2(0.0, 60.0));
    h.run_steps(2);
    h.drop_at(edge - egui::vec2(0.0, 60.0));
    h.run_steps(4);
    let after = h.state().deploy.rects.log.min.y;
    assert!(after < before - 40.0, "{before} -> {after}");
    let height = h.state().bottom_height.expect("the dragged height is kept");
    assert!(height > 230.0, "remembered {height}");
    check_panel(&h, egui::vec2(1024.0, 640.0));
}

/// Every non-ASCII character in the strings the UI draws (the GUI's and the deploy code's
/// source, engine events, validation messages) must be in one of the fonts egui's default
/// proportional family falls back through; a missing one draws as a box.
#[test]
fn every_glyph_the_ui_draws_is_in_the_font() {
    use skrifa::MetadataProvider;
    let fonts: Vec<skrifa::FontRef<'static>> = [
        epaint_default_fonts::UBUNTU_LIGHT,
        epaint_default_fonts::NOTO_EMOJI_REGULAR,
        epaint_default_fonts::EMOJI_ICON,
    ]
    .into_iter()
    .map(|b| skrifa::FontRef::new(b).unwrap())
    .collect();
    let covered = |c: char| fonts.iter().any(|f| f.charmap().map(c).is_some());
    assert!(covered('A') && covered('✔') && !covered('\u{2192}'));
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in [
        "src/gui",
        "src/deploy",
        "../engines/src/events.rs",
        "../model/src/validate.rs",
    ] {
        collect_rs(&root.join(dir), &mut files);
    }
    assert!(files.len() > 15, "{} files", files.len());
    let mut missing = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for (no, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for c in string_literal_chars(line) {
                if !c.is_ascii() && !covered(c) {
                    missing.push(format!(
                        "{c:?} (U+{:04X}) at {}:{}",
                        c as u32,
                        f.display(),
                        no + 1
                    ));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "glyphs the fonts lack:\n{}",
        missing.join("\n")
    );
}

fn collect_rs(p: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    if p.is_file() {
        out.push(p.to_path_buf());
    } else if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() || p.extension().is_some_and(|x| x == "rs") {
                collect_rs(&p, out);
            }
        }
    }
}

/// Characters inside "…" string literals of one line (good enough for this source tree).
fn string_literal_chars(line: &str) -> Vec<char> {
    let mut out = Vec::new();
    let mut inside = false;
    let mut escaped = false;
    for c in line.chars() {
        if inside {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                inside = false;
            } else {
                out.push(c);
            }
        } else if c == '"' {
            inside = true;
        }
    }
    out
}

#[test]
fn one_modal_at_a_time_and_the_recovery_prompt_first() {
    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("recovery.tosca");
    let meta = dir.path().join("recovery.json");
    std::fs::write(&xml, b"<x/>").unwrap();
    std::fs::write(&meta, b"{}").unwrap();
    let mut app = thesis();
    app.recovery = Some(files::Recovery {
        dir: dir.path().to_path_buf(),
        workspace: None,
        files: vec![files::RecoveredFile {
            library_path: "/home/ann/plant/thesis.tosca".into(),
            origin: Some("/home/ann/plant/thesis.tosca".into()),
            service_templates: vec![
                "{http://provisio.dev/tosca/servicetemplates}ThesisScenario".into(),
            ],
            xml: "recovery.tosca".into(),
        }],
        saved_at: 0,
    });
    app.path_dialog = Some((PathDialog::Open, String::new()));
    app.error = Some("an earlier error".into());
    let mut h = harness(app, 1024.0, 640.0);
    assert_eq!(h.state().active_modal(), Some(Modal::Recovery));
    assert!(h.query_by_label("Recover unsaved work?").is_some());
    assert!(
        h.query_by_label_contains("/home/ann/plant/thesis.tosca")
            .is_some(),
        "the prompt names the file"
    );
    assert!(h.query_by_label("Error").is_none(), "the error waits");
    assert!(
        h.query_by_label_contains("Open path (file").is_none(),
        "the open-path prompt waits"
    );
    assert!(h.query_by_label("Open").is_some() && h.query_by_label("Discard").is_some());
    h.get_by_label("Discard").click();
    h.run_steps(3);
    assert!(
        !xml.exists() && !meta.exists(),
        "discard removes the recovery copy"
    );
    assert_eq!(h.state().active_modal(), Some(Modal::Error));
    assert!(h.query_by_label("an earlier error").is_some());
    h.get_by_label("OK").click();
    h.run_steps(3);
    assert_eq!(h.state().active_modal(), Some(Modal::Path));
    assert!(h.query_by_label_contains("Open path (file").is_some());
    h.get_by_label("Cancel").click();
    h.run_steps(3);
    assert_eq!(h.state().active_modal(), None);
}

#[test]
fn export_csar_and_save_report_the_path_in_the_status_line() {
    let dir = tempfile::tempdir().unwrap();
    let csar = dir.path().join("thesis.csar");
    let mut app = thesis();
    app.path_dialog = Some((PathDialog::ExportCsar, csar.display().to_string()));
    let mut h = harness(app, 1024.0, 640.0);
    h.get_by_label("OK").click();
    h.run_steps(3);
    assert!(csar.exists());
    let status = h.state().state.status.clone();
    assert!(
        status.starts_with("exported CSAR") && status.contains(&csar.display().to_string()),
        "{status}"
    );
    assert!(
        h.query_all_by_label_contains("exported CSAR").count() >= 1,
        "shown"
    );
    // A failing export says so, with the path, in the status line and a dialog.
    let bad = std::path::Path::new("/proc/version/x.csar");
    h.state_mut().path_dialog = Some((PathDialog::ExportCsar, bad.display().to_string()));
    h.run_steps(2);
    h.get_by_label("OK").click();
    h.run_steps(3);
    let status = h.state().state.status.clone();
    assert!(
        status.contains("failed") && status.contains("/proc/version/x.csar"),
        "{status}"
    );
    assert_eq!(h.state().active_modal(), Some(Modal::Error));
    h.get_by_label("OK").click();
    h.run_steps(3);
    // Save as: the status names the file.
    let tosca = dir.path().join("saved.tosca");
    h.state_mut().path_dialog = Some((PathDialog::SaveAs, tosca.display().to_string()));
    h.run_steps(2);
    h.get_by_label("OK").click();
    h.run_steps(3);
    assert!(tosca.exists());
    assert_eq!(h.state().state.status, format!("saved {}", tosca.display()));
}

fn pos(app: &ProvisioApp, id: &str) -> (f64, f64) {
    let n = app.state.doc.node(id).unwrap();
    (n.x.unwrap(), n.y.unwrap())
}

fn assert_hosts_below(app: &ProvisioApp) {
    let topo = app.state.doc.topology();
    for r in &topo.relationship_templates {
        if r.type_ref.local == "HostedOn" {
            let (s, t) = (pos(app, &r.source), pos(app, &r.target));
            assert!(t.1 > s.1, "{} is below {}: {s:?} {t:?}", r.target, r.source);
        }
    }
}

#[test]
fn auto_layout_puts_hosts_under_what_they_host_without_crossings() {
    use provisio_app::gui::commands::Command;
    use provisio_model::QName;
    let mut app = thesis();
    app.state.apply(Command::AutoLayout);
    assert_hosts_below(&app);
    assert_eq!(layout::crossings(&app.state.doc), 0);
    // Stacks are straight; connections run left to right.
    assert_eq!(pos(&app, "SensorPublisher").0, pos(&app, "NodeMCU").0);
    assert_eq!(pos(&app, "NodeRED").0, pos(&app, "RaspberryPi3").0);
    assert!(pos(&app, "SensorPublisher").0 < pos(&app, "NodeRED").0);
    assert!(pos(&app, "NodeRED").0 < pos(&app, "InfluxDB").0);
    // A new broker hosted on the Pi's LXC host, which the publisher and Node-RED talk to,
    // first dropped far away: the layout puts it next to NodeRED above the same host.
    let ns = "http://provisio.dev/tosca/nodetypes";
    app.state.apply(Command::AddNode {
        type_ref: QName::new(ns, "Mosquitto"),
        x: 3000.0,
        y: 3000.0,
    });
    let base = "http://docs.oasis-open.org/tosca/ns/2011/12/ToscaBaseTypes";
    for (s, t, rel) in [
        ("Mosquitto", "RaspbianStretchLXC", "HostedOn"),
        ("SensorPublisher", "Mosquitto", "ConnectsTo"),
        ("NodeRED", "Mosquitto", "ConnectsTo"),
    ] {
        app.state.apply(Command::Connect {
            source: s.into(),
            target: t.into(),
            type_ref: QName::new(base, rel),
        });
    }
    assert_eq!(app.state.doc.topology().relationship_templates.len(), 9);
    app.state.apply(Command::AutoLayout);
    assert_hosts_below(&app);
    let (m, host, red) = (
        pos(&app, "Mosquitto"),
        pos(&app, "RaspbianStretchLXC"),
        pos(&app, "NodeRED"),
    );
    assert_eq!(m.1, red.1, "the broker sits in NodeRED's row");
    assert!(
        (m.0 - host.0).abs() <= layout::COLUMN,
        "{m:?} near its host {host:?}"
    );
    assert!((m.0 - red.0).abs() <= layout::COLUMN, "next to NodeRED");
    assert!(
        layout::crossings(&app.state.doc) <= 1,
        "{} crossings",
        layout::crossings(&app.state.doc)
    );
}

#[test]
fn the_command_line_opens_a_chosen_service_template_in_the_window() {
    use clap::Parser;
    let cli = provisio_app::cli::Cli::try_parse_from([
        "provisio",
        "plant.tosca",
        "--service-template",
        "{http://example.org/st}Second",
    ])
    .unwrap();
    assert!(cli.command.is_none());
    assert_eq!(
        cli.path.as_deref(),
        Some(std::path::Path::new("plant.tosca"))
    );
    assert_eq!(
        cli.service_template.as_deref(),
        Some("{http://example.org/st}Second")
    );
    let sub = provisio_app::cli::Cli::try_parse_from(["provisio", "validate", "x.tosca"]).unwrap();
    assert!(sub.command.is_some() && sub.path.is_none());
    // A file with two service templates; the second is asked for.
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/constrained.tosca");
    let xml = std::fs::read_to_string(fixture).unwrap();
    let start = xml.find("<ServiceTemplate").unwrap();
    let end = xml.find("</ServiceTemplate>").unwrap() + "</ServiceTemplate>".len();
    let second = xml[start..end].replace("\"SensorFleet\"", "\"SecondFleet\"");
    let two = format!("{}{}{}", &xml[..end], second, &xml[end..]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("two.tosca");
    std::fs::write(&path, two).unwrap();
    let doc = files::open_path_with(&path, Some("SecondFleet")).unwrap();
    assert_eq!(doc.st().id, "SecondFleet");
    let h = harness(ProvisioApp::with_document(doc), 1024.0, 640.0);
    assert!(
        h.state().title.starts_with("SecondFleet"),
        "{}",
        h.state().title
    );
    let Err(err) = files::open_path_with(&path, Some("Nope")) else {
        panic!("an unknown service template is an error")
    };
    assert!(
        err.contains("SensorFleet") && err.contains("two.tosca"),
        "{err}"
    );
}

#[test]
fn a_resized_window_fits_the_canvas_again_until_the_user_moves_the_view() {
    let mut h = harness(thesis(), 1600.0, 1000.0);
    h.set_size(egui::vec2(1024.0, 640.0));
    h.run_steps(6);
    let inside = |app: &ProvisioApp| {
        let s = &app.state;
        s.doc.topology().node_templates.iter().all(|n| {
            let p = s.canvas.rect.min
                + s.view.pan
                + egui::vec2(n.x.unwrap() as f32, n.y.unwrap() as f32) * s.view.zoom;
            let size = egui::vec2(
                provisio_app::gui::canvas::NODE_W,
                provisio_app::gui::canvas::NODE_H,
            ) * s.view.zoom;
            s.canvas
                .rect
                .contains_rect(egui::Rect::from_min_size(p, size))
        })
    };
    assert!(inside(h.state()), "every card visible at 1024x640");
    // Once the user pans, a resize keeps the view.
    h.state_mut().state.view.pan += egui::vec2(30.0, 0.0);
    h.run_steps(2);
    let view = (h.state().state.view.pan, h.state().state.view.zoom);
    h.set_size(egui::vec2(1300.0, 800.0));
    h.run_steps(6);
    assert_eq!((h.state().state.view.pan, h.state().state.view.zoom), view);
}

/// The path prompt takes typing at once (no click into the field first), and a relative path
/// is reported as the absolute path it was written to.
#[test]
fn the_path_prompt_has_the_keyboard_and_names_absolute_paths() {
    let mut app = thesis();
    app.state.palette_filter = String::new();
    let suggested = app.suggested_path("thesis.csar");
    assert!(
        std::path::Path::new(&suggested).is_absolute(),
        "{suggested}"
    );
    app.path_dialog = Some((PathDialog::ExportCsar, String::new()));
    let mut h = harness(app, 1024.0, 640.0);
    let dir = tempfile::tempdir().unwrap();
    let csar = dir.path().join("typed.csar");
    h.event(egui::Event::Text(csar.display().to_string()));
    h.run_steps(2);
    assert_eq!(
        h.state().path_dialog.as_ref().map(|d| d.1.clone()),
        Some(csar.display().to_string()),
        "typed into the field"
    );
    h.key_press(egui::Key::Enter);
    h.run_steps(3);
    assert!(csar.exists());
    assert_eq!(h.state().active_modal(), None);
    // A relative path: the status line says where it went.
    let cwd = std::env::current_dir().unwrap();
    // The temporary directory as seen from the working directory ("../../tmp/…").
    let up = "../".repeat(cwd.components().count() - 1);
    let rel = format!(
        "{up}{}",
        dir.path()
            .join("relative.csar")
            .display()
            .to_string()
            .trim_start_matches('/')
    );
    h.state_mut().path_dialog = Some((PathDialog::ExportCsar, String::new()));
    h.run_steps(2);
    h.event(egui::Event::Text(rel.clone()));
    h.run_steps(2);
    h.key_press(egui::Key::Enter);
    h.run_steps(3);
    // Escape cancels the prompt.
    h.state_mut().path_dialog = Some((PathDialog::Open, String::new()));
    h.run_steps(2);
    assert_eq!(h.state().active_modal(), Some(Modal::Path));
    h.key_press(egui::Key::Escape);
    h.run_steps(2);
    assert_eq!(h.state().active_modal(), None, "Escape closes the prompt");
    let abs = dir.path().join("relative.csar");
    assert!(abs.exists());
    let status = h.state().state.status.clone();
    assert!(
        status.starts_with(&format!("exported CSAR {} (", abs.display())),
        "{status}"
    );
}

/// With telemetry at 1024x640 the legend is a row above the plot, not a box over its lines,
/// and the tables show several rows.
#[test]
fn the_telemetry_legend_sits_above_the_plot_and_tables_have_rows() {
    let h = harness(deployed_thesis(), 1024.0, 640.0);
    let r = h.state().deploy.rects;
    assert!(r.plot.is_positive(), "{r:?}");
    assert!(r.plot.min.x >= r.telemetry.min.x && r.plot.max.y <= r.telemetry.max.y + 0.5);
    for id in ["1345963", "2201345", "3306021"] {
        let entry = h
            .get_all_by_label(id)
            .map(|n| n.rect())
            .find(|e| r.telemetry.contains(e.center()))
            .unwrap_or_else(|| panic!("legend entry {id}"));
        assert!(r.telemetry.contains_rect(entry.shrink(1.0)), "{entry:?}");
        assert!(
            entry.max.y <= r.plot.min.y + 0.5,
            "above the plot: {entry:?}"
        );
    }
    assert!(
        r.steps.height() >= 5.0 * 18.0 + 20.0,
        "at least five step rows: {:?}",
        r.steps
    );
}

/// A prompt suggesting a long path has the text cursor at its end, wherever an earlier prompt
/// left it, so typing extends the path (at both window sizes).
#[test]
fn the_path_prompt_puts_the_cursor_after_the_suggested_path() {
    for (w, ht) in [(1024.0, 640.0), (1600.0, 1000.0)] {
        let mut app = thesis();
        // An earlier prompt, left with its cursor at the start of an empty field.
        app.path_dialog = Some((PathDialog::Open, String::new()));
        let mut h = harness(app, w, ht);
        h.key_press(egui::Key::Escape);
        h.run_steps(2);
        assert_eq!(h.state().active_modal(), None);
        let dir = tempfile::tempdir().unwrap();
        let long = dir
            .path()
            .join("a-folder-with-a-rather-long-name-for-a-path-prompt".repeat(3))
            .join("ThesisScenario.tosca")
            .display()
            .to_string();
        for (kind, typed) in [(PathDialog::SaveAs, ".bak"), (PathDialog::ExportCsar, "2")] {
            h.state_mut().path_dialog = Some((kind, long.clone()));
            h.run_steps(2);
            h.event(egui::Event::Text(typed.into()));
            h.run_steps(2);
            assert_eq!(
                h.state().path_dialog.as_ref().map(|d| d.1.clone()),
                Some(format!("{long}{typed}")),
                "{w}x{ht}: typed at the end"
            );
            h.key_press(egui::Key::Escape);
            h.run_steps(2);
        }
    }
}
