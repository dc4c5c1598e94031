//! The type editor: a form for a node type (name, namespace, DerivedFrom, abstract/final,
//! Winery key/value properties, requirement and capability definitions, interfaces with
//! operations and parameters, an implementation whose artifact files are copied into the
//! repository) or a relationship type (ValidSource/ValidTarget). Saving writes Winery's files
//! (in a repository) or the open file, and the library is re-indexed so the palette and the
//! validation see the new definition at once.

use super::ProvisioApp;
use super::workspace::Centre;
use provisio_model::QName;
use provisio_model::repository::{self, Repository};
use provisio_model::tosca::*;
use std::path::PathBuf;

const XSD_TYPES: &[&str] = &[
    "xsd:string",
    "xsd:integer",
    "xsd:boolean",
    "xsd:float",
    "xsd:decimal",
    "xsd:anyURI",
];

/// A requirement or capability definition being edited.
#[derive(Debug, Clone, PartialEq)]
pub struct ReqCapRow {
    pub name: String,
    pub type_ref: QName,
    pub lower: u32,
    /// A number or `unbounded`.
    pub upper: String,
}

/// An implementation or deployment artifact being edited.
#[derive(Debug, Clone, PartialEq)]
pub struct ArtifactRow {
    pub deployment: bool,
    pub name: String,
    /// `interface/operation` for an implementation artifact.
    pub operation: String,
    pub artifact_type: QName,
    /// A file on disk, copied into the artifact template's `files/` folder on save.
    pub file: String,
}

/// The form.
#[derive(Debug, Clone)]
pub struct TypeForm {
    pub kind: TypeKind,
    /// The type being edited (`None`: a new one).
    pub original: Option<QName>,
    /// What the form does not edit (documentation, tags, Winery attributes) is kept.
    pub base: EntityType,
    pub name: String,
    pub namespace: String,
    pub derived_from: Option<QName>,
    pub is_abstract: bool,
    pub is_final: bool,
    pub properties: Vec<PropertyDef>,
    pub requirements: Vec<ReqCapRow>,
    pub capabilities: Vec<ReqCapRow>,
    pub interfaces: Vec<Interface>,
    pub valid_source: Option<QName>,
    pub valid_target: Option<QName>,
    pub artifacts: Vec<ArtifactRow>,
    pub message: Option<(bool, String)>,
}

impl TypeForm {
    pub fn title(&self) -> String {
        if self.name.is_empty() {
            "new".into()
        } else {
            self.name.clone()
        }
    }

    fn blank(kind: TypeKind, namespace: &str, name: &str) -> Self {
        TypeForm {
            kind,
            original: None,
            base: EntityType::default(),
            name: name.into(),
            namespace: namespace.into(),
            derived_from: None,
            is_abstract: false,
            is_final: false,
            properties: Vec::new(),
            requirements: Vec::new(),
            capabilities: Vec::new(),
            interfaces: Vec::new(),
            valid_source: None,
            valid_target: None,
            artifacts: Vec::new(),
            message: None,
        }
    }

    /// The node type the form describes.
    pub fn node_type(&self) -> Result<NodeType, String> {
        Ok(NodeType {
            base: self.entity()?,
            requirement_definitions: rows_to_defs(&self.requirements)?,
            capability_definitions: rows_to_defs(&self.capabilities)?,
            interfaces: self.interfaces.clone(),
        })
    }

    /// The relationship type the form describes.
    pub fn relationship_type(&self) -> Result<RelationshipType, String> {
        Ok(RelationshipType {
            base: self.entity()?,
            valid_source: self.valid_source.clone(),
            valid_target: self.valid_target.clone(),
            ..Default::default()
        })
    }

