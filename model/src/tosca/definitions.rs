//! A TOSCA `Definitions` document: everything one `.tosca` file defines, plus the document it
//! was read from so that writing it back keeps what the model does not understand.

use super::types::{
    ArtifactTemplate, NodeType, NodeTypeImplementation, PolicyTemplate, RelationshipType,
    RelationshipTypeImplementation, RequirementType, TypeDef,
};
use super::{ServiceTemplate, TOSCA_NS};
use crate::xml::{self, Document, Element};

/// An `Import` element.
#[derive(Debug, Clone, PartialEq)]
pub struct Import {
    pub namespace: Option<String>,
    pub location: Option<String>,
    pub import_type: String,
}

/// One Definitions document.
#[derive(Debug, Clone, PartialEq)]
pub struct Definitions {
    pub id: String,
    pub name: Option<String>,
    pub target_namespace: String,
    pub imports: Vec<Import>,
    pub node_types: Vec<NodeType>,
    pub relationship_types: Vec<RelationshipType>,
    pub capability_types: Vec<TypeDef>,
    pub requirement_types: Vec<RequirementType>,
    pub artifact_types: Vec<TypeDef>,
    pub policy_types: Vec<TypeDef>,
    pub node_type_implementations: Vec<NodeTypeImplementation>,
    pub relationship_type_implementations: Vec<RelationshipTypeImplementation>,
    pub artifact_templates: Vec<ArtifactTemplate>,
    pub policy_templates: Vec<PolicyTemplate>,
    pub service_templates: Vec<ServiceTemplate>,
    /// The document as read (`None` for definitions created in memory).
    pub(crate) doc: Option<Document>,
    /// The YAML source when read from TOSCA Simple Profile YAML (see [`crate::yaml`]).
    pub(crate) yaml: Option<std::sync::Arc<crate::yaml::YamlSource>>,
}

/// Why a document is not TOSCA Definitions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DefinitionsError {
    #[error("{0}")]
    Xml(#[from] xml::XmlError),
    #[error("line {line}: root element is {{{ns}}}{local}, expected {{{TOSCA_NS}}}Definitions")]
    NotDefinitions {
        line: u32,
        ns: String,
        local: String,
    },
}

impl DefinitionsError {
    /// The 1-based line of the problem.
    pub fn line(&self) -> u32 {
        match self {
            DefinitionsError::Xml(e) => e.line,
            DefinitionsError::NotDefinitions { line, .. } => *line,
        }
    }
}

impl Definitions {
    /// Empty definitions in `target_namespace`.
    pub fn new(id: &str, target_namespace: &str) -> Self {
        Definitions {
            id: id.to_string(),
            name: None,
            target_namespace: target_namespace.to_string(),
            imports: Vec::new(),
            node_types: Vec::new(),
            relationship_types: Vec::new(),
            capability_types: Vec::new(),
            requirement_types: Vec::new(),
            artifact_types: Vec::new(),
            policy_types: Vec::new(),
            node_type_implementations: Vec::new(),
            relationship_type_implementations: Vec::new(),
            artifact_templates: Vec::new(),
            policy_templates: Vec::new(),
            service_templates: Vec::new(),
            doc: None,
            yaml: None,
        }
    }

    /// Parses TOSCA XML bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DefinitionsError> {
        Self::from_document(xml::parse_bytes(bytes)?)
    }

    /// Parses TOSCA XML text.
    #[allow(clippy::should_implement_trait)] // returns DefinitionsError with line numbers
    pub fn from_str(text: &str) -> Result<Self, DefinitionsError> {
        Self::from_document(xml::parse_str(text)?)
    }

    /// Reads the typed model from a parsed document.
    pub fn from_document(mut doc: Document) -> Result<Self, DefinitionsError> {
        if !doc.root.is(TOSCA_NS, "Definitions") {
            return Err(DefinitionsError::NotDefinitions {
                line: doc.root.line,
                ns: doc.root.ns.clone(),
                local: doc.root.local.clone(),
            });
        }
        let mut defs = super::read::read_definitions(&mut doc.root);
        defs.doc = Some(doc);
        Ok(defs)
    }

    /// The document to write: the original one with every edit patched in.
    pub fn to_document(&self) -> Document {
        super::write::to_document(self)
    }

    /// The XML text to write.
    pub fn to_xml(&self) -> String {
        xml::write_document(&self.to_document())
    }

    /// A copy without source information (lines, original XML), for comparing models.
    pub fn semantic(&self) -> Definitions {
        let mut d = self.clone();
        d.doc = None;
        d.yaml = None;
        macro_rules! clear {
            ($($list:ident),*) => {$(for x in &mut d.$list { x.base.line = 0; })*};
        }
        clear!(
            node_types,
            relationship_types,
            capability_types,
            requirement_types,
            artifact_types,
            policy_types,
            node_type_implementations,
            relationship_type_implementations
        );
        for a in &mut d.artifact_templates {
            a.line = 0;
        }
        for p in &mut d.policy_templates {
            p.line = 0;
        }
        for st in &mut d.service_templates {
            st.line = 0;
            st.xml = None;
            for n in &mut st.topology.node_templates {
                n.line = 0;
                n.xml = None;
            }
            for r in &mut st.topology.relationship_templates {
                r.line = 0;
                r.xml = None;
            }
        }
        d
    }

    /// Whether this document was read from (and saves back to) TOSCA YAML.
    pub fn is_yaml(&self) -> bool {
        self.yaml.is_some()
    }

    /// The root element as read, if any. Service templates are stubs in it (their id only):
    /// their elements moved into [`ServiceTemplate`]s (see `to_document` for the whole).
    pub fn original_root(&self) -> Option<&Element> {
        self.doc.as_ref().map(|d| &d.root)
    }

    /// The service template `id`.
    pub fn service_template(&self, id: &str) -> Option<&ServiceTemplate> {
        self.service_templates.iter().find(|s| s.id == id)
    }

    pub fn service_template_mut(&mut self, id: &str) -> Option<&mut ServiceTemplate> {
        self.service_templates.iter_mut().find(|s| s.id == id)
    }

    /// Number of top-level definitions in this document.
    pub fn len(&self) -> usize {
        self.node_types.len()
            + self.relationship_types.len()
            + self.capability_types.len()
            + self.requirement_types.len()
            + self.artifact_types.len()
            + self.policy_types.len()
            + self.node_type_implementations.len()
            + self.relationship_type_implementations.len()
            + self.artifact_templates.len()
            + self.policy_templates.len()
            + self.service_templates.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
