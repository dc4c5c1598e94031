//! Reading the typed model out of the XML tree. Lenient: what is missing gets a default and is
//! reported by validation, never a panic; QName values are resolved with the namespaces in scope.
//!
//! Service, node and relationship templates keep the element they were read from, moved out of
//! the document (not copied): the document keeps a stub of it (its name and `id`, all the writer
//! matches on), a service template's element keeps stubs of its templates, and a template's
//! properties wrapper moves into its [`Properties`] with a placeholder left in its place. The
//! writer (`write.rs`) puts each back where its stub is, so every element is stored once.

use super::definitions::{Definitions, Import};
use super::properties::{Properties, PropertiesDefinition, read_winery_definition};
use super::templates::*;
use super::types::*;
use super::{TOSCA_NS, WINERY_NS};
use crate::QName;
use crate::xml::{Element, Node, Scope};
use std::sync::Arc;

fn qref(scope: &Scope<'_>, value: &str) -> QName {
    match scope.resolve_qname_value(value) {
        Some((ns, local)) => QName::new(ns, local),
        // An unbound prefix: keep the text so validation can name it.
        None => QName::new("", value.trim()),
    }
}

fn attr_qname(scope: &Scope<'_>, e: &Element, name: &str) -> Option<QName> {
    e.attr(name)
        .filter(|v| !v.trim().is_empty())
        .map(|v| qref(scope, v))
}

fn yes(v: Option<&str>) -> bool {
    matches!(v.map(str::trim), Some("yes" | "true"))
}

fn owned(v: Option<&str>) -> Option<String> {
    v.map(str::to_string)
}

/// The stub left in a document for an element moved out of it: same name, only its `id`.
fn stub_of(e: &Element) -> Element {
    Element {
        prefix: e.prefix.clone(),
        local: e.local.clone(),
        ns: e.ns.clone(),
        ns_decls: Vec::new(),
        attrs: e
            .attrs
            .iter()
            .filter(|a| a.ns.is_empty() && a.local == "id")
            .cloned()
            .collect(),
        children: Vec::new(),
        line: e.line,
    }
}

/// The placeholder left where a properties wrapper was moved out (no parsed element has an
/// empty name).
fn placeholder() -> Element {
    Element::new("", "")
}

pub(crate) fn is_placeholder(e: &Element) -> bool {
    e.local.is_empty()
}

