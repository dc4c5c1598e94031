//! Crash recovery across tabs: every open service template with unsaved edits is copied to the
//! data directory (every 20 s while there are any, and at exit); the next start offers them
//! back by name, and Open restores each into its tab, still unsaved. An earlier session's copy
//! is never cleared or overwritten while its prompt is unanswered, and a restore that leaves
//! anything out keeps the copy aside (`recovery-kept/<UTC date>` in the data directory); those
//! kept more than 30 days ago are removed at a start without a recovery prompt (not the newest).
//! A copy names its file by the canonical path of what was open (`<CSAR>!/<entry>`, a file of
//! a repository), so it matches again however the CSAR or folder is opened next time.

use super::workspace::{self, Tab};
use super::{ProvisioApp, files, modal};
use provisio_model::QName;
use std::collections::BTreeMap;

/// Whether the recovery folder must be left alone: a recovery of an earlier session is offered
/// and not answered yet (closing the window keeps it for the next start), or a failed restore
/// could not keep its copy aside.
pub fn held(app: &ProvisioApp) -> bool {
    app.recovery.is_some() || app.recovery_held
}

/// Removes the recovery copy (Quit after the unsaved edits were saved or discarded), unless
/// it is [`held`].
pub fn clear(app: &ProvisioApp) {
    if !held(app) {
        files::clear_recovery();
    }
}

/// Writes the recovery copy of every file with unsaved edits (or removes it when none has);
/// nothing while the copy is [`held`]. A copy that cannot be written goes to the status line.
pub fn autosave(app: &mut ProvisioApp) {
    if held(app) {
        return;
    }
    let mut by_file: BTreeMap<usize, Vec<Tab>> = BTreeMap::new();
    for t in workspace::dirty_tabs(app) {
        by_file.entry(t.0).or_default().push(t);
    }
    if by_file.is_empty() {
        files::clear_recovery();
        return;
    }
    let doc = &app.state.doc;
    let lib = doc.library();
    let opened = &doc.loaded.path;
    let workspace = (opened.as_os_str() != crate::library::BUILTIN && opened.exists()).then(|| {
        std::fs::canonicalize(opened)
            .or_else(|_| std::path::absolute(opened))
            .unwrap_or(opened.clone())
    });
    let copies = by_file
        .iter()
        .map(|(f, tabs)| {
            let defs = &lib.file(*f).definitions;
            let entry = files::RecoveredFile {
                library_path: keyed(&doc.loaded, workspace.as_deref(), &lib.file(*f).path),
                origin: workspace::save_path(app, tabs[0]),
                service_templates: tabs
                    .iter()
                    .filter_map(|t| defs.service_templates.get(t.1))
                    .map(|st| st.qname().to_string())
                    .collect(),
                xml: String::new(),
            };
            // Always XML: the copy is read back as `.tosca`, whatever the file's format.
            (entry, defs.to_xml().into_bytes())
        })
        .collect();
    if let Err(e) = crate::data_dir::write_recovery(workspace, copies) {
        app.state.status = format!("recovery copy not written: {e}");
    }
}

/// The path a copy records for library file `path` of `loaded`: its path when `ws` (the
/// canonical path of what is open) is opened again, whatever path it was opened by (relative,
/// through a link): `<CSAR>!/<entry>`, `<repository>/<its path there>` or the TOSCA file itself.
fn keyed(
    loaded: &provisio_model::Loaded,
    ws: Option<&std::path::Path>,
    path: &std::path::Path,
) -> std::path::PathBuf {
    let (Some(ws), opened) = (ws, &loaded.path) else {
        return path.to_path_buf();
    };
    if path == opened {
        return ws.to_path_buf();
    }
    let text = path.to_string_lossy();
    if let Some(entry) = text.strip_prefix(&format!("{}!/", opened.display())) {
        return format!("{}!/{entry}", ws.display()).into();
    }
    match path.strip_prefix(opened) {
        Ok(rel) => ws.join(rel),
        Err(_) => path.to_path_buf(),
    }
}

/// After a save: the copy keeps only what is still unsaved.
pub fn after_save(app: &mut ProvisioApp) {
    autosave(app);
}

