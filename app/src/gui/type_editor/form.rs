//! The type editor's form state: the rows being edited, converted from and to the model's node
//! and relationship types, and how a form is opened for a new or an existing type.

use super::super::ProvisioApp;
use provisio_model::QName;
use provisio_model::repository;
use provisio_model::tosca::*;

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
#[derive(Debug, Clone, PartialEq)]
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
    /// The form as last opened or saved (without message): edits since make it dirty.
    clean: Option<Box<TypeForm>>,
}

impl TypeForm {
    pub fn title(&self) -> String {
        if self.name.is_empty() {
            "new".into()
        } else {
            self.name.clone()
        }
    }

    /// Whether the form has edits that are not saved (a new form left as opened has none).
    pub fn is_dirty(&self) -> bool {
        self.clean.as_deref() != Some(&self.content())
    }

    /// Takes the form as it is now as saved.
    pub fn mark_clean(&mut self) {
        self.clean = Some(Box::new(self.content()));
    }

    /// What the form edits (no message, no saved copy).
    fn content(&self) -> TypeForm {
        TypeForm {
            message: None,
            clean: None,
            ..self.clone()
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
            clean: None,
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
    super::super::browser::type_rows(lib, kind, "")
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
    super::close::open_form(app, f);
}

/// Opens the form for a new relationship type.
pub fn start_new_relationship_type(app: &mut ProvisioApp) {
    let ns = default_namespace(app, TypeKind::RelationshipType);
    let mut f = TypeForm::blank(TypeKind::RelationshipType, &ns, "NewRelationshipType");
    f.derived_from = Some(QName::new(BASE_TYPES_NS, "ConnectsTo"));
    super::close::open_form(app, f);
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
    super::close::open_form(app, f);
}
