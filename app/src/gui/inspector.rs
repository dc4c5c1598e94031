//! The inspector: the selected node template's id, name, type, instances and properties as
//! typed fields (JSON-list editor for hardwareIds/addresses/certificates, masked passwords, raw
//! XML for non key/value properties), its requirements, capabilities and deployment artifacts;
//! or the selected relationship.

use super::commands::Command;
use super::state::{EditorState, Selected};
use provisio_model::plan::is_secret_name;
use provisio_model::tosca::MaxInstances;
use provisio_model::validate::JSON_LIST_KEYS;

pub fn inspector(ui: &mut egui::Ui, state: &mut EditorState) {
    ui.heading("Inspector");
    let sel: Vec<Selected> = state.selection.iter().cloned().collect();
    match sel.as_slice() {
        [] => {
            let st = state.doc.st();
            ui.label(
                egui::RichText::new(st.name.clone().unwrap_or_else(|| st.id.clone())).strong(),
            );
            ui.weak(st.qname().to_string());
            ui.label(format!(
                "{} node templates, {} relationships",
                st.topology.node_templates.len(),
                st.topology.relationship_templates.len()
            ));
            ui.add_space(8.0);
            ui.weak("Select a node or relationship to edit it. Drag types from the palette; drag from the round handle on a node's right edge to another node to connect them.");
        }
        [Selected::Node(id)] => node(ui, state, id.clone()),
        [Selected::Relationship(id)] => relationship(ui, state, id),
        many => {
            ui.label(format!("{} elements selected", many.len()));
        }
    }
}

fn node(ui: &mut egui::Ui, state: &mut EditorState, id: String) {
    let Some(n) = state.doc.node(&id).cloned() else {
        return;
    };
    let lib = state.doc.library();
    let keys: Vec<provisio_model::tosca::PropertyDef> = lib
        .node_properties_definition(&n.type_ref)
        .map(|d| d.keys().to_vec())
        .unwrap_or_default();
    let doc = lib
        .node_type(&n.type_ref)
        .and_then(|t| t.base.documentation.clone());
    let mut cmds: Vec<Command> = Vec::new();
    let mut seal = false;
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            egui::Grid::new("node-grid")
                .num_columns(2)
                .spacing([8.0, 6.0])
                .show(ui, |ui| {
                    ui.label("Id");
                    let mut new_id = id.clone();
                    let r = ui.text_edit_singleline(&mut new_id);
                    if r.lost_focus() && new_id != id {
                        cmds.push(Command::SetId {
                            node: id.clone(),
                            id: new_id,
                        });
                    }
                    ui.end_row();
                    ui.label("Name");
                    let mut name = n.name.clone().unwrap_or_default();
                    let r = ui.text_edit_singleline(&mut name);
                    if r.changed() {
                        cmds.push(Command::Rename {
                            node: id.clone(),
                            name,
                        });
                    }
                    seal |= r.lost_focus();
                    ui.end_row();
                    ui.label("Type");
                    ui.label(&n.type_ref.local)
                        .on_hover_text(n.type_ref.to_string());
                    ui.end_row();
                    ui.label("Instances");
                    ui.horizontal(|ui| {
                        let mut min = n.min_instances;
                        let mut max = match n.max_instances {
                            MaxInstances::Bounded(m) => m,
                            MaxInstances::Unbounded => 0,
                        };
                        let a = ui.add(
                            egui::DragValue::new(&mut min)
                                .range(0..=10_000)
                                .prefix("min "),
                        );
                        let b = ui.add(
                            egui::DragValue::new(&mut max)
                                .range(0..=10_000)
                                .prefix("max ")
                                .custom_formatter(|v, _| {
                                    if v == 0.0 {
                                        "∞".into()
                                    } else {
                                        format!("{v}")
                                    }
                                }),
                        );
                        if a.changed() || b.changed() {
                            let max = if max == 0 {
                                MaxInstances::Unbounded
                            } else {
                                MaxInstances::Bounded(max)
                            };
                            cmds.push(Command::SetInstances {
                                node: id.clone(),
                                min,
                                max,
                            });
                        }
                    });
                    ui.end_row();
                });
            if let Some(d) = doc {
                ui.add_space(4.0);
                ui.weak(d);
            }
            ui.separator();
            ui.strong("Properties");
            let kv: Vec<(String, String)> = n
                .properties
                .as_ref()
                .and_then(|p| p.kv())
                .map(|kv| kv.to_vec())
                .unwrap_or_default();
            let raw = n
                .properties
                .as_ref()
                .filter(|p| p.kv().is_none())
                .map(|p| p.raw_xml());
            if let Some(raw) = raw {
                ui.weak("These properties are not key/value; their XML is kept as is:");
                let mut text = raw;
                ui.add(
                    egui::TextEdit::multiline(&mut text)
                        .code_editor()
                        .interactive(false)
                        .desired_width(f32::INFINITY),
                );
            } else {
                // Declared keys first (with types), then extra keys found in the template.
                let mut all: Vec<(String, String, Option<provisio_model::tosca::PropertyDef>)> =
                    keys.iter()
                        .map(|k| {
                            (
                                k.key.clone(),
                                kv.iter()
                                    .find(|(x, _)| *x == k.key)
                                    .map(|(_, v)| v.clone())
                                    .unwrap_or_default(),
                                Some(k.clone()),
                            )
                        })
                        .collect();
                for (k, v) in &kv {
                    if !all.iter().any(|(x, _, _)| x == k) {
                        all.push((k.clone(), v.clone(), None));
                    }
                }
                if all.is_empty() {
                    ui.weak("This type has no properties.");
                }
                for (key, value, def) in all {
                    let label = match &def {
                        Some(d) if d.required => format!("{key} *"),
                        _ => key.clone(),
                    };
                    ui.label(egui::RichText::new(label).strong()).on_hover_text(
                        def.as_ref()
                            .and_then(|d| d.description.clone())
                            .unwrap_or_else(|| {
                                def.as_ref()
                                    .map(|d| d.type_name.clone())
                                    .unwrap_or_default()
                            }),
                    );
                    let default = def.as_ref().and_then(|d| d.default.clone());
                    if let Some(v) =
                        property_field(ui, &id, &key, &value, default.as_deref(), &mut seal)
                    {
                        cmds.push(Command::SetProperty {
                            node: id.clone(),
                            key: key.clone(),
                            value: v,
                        });
                    }
                }
            }
            if !n.deployment_artifacts.is_empty() || !lib_das(state, &n).is_empty() {
                ui.separator();
                ui.strong("Deployment artifacts");
                for da in lib_das(state, &n) {
                    ui.label(format!("{} ({})", da.name, da.artifact_type.local))
                        .on_hover_text(da.artifact_ref.map(|r| r.to_string()).unwrap_or_default());
                }
            }
            if !n.requirements.is_empty() || !n.capabilities.is_empty() {
                ui.separator();
                ui.strong("Requirements and capabilities");
                for r in &n.requirements {
                    ui.label(format!("requires {} ({})", r.name, r.type_ref.local));
                }
                for c in &n.capabilities {
                    ui.label(format!("offers {} ({})", c.name, c.type_ref.local));
                }
            }
            let diags: Vec<_> = state.diagnostics_for(&id).cloned().collect();
            if !diags.is_empty() {
                ui.separator();
                for d in diags {
                    ui.colored_label(
                        if d.is_error() {
                            egui::Color32::from_rgb(220, 70, 60)
                        } else {
                            egui::Color32::from_rgb(210, 160, 40)
                        },
                        &d.message,
                    );
                    if let Some(h) = d.hint {
                        ui.weak(h);
                    }
                }
            }
        });
    for c in cmds {
        state.apply(c);
    }
    if seal {
        state.seal();
    }
}

