//! Crash recovery beyond Winery repositories opened by their full path, driven like a user with
//! egui_kittest: an edit in a service template opened from a CSAR comes back in its tab after
//! a crash (the CSAR opened by a relative path as `provisio plant.csar` does, or by its full
//! path; a repository opened by a relative path too); an idle window with unsaved edits still
//! wakes up for the next copy; copies kept aside long ago are removed at start-up (never the
//! newest, never while the recovery prompt is up) and the status line says which, naming what
//! could not be removed.

mod common;
use common::in_own_data_dir;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use provisio_app::gui::commands::Command;
use provisio_app::gui::workspace::{open_tab, tab_dirty};
use provisio_app::gui::{Modal, ProvisioApp, files, recovery};
use std::path::{Path, PathBuf};

fn window(app: ProvisioApp) -> Harness<'static, ProvisioApp> {
    let mut h = Harness::builder()
        .with_size(egui::vec2(1024.0, 640.0))
        .build_ui_state(|ui, app: &mut ProvisioApp| app.ui(ui), app);
    h.run_steps(6);
    h
}

/// The data directory of this test (`in_own_data_dir` set it).
fn data_dir() -> PathBuf {
    PathBuf::from(std::env::var_os("PROVISIO_DATA_DIR").unwrap())
}

/// The file in view as a path in what is open (a CSAR's entry `Definitions/x.tosca`, a
/// repository's `servicetemplates/…`), and the service template's `{ns}id`.
fn in_view(app: &ProvisioApp) -> (String, String) {
    let doc = &app.state.doc;
    let path = &doc.library().file(doc.file).path;
    let text = path.to_string_lossy().to_string();
    let entry = match text.split_once("!/") {
        Some((_, e)) => e.to_string(),
        None => path
            .strip_prefix(&doc.loaded.path)
            .unwrap_or(path)
            .to_string_lossy()
            .to_string(),
    };
    (entry, doc.st().qname().to_string())
}

/// What `opened` (relative to the working directory, or not) shows first is edited (its
/// nodes moved) and not saved; the app goes down after an autosave (a crash: no exit). The
/// next start on `opened` offers the copy; Open puts the edit back in the tab of that service
/// template of that file, unsaved.
fn crash_and_recover(opened: &Path) {
    let mut app = ProvisioApp::open_at(opened, None);
    assert_eq!(app.active_modal(), None, "{opened:?}: {:?}", app.error);
    let ids: Vec<String> = app
        .state
        .doc
        .topology()
        .node_templates
        .iter()
        .map(|n| n.id.clone())
        .collect();
    assert!(!ids.is_empty(), "no nodes to move");
    app.state.apply(Command::MoveNodes {
        ids,
        dx: 37.0,
        dy: 11.0,
        coalesce: false,
    });
    let edited = in_view(&app);
    let xml = app.state.doc.to_xml();
    recovery::autosave(&mut app);
    let status = &app.state.status;
    assert!(!status.contains("not written"), "{status}");
    drop(app);

    let mut h = window(ProvisioApp::open_at(opened, None));
    assert_eq!(
        h.state().active_modal(),
        Some(Modal::Recovery),
        "{opened:?}"
    );
    h.get_by_label_contains("1 service template");
    h.get_by_label("Open").click();
    h.run_steps(6);
    let app = h.state_mut();
    let status = app.state.status.clone();
    assert_eq!(
        app.active_modal(),
        None,
        "{opened:?}: {:?} ({status})",
        app.error
    );
    assert!(
        status.starts_with("recovered") && !status.contains("kept"),
        "{opened:?}: {status}"
    );
    let tab = (app.state.doc.file, app.state.doc.st_index);
    assert_eq!(in_view(app), edited, "{opened:?}: another tab in view");
    assert!(app.workspace.tabs.contains(&tab));
    assert!(tab_dirty(app, tab), "{opened:?}: the tab is not unsaved");
    open_tab(app, tab);
    assert_eq!(app.state.doc.to_xml(), xml, "{opened:?}: not the edit");
    drop(h);
    files::clear_recovery();
}

