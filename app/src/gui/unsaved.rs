//! Unsaved edits across the open service templates (every tab, not only the one in view):
//! the prompt before Quit, closing the window, New and Open ("N service templates have unsaved
//! changes: A, B" with Save all / Discard all / Cancel), and Save all.

use super::workspace::{self, Tab};
use super::{Pending, ProvisioApp, files, modal, recovery};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

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
    let opened = app.state.doc.loaded.path.clone();
    // Each line: the name and a short file name, the full path on hover.
    let lines: Vec<(String, Option<PathBuf>)> = tabs
        .iter()
        .zip(&names)
        .map(|(t, n)| match workspace::save_path(app, *t) {
            Some(p) => (format!("• {n} — {}", short_path(&opened, &p)), Some(p)),
            None => (format!("• {n} — not saved yet"), None),
        })
        .collect();
    modal(ctx, "Unsaved changes", |ui| {
        // Wider than other prompts where the window allows: a line per file, each one line.
        ui.set_max_width((ui.ctx().content_rect().width() - 80.0).clamp(560.0, 760.0));
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
        for (l, full) in &lines {
            let label = egui::Label::new(egui::RichText::new(l).weak())
                .truncate()
                .show_tooltip_when_elided(false);
            let r = ui.add(label);
            if let Some(p) = full {
                // Absolute also when what is open was opened by a relative path.
                let p = std::path::absolute(p).unwrap_or(p.clone());
                r.on_hover_text(p.display().to_string());
            }
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

/// `path` as the unsaved-changes prompt shows it: relative to what is open (`opened`: a
/// repository's folder), else its file name; of a longer one only the last two parts
/// (`…/MyApp/ServiceTemplate.tosca`: a Winery file's folder is its service template's id), so
/// a line fits the prompt.
pub fn short_path(opened: &Path, path: &Path) -> String {
    let parts: Vec<String> = match path.strip_prefix(opened) {
        Ok(rel) if !rel.as_os_str().is_empty() => rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().to_string())
            .collect(),
        _ => vec![
            path.file_name()
                .unwrap_or(path.as_os_str())
                .to_string_lossy()
                .to_string(),
        ],
    };
    match parts.as_slice() {
        [.., a, b] if parts.len() > 2 => format!("…/{a}/{b}"),
        _ => parts.join("/"),
    }
}

#[cfg(test)]
mod tests {
    use super::short_path;
    use std::path::Path;

    #[test]
    fn short_paths_are_relative_to_what_is_open() {
        let repo = Path::new("/home/ann/repo");
        let st = repo.join("servicetemplates/http%3A%2F%2Fx.org/MyApp/ServiceTemplate.tosca");
        assert_eq!(short_path(repo, &st), "…/MyApp/ServiceTemplate.tosca");
        assert_eq!(short_path(repo, &repo.join("a/b.tosca")), "a/b.tosca");
        let file = Path::new("/home/ann/models/plant.tosca");
        assert_eq!(short_path(file, file), "plant.tosca");
        assert_eq!(short_path(repo, Path::new("/elsewhere/x.yaml")), "x.yaml");
    }
}
