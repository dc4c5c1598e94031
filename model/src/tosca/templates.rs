//! Service templates and their topology: node and relationship templates, requirements,
//! capabilities, deployment artifacts, policies and plans. These are what the editor changes;
//! each keeps the element it was read from so writing back loses nothing.

use super::properties::Properties;
use crate::QName;
use crate::xml::Element;
use std::sync::Arc;

/// `maxInstances` / `upperBound`: a number or `unbounded`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxInstances {
    Bounded(u32),
    Unbounded,
}

impl MaxInstances {
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if s == "unbounded" {
            Some(MaxInstances::Unbounded)
        } else {
            s.parse().ok().map(MaxInstances::Bounded)
        }
    }

    pub fn allows(self, n: u32) -> bool {
        match self {
            MaxInstances::Bounded(m) => n <= m,
            MaxInstances::Unbounded => true,
        }
    }
}

impl std::fmt::Display for MaxInstances {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MaxInstances::Bounded(n) => write!(f, "{n}"),
            MaxInstances::Unbounded => f.write_str("unbounded"),
        }
    }
}

/// A requirement of a node template.
#[derive(Debug, Clone, PartialEq)]
pub struct Requirement {
    pub id: String,
    pub name: String,
    pub type_ref: QName,
}

/// A capability of a node template.
#[derive(Debug, Clone, PartialEq)]
pub struct Capability {
    pub id: String,
    pub name: String,
    pub type_ref: QName,
}

/// A deployment artifact of a node template or node type implementation.
#[derive(Debug, Clone, PartialEq)]
pub struct DeploymentArtifact {
    pub name: String,
    pub artifact_type: QName,
    pub artifact_ref: Option<QName>,
}

/// A policy attached to a node template.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyRef {
    pub name: Option<String>,
    pub policy_type: QName,
    pub policy_ref: Option<QName>,
}

/// A node template.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeTemplate {
    pub id: String,
    pub name: Option<String>,
    pub type_ref: QName,
    pub min_instances: u32,
    pub max_instances: MaxInstances,
    /// `winery:x` / `winery:y` (canvas position).
    pub x: Option<f64>,
    pub y: Option<f64>,
    pub properties: Option<Properties>,
    pub requirements: Vec<Requirement>,
    pub capabilities: Vec<Capability>,
    pub deployment_artifacts: Vec<DeploymentArtifact>,
    pub policies: Vec<PolicyRef>,
    pub line: u32,
    /// The element this template was read from (`None` for new templates), shared by copies;
    /// its properties wrapper is a placeholder, the wrapper is in `properties` (see
    /// `tosca::read`).
    pub(crate) xml: Option<Arc<Element>>,
}

impl NodeTemplate {
    /// A new node template of `type_ref` at a canvas position.
    pub fn new(id: &str, type_ref: QName, x: f64, y: f64) -> Self {
        NodeTemplate {
            id: id.to_string(),
            name: Some(id.to_string()),
            type_ref,
            min_instances: 1,
            max_instances: MaxInstances::Bounded(1),
            x: Some(x),
            y: Some(y),
            properties: None,
            requirements: Vec::new(),
            capabilities: Vec::new(),
            deployment_artifacts: Vec::new(),
            policies: Vec::new(),
            line: 0,
            xml: None,
        }
    }

    /// The display name: `name`, else the id.
    pub fn label(&self) -> &str {
        self.name
            .as_deref()
            .filter(|n| !n.is_empty())
            .unwrap_or(&self.id)
    }

    /// A key/value property value.
    pub fn property(&self, key: &str) -> Option<&str> {
        self.properties.as_ref()?.get(key)
    }
}

/// A relationship template between two node templates (or their requirement/capability).
#[derive(Debug, Clone, PartialEq)]
pub struct RelationshipTemplate {
    pub id: String,
    pub name: Option<String>,
    pub type_ref: QName,
    /// `SourceElement ref`: a node template id or a requirement id.
    pub source: String,
    /// `TargetElement ref`: a node template id or a capability id.
    pub target: String,
    pub properties: Option<Properties>,
    pub line: u32,
    pub(crate) xml: Option<Arc<Element>>,
}

impl RelationshipTemplate {
    pub fn new(id: &str, type_ref: QName, source: &str, target: &str) -> Self {
        RelationshipTemplate {
            id: id.to_string(),
            name: Some(id.to_string()),
            type_ref,
            source: source.to_string(),
            target: target.to_string(),
            properties: None,
            line: 0,
            xml: None,
        }
    }
}

/// The topology of a service template.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TopologyTemplate {
    pub node_templates: Vec<NodeTemplate>,
    pub relationship_templates: Vec<RelationshipTemplate>,
}

