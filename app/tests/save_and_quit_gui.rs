//! Saving and quitting driven like a user with egui_kittest, in a window that behaves as eframe's
//! does: Ctrl+S and File ▸ Save in the type editor save the type (a refusal says why); closing
//! the window through the window manager asks the same Save/Discard/Cancel as File ▸ Quit and
//! closes only after Save or Discard; a refused deploy names its service template.

mod common;
use common::in_own_data_dir;
use egui::{ViewportCommand, ViewportEvent, ViewportId};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use provisio_app::gui::workspace::Centre;
use provisio_app::gui::{Modal, ProvisioApp, files};
use provisio_model::QName;
use provisio_model::repository::Repository;
use provisio_model::tosca::TypeKind;
use std::path::{Path, PathBuf};

/// The app in a window: the window manager's close request goes into a frame's input as eframe
/// puts it there (also the frame after the app sent `ViewportCommand::Close`), and the window
/// closes when that frame does not answer `ViewportCommand::CancelClose`.
struct Window {
    app: ProvisioApp,
    /// The user clicked the title bar's × (or pressed Alt+F4): in the next frame's input.
    wm_close: bool,
    /// The app sent `Close` last frame: eframe turns it into a close request.
    close_next: bool,
    closed: bool,
}

fn frame(ui: &mut egui::Ui, w: &mut Window) {
    let ctx = ui.ctx().clone();
    let request = std::mem::take(&mut w.wm_close) | std::mem::take(&mut w.close_next);
    if request {
        ctx.input_mut(|i| {
            i.raw
                .viewports
                .entry(ViewportId::ROOT)
                .or_default()
                .events
                .push(ViewportEvent::Close)
        });
    }
    w.app.ui(ui);
    let commands = ctx.viewport(|v| v.commands.clone());
    if request && !commands.contains(&ViewportCommand::CancelClose) {
        w.closed = true;
    }
    if commands.contains(&ViewportCommand::Close) {
        w.close_next = true;
    }
}

fn window(app: ProvisioApp) -> Harness<'static, Window> {
    let w = Window {
        app,
        wm_close: false,
        close_next: false,
        closed: false,
    };
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 860.0))
        .build_ui_state(frame, w);
    settle(&mut h);
    h
}

fn settle(h: &mut Harness<'static, Window>) {
    h.run_steps(6);
}

/// The title bar's × (what the window manager's WM_DELETE_WINDOW becomes in eframe).
fn close_window(h: &mut Harness<'static, Window>) {
    h.state_mut().wm_close = true;
    settle(h);
}

/// Replaces the text of the field labelled `label` by `text`, as a user would (the field keeps
/// the keyboard).
fn retype(h: &mut Harness<'static, Window>, label: &str, text: &str) {
    h.get_by_label(label).focus();
    settle(h);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.get_by_label(label).type_text(text);
    settle(h);
}

/// Whether some text on screen contains `text`.
fn shows(h: &Harness<'static, Window>, text: &str) -> bool {
    h.query_all_by_label_contains(text).next().is_some()
}

fn menu(h: &mut Harness<'static, Window>, menu: &str, item: &str) {
    h.get_all_by_label(menu).next().unwrap().click();
    settle(h);
    h.get_by_label(item).click();
    settle(h);
}

/// A Winery repository with one service template, opened; and the file a node type `local`
/// of the test's namespace is saved to.
fn repository(root: &Path) -> ProvisioApp {
    Repository::new(root)
        .create_service_template(&QName::new("http://example.org/st", "Room"))
        .unwrap();
    ProvisioApp::with_document(files::open_path(root).unwrap())
}

const NS: &str = "http://example.org/nodetypes";

fn type_file(root: &Path, local: &str) -> PathBuf {
    Repository::new(root).element_file(TypeKind::NodeType, &QName::new(NS, local))
}

/// A new node type named `name`, typed into the form (the namespace field keeps the keyboard).
fn new_node_type(h: &mut Harness<'static, Window>, name: &str) {
    menu(h, "Repository", "New node type…");
    assert_eq!(h.state().app.workspace.centre, Centre::TypeEditor);
    retype(h, "Type name", name);
    retype(h, "Type namespace", NS);
    h.get_by_label(&format!("* Type: {name}"));
}

/// Ctrl+S in the type editor saves the type, as its Save type button does, while the keyboard
/// is still in a field of the form; the status line names the file. A refused save says why
/// under the form and in the status line, and writes nothing. File ▸ Save does the same.
#[test]
fn ctrl_s_and_file_save_in_the_type_editor_save_the_type() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("repo");
    let mut h = window(repository(&root));
    new_node_type(&mut h, "Thermostat");
    let file = type_file(&root, "Thermostat");

    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::S);
    settle(&mut h);
    assert!(file.exists(), "Ctrl+S did not write {}", file.display());
    let app = &h.state().app;
    assert!(
        app.state.status.contains(&file.display().to_string()),
        "{}",
        app.state.status
    );
    assert!(
        app.workspace
            .type_editor
            .as_ref()
            .is_some_and(|f| !f.is_dirty())
    );
    assert!(
        app.state
            .doc
            .library()
            .node_type(&QName::new(NS, "Thermostat"))
            .is_some()
    );
    h.get_by_label("Type: Thermostat");

    // Refused: the reason under the form and in the status line; nothing written.
    retype(&mut h, "Type name", "Thermo stat");
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::S);
    settle(&mut h);
    assert!(shows(&h, "'Thermo stat' is not a valid id"));
    let status = h.state().app.state.status.clone();
    assert!(
        status.contains("failed") && status.contains("Thermo stat"),
        "{status}"
    );
    assert!(
        h.state()
            .app
            .workspace
            .type_editor
            .as_ref()
            .unwrap()
            .is_dirty()
    );

    // File ▸ Save in the type editor saves the type.
    retype(&mut h, "Type name", "Hygrometer");
    menu(&mut h, "File", "Save type     Ctrl+S");
    let file = type_file(&root, "Hygrometer");
    assert!(
        file.exists(),
        "File ▸ Save did not write {}",
        file.display()
    );
    let status = &h.state().app.state.status;
    assert!(status.contains(&file.display().to_string()), "{status}");
    h.get_by_label("Type: Hygrometer");
}

