//! Unsaved edits in every open service template, driven like a user with egui_kittest in a
//! window that closes as eframe's does: closing the window, Quit and New ask about all tabs
//! with unsaved edits (not only the one in view) and Save all writes each file; a refused save
//! keeps the window open and names it; the crash-recovery copy covers every unsaved tab and
//! its prompt names them; the first frame fits the window to a small monitor.

mod common;
use common::{copy_tree, in_own_data_dir};
use egui::{ViewportCommand, ViewportEvent, ViewportId};
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use provisio_app::gui::commands::Command;
use provisio_app::gui::workspace::{Tab, open_tab};
use provisio_app::gui::{Modal, ProvisioApp, browser, files};
use std::path::{Path, PathBuf};

/// The app in a window: the window manager's close request goes into a frame's input as eframe
/// puts it there (also the frame after the app sent `Close`); the window closes when that frame
/// does not answer `CancelClose`. `monitor` and `inner` are what the window system reports.
struct Window {
    app: ProvisioApp,
    wm_close: bool,
    close_next: bool,
    closed: bool,
    monitor: Option<egui::Vec2>,
    inner: Option<egui::Vec2>,
    outer: Option<egui::Vec2>,
    /// Every viewport command the app sent.
    sent: Vec<ViewportCommand>,
}

fn frame(ui: &mut egui::Ui, w: &mut Window) {
    let ctx = ui.ctx().clone();
    let request = std::mem::take(&mut w.wm_close) | std::mem::take(&mut w.close_next);
    ctx.input_mut(|i| {
        let v = i.raw.viewports.entry(ViewportId::ROOT).or_default();
        if request {
            v.events.push(ViewportEvent::Close);
        }
        v.monitor_size = w.monitor;
        v.inner_rect = w
            .inner
            .map(|s| egui::Rect::from_min_size(egui::pos2(0.0, 0.0), s));
        v.outer_rect = w
            .outer
            .map(|s| egui::Rect::from_min_size(egui::pos2(0.0, 0.0), s));
    });
    w.app.ui(ui);
    let commands = ctx.viewport(|v| v.commands.clone());
    if request && !commands.contains(&ViewportCommand::CancelClose) {
        w.closed = true;
    }
    if commands.contains(&ViewportCommand::Close) {
        w.close_next = true;
    }
    w.sent.extend(commands);
}

/// A window of `size` on a monitor of size `monitor`, whose inner and outer sizes the window system
/// reports as `inner` and `outer`.
fn window_sized(
    app: ProvisioApp,
    size: egui::Vec2,
    monitor: Option<egui::Vec2>,
    inner: Option<egui::Vec2>,
    outer: Option<egui::Vec2>,
) -> Harness<'static, Window> {
    let w = Window {
        app,
        wm_close: false,
        close_next: false,
        closed: false,
        monitor,
        inner,
        outer,
        sent: Vec::new(),
    };
    let mut h = Harness::builder().with_size(size).build_ui_state(frame, w);
    settle(&mut h);
    h
}

fn window(app: ProvisioApp) -> Harness<'static, Window> {
    window_sized(app, egui::vec2(1400.0, 860.0), None, None, None)
}

fn settle(h: &mut Harness<'static, Window>) {
    h.run_steps(6);
}

fn close_window(h: &mut Harness<'static, Window>) {
    h.state_mut().wm_close = true;
    settle(h);
}

fn shows(h: &Harness<'static, Window>, text: &str) -> bool {
    h.query_all_by_label_contains(text).next().is_some()
}

/// A copy of the OpenTOSCA repository under `root`, opened.
fn opentosca(root: &Path) -> ProvisioApp {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/corpus/opentosca-public");
    copy_tree(&corpus, root);
    ProvisioApp::with_document(files::open_path(root).unwrap())
}

/// One edited service template: its tab, name and file.
struct Edited {
    tab: Tab,
    name: String,
    file: PathBuf,
    before: Vec<u8>,
}

