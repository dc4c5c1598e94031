//! TOSCA types and implementations (read-only views): node, relationship, capability,
//! requirement, artifact and policy types, node/relationship type implementations, artifact and
//! policy templates.

use super::properties::{Properties, PropertiesDefinition};
use super::templates::{DeploymentArtifact, MaxInstances};
use crate::QName;

/// The kinds of top-level TOSCA definitions, as Winery's repository folders name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum TypeKind {
    NodeType,
    RelationshipType,
    CapabilityType,
    RequirementType,
    ArtifactType,
    PolicyType,
    NodeTypeImplementation,
    RelationshipTypeImplementation,
    ArtifactTemplate,
    PolicyTemplate,
    ServiceTemplate,
}

impl TypeKind {
    /// The XML element name (also the file name Winery uses: `<Element>.tosca`).
    pub fn element(self) -> &'static str {
        match self {
            TypeKind::NodeType => "NodeType",
            TypeKind::RelationshipType => "RelationshipType",
            TypeKind::CapabilityType => "CapabilityType",
            TypeKind::RequirementType => "RequirementType",
            TypeKind::ArtifactType => "ArtifactType",
            TypeKind::PolicyType => "PolicyType",
            TypeKind::NodeTypeImplementation => "NodeTypeImplementation",
            TypeKind::RelationshipTypeImplementation => "RelationshipTypeImplementation",
            TypeKind::ArtifactTemplate => "ArtifactTemplate",
            TypeKind::PolicyTemplate => "PolicyTemplate",
            TypeKind::ServiceTemplate => "ServiceTemplate",
        }
    }

    /// Winery repository folder of this kind.
    pub fn folder(self) -> &'static str {
        match self {
            TypeKind::NodeType => "nodetypes",
            TypeKind::RelationshipType => "relationshiptypes",
            TypeKind::CapabilityType => "capabilitytypes",
            TypeKind::RequirementType => "requirementtypes",
            TypeKind::ArtifactType => "artifacttypes",
            TypeKind::PolicyType => "policytypes",
            TypeKind::NodeTypeImplementation => "nodetypeimplementations",
            TypeKind::RelationshipTypeImplementation => "relationshiptypeimplementations",
            TypeKind::ArtifactTemplate => "artifacttemplates",
            TypeKind::PolicyTemplate => "policytemplates",
            TypeKind::ServiceTemplate => "servicetemplates",
        }
    }

    pub const ALL: [TypeKind; 11] = [
        TypeKind::NodeType,
        TypeKind::RelationshipType,
        TypeKind::CapabilityType,
        TypeKind::RequirementType,
        TypeKind::ArtifactType,
        TypeKind::PolicyType,
        TypeKind::NodeTypeImplementation,
        TypeKind::RelationshipTypeImplementation,
        TypeKind::ArtifactTemplate,
        TypeKind::PolicyTemplate,
        TypeKind::ServiceTemplate,
    ];
}

/// What every TOSCA type (and type implementation) has.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EntityType {
    pub name: String,
    /// Effective target namespace (the element's own, else the Definitions').
    pub target_namespace: String,
    pub is_abstract: bool,
    pub is_final: bool,
    pub derived_from: Option<QName>,
    pub properties_definition: Option<PropertiesDefinition>,
    pub tags: Vec<(String, String)>,
    pub documentation: Option<String>,
    /// Other attributes in Winery's namespace (e.g. `bordercolor`).
    pub winery_attrs: Vec<(String, String)>,
    pub line: u32,
}

impl EntityType {
    pub fn qname(&self) -> QName {
        QName::new(&self.target_namespace, &self.name)
    }
}

/// A capability, requirement, artifact or policy type: nothing beyond the common fields.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TypeDef {
    pub base: EntityType,
}

/// A requirement type and the capability type that satisfies it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RequirementType {
    pub base: EntityType,
    pub required_capability_type: Option<QName>,
}

/// A requirement or capability definition of a node type.
#[derive(Debug, Clone, PartialEq)]
pub struct ReqCapDefinition {
    pub name: String,
    pub type_ref: QName,
    pub lower_bound: u32,
    pub upper_bound: MaxInstances,
}

/// An operation parameter.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Parameter {
    pub name: String,
    pub type_name: String,
    pub required: bool,
}

/// An operation of an interface.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Operation {
    pub name: String,
    pub inputs: Vec<Parameter>,
    pub outputs: Vec<Parameter>,
}

/// An interface (its name is usually a URI, e.g. the lifecycle interface).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Interface {
    pub name: String,
    pub operations: Vec<Operation>,
}

/// A node type.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NodeType {
    pub base: EntityType,
    pub requirement_definitions: Vec<ReqCapDefinition>,
    pub capability_definitions: Vec<ReqCapDefinition>,
    pub interfaces: Vec<Interface>,
}

impl NodeType {
    /// The operation `name` of interface `interface`, if this type itself declares it.
    pub fn operation(&self, interface: &str, name: &str) -> Option<&Operation> {
        self.interfaces
            .iter()
            .find(|i| i.name == interface)
            .and_then(|i| i.operations.iter().find(|o| o.name == name))
    }
}

/// A relationship type with its valid source and target (node, requirement or capability types).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RelationshipType {
    pub base: EntityType,
    pub valid_source: Option<QName>,
    pub valid_target: Option<QName>,
    pub source_interfaces: Vec<Interface>,
    pub target_interfaces: Vec<Interface>,
}

/// An implementation artifact bound to an interface/operation.
#[derive(Debug, Clone, PartialEq)]
pub struct ImplementationArtifact {
    pub name: Option<String>,
    pub interface_name: Option<String>,
    pub operation_name: Option<String>,
    pub artifact_type: QName,
    pub artifact_ref: Option<QName>,
}

/// A node type implementation.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NodeTypeImplementation {
    pub base: EntityType,
    pub node_type: QName,
    pub implementation_artifacts: Vec<ImplementationArtifact>,
    pub deployment_artifacts: Vec<DeploymentArtifact>,
}

/// A relationship type implementation.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RelationshipTypeImplementation {
    pub base: EntityType,
    pub relationship_type: QName,
    pub implementation_artifacts: Vec<ImplementationArtifact>,
}

/// A file reference of an artifact template (relative to the CSAR or repository folder).
#[derive(Debug, Clone, PartialEq)]
pub struct ArtifactRefEntry {
    pub reference: String,
    pub includes: Vec<String>,
    pub excludes: Vec<String>,
}

/// An artifact template: a typed set of files.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ArtifactTemplate {
    pub id: String,
    pub name: Option<String>,
    pub target_namespace: String,
    pub type_ref: QName,
    pub properties: Option<Properties>,
    pub references: Vec<ArtifactRefEntry>,
    pub line: u32,
}

impl ArtifactTemplate {
    pub fn qname(&self) -> QName {
        QName::new(&self.target_namespace, &self.id)
    }
}

/// A policy template.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PolicyTemplate {
    pub id: String,
    pub name: Option<String>,
    pub target_namespace: String,
    pub type_ref: QName,
    pub properties: Option<Properties>,
    pub line: u32,
}

impl PolicyTemplate {
    pub fn qname(&self) -> QName {
        QName::new(&self.target_namespace, &self.id)
    }
}