    fn entity(&self) -> Result<EntityType, String> {
        repository::check_id(self.name.trim()).map_err(|e| e.to_string())?;
        if self.namespace.trim().is_empty() {
            return Err("the namespace is empty".into());
        }
        let mut seen = std::collections::BTreeSet::new();
        for p in &self.properties {
            repository::check_id(p.key.trim()).map_err(|e| format!("property: {e}"))?;
            if !seen.insert(p.key.trim()) {
                return Err(format!("property '{}' is defined twice", p.key));
            }
        }
        let mut e = self.base.clone();
        e.name = self.name.trim().into();
        e.target_namespace = self.namespace.trim().into();
        e.derived_from = self.derived_from.clone();
        e.is_abstract = self.is_abstract;
        e.is_final = self.is_final;
        e.line = 0;
        e.properties_definition =
            match (&self.base.properties_definition, self.properties.is_empty()) {
                (Some(PropertiesDefinition::Element(_) | PropertiesDefinition::Type(_)), true) => {
                    self.base.properties_definition.clone()
                }
                (None, true) => None,
                (old, _) => {
                    let (element_name, namespace) = match old {
                        Some(PropertiesDefinition::KeyValue {
                            element_name,
                            namespace,
                            ..
                        }) => (element_name.clone(), namespace.clone()),
                        _ => (
                            "Properties".to_string(),
                            format!(
                                "{}/propertiesdefinition/winery",
                                self.namespace.trim().trim_end_matches('/')
                            ),
                        ),
                    };
                    Some(PropertiesDefinition::KeyValue {
                        element_name,
                        namespace,
                        properties: self
                            .properties
                            .iter()
                            .map(|p| PropertyDef {
                                key: p.key.trim().into(),
                                default: p.default.clone().filter(|d| !d.is_empty()),
                                ..p.clone()
                            })
                            .collect(),
                    })
                }
            };
        Ok(e)
    }
}

fn rows_to_defs(rows: &[ReqCapRow]) -> Result<Vec<ReqCapDefinition>, String> {
    rows.iter()
        .map(|r| {
            Ok(ReqCapDefinition {
                name: r.name.trim().into(),
                type_ref: r.type_ref.clone(),
                lower_bound: r.lower,
                upper_bound: MaxInstances::parse(&r.upper).ok_or_else(|| {
                    format!("'{}': upper bound must be a number or unbounded", r.name)
                })?,
            })
        })
        .collect()
}

fn defs_to_rows(defs: &[ReqCapDefinition]) -> Vec<ReqCapRow> {
    defs.iter()
        .map(|d| ReqCapRow {
            name: d.name.clone(),
            type_ref: d.type_ref.clone(),
            lower: d.lower_bound,
            upper: d.upper_bound.to_string(),
        })
        .collect()
}

/// The namespace new types go to: the repository's first node type namespace, or ours.
fn default_namespace(app: &ProvisioApp, kind: TypeKind) -> String {
    let lib = app.state.doc.library();
    super::browser::type_rows(lib, kind, "")
        .into_keys()
        .next()
        .unwrap_or_else(|| format!("http://example.org/{}", kind.folder()))
}

/// Opens the form for a new node type.
pub fn start_new_node_type(app: &mut ProvisioApp) {
    let ns = default_namespace(app, TypeKind::NodeType);
    let mut f = TypeForm::blank(TypeKind::NodeType, &ns, "NewNodeType");
    f.interfaces.push(Interface {
        name: LIFECYCLE_INTERFACE.into(),
        operations: Vec::new(),
    });
    app.workspace.type_editor = Some(f);
    app.workspace.centre = Centre::TypeEditor;
}

/// Opens the form for a new relationship type.
pub fn start_new_relationship_type(app: &mut ProvisioApp) {
    let ns = default_namespace(app, TypeKind::RelationshipType);
    let mut f = TypeForm::blank(TypeKind::RelationshipType, &ns, "NewRelationshipType");
    f.derived_from = Some(QName::new(BASE_TYPES_NS, "ConnectsTo"));
    app.workspace.type_editor = Some(f);
    app.workspace.centre = Centre::TypeEditor;
}