/// Opens the first `n` service templates with nodes, each in its tab, and moves all nodes of
/// each by 37 points (as a drag does); the last one stays in view.
fn edit_tabs(app: &mut ProvisioApp, n: usize) -> Vec<Edited> {
    let rows = browser::service_templates_in_order(app.state.doc.library());
    let mut out = Vec::new();
    for r in rows {
        if out.len() == n {
            break;
        }
        open_tab(app, r.tab);
        let ids: Vec<String> = app
            .state
            .doc
            .topology()
            .node_templates
            .iter()
            .map(|n| n.id.clone())
            .collect();
        if ids.is_empty() {
            continue;
        }
        app.state.apply(Command::MoveNodes {
            ids,
            dx: 37.0,
            dy: 0.0,
            coalesce: false,
        });
        let file = app.state.doc.library().file(r.tab.0).path.clone();
        out.push(Edited {
            tab: r.tab,
            name: r.name.clone().unwrap_or_else(|| r.qname.local.clone()),
            before: std::fs::read(&file).unwrap(),
            file,
        });
    }
    assert_eq!(out.len(), n);
    out
}

/// Closing the window with two edited service templates (one in view, one in another tab)
/// asks once, naming both; Cancel keeps the window and the edits; Save all writes both files
/// (each changed on disk) and closes. File ▸ Quit asks the same.
#[test]
fn closing_the_window_asks_about_every_tab_and_save_all_writes_each() {
    if in_own_data_dir("closing_the_window_asks_about_every_tab_and_save_all_writes_each") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut app = opentosca(&tmp.path().join("repo"));
    let edited = edit_tabs(&mut app, 2);
    let mut h = window(app);

    close_window(&mut h);
    assert!(
        !h.state().closed,
        "closed with two unsaved service templates"
    );
    assert_eq!(h.state().app.active_modal(), Some(Modal::Confirm));
    h.get_by_label_contains("2 service templates have unsaved changes");
    for e in &edited {
        assert!(shows(&h, &e.name), "the prompt does not name {}", e.name);
    }
    h.get_by_label("Cancel").click();
    settle(&mut h);
    assert!(!h.state().closed, "closed after Cancel");
    for e in &edited {
        assert!(provisio_app::gui::workspace::tab_dirty(
            &h.state().app,
            e.tab
        ));
    }

    // File ▸ Quit asks the same; Save all writes both files and closes.
    h.get_all_by_label("File").next().unwrap().click();
    settle(&mut h);
    h.get_by_label("Quit").click();
    settle(&mut h);
    h.get_by_label_contains("2 service templates have unsaved changes");
    h.get_by_label("Save all").click();
    settle(&mut h);
    for e in &edited {
        let now = std::fs::read(&e.file).unwrap();
        assert_ne!(now, e.before, "Save all did not write {}", e.file.display());
        assert!(!provisio_app::gui::workspace::tab_dirty(
            &h.state().app,
            e.tab
        ));
    }
    assert!(h.state().closed, "the window stayed open after Save all");
}

/// Unsaved edits in a tab not in view are asked about too (the one in view has none); a save
/// that fails keeps the window open and says which service template and why; Discard all
/// closes.
#[test]
fn an_unsaved_tab_out_of_view_is_asked_about_and_a_refused_save_keeps_the_window() {
    if in_own_data_dir(
        "an_unsaved_tab_out_of_view_is_asked_about_and_a_refused_save_keeps_the_window",
    ) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut app = opentosca(&tmp.path().join("repo"));
    let edited = edit_tabs(&mut app, 1);
    // Another tab in view, without edits.
    let rows = browser::service_templates_in_order(app.state.doc.library());
    let other = rows.iter().find(|r| r.tab != edited[0].tab).unwrap().tab;
    open_tab(&mut app, other);
    assert!(!app.state.dirty);
    let mut h = window(app);

    close_window(&mut h);
    assert!(!h.state().closed, "closed with an unsaved tab out of view");
    h.get_by_label_contains(&format!(
        "The topology {} has unsaved changes",
        edited[0].name
    ));

    // The file's folder is replaced by a plain file: the save fails.
    let dir = edited[0].file.parent().unwrap().to_path_buf();
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::write(&dir, b"not a folder").unwrap();
    h.get_by_label("Save").click();
    settle(&mut h);
    assert!(!h.state().closed, "closed although the save failed");
    assert_eq!(h.state().app.active_modal(), Some(Modal::Error));
    let error = h.state().app.error.clone().unwrap();
    assert!(
        error.contains("the window stays open") && error.contains(&edited[0].name),
        "{error}"
    );
    assert!(error.contains(&dir.display().to_string()), "{error}");
    h.get_by_label("OK").click();
    settle(&mut h);
    assert!(provisio_app::gui::workspace::tab_dirty(
        &h.state().app,
        edited[0].tab
    ));

    close_window(&mut h);
    h.get_by_label("Discard").click();
    settle(&mut h);
    assert!(h.state().closed, "the window stayed open after Discard");
}