fn lib_das(
    state: &EditorState,
    n: &provisio_model::tosca::NodeTemplate,
) -> Vec<provisio_model::tosca::DeploymentArtifact> {
    state.doc.library().deployment_artifacts_of(n)
}

/// One property field; returns the new value when edited.
fn property_field(
    ui: &mut egui::Ui,
    node: &str,
    key: &str,
    value: &str,
    default: Option<&str>,
    seal: &mut bool,
) -> Option<String> {
    let id = egui::Id::new(("prop", node, key));
    if JSON_LIST_KEYS.contains(&key) {
        if let Ok(mut list) =
            serde_json::from_str::<Vec<String>>(if value.trim().is_empty() { "[]" } else { value })
        {
            let mut changed = false;
            let mut remove = None;
            for (i, item) in list.iter_mut().enumerate() {
                ui.horizontal(|ui| {
                    let r = ui.add(
                        egui::TextEdit::singleline(item)
                            .id(id.with(i))
                            .desired_width(ui.available_width() - 28.0),
                    );
                    changed |= r.changed();
                    *seal |= r.lost_focus();
                    if ui.small_button("✖").on_hover_text("remove").clicked() {
                        remove = Some(i);
                    }
                });
            }
            if let Some(i) = remove {
                list.remove(i);
                changed = true;
            }
            if ui.small_button("➕ add").clicked() {
                list.push(String::new());
                changed = true;
            }
            return changed.then(|| serde_json::to_string(&list).unwrap_or_default());
        }
        ui.colored_label(
            egui::Color32::from_rgb(220, 70, 60),
            "not a JSON list; edit as text:",
        );
    }
    let mut text = value.to_string();
    let secret = is_secret_name(key) && !value.trim_start().starts_with("get_input:");
    let r = ui.add(
        egui::TextEdit::singleline(&mut text)
            .id(id)
            .password(secret)
            // An empty value deploys with the type's default: say which.
            .hint_text(default.map(|d| format!("default: {d}")).unwrap_or_default())
            .desired_width(f32::INFINITY),
    );
    *seal |= r.lost_focus();
    r.changed().then_some(text)
}

fn relationship(ui: &mut egui::Ui, state: &mut EditorState, id: &str) {
    let Some(r) = state
        .doc
        .topology()
        .relationship_templates
        .iter()
        .find(|r| r.id == id)
        .cloned()
    else {
        return;
    };
    egui::Grid::new("rel-grid")
        .num_columns(2)
        .spacing([8.0, 6.0])
        .show(ui, |ui| {
            ui.label("Id");
            ui.label(&r.id);
            ui.end_row();
            ui.label("Type");
            ui.label(&r.type_ref.local)
                .on_hover_text(r.type_ref.to_string());
            ui.end_row();
            ui.label("Source");
            ui.label(&r.source);
            ui.end_row();
            ui.label("Target");
            ui.label(&r.target);
            ui.end_row();
        });
    for d in state.diagnostics_for(id) {
        ui.colored_label(egui::Color32::from_rgb(220, 70, 60), &d.message);
    }
}