/// Opens the form on an existing type.
pub fn start_edit(app: &mut ProvisioApp, kind: TypeKind, q: &QName) {
    let lib = app.state.doc.library();
    let mut f = TypeForm::blank(kind, &q.namespace, &q.local);
    f.original = Some(q.clone());
    let base = match kind {
        TypeKind::NodeType => {
            let Some(t) = lib.node_type(q) else { return };
            f.requirements = defs_to_rows(&t.requirement_definitions);
            f.capabilities = defs_to_rows(&t.capability_definitions);
            f.interfaces = t.interfaces.clone();
            for i in lib.implementations_of(q) {
                for a in &i.implementation_artifacts {
                    f.artifacts.push(ArtifactRow {
                        deployment: false,
                        name: a.name.clone().unwrap_or_default(),
                        operation: format!(
                            "{}/{}",
                            a.interface_name.clone().unwrap_or_default(),
                            a.operation_name.clone().unwrap_or_default()
                        ),
                        artifact_type: a.artifact_type.clone(),
                        file: String::new(),
                    });
                }
                for a in &i.deployment_artifacts {
                    f.artifacts.push(ArtifactRow {
                        deployment: true,
                        name: a.name.clone(),
                        operation: String::new(),
                        artifact_type: a.artifact_type.clone(),
                        file: String::new(),
                    });
                }
            }
            t.base.clone()
        }
        TypeKind::RelationshipType => {
            let Some(t) = lib.relationship_type(q) else {
                return;
            };
            f.valid_source = t.valid_source.clone();
            f.valid_target = t.valid_target.clone();
            t.base.clone()
        }
        _ => return,
    };
    f.derived_from = base.derived_from.clone();
    f.is_abstract = base.is_abstract;
    f.is_final = base.is_final;
    f.properties = base
        .properties_definition
        .as_ref()
        .map(|p| p.keys().to_vec())
        .unwrap_or_default();
    f.base = base;
    app.workspace.type_editor = Some(f);
    app.workspace.centre = Centre::TypeEditor;
}

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
            if let Some((ok, m)) = &f.message {
                let c = if *ok {
                    egui::Color32::from_rgb(60, 170, 90)
                } else {
                    egui::Color32::from_rgb(220, 70, 60)
                };
                ui.colored_label(c, m);
            }
            ui.horizontal(|ui| {
                if ui.button("Save type").clicked() {
                    save = true;
                }
                if ui.button("Close type editor").clicked() {
                    close = true;
                }
            });
        });
    if save {
        let result = save_form(app);
        if let Some(f) = app.workspace.type_editor.as_mut() {
            f.message = Some(match result {
                Ok(m) => (true, m),
                Err(e) => (false, e),
            });
        }
    }
    if close {
        app.workspace.type_editor = None;
        app.workspace.centre = if app.workspace.tabs.is_empty() {
            Centre::Browser
        } else {
            Centre::Editor
        };
    }
}

fn section(ui: &mut egui::Ui, title: &str) {
    ui.add_space(8.0);
    ui.label(egui::RichText::new(title).strong().size(15.0));
}

fn properties_section(ui: &mut egui::Ui, f: &mut TypeForm) {
    section(ui, "Properties");
    let mut remove = None;
    if !f.properties.is_empty() {
        egui::Grid::new("props")
            .num_columns(5)
            .striped(true)
            .show(ui, |ui| {
                for h in ["Name", "Type", "Default", "Required", ""] {
                    ui.weak(h);
                }
                ui.end_row();
                for (i, p) in f.properties.iter_mut().enumerate() {
                    ui.add_sized([160.0, 20.0], egui::TextEdit::singleline(&mut p.key));
                    egui::ComboBox::from_id_salt(("prop-type", i))
                        .selected_text(p.type_name.clone())
                        .show_ui(ui, |ui| {
                            for t in XSD_TYPES {
                                ui.selectable_value(&mut p.type_name, t.to_string(), *t);
                            }
                        });
                    let mut d = p.default.clone().unwrap_or_default();
                    if ui
                        .add_sized([140.0, 20.0], egui::TextEdit::singleline(&mut d))
                        .changed()
                    {
                        p.default = Some(d);
                    }
                    ui.checkbox(&mut p.required, "");
                    if ui.small_button("Remove").clicked() {
                        remove = Some(i);
                    }
                    ui.end_row();
                }
            });
    }
    if let Some(i) = remove {
        f.properties.remove(i);
    }
    if ui.button("Add property").clicked() {
        let n = f.properties.len() + 1;
        f.properties.push(PropertyDef {
            key: format!("property{n}"),
            type_name: "xsd:string".into(),
            ..Default::default()
        });
    }
}