/// At 1024×640 the prompt names each unsaved service template with a short file name, one whole
/// line each (the file's folder and name in the repository), not the full path (which
/// wrapped); hovering a line shows the full path.
#[test]
fn the_unsaved_changes_prompt_shows_short_file_names_and_the_full_path_on_hover() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("repo");
    let mut app = opentosca(&root);
    let edited = edit_tabs(&mut app, 2);
    let screen = egui::vec2(1024.0, 640.0);
    let mut h = window_sized(app, screen, Some(screen), Some(screen), Some(screen));
    h.ctx.all_styles_mut(|s| {
        s.interaction.tooltip_delay = 0.0;
        s.interaction.show_tooltips_only_when_still = false;
    });
    close_window(&mut h);
    assert_eq!(h.state().app.active_modal(), Some(Modal::Confirm));
    for e in &edited {
        let folder = e.file.parent().unwrap().file_name().unwrap();
        let line = format!(
            "• {} — …/{}/ServiceTemplate.tosca",
            e.name,
            folder.to_string_lossy()
        );
        let node = h.get_by_label(&line);
        let height = node.rect().height();
        assert!(height < 24.0, "{line:?} wraps: {height} points high");
        // Not cut short either: as wide as the whole line.
        let font = egui::TextStyle::Body.resolve(&h.ctx.style_of(egui::Theme::Dark));
        let width = h.ctx.fonts_mut(|f| {
            f.layout_no_wrap(line.clone(), font, egui::Color32::WHITE)
                .size()
                .x
        });
        let shown = node.rect().width();
        assert!(shown >= width - 1.0, "{line:?} cut to {shown} of {width}");
        let full = e.file.display().to_string();
        assert!(!shows(&h, &full), "{full} shown before hovering");
        node.hover();
        h.run_steps(3);
        assert!(shows(&h, &full), "hovering {line:?} does not show {full}");
    }
    let root = root.display().to_string();
    let full: Vec<String> = h
        .query_all_by_label_contains(&root)
        .filter_map(|n| n.accesskit_node().label())
        .filter(|l| l.starts_with('•'))
        .collect();
    assert!(full.is_empty(), "lines with full paths: {full:?}");
}

/// File ▸ New topology replaces the workspace: it asks about both unsaved tabs first; Cancel
/// keeps them.
#[test]
fn new_topology_asks_about_every_unsaved_tab() {
    let tmp = tempfile::tempdir().unwrap();
    let mut app = opentosca(&tmp.path().join("repo"));
    let edited = edit_tabs(&mut app, 2);
    let mut h = window(app);
    h.get_all_by_label("File").next().unwrap().click();
    settle(&mut h);
    h.get_by_label("New topology").click();
    settle(&mut h);
    h.get_by_label_contains("2 service templates have unsaved changes");
    h.get_by_label("Cancel").click();
    settle(&mut h);
    for e in &edited {
        assert!(provisio_app::gui::workspace::tab_dirty(
            &h.state().app,
            e.tab
        ));
    }
    assert!(h.state().app.workspace.tabs.len() >= 2);
}