/// Reads the definitions out of `root`, moving the service templates (and their templates) out
/// of it; stubs stay in their place (see the module doc).
pub(crate) fn read_definitions(root: &mut Element) -> Definitions {
    let decls = root.ns_decls.clone();
    let scope = Scope::ROOT;
    let scope = scope.enter_decls(&decls);
    let tns = root.attr("targetNamespace").unwrap_or("").to_string();
    let mut d = Definitions::new(root.attr("id").unwrap_or(""), &tns);
    d.name = owned(root.attr("name"));
    for node in &mut root.children {
        let Node::Element(e) = node else {
            continue;
        };
        if e.ns != TOSCA_NS {
            continue;
        }
        if e.local == "ServiceTemplate" {
            let stub = stub_of(e);
            let st = std::mem::replace(e, stub);
            d.service_templates.push(service_template(&scope, st, &tns));
            continue;
        }
        let e: &Element = e;
        let s = scope.enter(e);
        match e.local.as_str() {
            "Import" => d.imports.push(Import {
                namespace: owned(e.attr("namespace")),
                location: owned(e.attr("location")),
                import_type: e.attr("importType").unwrap_or("").to_string(),
            }),
            "NodeType" => d.node_types.push(NodeType {
                base: entity(&s, e, &tns),
                requirement_definitions: reqcap_defs(
                    &s,
                    e,
                    "RequirementDefinitions",
                    "RequirementDefinition",
                    "requirementType",
                ),
                capability_definitions: reqcap_defs(
                    &s,
                    e,
                    "CapabilityDefinitions",
                    "CapabilityDefinition",
                    "capabilityType",
                ),
                interfaces: interfaces(e.child(TOSCA_NS, "Interfaces")),
            }),
            "RelationshipType" => d.relationship_types.push(RelationshipType {
                base: entity(&s, e, &tns),
                valid_source: e
                    .child(TOSCA_NS, "ValidSource")
                    .and_then(|v| attr_qname(&s.enter(v), v, "typeRef")),
                valid_target: e
                    .child(TOSCA_NS, "ValidTarget")
                    .and_then(|v| attr_qname(&s.enter(v), v, "typeRef")),
                source_interfaces: interfaces(e.child(TOSCA_NS, "SourceInterfaces")),
                target_interfaces: interfaces(e.child(TOSCA_NS, "TargetInterfaces")),
            }),
            "CapabilityType" => d.capability_types.push(TypeDef {
                base: entity(&s, e, &tns),
            }),
            "RequirementType" => d.requirement_types.push(RequirementType {
                base: entity(&s, e, &tns),
                required_capability_type: attr_qname(&s, e, "requiredCapabilityType"),
            }),
            "ArtifactType" => d.artifact_types.push(TypeDef {
                base: entity(&s, e, &tns),
            }),
            "PolicyType" => d.policy_types.push(TypeDef {
                base: entity(&s, e, &tns),
            }),
            "NodeTypeImplementation" => d.node_type_implementations.push(NodeTypeImplementation {
                base: entity(&s, e, &tns),
                node_type: attr_qname(&s, e, "nodeType").unwrap_or_default(),
                implementation_artifacts: impl_artifacts(&s, e),
                deployment_artifacts: deployment_artifacts(&s, e),
            }),
            "RelationshipTypeImplementation" => {
                d.relationship_type_implementations
                    .push(RelationshipTypeImplementation {
                        base: entity(&s, e, &tns),
                        relationship_type: attr_qname(&s, e, "relationshipType")
                            .unwrap_or_default(),
                        implementation_artifacts: impl_artifacts(&s, e),
                    })
            }
            "ArtifactTemplate" => d.artifact_templates.push(ArtifactTemplate {
                id: e.attr("id").unwrap_or("").to_string(),
                name: owned(e.attr("name")),
                target_namespace: e.attr("targetNamespace").unwrap_or(&tns).to_string(),
                type_ref: attr_qname(&s, e, "type").unwrap_or_default(),
                properties: properties(e),
                references: e
                    .child(TOSCA_NS, "ArtifactReferences")
                    .map(|refs| {
                        refs.children_named(TOSCA_NS, "ArtifactReference")
                            .map(|r| ArtifactRefEntry {
                                reference: r.attr("reference").unwrap_or("").to_string(),
                                includes: patterns(r, "Include"),
                                excludes: patterns(r, "Exclude"),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                line: e.line,
            }),
            "PolicyTemplate" => d.policy_templates.push(PolicyTemplate {
                id: e.attr("id").unwrap_or("").to_string(),
                name: owned(e.attr("name")),
                target_namespace: e.attr("targetNamespace").unwrap_or(&tns).to_string(),
                type_ref: attr_qname(&s, e, "type").unwrap_or_default(),
                properties: properties(e),
                line: e.line,
            }),
            _ => {}
        }
    }
    d
}

fn patterns(r: &Element, local: &str) -> Vec<String> {
    r.children_named(TOSCA_NS, local)
        .filter_map(|p| p.attr("pattern").map(str::to_string))
        .collect()
}

fn entity(s: &Scope<'_>, e: &Element, tns: &str) -> EntityType {
    let properties_definition = if let Some(pd) = e.child(WINERY_NS, "PropertiesDefinition") {
        Some(read_winery_definition(pd))
    } else if let Some(pd) = e.child(TOSCA_NS, "PropertiesDefinition") {
        let ps = s.enter(pd);
        attr_qname(&ps, pd, "element")
            .map(PropertiesDefinition::Element)
            .or_else(|| attr_qname(&ps, pd, "type").map(PropertiesDefinition::Type))
    } else {
        None
    };
    EntityType {
        name: e
            .attr("name")
            .or_else(|| e.attr("id"))
            .unwrap_or("")
            .to_string(),
        target_namespace: e.attr("targetNamespace").unwrap_or(tns).to_string(),
        is_abstract: yes(e.attr("abstract")),
        is_final: yes(e.attr("final")),
        derived_from: e
            .child(TOSCA_NS, "DerivedFrom")
            .and_then(|df| attr_qname(&s.enter(df), df, "typeRef")),
        properties_definition,
        tags: tags(e),
        documentation: e
            .child(TOSCA_NS, "Documentation")
            .map(|d| d.text().trim().to_string()),
        winery_attrs: e
            .attrs
            .iter()
            .filter(|a| a.ns == WINERY_NS)
            .map(|a| (a.local.clone(), a.value.clone()))
            .collect(),
        line: e.line,
    }
}

fn tags(e: &Element) -> Vec<(String, String)> {
    e.child(TOSCA_NS, "Tags")
        .map(|t| {
            t.children_named(TOSCA_NS, "Tag")
                .map(|t| {
                    (
                        t.attr("name").unwrap_or("").to_string(),
                        t.attr("value").unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn reqcap_defs(
    s: &Scope<'_>,
    e: &Element,
    list: &str,
    item: &str,
    type_attr: &str,
) -> Vec<ReqCapDefinition> {
    let Some(l) = e.child(TOSCA_NS, list) else {
        return Vec::new();
    };
    let ls = s.enter(l);
    l.children_named(TOSCA_NS, item)
        .map(|d| {
            let ds = ls.enter(d);
            ReqCapDefinition {
                name: d.attr("name").unwrap_or("").to_string(),
                type_ref: attr_qname(&ds, d, type_attr).unwrap_or_default(),
                lower_bound: d
                    .attr("lowerBound")
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(1),
                upper_bound: d
                    .attr("upperBound")
                    .and_then(MaxInstances::parse)
                    .unwrap_or(MaxInstances::Bounded(1)),
            }
        })
        .collect()
}

fn interfaces(list: Option<&Element>) -> Vec<Interface> {
    let Some(list) = list else {
        return Vec::new();
    };
    list.children_named(TOSCA_NS, "Interface")
        .map(|i| Interface {
            name: i.attr("name").unwrap_or("").to_string(),
            operations: i
                .children_named(TOSCA_NS, "Operation")
                .map(|o| Operation {
                    name: o.attr("name").unwrap_or("").to_string(),
                    inputs: params(o, "InputParameters", "InputParameter"),
                    outputs: params(o, "OutputParameters", "OutputParameter"),
                })
                .collect(),
        })
        .collect()
}

fn params(o: &Element, list: &str, item: &str) -> Vec<Parameter> {
    o.child(TOSCA_NS, list)
        .map(|l| {
            l.children_named(TOSCA_NS, item)
                .map(|p| Parameter {
                    name: p.attr("name").unwrap_or("").to_string(),
                    type_name: p.attr("type").unwrap_or("xsd:string").to_string(),
                    // TOSCA's default for `required` is yes.
                    required: p.attr("required").is_none_or(|r| yes(Some(r))),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn impl_artifacts(s: &Scope<'_>, e: &Element) -> Vec<ImplementationArtifact> {
    let Some(l) = e.child(TOSCA_NS, "ImplementationArtifacts") else {
        return Vec::new();
    };
    let ls = s.enter(l);
    l.children_named(TOSCA_NS, "ImplementationArtifact")
        .map(|a| {
            let a_s = ls.enter(a);
            ImplementationArtifact {
                name: owned(a.attr("name")),
                interface_name: owned(a.attr("interfaceName")),
                operation_name: owned(a.attr("operationName")),
                artifact_type: attr_qname(&a_s, a, "artifactType").unwrap_or_default(),
                artifact_ref: attr_qname(&a_s, a, "artifactRef"),
            }
        })
        .collect()
}

pub(crate) fn deployment_artifacts(s: &Scope<'_>, e: &Element) -> Vec<DeploymentArtifact> {
    let Some(l) = e.child(TOSCA_NS, "DeploymentArtifacts") else {
        return Vec::new();
    };
    let ls = s.enter(l);
    l.children_named(TOSCA_NS, "DeploymentArtifact")
        .map(|a| {
            let a_s = ls.enter(a);
            DeploymentArtifact {
                name: a.attr("name").unwrap_or("").to_string(),
                artifact_type: attr_qname(&a_s, a, "artifactType").unwrap_or_default(),
                artifact_ref: attr_qname(&a_s, a, "artifactRef"),
            }
        })
        .collect()
}

/// The properties wrapper of `e`: the first element inside its `Properties`.
pub(crate) fn properties_wrapper(e: &Element) -> Option<&Element> {
    e.child(TOSCA_NS, "Properties")
        .and_then(|p| p.elements().next())
}

pub(crate) fn properties(e: &Element) -> Option<Properties> {
    properties_wrapper(e).map(|w| Properties::from_wrapper(w.clone()))
}

/// Moves the properties wrapper out of `e` into a [`Properties`], leaving a placeholder.
fn take_properties(e: &mut Element) -> Option<Properties> {
    let wrapper = e
        .child_mut(TOSCA_NS, "Properties")?
        .children
        .iter_mut()
        .find_map(|n| match n {
            Node::Element(w) => Some(w),
            _ => None,
        })?;
    Some(Properties::from_wrapper(std::mem::replace(
        wrapper,
        placeholder(),
    )))
}

fn service_template(parent: &Scope<'_>, mut e: Element, tns: &str) -> ServiceTemplate {
    let decls = e.ns_decls.clone();
    let s = parent.enter_decls(&decls);
    let mut topology = TopologyTemplate::default();
    if let Some(t) = e.child_mut(TOSCA_NS, "TopologyTemplate") {
        let tdecls = t.ns_decls.clone();
        let ts = s.enter_decls(&tdecls);
        for node in &mut t.children {
            let Node::Element(c) = node else {
                continue;
            };
            if c.ns != TOSCA_NS {
                continue;
            }
            match c.local.as_str() {
                "NodeTemplate" => {
                    let stub = stub_of(c);
                    let c = std::mem::replace(c, stub);
                    topology.node_templates.push(take_node_template(&ts, c));
                }
                "RelationshipTemplate" => {
                    let stub = stub_of(c);
                    let c = std::mem::replace(c, stub);
                    topology
                        .relationship_templates
                        .push(take_relationship_template(&ts, c));
                }
                _ => {}
            }
        }
    }
    let mut st = ServiceTemplate {
        id: e.attr("id").unwrap_or("").to_string(),
        name: owned(e.attr("name")),
        target_namespace: e.attr("targetNamespace").unwrap_or(tns).to_string(),
        substitutable_node_type: attr_qname(&s, &e, "substitutableNodeType"),
        tags: tags(&e),
        topology,
        plans: e
            .child(TOSCA_NS, "Plans")
            .map(|p| {
                p.children_named(TOSCA_NS, "Plan")
                    .map(|p| Plan {
                        id: p.attr("id").unwrap_or("").to_string(),
                        name: owned(p.attr("name")),
                        plan_type: p.attr("planType").unwrap_or("").to_string(),
                        plan_language: p.attr("planLanguage").unwrap_or("").to_string(),
                        reference: p
                            .child(TOSCA_NS, "PlanModelReference")
                            .and_then(|r| owned(r.attr("reference"))),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        line: e.line,
        xml: None,
    };
    st.xml = Some(Arc::new(e));
    st
}

/// Reads a node template out of its element, which it keeps (see the module doc).
fn take_node_template(parent: &Scope<'_>, mut e: Element) -> NodeTemplate {
    let mut n = node_template(parent, &e);
    n.properties = take_properties(&mut e);
    n.xml = Some(Arc::new(e));
    n
}

/// Reads a relationship template out of its element, which it keeps (see the module doc).
fn take_relationship_template(parent: &Scope<'_>, mut e: Element) -> RelationshipTemplate {
    let mut r = relationship_template(parent, &e);
    r.properties = take_properties(&mut e);
    r.xml = Some(Arc::new(e));
    r
}

/// The fields of a node template element, without its properties and element (the writer
/// compares an edited template with its element through this).
pub(crate) fn node_template(parent: &Scope<'_>, e: &Element) -> NodeTemplate {
    let s = parent.enter(e);
    let coord = |n: &str| {
        e.attr_ns(WINERY_NS, n)
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite())
    };
    let reqcaps = |list: &str, item: &str| -> Vec<(String, String, QName)> {
        e.child(TOSCA_NS, list)
            .map(|l| {
                let ls = s.enter(l);
                l.children_named(TOSCA_NS, item)
                    .map(|r| {
                        (
                            r.attr("id").unwrap_or("").to_string(),
                            r.attr("name").unwrap_or("").to_string(),
                            attr_qname(&ls.enter(r), r, "type").unwrap_or_default(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    NodeTemplate {
        id: e.attr("id").unwrap_or("").to_string(),
        name: owned(e.attr("name")),
        type_ref: attr_qname(&s, e, "type").unwrap_or_default(),
        min_instances: e
            .attr("minInstances")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(1),
        max_instances: e
            .attr("maxInstances")
            .and_then(MaxInstances::parse)
            .unwrap_or(MaxInstances::Bounded(1)),
        x: coord("x"),
        y: coord("y"),
        properties: None,
        requirements: reqcaps("Requirements", "Requirement")
            .into_iter()
            .map(|(id, name, type_ref)| Requirement { id, name, type_ref })
            .collect(),
        capabilities: reqcaps("Capabilities", "Capability")
            .into_iter()
            .map(|(id, name, type_ref)| Capability { id, name, type_ref })
            .collect(),
        deployment_artifacts: deployment_artifacts(&s, e),
        policies: e
            .child(TOSCA_NS, "Policies")
            .map(|l| {
                let ls = s.enter(l);
                l.children_named(TOSCA_NS, "Policy")
                    .map(|p| {
                        let ps = ls.enter(p);
                        PolicyRef {
                            name: owned(p.attr("name")),
                            policy_type: attr_qname(&ps, p, "policyType").unwrap_or_default(),
                            policy_ref: attr_qname(&ps, p, "policyRef"),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default(),
        line: e.line,
        xml: None,
    }
}

/// The fields of a relationship template element, without its properties and element.
pub(crate) fn relationship_template(parent: &Scope<'_>, e: &Element) -> RelationshipTemplate {
    let s = parent.enter(e);
    let end = |n: &str| {
        e.child(TOSCA_NS, n)
            .and_then(|x| x.attr("ref"))
            .unwrap_or("")
            .to_string()
    };
    RelationshipTemplate {
        id: e.attr("id").unwrap_or("").to_string(),
        name: owned(e.attr("name")),
        type_ref: attr_qname(&s, e, "type").unwrap_or_default(),
        source: end("SourceElement"),
        target: end("TargetElement"),
        properties: None,
        line: e.line,
        xml: None,
    }
}