/// The names of the service templates a recovery restores (local names).
pub fn names(r: &files::Recovery) -> Vec<String> {
    r.files
        .iter()
        .flat_map(|f| &f.service_templates)
        .map(|s| QName::parse(s).map(|q| q.local).unwrap_or(s.clone()))
        .collect()
}

/// A recovery copy read back: its entry and definitions.
type Copy<'a> = (&'a files::RecoveredFile, provisio_model::tosca::Definitions);

/// Reads every copy of `r` before anything changes; a copy that is missing, does not parse,
/// lists no service template or does not hold every one listed for it is left out and
/// reported (nothing else would mark its tab unsaved).
fn read_copies<'a>(r: &'a files::Recovery, skipped: &mut Vec<String>) -> Vec<Copy<'a>> {
    let mut out = Vec::new();
    for f in &r.files {
        let path = r.xml_path(f);
        let defs = match provisio_model::load::load_definitions_file(&path) {
            Ok(d) => d,
            Err(e) => {
                skipped.push(format!("{}: {e}", path.display()));
                continue;
            }
        };
        let held: Vec<String> = defs
            .service_templates
            .iter()
            .map(|s| s.qname().to_string())
            .collect();
        let missing: Vec<&String> = f
            .service_templates
            .iter()
            .filter(|st| !held.contains(st))
            .collect();
        if f.service_templates.is_empty() {
            skipped.push(format!("{}: lists no service template", path.display()));
            continue;
        }
        if !missing.is_empty() {
            let missing: Vec<String> = missing.iter().map(|s| s.to_string()).collect();
            skipped.push(format!(
                "{} does not hold {} (listed for {})",
                path.display(),
                missing.join(", "),
                f.library_path.display()
            ));
            continue;
        }
        out.push((f, defs));
    }
    out
}

/// Reopens what was open and puts each recovered file back, its service templates in tabs
/// with unsaved edits; an untitled topology or example opens from its copy. Every copy is read
/// and checked first: nothing changes when none can be restored (`Err`). Returns what was left
/// out and why (a copy that does not match its listed service templates, or whose file is no
/// longer in what was open).
pub fn restore(app: &mut ProvisioApp, r: &files::Recovery) -> Result<Vec<String>, String> {
    let mut skipped = Vec::new();
    let copies = read_copies(r, &mut skipped);
    let none = |skipped: &[String]| {
        if skipped.is_empty() {
            "the recovery copy is empty".to_string()
        } else {
            skipped.join("; ")
        }
    };
    let Some(ws) = r.workspace.as_ref().filter(|w| w.exists()) else {
        let (f, _) = copies.first().ok_or_else(|| none(&skipped))?;
        let st = f.service_templates.first().cloned().unwrap_or_default();
        let doc = files::open_recovery(&r.xml_path(f), &st, f.origin.clone())?;
        for (f, _) in &copies[1..] {
            skipped.push(format!(
                "{}: not restored without its workspace",
                f.library_path.display()
            ));
        }
        app.replace_document(doc);
        app.state.dirty = true;
        return Ok(skipped);
    };
    let doc = files::open_path(ws)?;
    let lib = &doc.loaded.library;
    let mut placed = Vec::new();
    for (f, defs) in copies {
        let Some(index) = (0..lib.files().len())
            .find(|i| !lib.file(*i).builtin && lib.file(*i).path == f.library_path)
        else {
            skipped.push(format!(
                "{} is no longer in {}",
                f.library_path.display(),
                ws.display()
            ));
            continue;
        };
        placed.push((index, f, defs));
    }
    if placed.is_empty() {
        return Err(none(&skipped));
    }
    app.replace_document(doc);
    let mut tabs = Vec::new();
    for (index, f, defs) in placed {
        for st in &f.service_templates {
            if let Some(i) = defs
                .service_templates
                .iter()
                .position(|s| s.qname().to_string() == *st)
            {
                tabs.push((index, i));
            }
        }
        let lib = &mut app.state.doc.loaded.library;
        let path = lib.file(index).path.clone();
        lib.set_definitions(index, path, defs);
    }
    for t in tabs {
        workspace::open_tab(app, t);
        app.state.dirty = true;
    }
    app.state.revalidate();
    Ok(skipped)
}