fn reqcap_section(
    ui: &mut egui::Ui,
    title: &str,
    id: &str,
    rows: &mut Vec<ReqCapRow>,
    types: &[QName],
) {
    section(ui, title);
    let mut remove = None;
    if !rows.is_empty() {
        egui::Grid::new(id)
            .num_columns(5)
            .striped(true)
            .show(ui, |ui| {
                for h in ["Name", "Type", "Lower", "Upper", ""] {
                    ui.weak(h);
                }
                ui.end_row();
                for (i, r) in rows.iter_mut().enumerate() {
                    ui.add_sized([140.0, 20.0], egui::TextEdit::singleline(&mut r.name));
                    pick_required(ui, (id, "type", i), &mut r.type_ref, types);
                    ui.add(egui::DragValue::new(&mut r.lower).range(0..=1000));
                    ui.add_sized([80.0, 20.0], egui::TextEdit::singleline(&mut r.upper));
                    if ui.small_button("Remove").clicked() {
                        remove = Some(i);
                    }
                    ui.end_row();
                }
            });
    }
    if let Some(i) = remove {
        rows.remove(i);
    }
    if ui
        .button(format!(
            "Add {}",
            if id == "req" {
                "requirement"
            } else {
                "capability"
            }
        ))
        .clicked()
    {
        rows.push(ReqCapRow {
            name: format!("{id}{}", rows.len() + 1),
            type_ref: types.first().cloned().unwrap_or_default(),
            lower: 1,
            upper: "1".into(),
        });
    }
}

fn params(ui: &mut egui::Ui, id: (usize, usize, &str), ps: &mut Vec<Parameter>) {
    let mut remove = None;
    for (k, p) in ps.iter_mut().enumerate() {
        ui.horizontal(|ui| {
            ui.add_space(24.0);
            let kind = if id.2 == "in" { "input" } else { "output" };
            ui.add_sized(
                [44.0, 18.0],
                egui::Label::new(egui::RichText::new(kind).weak()),
            );
            ui.add(egui::TextEdit::singleline(&mut p.name).desired_width(140.0));
            egui::ComboBox::from_id_salt((id, k))
                .selected_text(p.type_name.clone())
                .show_ui(ui, |ui| {
                    for t in XSD_TYPES {
                        ui.selectable_value(&mut p.type_name, t.to_string(), *t);
                    }
                });
            ui.checkbox(&mut p.required, "required");
            if ui.small_button("Remove").clicked() {
                remove = Some(k);
            }
        });
    }
    if let Some(k) = remove {
        ps.remove(k);
    }
}

fn interfaces_section(ui: &mut egui::Ui, f: &mut TypeForm) {
    section(ui, "Interfaces");
    let mut remove_iface = None;
    for (i, iface) in f.interfaces.iter_mut().enumerate() {
        ui.group(|ui| {
            ui.horizontal(|ui| {
                ui.label("Interface");
                ui.add(egui::TextEdit::singleline(&mut iface.name).desired_width(360.0));
                if ui.small_button("Remove interface").clicked() {
                    remove_iface = Some(i);
                }
            });
            let mut remove_op = None;
            for (j, op) in iface.operations.iter_mut().enumerate() {
                ui.horizontal(|ui| {
                    ui.add_space(12.0);
                    ui.label("Operation");
                    ui.add(egui::TextEdit::singleline(&mut op.name).desired_width(160.0));
                    if ui.small_button("Add input").clicked() {
                        op.inputs.push(Parameter {
                            name: format!("input{}", op.inputs.len() + 1),
                            type_name: "xsd:string".into(),
                            required: true,
                        });
                    }
                    if ui.small_button("Add output").clicked() {
                        op.outputs.push(Parameter {
                            name: format!("output{}", op.outputs.len() + 1),
                            type_name: "xsd:string".into(),
                            required: false,
                        });
                    }
                    if ui.small_button("Remove").clicked() {
                        remove_op = Some(j);
                    }
                });
                params(ui, (i, j, "in"), &mut op.inputs);
                params(ui, (i, j, "out"), &mut op.outputs);
            }
            if let Some(j) = remove_op {
                iface.operations.remove(j);
            }
            if ui.button("Add operation").clicked() {
                let names = ["install", "configure", "start", "stop", "uninstall"];
                let name = names
                    .iter()
                    .find(|n| !iface.operations.iter().any(|o| o.name == **n))
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| format!("operation{}", iface.operations.len() + 1));
                iface.operations.push(Operation {
                    name,
                    ..Default::default()
                });
            }
        });
    }
    if let Some(i) = remove_iface {
        f.interfaces.remove(i);
    }
    if ui.button("Add interface").clicked() {
        f.interfaces.push(Interface {
            name: format!(
                "http://example.org/interfaces/interface{}",
                f.interfaces.len() + 1
            ),
            operations: Vec::new(),
        });
    }
}

