//! Crash recovery across tabs: every open service template with unsaved edits is copied to the
//! data directory (every 20 s while there are any, and at exit); the next start offers them
//! back by name, and Open restores each into its tab, still unsaved.

use super::workspace::{self, Tab};
use super::{ProvisioApp, files, modal};
use provisio_model::QName;
use std::collections::BTreeMap;

/// Writes the recovery copy of every file with unsaved edits (or removes it when none has).
pub fn autosave(app: &ProvisioApp) {
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
    let copies = by_file
        .iter()
        .map(|(f, tabs)| {
            let defs = &lib.file(*f).definitions;
            let entry = files::RecoveredFile {
                library_path: lib.file(*f).path.clone(),
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
    let opened = &doc.loaded.path;
    let workspace = (opened.as_os_str() != crate::library::BUILTIN && opened.exists())
        .then(|| std::path::absolute(opened).unwrap_or(opened.clone()));
    crate::data_dir::write_recovery(workspace, copies);
}

/// After a save: the copy keeps only what is still unsaved.
pub fn after_save(app: &ProvisioApp) {
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

/// Reopens what was open and puts each recovered file back, its service templates in tabs
/// with unsaved edits; an untitled topology or example opens from its copy.
pub fn restore(app: &mut ProvisioApp, r: &files::Recovery) -> Result<(), String> {
    let Some(ws) = r.workspace.as_ref().filter(|w| w.exists()) else {
        let f = r.files.first().ok_or("the recovery copy is empty")?;
        let st = f.service_templates.first().cloned().unwrap_or_default();
        app.replace_document(files::open_recovery(&r.xml_path(f), &st, f.origin.clone())?);
        app.state.dirty = true;
        return Ok(());
    };
    app.replace_document(files::open_path(ws)?);
    let mut tabs = Vec::new();
    for f in &r.files {
        let defs = provisio_model::load::load_definitions_file(&r.xml_path(f))
            .map_err(|e| format!("{}: {e}", r.xml_path(f).display()))?;
        let lib = &mut app.state.doc.loaded.library;
        let index = (0..lib.files().len())
            .find(|i| !lib.file(*i).builtin && lib.file(*i).path == f.library_path)
            .ok_or_else(|| {
                format!(
                    "{} is no longer in {}",
                    f.library_path.display(),
                    ws.display()
                )
            })?;
        for st in &f.service_templates {
            if let Some(i) = defs
                .service_templates
                .iter()
                .position(|s| s.qname().to_string() == *st)
            {
                tabs.push((index, i));
            }
        }
        lib.set_definitions(index, f.library_path.clone(), defs);
    }
    for t in tabs {
        workspace::open_tab(app, t);
        app.state.dirty = true;
    }
    app.state.revalidate();
    Ok(())
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
                app.recovery = None;
                match restore(app, &r) {
                    Ok(()) => app.state.status = format!("recovered {}", names.join(", ")),
                    Err(e) => app.error = Some(format!("Cannot recover: {e}")),
                }
            }
            if ui.button("Discard").clicked() {
                crate::data_dir::discard_recovery(&r);
                app.recovery = None;
            }
        });
    });
}
