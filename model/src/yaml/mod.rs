//! TOSCA Simple Profile in YAML (1.0–1.3): reading service templates, type definitions and
//! imports onto the same model as TOSCA XML (so validation, plans, export and deploy work
//! unchanged), YAML-only checks (constraints, scalar-units, data types), surgical write-back
//! that keeps comments and key order, and CSAR export with a YAML Entry-Definitions.
//!
//! Mapping: a YAML type name `a.b.C` is the QName `{a.b}C` (so `tosca.nodes.Compute` is
//! `{tosca.nodes}Compute`); requirement definitions become requirement types named
//! `{<node type>}<requirement>`; requirement assignments become relationship templates; property
//! values become key/value properties (lists and maps as JSON, `{get_input: X}` as
//! `get_input: X`); lifecycle interfaces derived from `tosca.interfaces.node.lifecycle.Standard`
//! are named by that type so plans find them.

pub mod bench;
pub mod export;
pub mod load;
pub mod node;
mod read;
pub mod report;
mod topology;
pub mod validate;
pub mod write;

pub use load::{is_yaml_path, load_yaml_path, looks_like_tosca_yaml};
pub use node::{Node, Pos, YamlError};

use crate::QName;
use std::collections::HashMap;
use std::path::PathBuf;

/// A fast, non-cryptographic hasher (FNV-1a) for the reader's string-keyed maps; inputs are
/// bounded by the document limits, so hash flooding is not a concern worth SipHash's cost.
#[derive(Debug, Clone, Copy)]
pub struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// `HashMap` with [`Fnv`].
pub type FastMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<Fnv>>;

/// `HashSet` with [`Fnv`].
pub type FastSet<K> = std::collections::HashSet<K, std::hash::BuildHasherDefault<Fnv>>;

/// The TOSCA YAML versions read.
pub const SUPPORTED_VERSIONS: &[&str] = &[
    "tosca_simple_yaml_1_0",
    "tosca_simple_yaml_1_1",
    "tosca_simple_yaml_1_2",
    "tosca_simple_yaml_1_3",
];

/// The lifecycle interface type plans look for.
pub const STANDARD_LIFECYCLE: &str = "tosca.interfaces.node.lifecycle.Standard";

/// The QName of a YAML type name (`a.b.C` → `{a.b}C`).
pub fn qname(full: &str) -> QName {
    match full.rsplit_once('.') {
        Some((ns, local)) if !ns.is_empty() && !local.is_empty() => QName::new(ns, local),
        _ => QName::new("", full),
    }
}

/// The YAML type name of a QName (inverse of [`qname`]).
pub fn full_name(q: &QName) -> String {
    if q.namespace.is_empty() {
        q.local.clone()
    } else {
        format!("{}.{}", q.namespace, q.local)
    }
}

/// A constraint clause of a property or data type.
#[derive(Debug, Clone, PartialEq)]
pub struct Constraint {
    /// `equal`, `greater_than`, `in_range`, `valid_values`, `length`, `pattern`, …
    pub op: String,
    pub arg: serde_json::Value,
    pub line: u32,
    pub col: u32,
}

/// A YAML property definition (what the XML key/value definition cannot hold).
#[derive(Debug, Clone, PartialEq)]
pub struct PropDef {
    pub name: String,
    pub type_name: String,
    pub required: bool,
    pub has_default: bool,
    pub constraints: Vec<Constraint>,
    pub entry_schema: Option<String>,
    pub line: u32,
    pub col: u32,
}

/// A data type: a primitive it derives from (with constraints) or properties.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DataType {
    pub name: String,
    pub derived_from: Option<String>,
    pub properties: Vec<PropDef>,
    pub constraints: Vec<Constraint>,
}

/// Type information only YAML has, per type full name.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TypeInfo {
    /// Property definitions of node, relationship and capability types.
    pub properties: HashMap<String, Vec<PropDef>>,
    pub data_types: HashMap<String, DataType>,
    /// Interface types with their parent and operation names.
    pub interface_types: HashMap<String, (Option<String>, Vec<String>)>,
    pub group_types: Vec<String>,
    pub policy_types: Vec<String>,
}

/// Where a relationship template read from a requirement assignment came from.
#[derive(Debug, Clone, PartialEq)]
pub struct RequirementOrigin {
    pub node: String,
    pub requirement: String,
    /// Index in the node template's requirements list.
    pub index: usize,
}

/// Everything kept from a YAML file for validation and write-back.
#[derive(Debug, Clone, PartialEq)]
pub struct YamlSource {
    pub path: PathBuf,
    /// The text as read (an untouched document is written back as these bytes).
    pub text: String,
    pub root: Node,
    pub version: String,
    pub info: TypeInfo,
    /// The topology as read, to find what the editor changed.
    pub(crate) original: Option<crate::tosca::TopologyTemplate>,
    /// Relationship template id → requirement assignment it was read from.
    pub(crate) origins: FastMap<String, RequirementOrigin>,
    /// Property value positions: (node id, key) → (line, column).
    pub(crate) value_pos: FastMap<(String, String), (u32, u32)>,
}

impl crate::tosca::Definitions {
    /// The YAML source, when this document was read from YAML.
    pub fn yaml_source(&self) -> Option<&YamlSource> {
        self.yaml.as_deref()
    }
}