/// The recovery copy covers every tab with unsaved edits: after the window went away with two
/// of them (`on_exit` with edits left), the next start names both; Open brings both back in
/// their tabs, unsaved, with the edits.
#[test]
fn recovery_restores_every_unsaved_tab_and_names_them() {
    if in_own_data_dir("recovery_restores_every_unsaved_tab_and_names_them") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("repo");
    let mut app = opentosca(&root);
    let edited = edit_tabs(&mut app, 2);
    let positions: Vec<String> = edited
        .iter()
        .map(|e| {
            open_tab(&mut app, e.tab);
            app.state.doc.to_xml()
        })
        .collect();
    eframe::App::on_exit(&mut app, None);

    let mut h = window(ProvisioApp::open_at(&root, None));
    assert_eq!(h.state().app.active_modal(), Some(Modal::Recovery));
    h.get_by_label_contains("2 service templates");
    for e in &edited {
        assert!(
            shows(&h, &e.name),
            "the recovery prompt does not name {}",
            e.name
        );
    }
    h.get_by_label("Open").click();
    settle(&mut h);
    assert_eq!(h.state().app.active_modal(), None);
    for (e, xml) in edited.iter().zip(&positions) {
        let app = &mut h.state_mut().app;
        assert!(
            app.workspace.tabs.contains(&e.tab),
            "{} not in a tab",
            e.name
        );
        assert!(provisio_app::gui::workspace::tab_dirty(app, e.tab));
        open_tab(app, e.tab);
        assert_eq!(
            app.state.doc.to_xml(),
            *xml,
            "{}: edits not restored",
            e.name
        );
    }
}

/// What the window sent about its size: the `InnerSize` commands and whether it maximized.
fn size_commands(h: &Harness<'static, Window>) -> (Vec<egui::Vec2>, bool) {
    let sent = &h.state().sent;
    let sizes = sent
        .iter()
        .filter_map(|c| match c {
            ViewportCommand::InnerSize(s) => Some(*s),
            _ => None,
        })
        .collect();
    (sizes, sent.contains(&ViewportCommand::Maximized(true)))
}

/// On a 1024×640 monitor the 1400×860 window does not fit: the first frame shrinks it to the
/// monitor and maximizes it, once (so the status line is on screen). Also when the window
/// system already cut it to the monitor's size before the window manager added its title bar
/// (X11 under openbox: inner and outer 1024×640). On a big monitor it is left as it is.
#[test]
fn the_first_frame_fits_the_window_to_a_small_monitor() {
    let app = || ProvisioApp::with_document(files::new_document());
    let small = Some(egui::vec2(1024.0, 640.0));
    for (inner, outer) in [
        (egui::vec2(1400.0, 860.0), None),
        (egui::vec2(1024.0, 640.0), Some(egui::vec2(1024.0, 640.0))),
    ] {
        let h = window_sized(app(), egui::vec2(1400.0, 860.0), small, Some(inner), outer);
        let (sizes, maximized) = size_commands(&h);
        assert_eq!(sizes.len(), 1, "{inner:?}: {sizes:?}");
        assert!(sizes[0].x <= 1024.0 && sizes[0].y < 640.0, "{sizes:?}");
        assert!(maximized, "{inner:?}: not maximized");
    }

    let big = Some(egui::vec2(1600.0, 1000.0));
    let wanted = egui::vec2(1400.0, 860.0);
    for outer in [None, Some(wanted), Some(wanted + egui::vec2(2.0, 25.0))] {
        let h = window_sized(app(), egui::vec2(1400.0, 860.0), big, Some(wanted), outer);
        let (sizes, maximized) = size_commands(&h);
        assert!(sizes.is_empty() && !maximized, "{outer:?}: {sizes:?}");
    }
}

/// The recovery folder of this test's data directory (`in_own_data_dir` set it).
fn recovery_dir() -> PathBuf {
    PathBuf::from(std::env::var_os("PROVISIO_DATA_DIR").unwrap()).join("recovery")
}

