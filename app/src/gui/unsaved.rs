//! Unsaved edits across the open service templates (every tab, not only the one in view):
//! the prompt before Quit, closing the window, New and Open ("N service templates have unsaved
//! changes: A, B" with Save all / Discard all / Cancel), and Save all.

use super::workspace::{self, Tab};
use super::{Pending, ProvisioApp, files, modal, recovery};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Whether any open service template (tab) has unsaved edits.
pub fn any(app: &ProvisioApp) -> bool {
    !workspace::dirty_tabs(app).is_empty()
}

/// Saves every service template with unsaved edits, each file once and atomically (as Save
/// does). Returns the files written, or what was not saved and why (those keep their edits).
pub fn save_all(app: &mut ProvisioApp) -> Result<Vec<PathBuf>, Vec<String>> {
    let mut by_file: BTreeMap<usize, Vec<Tab>> = BTreeMap::new();
    for t in workspace::dirty_tabs(app) {
        by_file.entry(t.0).or_default().push(t);
    }
    let (mut written, mut refused) = (Vec::new(), Vec::new());
    for tabs in by_file.values() {
        let names = names(app, tabs).join(", ");
        let Some(path) = workspace::save_path(app, tabs[0]) else {
            refused.push(format!(
                "{names}: not saved yet, has no file (use Save as… in the File menu)"
            ));
            continue;
        };
        match files::write_file(&app.state.doc, tabs[0].0, &path) {
            Ok(()) => {
                for t in tabs {
                    workspace::set_clean(app, *t);
                }
                if app.state.doc.loaded.kind == provisio_model::InputKind::File {
                    files::remember_recent(&path);
                }
                written.push(path);
            }
            Err(e) => refused.push(format!("{names}: {e}")),
        }
    }
    recovery::after_save(app);
    let shown: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
    if refused.is_empty() {
        app.state.status = format!("saved {}", shown.join(", "));
        Ok(written)
    } else {
        app.state.status = format!("save failed: {}", refused.join("; "));
        Err(refused)
    }
}

/// The names of `tabs`, as their tabs show them.
pub fn names(app: &ProvisioApp, tabs: &[Tab]) -> Vec<String> {
    tabs.iter().map(|t| workspace::tab_name(app, *t)).collect()
}

/// The question before `app.confirm` (Quit, New, Open) drops unsaved edits.
pub fn confirm_dialog(app: &mut ProvisioApp, ctx: &egui::Context) {
    let Some(p) = app.confirm.clone() else {
        return;
    };
    let tabs = workspace::dirty_tabs(app);
    if tabs.is_empty() {
        app.confirm = None;
        app.do_pending(p, ctx);
        return;
    }
    let names = names(app, &tabs);
    let several = tabs.len() > 1;
    #[derive(PartialEq)]
    enum Answer {
        Save,
        Discard,
        Cancel,
    }
    let mut answer = None;
    let lines: Vec<String> = tabs
        .iter()
        .zip(&names)
        .map(|(t, n)| match workspace::save_path(app, *t) {
            Some(p) => format!("• {n} — {}", p.display()),
            None => format!("• {n} — not saved yet"),
        })
        .collect();
    modal(ctx, "Unsaved changes", |ui| {
        if several {
            ui.label(format!(
                "{} service templates have unsaved changes: {}",
                tabs.len(),
                names.join(", ")
            ));
        } else {
            ui.label(format!(
                "The topology {} has unsaved changes. Save them?",
                names[0]
            ));
        }
        for l in &lines {
            ui.weak(l);
        }
        ui.horizontal(|ui| {
            let (save, discard) = if several {
                ("Save all", "Discard all")
            } else {
                ("Save", "Discard")
            };
            if ui.button(save).clicked() {
                answer = Some(Answer::Save);
            }
            if ui.button(discard).clicked() {
                answer = Some(Answer::Discard);
            }
            if ui.button("Cancel").clicked() || ui.input(|i| i.key_pressed(egui::Key::Escape)) {
                answer = Some(Answer::Cancel);
            }
        });
    });
    let Some(answer) = answer else {
        return;
    };
    app.confirm = None;
    match answer {
        Answer::Cancel => {}
        Answer::Discard => {
            for t in tabs {
                workspace::set_clean(app, t);
            }
            app.do_pending(p, ctx);
        }
        Answer::Save => {
            let current = (app.state.doc.file, app.state.doc.st_index);
            if tabs == [current] && app.state.doc.save_path.is_none() {
                // Not saved yet: Save as asks where (the user quits again after).
                app.save();
                return;
            }
            match save_all(app) {
                Ok(_) => app.do_pending(p, ctx),
                Err(refused) => {
                    let what = match p {
                        Pending::Quit => "the window stays open",
                        _ => "nothing was closed",
                    };
                    app.error = Some(format!("Not saved ({what}):\n{}", refused.join("\n")));
                }
            }
        }
    }
}
