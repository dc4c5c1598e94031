//! The type editor: a form for a node type (name, namespace, DerivedFrom, abstract/final,
//! Winery key/value properties, requirement and capability definitions, interfaces with
//! operations and parameters, an implementation whose artifact files are copied into the
//! repository) or a relationship type (ValidSource/ValidTarget). Saving writes Winery's files
//! (in a repository) or the open file, and the library is re-indexed so the palette and the
//! validation see the new definition at once.

//!
//! The form's state is in `form.rs`, its sections in `properties.rs` (the key/value property
//! table), `reqcaps.rs` (requirement and capability definitions), `interfaces.rs` (operations
//! and parameters) and `implementations.rs` (artifacts); `save.rs` writes the result and
//! `close.rs` asks before unsaved edits would go.

mod close;
mod form;
mod implementations;
mod interfaces;
mod properties;
mod reqcaps;
mod save;

pub use close::{TypeConfirm, ask_before, confirm_dialog, request_close, unsaved};
pub use form::{
    ArtifactRow, ReqCapRow, TypeForm, start_edit, start_new_node_type, start_new_relationship_type,
};
pub use save::{save_form, save_shown};

use super::ProvisioApp;
use implementations::artifacts_section;
use interfaces::interfaces_section;
use properties::properties_section;
use provisio_model::QName;
use provisio_model::tosca::*;
use reqcaps::reqcap_section;

const XSD_TYPES: &[&str] = &[
    "xsd:string",
    "xsd:integer",
    "xsd:boolean",
    "xsd:float",
    "xsd:decimal",
    "xsd:anyURI",
];

/// Lists the pickers need.
struct Choices {
    node_types: Vec<QName>,
    relationship_types: Vec<QName>,
    requirement_types: Vec<QName>,
    capability_types: Vec<QName>,
    artifact_types: Vec<QName>,
}

fn choices(app: &ProvisioApp) -> Choices {
    let lib = app.state.doc.library();
    let mut artifact_types: Vec<QName> = lib
        .files()
        .iter()
        .flat_map(|f| f.definitions.artifact_types.iter().map(|t| t.base.qname()))
        .collect();
    artifact_types.sort();
    artifact_types.dedup();
    Choices {
        node_types: lib.node_types().iter().map(|t| t.base.qname()).collect(),
        relationship_types: lib
            .relationship_types()
            .iter()
            .map(|t| t.base.qname())
            .collect(),
        requirement_types: lib
            .requirement_types()
            .iter()
            .map(|t| t.base.qname())
            .collect(),
        capability_types: lib
            .capability_types()
            .iter()
            .map(|t| t.base.qname())
            .collect(),
        artifact_types,
    }
}

fn pick(
    ui: &mut egui::Ui,
    id: impl std::hash::Hash + std::fmt::Debug,
    value: &mut Option<QName>,
    from: &[QName],
) {
    let text = value
        .as_ref()
        .map(|q| q.local.clone())
        .unwrap_or_else(|| "(none)".into());
    egui::ComboBox::from_id_salt(id)
        .selected_text(text)
        .width(260.0)
        .show_ui(ui, |ui| {
            ui.selectable_value(value, None, "(none)");
            for q in from {
                ui.selectable_value(value, Some(q.clone()), &q.local)
                    .on_hover_text(q.to_string());
            }
        })
        .response
        .on_hover_text(value.as_ref().map(|q| q.to_string()).unwrap_or_default());
}

fn pick_required(
    ui: &mut egui::Ui,
    id: impl std::hash::Hash + std::fmt::Debug,
    value: &mut QName,
    from: &[QName],
) {
    let mut v = Some(value.clone()).filter(|q| !q.local.is_empty());
    pick(ui, id, &mut v, from);
    *value = v.unwrap_or_default();
}

/// The form in the central area.
pub fn editor(app: &mut ProvisioApp, ui: &mut egui::Ui) {
    let choices = choices(app);
    let Some(f) = app.workspace.type_editor.as_mut() else {
        ui.label("No type open.");
        return;
    };
    let mut save = false;
    let mut close = false;
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            ui.heading(match (f.kind, &f.original) {
                (TypeKind::RelationshipType, None) => "New relationship type".to_string(),
                (TypeKind::RelationshipType, Some(q)) => format!("Relationship type {}", q.local),
                (_, None) => "New node type".to_string(),
                (_, Some(q)) => format!("Node type {}", q.local),
            });
            egui::Grid::new("type-head").num_columns(2).show(ui, |ui| {
                let l = ui.label("Type name");
                ui.add(egui::TextEdit::singleline(&mut f.name).desired_width(360.0))
                    .labelled_by(l.id);
                ui.end_row();
                let l = ui.label("Type namespace");
                ui.add(egui::TextEdit::singleline(&mut f.namespace).desired_width(360.0))
                    .labelled_by(l.id);
                ui.end_row();
                ui.label("Derived from");
                let from = if f.kind == TypeKind::RelationshipType {
                    &choices.relationship_types
                } else {
                    &choices.node_types
                };
                pick(ui, "derived-from", &mut f.derived_from, from);
                ui.end_row();
                ui.label("");
                ui.horizontal(|ui| {
                    ui.checkbox(&mut f.is_abstract, "abstract");
                    ui.checkbox(&mut f.is_final, "final");
                });
                ui.end_row();
                if f.kind == TypeKind::RelationshipType {
                    ui.label("Valid source");
                    pick(ui, "valid-source", &mut f.valid_source, &choices.node_types);
                    ui.end_row();
                    ui.label("Valid target");
                    pick(ui, "valid-target", &mut f.valid_target, &choices.node_types);
                    ui.end_row();
                }
            });
            properties_section(ui, f);
            if f.kind == TypeKind::NodeType {
                reqcap_section(
                    ui,
                    "Requirement definitions",
                    "req",
                    &mut f.requirements,
                    &choices.requirement_types,
                );
                reqcap_section(
                    ui,
                    "Capability definitions",
                    "cap",
                    &mut f.capabilities,
                    &choices.capability_types,
                );
                interfaces_section(ui, f);
                artifacts_section(ui, f, &choices.artifact_types);
            }
            ui.separator();
            ui.horizontal(|ui| {
                if ui.button("Save type").clicked() {
                    save = true;
                }
                if ui.button("Close type editor").clicked() {
                    close = true;
                }
            });
            // Below the buttons, so a message never pushes them away from the pointer.
            if let Some((ok, m)) = &f.message {
                let c = if *ok {
                    egui::Color32::from_rgb(60, 170, 90)
                } else {
                    egui::Color32::from_rgb(220, 70, 60)
                };
                ui.colored_label(c, m);
            }
        });
    if save {
        save_shown(app);
    }
    if close {
        request_close(app);
    }
}

fn section(ui: &mut egui::Ui, title: &str) {
    ui.add_space(8.0);
    ui.label(egui::RichText::new(title).strong().size(15.0));
}
