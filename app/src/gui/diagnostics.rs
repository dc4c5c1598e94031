//! The diagnostics of the open service template (validation on every edit), the bottom panel
//! listing them (a click selects the element and centres it) and the toolbar's summary of them.

use super::state::{Document, EditorState, Selected};
use super::workspace::{self, Centre};
use super::{BottomTab, ProvisioApp};
use provisio_model::{Diagnostic, Severity};

/// Validation of the open service template plus load problems of its file.
pub fn compute(doc: &Document) -> Vec<Diagnostic> {
    let lib = doc.library();
    let file = lib.file(doc.file);
    let mut out = crate::validation::validate_all(&doc.loaded, doc.st(), Some(file.path.clone()));
    out.extend(
        lib.load_diagnostics()
            .iter()
            .filter(|d| d.file.as_ref() == Some(&file.path))
            .cloned(),
    );
    out.sort_by(|a, b| a.severity.cmp(&b.severity).then(a.element.cmp(&b.element)));
    out
}

/// The toolbar's validation summary, for the service template in view. The browser shows none,
/// so it has none; the type editor names the open tab whose errors they are (a click shows it);
/// a template no tab shows (a repository's first, before any is opened) has none either.
pub fn toolbar(app: &mut ProvisioApp, ui: &mut egui::Ui) {
    let current = (app.state.doc.file, app.state.doc.st_index);
    let named = match app.workspace.centre {
        Centre::Browser => return,
        _ if !app.workspace.tabs.contains(&current) => return,
        Centre::Editor => None,
        Centre::TypeEditor => {
            let st = app.state.doc.st();
            Some(super::in_view::short(st.name.as_ref().unwrap_or(&st.id)))
        }
    };
    let errors = app
        .state
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .count();
    let (text, color) = match (errors, &named) {
        (0, None) => ("✔ valid".to_string(), GREEN),
        (0, Some(n)) => (format!("✔ {n} valid"), GREEN),
        (e, None) => (format!("⛔ {e} error(s)"), RED),
        (e, Some(n)) => (format!("⛔ {e} error(s) in {n}"), RED),
    };
    ui.separator();
    let r = ui
        .add(egui::Button::new(egui::RichText::new(text).color(color)).frame(false))
        .on_hover_text(format!(
            "Validation of service template {}",
            app.state.doc.st().qname()
        ));
    if r.clicked() {
        app.tab = BottomTab::Diagnostics;
        if named.is_some() {
            workspace::open_tab(app, current);
        }
    }
}

const GREEN: egui::Color32 = egui::Color32::from_rgb(60, 170, 90);
const RED: egui::Color32 = egui::Color32::from_rgb(220, 70, 60);

/// The bottom panel.
pub fn panel(ui: &mut egui::Ui, state: &mut EditorState) {
    let errors = state
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = state.diagnostics.len() - errors;
    ui.horizontal(|ui| {
        ui.label(
            egui::RichText::new(format!("{errors} error(s)")).color(if errors > 0 {
                egui::Color32::from_rgb(220, 70, 60)
            } else {
                ui.visuals().weak_text_color()
            }),
        );
        ui.label(
            egui::RichText::new(format!("{warnings} warning(s)")).color(if warnings > 0 {
                egui::Color32::from_rgb(210, 160, 40)
            } else {
                ui.visuals().weak_text_color()
            }),
        );
    });
    ui.separator();
    let mut clicked: Option<String> = None;
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            if state.diagnostics.is_empty() {
                ui.weak("No problems: the topology is valid.");
            }
            for d in &state.diagnostics {
                let (icon, color) = match d.severity {
                    Severity::Error => ("⛔", egui::Color32::from_rgb(220, 70, 60)),
                    Severity::Warning => ("⚠", egui::Color32::from_rgb(210, 160, 40)),
                };
                let text = match &d.hint {
                    Some(h) => format!("{icon} {}: {}  — {h}", d.element, d.message),
                    None => format!("{icon} {}: {}", d.element, d.message),
                };
                let r = ui.add(
                    egui::Label::new(egui::RichText::new(text).color(color))
                        .sense(egui::Sense::click()),
                );
                if r.clicked() {
                    clicked = Some(d.element.clone());
                }
            }
        });
    if let Some(el) = clicked {
        let topo = state.doc.topology();
        let sel = if topo.node(&el).is_some() {
            Some(Selected::Node(el))
        } else if topo.relationship_templates.iter().any(|r| r.id == el) {
            Some(Selected::Relationship(el))
        } else {
            None
        };
        if let Some(s) = sel {
            state.selection.clear();
            state.selection.insert(s);
            state.center_on_selection = true;
        }
    }
}