/// Closing the window through the window manager with an unsaved type form asks first (the
/// close is cancelled): Cancel keeps the window and the edits, Discard closes without writing,
/// Save writes the type and closes; a refused save keeps the window open with its reason.
#[test]
fn closing_the_window_asks_before_dropping_an_unsaved_type() {
    if in_own_data_dir("closing_the_window_asks_before_dropping_an_unsaved_type") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("repo");
    let mut h = window(repository(&root));
    new_node_type(&mut h, "Thermostat");
    let file = type_file(&root, "Thermostat");

    close_window(&mut h);
    assert!(!h.state().closed, "closed with an unsaved type");
    assert_eq!(h.state().app.active_modal(), Some(Modal::ConfirmType));
    h.get_by_label_contains("Thermostat has unsaved edits");
    h.get_by_label("Cancel").click();
    settle(&mut h);
    assert!(!h.state().closed);
    assert_eq!(h.state().app.active_modal(), None);
    assert_eq!(
        h.state()
            .app
            .workspace
            .type_editor
            .as_ref()
            .map(|f| f.name.as_str()),
        Some("Thermostat")
    );

    // Save refused: the window stays, the form says why.
    retype(&mut h, "Type name", "Thermo stat");
    close_window(&mut h);
    h.get_by_label("Save").click();
    settle(&mut h);
    assert!(!h.state().closed, "closed although the save was refused");
    assert!(shows(&h, "'Thermo stat' is not a valid id"));

    // Save: written, then the window closes.
    retype(&mut h, "Type name", "Thermostat");
    close_window(&mut h);
    assert!(!h.state().closed);
    h.get_by_label("Save").click();
    settle(&mut h);
    assert!(file.exists(), "not saved: {}", file.display());
    assert!(h.state().closed, "the window stayed open after Save");

    // Discard: closes, nothing written.
    let mut h = window(repository(&tmp.path().join("repo2")));
    new_node_type(&mut h, "Thermostat");
    close_window(&mut h);
    assert!(!h.state().closed);
    h.get_by_label("Discard").click();
    settle(&mut h);
    assert!(h.state().closed, "the window stayed open after Discard");
    assert!(!type_file(&tmp.path().join("repo2"), "Thermostat").exists());
}

/// The window manager's close and File ▸ Quit behave the same: nothing unsaved closes at once;
/// an unsaved topology asks "Discard them?" (Cancel keeps the window, Discard closes).
#[test]
fn closing_the_window_and_quit_ask_the_same_about_the_topology() {
    if in_own_data_dir("closing_the_window_and_quit_ask_the_same_about_the_topology") {
        return;
    }
    for wm in [true, false] {
        let quit = |h: &mut Harness<'static, Window>| {
            if wm {
                close_window(h);
            } else {
                menu(h, "File", "Quit");
            }
        };
        let how = if wm {
            "window manager"
        } else {
            "File ▸ Quit"
        };
        let mut h = window(ProvisioApp::with_document(files::new_document()));
        quit(&mut h);
        assert!(h.state().closed, "{how}: nothing unsaved, yet not closed");

        let mut h = window(ProvisioApp::with_document(files::new_document()));
        h.state_mut().app.state.dirty = true;
        quit(&mut h);
        assert!(!h.state().closed, "{how}: closed with an unsaved topology");
        assert_eq!(h.state().app.active_modal(), Some(Modal::Confirm), "{how}");
        h.get_by_label_contains("The topology NewTopology has unsaved changes");
        h.get_by_label("Cancel").click();
        settle(&mut h);
        assert!(!h.state().closed, "{how}: closed after Cancel");
        assert!(h.state().app.state.dirty);
        quit(&mut h);
        h.get_by_label("Discard").click();
        settle(&mut h);
        assert!(h.state().closed, "{how}: not closed after Discard");
    }
}

/// A refused deploy names the service template in the status line and in the deploy log.
#[test]
fn a_refused_deploy_names_its_service_template() {
    use provisio_app::gui::workspace::{close_tab, open_tab};
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/corpus/opentosca-public");
    let mut app = ProvisioApp::with_document(files::open_path(&corpus).unwrap());
    let data = tempfile::tempdir().unwrap();
    app.deploy.data_dir = data.path().to_path_buf();
    let rows = provisio_app::gui::browser::service_templates_in_order(app.state.doc.library());
    let bad = rows
        .iter()
        .find(|r| {
            open_tab(&mut app, r.tab);
            let bad = app.state.diagnostics.iter().any(|d| d.is_error());
            if !bad {
                close_tab(&mut app, r.tab);
            }
            bad
        })
        .expect("a service template with errors")
        .clone();
    let mut h = window(app);
    assert_eq!(h.state().app.workspace.centre, Centre::Editor);
    h.get_by_label("▶ Deploy").click();
    settle(&mut h);
    let app = &h.state().app;
    let status = &app.state.status;
    assert!(status.starts_with("deploy refused"), "{status}");
    assert!(status.contains(&bad.qname.local), "{status}");
    let (_, last) = app.deploy.log.last().expect("logged");
    assert!(last.contains(&bad.qname.local), "{last}");
}