impl TopologyTemplate {
    /// A copy for drawing: every field but the XML elements the templates were read from
    /// (copying those DOM trees each frame cost more than drawing 1,000 nodes).
    pub fn view_copy(&self) -> TopologyTemplate {
        TopologyTemplate {
            node_templates: self
                .node_templates
                .iter()
                .map(|n| NodeTemplate {
                    id: n.id.clone(),
                    name: n.name.clone(),
                    type_ref: n.type_ref.clone(),
                    min_instances: n.min_instances,
                    max_instances: n.max_instances,
                    x: n.x,
                    y: n.y,
                    properties: n.properties.clone(),
                    requirements: n.requirements.clone(),
                    capabilities: n.capabilities.clone(),
                    deployment_artifacts: n.deployment_artifacts.clone(),
                    policies: n.policies.clone(),
                    line: n.line,
                    xml: None,
                })
                .collect(),
            relationship_templates: self
                .relationship_templates
                .iter()
                .map(|r| RelationshipTemplate {
                    id: r.id.clone(),
                    name: r.name.clone(),
                    type_ref: r.type_ref.clone(),
                    source: r.source.clone(),
                    target: r.target.clone(),
                    properties: r.properties.clone(),
                    line: r.line,
                    xml: None,
                })
                .collect(),
        }
    }

    pub fn node(&self, id: &str) -> Option<&NodeTemplate> {
        self.node_templates.iter().find(|n| n.id == id)
    }

    pub fn node_mut(&mut self, id: &str) -> Option<&mut NodeTemplate> {
        self.node_templates.iter_mut().find(|n| n.id == id)
    }

    /// The node template a relationship end refers to: a node id, or the id of one of a node's
    /// requirements/capabilities.
    pub fn endpoint_node(&self, reference: &str) -> Option<&NodeTemplate> {
        self.node(reference).or_else(|| {
            self.node_templates.iter().find(|n| {
                n.requirements.iter().any(|r| r.id == reference)
                    || n.capabilities.iter().any(|c| c.id == reference)
            })
        })
    }

    /// An id not used by any node or relationship template, starting from `base`.
    pub fn unique_id(&self, base: &str) -> String {
        let base = if base.is_empty() { "node" } else { base };
        let taken = |id: &str| {
            self.node_templates.iter().any(|n| n.id == id)
                || self.relationship_templates.iter().any(|r| r.id == id)
                || self.node_templates.iter().any(|n| {
                    n.requirements.iter().any(|r| r.id == id)
                        || n.capabilities.iter().any(|c| c.id == id)
                })
        };
        if !taken(base) {
            return base.to_string();
        }
        (2..)
            .map(|i| format!("{base}_{i}"))
            .find(|id| !taken(id))
            .unwrap_or_else(|| base.to_string())
    }
}

/// A plan (BPEL/BPMN) referenced by a service template.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub id: String,
    pub name: Option<String>,
    pub plan_type: String,
    pub plan_language: String,
    pub reference: Option<String>,
}

/// A service template.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceTemplate {
    pub id: String,
    pub name: Option<String>,
    /// Effective target namespace (the element's own, else the Definitions').
    pub target_namespace: String,
    pub substitutable_node_type: Option<QName>,
    pub tags: Vec<(String, String)>,
    pub topology: TopologyTemplate,
    pub plans: Vec<Plan>,
    pub line: u32,
    pub(crate) xml: Option<Arc<Element>>,
}

impl ServiceTemplate {
    pub fn new(namespace: &str, id: &str) -> Self {
        ServiceTemplate {
            id: id.to_string(),
            name: Some(id.to_string()),
            target_namespace: namespace.to_string(),
            substitutable_node_type: None,
            tags: Vec::new(),
            topology: TopologyTemplate::default(),
            plans: Vec::new(),
            line: 0,
            xml: None,
        }
    }

    pub fn qname(&self) -> QName {
        QName::new(&self.target_namespace, &self.id)
    }
}

impl NodeTemplate {
    /// Forgets the element this template was read from (e.g. when pasted into another
    /// document whose prefixes differ); unknown content of the original is dropped.
    pub fn detach(&mut self) {
        self.xml = None;
        self.line = 0;
    }
}

impl RelationshipTemplate {
    /// See [`NodeTemplate::detach`].
    pub fn detach(&mut self) {
        self.xml = None;
        self.line = 0;
    }
}

/// Constant-time lookups into a topology (node ids and requirement/capability ids).
#[derive(Debug)]
pub struct TopologyIndex<'a> {
    nodes: std::collections::HashMap<&'a str, &'a NodeTemplate>,
    endpoints: std::collections::HashMap<&'a str, &'a NodeTemplate>,
}

impl<'a> TopologyIndex<'a> {
    pub fn new(topo: &'a TopologyTemplate) -> Self {
        let mut nodes = std::collections::HashMap::with_capacity(topo.node_templates.len());
        let mut endpoints = std::collections::HashMap::new();
        for n in &topo.node_templates {
            nodes.entry(n.id.as_str()).or_insert(n);
            for r in &n.requirements {
                endpoints.entry(r.id.as_str()).or_insert(n);
            }
            for c in &n.capabilities {
                endpoints.entry(c.id.as_str()).or_insert(n);
            }
        }
        TopologyIndex { nodes, endpoints }
    }

    pub fn node(&self, id: &str) -> Option<&'a NodeTemplate> {
        self.nodes.get(id).copied()
    }

    /// Like [`TopologyTemplate::endpoint_node`].
    pub fn endpoint_node(&self, reference: &str) -> Option<&'a NodeTemplate> {
        self.node(reference)
            .or_else(|| self.endpoints.get(reference).copied())
    }
}