/// An edit of a service template opened from a CSAR comes back in its tab after a crash,
/// with the CSAR opened by a relative path (the working directory is its folder, as with
/// `provisio plant.csar`) and by its full path.
#[test]
fn an_edit_in_a_csar_comes_back_in_its_tab_after_a_crash() {
    if in_own_data_dir("an_edit_in_a_csar_comes_back_in_its_tab_after_a_crash") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/corpus/csar/ServiceTemplateWithAllReqCapVariants.csar");
    std::fs::copy(&corpus, tmp.path().join("plant.csar")).unwrap();
    // This test runs alone in its process (in_own_data_dir).
    std::env::set_current_dir(tmp.path()).unwrap();
    crash_and_recover(Path::new("plant.csar"));
    crash_and_recover(&tmp.path().join("plant.csar"));
}

/// The same for a Winery repository opened by a relative path (`provisio repo`).
#[test]
fn an_edit_in_a_repository_opened_by_a_relative_path_comes_back_after_a_crash() {
    if in_own_data_dir("an_edit_in_a_repository_opened_by_a_relative_path_comes_back_after_a_crash")
    {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/corpus/opentosca-public");
    common::copy_tree(&corpus, &tmp.path().join("repo"));
    // This test runs alone in its process (in_own_data_dir).
    std::env::set_current_dir(tmp.path()).unwrap();
    crash_and_recover(Path::new("repo"));
}

/// `secs` since the epoch as a kept folder's name (`2026-12-01_143005`, UTC), by date(1).
fn stamp(secs: u64) -> String {
    let out = std::process::Command::new("date")
        .args(["-u", "-d", &format!("@{secs}"), "+%Y-%m-%d_%H%M%S"])
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A kept folder kept `days` ago in `kept`, with a list and a copy as a restore keeps them.
fn kept_folder(kept: &Path, days: u64) -> PathBuf {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let dir = kept.join(stamp(now - days * 86_400 - 60));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("recovery.json"), format!("{{\"days\":{days}}}")).unwrap();
    std::fs::write(dir.join("recovery-00ff.tosca"), b"<Definitions/>").unwrap();
    dir
}

/// Makes `file` impossible to remove (immutable for root, which ignores permissions; its
/// folder read-only otherwise) until dropped.
struct Locked(PathBuf, bool);

impl Locked {
    fn new(file: &Path) -> Self {
        let root = std::process::Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
        let l = Locked(file.to_path_buf(), root);
        l.set(true);
        l
    }

    fn set(&self, locked: bool) {
        if self.1 {
            let flag = if locked { "+i" } else { "-i" };
            let ok = std::process::Command::new("chattr")
                .arg(flag)
                .arg(&self.0)
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "chattr {flag} {} failed", self.0.display());
        } else {
            use std::os::unix::fs::PermissionsExt;
            let mode = if locked { 0o500 } else { 0o700 };
            let dir = self.0.parent().unwrap();
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode)).unwrap();
        }
    }
}

impl Drop for Locked {
    fn drop(&mut self) {
        self.set(false);
    }
}

/// Every file under `dir` with its bytes.
fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().is_dir() {
            out.extend(files_under(&e.path()));
        } else {
            out.push((e.path(), std::fs::read(e.path()).unwrap()));
        }
    }
    out.sort();
    out
}