fn artifacts_section(ui: &mut egui::Ui, f: &mut TypeForm, types: &[QName]) {
    section(ui, "Implementation (artifacts)");
    ui.weak("Files are copied into the artifact template's files/ folder when the type is saved.");
    let ops: Vec<String> = f
        .interfaces
        .iter()
        .flat_map(|i| {
            i.operations
                .iter()
                .map(move |o| format!("{}/{}", i.name, o.name))
        })
        .collect();
    let mut remove = None;
    for (k, a) in f.artifacts.iter_mut().enumerate() {
        ui.horizontal_wrapped(|ui| {
            egui::ComboBox::from_id_salt(("art-kind", k))
                .selected_text(if a.deployment {
                    "deployment"
                } else {
                    "implementation"
                })
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut a.deployment, false, "implementation");
                    ui.selectable_value(&mut a.deployment, true, "deployment");
                });
            ui.add(egui::TextEdit::singleline(&mut a.name).desired_width(120.0));
            if !a.deployment {
                egui::ComboBox::from_id_salt(("art-op", k))
                    .selected_text(a.operation.rsplit('/').next().unwrap_or("").to_string())
                    .show_ui(ui, |ui| {
                        for o in &ops {
                            ui.selectable_value(
                                &mut a.operation,
                                o.clone(),
                                o.rsplit('/').next().unwrap_or(""),
                            );
                        }
                    });
            }
            pick_required(ui, ("art-type", k), &mut a.artifact_type, types);
            ui.add(
                egui::TextEdit::singleline(&mut a.file)
                    .hint_text("file to copy")
                    .desired_width(220.0),
            );
            if ui.small_button("Pick file…").clicked()
                && let Some(p) = rfd::FileDialog::new().pick_file()
            {
                a.file = p.display().to_string();
            }
            if ui.small_button("Remove").clicked() {
                remove = Some(k);
            }
        });
    }
    if let Some(k) = remove {
        f.artifacts.remove(k);
    }
    if ui.button("Add artifact").clicked() {
        let script = QName::new(BASE_TYPES_NS, "ScriptArtifact");
        f.artifacts.push(ArtifactRow {
            deployment: false,
            name: format!("artifact{}", f.artifacts.len() + 1),
            operation: ops.first().cloned().unwrap_or_default(),
            artifact_type: if types.contains(&script) {
                script
            } else {
                types.first().cloned().unwrap_or(script)
            },
            file: String::new(),
        });
    }
}

/// Puts `defs` (read from or written to `path`) into the library: replaces the file it came
/// from, or adds it.
fn put(app: &mut ProvisioApp, path: PathBuf, defs: Definitions) {
    let lib = &mut app.state.doc.loaded.library;
    match lib
        .files()
        .iter()
        .position(|f| f.path == path && !f.builtin)
    {
        Some(i) => lib.set_definitions(i, path, defs),
        None => {
            lib.add(path, defs, false);
        }
    }
}

/// The file and definitions a type `q` of `kind` is saved into: where it is defined now (a user
/// file), else its Winery file in the repository, else the open document's file.
fn target(app: &ProvisioApp, kind: TypeKind, q: &QName) -> (Option<PathBuf>, Definitions) {
    let lib = app.state.doc.library();
    if let Some(loc) = lib.locate(kind, q)
        && !lib.file(loc.file).builtin
    {
        let f = lib.file(loc.file);
        return (Some(f.path.clone()), f.definitions.clone());
    }
    match super::workspace::Workspace::repository(&app.state) {
        Some(repo) => {
            let path = repo.element_file(kind, q);
            let defs = provisio_model::load::load_definitions_file(&path)
                .unwrap_or_else(|_| repository::new_definitions(kind, q));
            (Some(path), defs)
        }
        None => (None, lib.file(app.state.doc.file).definitions.clone()),
    }
}

/// Writes `defs` to `path` (a repository or user file) or, without a path, into the open
/// document (saved with it).
fn store(
    app: &mut ProvisioApp,
    path: Option<PathBuf>,
    defs: Definitions,
) -> Result<String, String> {
    match path {
        Some(p) => {
            Repository::new(PathBuf::new())
                .write_file(&p, &defs)
                .map_err(|e| e.to_string())?;
            put(app, p.clone(), defs);
            Ok(p.display().to_string())
        }
        None => {
            let file = app.state.doc.file;
            *app.state.doc.loaded.library.definitions_mut(file) = defs;
            app.state.doc.loaded.library.reindex();
            app.state.dirty = true;
            Ok("the open file (save it to keep the type)".into())
        }
    }
}