/// Keeps the copy of `r` aside (a restore left something out or failed) and says where; when
/// that fails the recovery folder is [`held`] for the rest of the session.
fn keep(app: &mut ProvisioApp, r: &files::Recovery) -> String {
    match crate::data_dir::keep_recovery(r) {
        Ok(dir) => format!("the recovery copy is kept in {}", dir.display()),
        Err(e) => {
            app.recovery_held = true;
            format!(
                "the recovery copy stays in {} (cannot keep it aside: {e})",
                r.dir.display()
            )
        }
    }
}

/// At start-up, unless the recovery prompt is up: removes the copies kept aside more than
/// [`KEEP_DAYS`](crate::data_dir::kept::KEEP_DAYS) days ago (never the newest) and says in the
/// status line which went and what could not be removed.
pub fn tidy_kept(app: &mut ProvisioApp) {
    use crate::data_dir::kept;
    if held(app) {
        return;
    }
    let t = kept::tidy_kept();
    let mut said = Vec::new();
    if !t.removed.is_empty() {
        let names: Vec<String> = t
            .removed
            .iter()
            .map(|p| {
                p.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .to_string()
            })
            .collect();
        said.push(format!(
            "removed {} recovery {} kept aside over {} days ago from {}: {}",
            names.len(),
            if names.len() == 1 { "copy" } else { "copies" },
            kept::KEEP_DAYS,
            kept::kept_dir().display(),
            names.join(", ")
        ));
    }
    if !t.failed.is_empty() {
        let failed: Vec<String> = t
            .failed
            .iter()
            .map(|(p, e)| format!("{}: {e}", p.display()))
            .collect();
        said.push(format!(
            "cannot remove old kept recovery copies: {}",
            failed.join("; ")
        ));
    }
    if !said.is_empty() {
        app.state.status = said.join("; ");
    }
}

/// Open in the recovery prompt: the prompt closes once the copy is restored or kept aside.
pub fn open(app: &mut ProvisioApp, r: &files::Recovery, names: &[String]) {
    match restore(app, r) {
        Ok(skipped) if skipped.is_empty() => {
            app.state.status = format!("recovered {}", names.join(", "));
        }
        Ok(skipped) => {
            let kept = keep(app, r);
            app.state.status = format!(
                "recovered in part; not recovered: {}; {kept}",
                skipped.join("; ")
            );
        }
        Err(e) => {
            let kept = keep(app, r);
            app.state.status = format!("cannot recover: {e}; {kept}");
            app.error = Some(format!(
                "Cannot recover: {e}\n\nNothing was changed; {kept}."
            ));
        }
    }
    app.recovery = None;
}

/// "Recover unsaved work?": names each service template the copy restores.
pub fn dialog(app: &mut ProvisioApp, ctx: &egui::Context) {
    let Some(r) = app.recovery.clone() else {
        return;
    };
    let names = names(&r);
    modal(ctx, "Recover unsaved work?", |ui| {
        ui.label(format!(
            "Provisio found unsaved changes of {} from an earlier session: {}",
            match names.len() {
                1 => "1 service template".to_string(),
                n => format!("{n} service templates"),
            },
            names.join(", ")
        ));
        match &r.workspace {
            Some(w) => ui.label(format!("Opened: {}", w.display())),
            None => ui.label(match r.files.first().and_then(|f| f.origin.as_ref()) {
                Some(p) => format!("File: {}", p.display()),
                None => "File: not saved yet (untitled)".to_string(),
            }),
        };
        for f in &r.files {
            ui.weak(format!("Recovery copy: {}", r.xml_path(f).display()));
        }
        ui.horizontal(|ui| {
            if ui.button("Open").clicked() {
                open(app, &r, &names);
            }
            if ui.button("Discard").clicked() {
                crate::data_dir::discard_recovery(&r);
                app.recovery = None;
            }
        });
    });
}