/// The files of `dir` (not its folders) by name.
fn snapshot(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| {
            (
                e.file_name().to_string_lossy().to_string(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// Every file's bytes under `dir`, in any folder.
fn all_bytes(dir: &Path) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().is_dir() {
            out.extend(all_bytes(&e.path()));
        } else {
            out.push(std::fs::read(e.path()).unwrap());
        }
    }
    out
}

/// The XML of each of `edited` as edited (each put in view in turn).
fn edited_xml(app: &mut ProvisioApp, edited: &[Edited]) -> Vec<String> {
    edited
        .iter()
        .map(|e| {
            open_tab(app, e.tab);
            app.state.doc.to_xml()
        })
        .collect()
}

/// A restart on `root`: the recovery prompt is up; Open.
fn restart_and_open(root: &Path) -> Harness<'static, Window> {
    let mut h = window(ProvisioApp::open_at(root, None));
    assert_eq!(h.state().app.active_modal(), Some(Modal::Recovery));
    h.get_by_label("Open").click();
    settle(&mut h);
    h
}

/// Each of `edited` is in a tab, unsaved, with the XML in `xml`.
fn assert_restored(h: &mut Harness<'static, Window>, edited: &[Edited], xml: &[String]) {
    for (e, xml) in edited.iter().zip(xml) {
        let app = &mut h.state_mut().app;
        assert!(
            provisio_app::gui::workspace::tab_dirty(app, e.tab),
            "{} not unsaved",
            e.name
        );
        open_tab(app, e.tab);
        assert_eq!(
            app.state.doc.to_xml(),
            *xml,
            "{}: not its own edits",
            e.name
        );
    }
}

/// A and B unsaved and copied; the user saves A; the autosave after it writes B's copy and
/// the machine goes down before the list of copies is replaced (simulated: the copies this
/// autosave wrote stay, the old list and the copies it would then remove are back). The next
/// start restores A as A and B as B, both unsaved: no copy holds another file's edits.
#[test]
fn a_crash_after_saving_one_tab_restores_each_file_from_its_own_copy() {
    if in_own_data_dir("a_crash_after_saving_one_tab_restores_each_file_from_its_own_copy") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("repo");
    let mut app = opentosca(&root);
    let mut edited = edit_tabs(&mut app, 2);
    // A is the file listed first (it had the first copy).
    edited.sort_by_key(|e| e.tab.0);
    assert_ne!(edited[0].file, edited[1].file);
    let xml = edited_xml(&mut app, &edited);
    provisio_app::gui::recovery::autosave(&mut app);
    let before = snapshot(&recovery_dir());

    open_tab(&mut app, edited[0].tab);
    let a = provisio_app::gui::workspace::save_path(&app, edited[0].tab).unwrap();
    app.save_to(&a);
    assert!(!provisio_app::gui::workspace::tab_dirty(
        &app,
        edited[0].tab
    ));
    let after = snapshot(&recovery_dir());
    // The crash: what the autosave wrote, the old list, nothing removed.
    for (name, bytes) in &before {
        if name == "recovery.json" || !after.contains_key(name) {
            std::fs::write(recovery_dir().join(name), bytes).unwrap();
        }
    }
    drop(app);

    let mut h = restart_and_open(&root);
    assert_eq!(h.state().app.active_modal(), None);
    assert_restored(&mut h, &edited, &xml);
    drop(h);

    // A list whose entry for A names B's copy (what naming copies by position left): A is
    // not restored from it but named in the status line, B is restored, the copy is kept.
    let mut r = files::pending_recovery().unwrap();
    let b_copy = r
        .files
        .iter()
        .find(|f| f.library_path == edited[1].file)
        .unwrap()
        .xml
        .clone();
    let a_entry = r
        .files
        .iter_mut()
        .find(|f| f.library_path == edited[0].file)
        .unwrap();
    a_entry.xml = b_copy;
    let listed = serde_json::to_vec(&r).unwrap();
    std::fs::write(recovery_dir().join("recovery.json"), listed).unwrap();
    let mut h = restart_and_open(&root);
    assert_restored(&mut h, &edited[1..], &xml[1..]);
    let app = &mut h.state_mut().app;
    assert!(!provisio_app::gui::workspace::tab_dirty(app, edited[0].tab));
    let status = app.state.status.clone();
    assert!(
        status.contains("does not hold") && status.contains("kept in"),
        "{status}"
    );
    open_tab(app, edited[0].tab);
    assert_eq!(app.state.doc.to_xml(), xml[0], "A is not its saved self");
}

/// The window closes at start-up before the recovery prompt is answered: the earlier
/// session's copy stays as it was, and the next start offers it again and restores it.
#[test]
fn closing_the_window_before_answering_the_recovery_prompt_keeps_the_copy() {
    if in_own_data_dir("closing_the_window_before_answering_the_recovery_prompt_keeps_the_copy") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("repo");
    let mut app = opentosca(&root);
    let edited = edit_tabs(&mut app, 2);
    let xml = edited_xml(&mut app, &edited);
    eframe::App::on_exit(&mut app, None);
    let before = snapshot(&recovery_dir());
    assert!(before.len() >= 3, "{:?}", before.keys());

    let mut h = window(ProvisioApp::open_at(&root, None));
    assert_eq!(h.state().app.active_modal(), Some(Modal::Recovery));
    close_window(&mut h);
    assert!(h.state().closed);
    eframe::App::on_exit(&mut h.state_mut().app, None);
    let after = snapshot(&recovery_dir());
    assert!(
        after == before,
        "the copy changed: {:?} became {:?}",
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    drop(h);

    let mut h = restart_and_open(&root);
    assert_restored(&mut h, &edited, &xml);
}

/// A restore that cannot put everything back keeps the copy: with B's copy cut short (it no
/// longer parses), Open restores A, names B's copy and where the copy is kept in the status
/// line; after the window closes B's copy is still in the data directory. When no copy can be
/// restored nothing changes, the error says where the copy is kept and it stays there.
#[test]
fn a_failing_restore_keeps_the_copy() {
    if in_own_data_dir("a_failing_restore_keeps_the_copy") {
        return;
    }
    let data = PathBuf::from(std::env::var_os("PROVISIO_DATA_DIR").unwrap());
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("repo");
    let mut app = opentosca(&root);
    let mut edited = edit_tabs(&mut app, 2);
    // B is the file listed last (the copy read after A's).
    edited.sort_by_key(|e| e.tab.0);
    let xml = edited_xml(&mut app, &edited);
    eframe::App::on_exit(&mut app, None);
    let r = files::pending_recovery().unwrap();
    let b = r
        .files
        .iter()
        .find(|f| f.library_path == edited[1].file)
        .unwrap();
    let full = std::fs::read(r.xml_path(b)).unwrap();
    let cut = full[..full.len() / 2].to_vec();
    std::fs::write(r.xml_path(b), &cut).unwrap();

    let mut h = restart_and_open(&root);
    assert_eq!(h.state().app.active_modal(), None);
    assert_restored(&mut h, &edited[..1], &xml[..1]);
    let status = h.state().app.state.status.clone();
    assert!(
        status.contains(&r.xml_path(b).display().to_string()),
        "{status}"
    );
    assert!(status.contains("kept in"), "{status}");
    eframe::App::on_exit(&mut h.state_mut().app, None);
    assert!(
        all_bytes(&data).contains(&cut),
        "B's copy is gone from {}",
        data.display()
    );
    drop(h);

    // Nothing restorable: every copy cut short.
    let mut app = opentosca(&tmp.path().join("repo2"));
    let edited = edit_tabs(&mut app, 1);
    eframe::App::on_exit(&mut app, None);
    let r = files::pending_recovery().unwrap();
    let copy = r.xml_path(&r.files[0]);
    std::fs::write(&copy, b"<Definitions").unwrap();
    let mut h = restart_and_open(&tmp.path().join("repo2"));
    assert_eq!(h.state().app.active_modal(), Some(Modal::Error));
    let error = h.state().app.error.clone().unwrap();
    assert!(
        error.contains("Cannot recover") && error.contains("kept in"),
        "{error}"
    );
    assert!(!provisio_app::gui::workspace::tab_dirty(
        &h.state().app,
        edited[0].tab
    ));
    let kept = data.join("recovery-kept");
    // One kept copy per failed or partial restore: the first part's and this one.
    let copies = std::fs::read_dir(&kept).unwrap().count();
    assert_eq!(copies, 2, "two kept copies in {}", kept.display());
    eframe::App::on_exit(&mut h.state_mut().app, None);
    assert!(all_bytes(&kept).contains(&b"<Definitions".to_vec()));
}