fn sibling_ns(ns: &str, folder: &str) -> String {
    if ns.contains("nodetypes") {
        ns.replace("nodetypes", folder)
    } else {
        format!("{}/{folder}", ns.trim_end_matches('/'))
    }
}

/// Saves the form: the type, then its implementation and artifact templates.
pub fn save_form(app: &mut ProvisioApp) -> Result<String, String> {
    let f = app.workspace.type_editor.clone().ok_or("no type open")?;
    let mut written = Vec::new();
    let q = QName::new(f.namespace.trim(), f.name.trim());
    match f.kind {
        TypeKind::RelationshipType => {
            let t = f.relationship_type()?;
            let (path, mut defs) = target(app, f.kind, &q);
            repository::upsert_relationship_type(&mut defs, t);
            written.push(store(app, path, defs)?);
        }
        _ => {
            let t = f.node_type()?;
            let (path, mut defs) = target(app, TypeKind::NodeType, &q);
            repository::upsert_node_type(&mut defs, t);
            written.push(store(app, path, defs)?);
            if f.artifacts.iter().any(|a| !a.file.trim().is_empty()) {
                written.push(save_implementation(app, &f, &q)?);
            }
        }
    }
    if let Some(form) = app.workspace.type_editor.as_mut() {
        form.original = Some(q.clone());
        for a in &mut form.artifacts {
            a.file.clear();
        }
    }
    app.state.revalidate();
    let msg = format!("saved {q} to {}", written.join(", "));
    app.state.status = msg.clone();
    Ok(msg)
}

fn save_implementation(app: &mut ProvisioApp, f: &TypeForm, q: &QName) -> Result<String, String> {
    let repo = super::workspace::Workspace::repository(&app.state)
        .ok_or("artifact files can only be copied into a Winery repository folder")?;
    let at_ns = sibling_ns(&q.namespace, "artifacttemplates");
    let iq = QName::new(
        sibling_ns(&q.namespace, "nodetypeimplementations"),
        format!("{}_Impl", q.local),
    );
    let (ipath, mut idefs) = target(app, TypeKind::NodeTypeImplementation, &iq);
    let mut nti = idefs
        .node_type_implementations
        .iter()
        .find(|i| i.base.qname() == iq)
        .cloned()
        .unwrap_or_else(|| NodeTypeImplementation {
            base: EntityType {
                name: iq.local.clone(),
                target_namespace: iq.namespace.clone(),
                ..Default::default()
            },
            node_type: q.clone(),
            ..Default::default()
        });
    for a in f.artifacts.iter().filter(|a| !a.file.trim().is_empty()) {
        repository::check_id(a.name.trim()).map_err(|e| format!("artifact: {e}"))?;
        let aq = QName::new(&at_ns, format!("{}_{}", q.local, a.name.trim()));
        let (apath, adefs) = repo
            .add_artifact_template(&aq, &a.artifact_type, &[PathBuf::from(a.file.trim())])
            .map_err(|e| e.to_string())?;
        put(app, apath, adefs);
        if a.deployment {
            nti.deployment_artifacts.retain(|d| d.name != a.name.trim());
            nti.deployment_artifacts.push(DeploymentArtifact {
                name: a.name.trim().into(),
                artifact_type: a.artifact_type.clone(),
                artifact_ref: Some(aq),
            });
        } else {
            let (iface, op) = a.operation.rsplit_once('/').unwrap_or(("", &a.operation));
            nti.implementation_artifacts
                .retain(|d| d.name.as_deref() != Some(a.name.trim()));
            nti.implementation_artifacts.push(ImplementationArtifact {
                name: Some(a.name.trim().into()),
                interface_name: Some(iface.to_string()).filter(|s| !s.is_empty()),
                operation_name: Some(op.to_string()).filter(|s| !s.is_empty()),
                artifact_type: a.artifact_type.clone(),
                artifact_ref: Some(aq),
            });
        }
    }
    repository::upsert_node_type_implementation(&mut idefs, nti);
    store(app, ipath, idefs)
}