/// A start without a recovery prompt removes the kept folders kept over 30 days ago and says
/// which in the status line; a file that cannot be removed is named and stays, as does every
/// recent folder and anything not named like a kept folder. Once the file can go, the next
/// start removes its folder and says so; a start after that says nothing. The newest kept
/// folder stays however old; nothing is removed while the recovery prompt is up.
#[test]
fn old_kept_copies_are_removed_at_start_up_and_named() {
    if in_own_data_dir("old_kept_copies_are_removed_at_start_up_and_named") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("plant.tosca");
    std::fs::write(&file, files::new_document().to_xml()).unwrap();
    let kept = data_dir().join("recovery-kept");
    let old = kept_folder(&kept, 90);
    let stuck = kept_folder(&kept, 45);
    let recent = kept_folder(&kept, 10);
    let notes = kept.join("notes");
    std::fs::create_dir_all(&notes).unwrap();
    std::fs::write(notes.join("why.txt"), b"my notes").unwrap();
    let locked_file = stuck.join("recovery-locked.tosca");
    std::fs::write(&locked_file, b"<Definitions/>").unwrap();
    let stays = [&recent, &notes].map(|d| files_under(d));
    let lock = Locked::new(&locked_file);

    let app = ProvisioApp::open_at(&file, None);
    let status = app.state.status.clone();
    assert!(!old.exists(), "{} not removed: {status}", old.display());
    let name = |d: &Path| d.file_name().unwrap().to_string_lossy().to_string();
    assert!(
        status.contains("removed 1 recovery copy") && status.contains(&name(&old)),
        "{status}"
    );
    assert!(
        status.contains(&locked_file.display().to_string()) && status.contains("cannot remove"),
        "the file that cannot be removed is not named: {status}"
    );
    assert!(locked_file.exists());
    assert!(!status.contains(&name(&recent)), "{status}");
    assert_eq!([&recent, &notes].map(|d| files_under(d)), stays);
    drop(app);

    // The file can go now: the next start removes its folder; the one after says nothing.
    drop(lock);
    let app = ProvisioApp::open_at(&file, None);
    assert!(!stuck.exists(), "{}", app.state.status);
    let status = app.state.status.clone();
    assert!(status.contains(&name(&stuck)), "{status}");
    assert!(!status.contains("cannot"), "{status}");
    let app = ProvisioApp::open_at(&file, None);
    assert_eq!(app.state.status, format!("opened {}", file.display()));
    assert_eq!([&recent, &notes].map(|d| files_under(d)), stays);

    // Only old folders: the newest stays.
    std::fs::remove_dir_all(&recent).unwrap();
    let older = kept_folder(&kept, 60);
    let newest = kept_folder(&kept, 50);
    let app = ProvisioApp::open_at(&file, None);
    assert!(!older.exists() && newest.exists(), "{}", app.state.status);

    // The recovery prompt is up: nothing is removed.
    let older = kept_folder(&kept, 70);
    let recovery = data_dir().join("recovery");
    std::fs::create_dir_all(&recovery).unwrap();
    std::fs::write(
        recovery.join("recovery-1.tosca"),
        std::fs::read(&file).unwrap(),
    )
    .unwrap();
    let manifest = serde_json::json!({
        "workspace": null,
        "files": [{
            "library_path": file,
            "origin": file,
            "service_templates": ["{http://provisio.dev/tosca/servicetemplates}NewTopology"],
            "xml": "recovery-1.tosca",
        }],
        "saved_at": 0,
    });
    std::fs::write(recovery.join("recovery.json"), manifest.to_string()).unwrap();
    let app = ProvisioApp::open_at(&file, None);
    assert_eq!(app.active_modal(), Some(Modal::Recovery));
    assert!(older.exists() && newest.exists(), "{}", app.state.status);
}

/// How long the window may sleep after its last frame before it draws the next one (eframe
/// draws none without input or a repaint request).
fn sleeps_for(h: &Harness<'static, ProvisioApp>) -> std::time::Duration {
    h.output().viewport_output[&egui::ViewportId::ROOT].repaint_delay
}

/// An idle window draws no frames, so a window with unsaved edits asks to be woken for the
/// next recovery copy (within its 20 s); without unsaved edits it sleeps until there is input.
#[test]
fn an_idle_window_with_unsaved_edits_wakes_up_for_the_next_copy() {
    let csar = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/corpus/csar/ServiceTemplateWithAllReqCapVariants.csar");
    let mut h = window(ProvisioApp::with_document(files::open_path(&csar).unwrap()));
    h.run_steps(6);
    let clean = sleeps_for(&h);
    assert!(clean > std::time::Duration::from_secs(20), "{clean:?}");
    let app = h.state_mut();
    let ids = vec![app.state.doc.topology().node_templates[0].id.clone()];
    app.state.apply(Command::MoveNodes {
        ids,
        dx: 5.0,
        dy: 0.0,
        coalesce: false,
    });
    // Settled: the frames right after the edit repaint anyway.
    h.run_steps(6);
    let dirty = sleeps_for(&h);
    assert!(dirty <= std::time::Duration::from_secs(20), "{dirty:?}");
}
