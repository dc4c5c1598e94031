//! The typed TOSCA 1.0 model read from (and written back into) the lossless XML tree.
//!
//! Types are read-only views; templates (what the editor changes) keep their original element
//! and are patched on write, so everything the model does not understand survives.

pub mod definitions;
pub mod properties;
mod read;
pub mod templates;
pub mod types;
mod write;
mod write_types;

pub use definitions::{Definitions, Import};
pub use properties::{Properties, PropertiesDefinition, PropertyDef};
pub use templates::{
    Capability, DeploymentArtifact, MaxInstances, NodeTemplate, Plan, PolicyRef,
    RelationshipTemplate, Requirement, ServiceTemplate, TopologyIndex, TopologyTemplate,
};
pub use types::{
    ArtifactRefEntry, ArtifactTemplate, EntityType, ImplementationArtifact, Interface, NodeType,
    NodeTypeImplementation, Operation, Parameter, PolicyTemplate, RelationshipType,
    RelationshipTypeImplementation, ReqCapDefinition, RequirementType, TypeDef, TypeKind,
};

/// The TOSCA 1.0 XML namespace.
pub const TOSCA_NS: &str = "http://docs.oasis-open.org/tosca/ns/2011/12";
/// Winery's extension namespace (positions, colours, key/value property definitions).
pub const WINERY_NS: &str = "http://www.opentosca.org/winery/extensions/tosca/2013/02/12";
/// The TOSCA base types namespace (HostedOn, ConnectsTo, DependsOn, …).
pub const BASE_TYPES_NS: &str = "http://docs.oasis-open.org/tosca/ns/2011/12/ToscaBaseTypes";
/// The lifecycle interface of the thesis (Winery/OpenTOSCA naming).
pub const LIFECYCLE_INTERFACE: &str = "http://opentosca.org/interfaces/lifecycle";
/// The TOSCA primer's lifecycle interface name, accepted as an alias.
pub const LIFECYCLE_INTERFACE_PRIMER: &str = "http://www.example.com/interfaces/lifecycle";
/// The prefix of a deploy-time input value.
pub const GET_INPUT: &str = "get_input:";
