//! Writing types back: node types, relationship types, node type implementations and artifact
//! templates created or edited in memory are patched into the element they were read from
//! (only the parts that changed are rebuilt); an unchanged one keeps its element as read, so
//! untouched files still write back identically.

use super::definitions::Definitions;
use super::properties::PropertiesDefinition;
use super::read;
use super::templates::DeploymentArtifact;
use super::types::*;
use super::write::{container, merge_children_by, set_qname_attr, upsert_child_ns};
use super::{TOSCA_NS, WINERY_NS};
use crate::xml::{Element, Node, Scope};
use std::collections::HashMap;

const NODE_TYPE_ORDER: &[&str] = &[
    "Documentation",
    "Tags",
    "DerivedFrom",
    "PropertiesDefinition",
    "RequirementDefinitions",
    "CapabilityDefinitions",
    "InstanceStates",
    "Interfaces",
];
const RELATIONSHIP_TYPE_ORDER: &[&str] = &[
    "Documentation",
    "Tags",
    "DerivedFrom",
    "PropertiesDefinition",
    "InstanceStates",
    "SourceInterfaces",
    "TargetInterfaces",
    "ValidSource",
    "ValidTarget",
];
const IMPLEMENTATION_ORDER: &[&str] = &[
    "Documentation",
    "Tags",
    "DerivedFrom",
    "RequiredContainerFeatures",
    "ImplementationArtifacts",
    "DeploymentArtifacts",
];
const ARTIFACT_TEMPLATE_ORDER: &[&str] = &[
    "Documentation",
    "Tags",
    "Properties",
    "PropertyConstraints",
    "ArtifactReferences",
];

/// Patches node types, relationship types, node type implementations and artifact templates
/// of `defs` into `root` (the Definitions element).
pub(super) fn patch_types(root: &mut Element, defs: &Definitions, scope: &Scope<'_>) {
    let tns = defs.target_namespace.as_str();
    merge_kind(
        root,
        "NodeType",
        "name",
        &defs.node_types,
        scope,
        |t| t.base.name.clone(),
        |e, old, t, s| {
            let old = old.and_then(|d| d.node_types.into_iter().next());
            if old.as_ref().is_some_and(|o| {
                same(&o.base, &t.base)
                    && o.requirement_definitions == t.requirement_definitions
                    && o.capability_definitions == t.capability_definitions
                    && o.interfaces == t.interfaces
            }) {
                return false;
            }
            let old_base = old.as_ref().map(|o| &o.base);
            patch_entity(e, s, &t.base, old_base, tns, NODE_TYPE_ORDER);
            let decls = e.ns_decls.clone();
            let s = s.enter_decls(&decls);
            if old.as_ref().map(|o| &o.requirement_definitions) != Some(&t.requirement_definitions)
            {
                let list = reqcaps(
                    &s,
                    "RequirementDefinitions",
                    "RequirementDefinition",
                    "requirementType",
                    &t.requirement_definitions,
                );
                upsert_child_ns(e, TOSCA_NS, "RequirementDefinitions", list, NODE_TYPE_ORDER);
            }
            if old.as_ref().map(|o| &o.capability_definitions) != Some(&t.capability_definitions) {
                let list = reqcaps(
                    &s,
                    "CapabilityDefinitions",
                    "CapabilityDefinition",
                    "capabilityType",
                    &t.capability_definitions,
                );
                upsert_child_ns(e, TOSCA_NS, "CapabilityDefinitions", list, NODE_TYPE_ORDER);
            }
            if old.as_ref().map(|o| &o.interfaces) != Some(&t.interfaces) {
                upsert_child_ns(
                    e,
                    TOSCA_NS,
                    "Interfaces",
                    interfaces("Interfaces", &t.interfaces),
                    NODE_TYPE_ORDER,
                );
            }
            true
        },
    );
    merge_kind(
        root,
        "RelationshipType",
        "name",
        &defs.relationship_types,
        scope,
        |t| t.base.name.clone(),
        |e, old, t, s| {
            let old = old.and_then(|d| d.relationship_types.into_iter().next());
            if old.as_ref().is_some_and(|o| {
                same(&o.base, &t.base)
                    && o.valid_source == t.valid_source
                    && o.valid_target == t.valid_target
                    && o.source_interfaces == t.source_interfaces
                    && o.target_interfaces == t.target_interfaces
            }) {
                return false;
            }
            patch_entity(
                e,
                s,
                &t.base,
                old.as_ref().map(|o| &o.base),
                tns,
                RELATIONSHIP_TYPE_ORDER,
            );
            let decls = e.ns_decls.clone();
            let s = s.enter_decls(&decls);
            if old.as_ref().map(|o| &o.source_interfaces) != Some(&t.source_interfaces) {
                upsert_child_ns(
                    e,
                    TOSCA_NS,
                    "SourceInterfaces",
                    interfaces("SourceInterfaces", &t.source_interfaces),
                    RELATIONSHIP_TYPE_ORDER,
                );
            }
            if old.as_ref().map(|o| &o.target_interfaces) != Some(&t.target_interfaces) {
                upsert_child_ns(
                    e,
                    TOSCA_NS,
                    "TargetInterfaces",
                    interfaces("TargetInterfaces", &t.target_interfaces),
                    RELATIONSHIP_TYPE_ORDER,
                );
            }
            for (local, new, was) in [
                (
                    "ValidSource",
                    &t.valid_source,
                    old.as_ref().map(|o| &o.valid_source),
                ),
                (
                    "ValidTarget",
                    &t.valid_target,
                    old.as_ref().map(|o| &o.valid_target),
                ),
            ] {
                if was != Some(new) {
                    let x = new.as_ref().map(|q| {
                        let mut x = Element::new(TOSCA_NS, local);
                        set_qname_attr(&mut x, &s, "typeRef", q);
                        x
                    });
                    upsert_child_ns(e, TOSCA_NS, local, x, RELATIONSHIP_TYPE_ORDER);
                }
            }
            true
        },
    );
    merge_kind(
        root,
        "NodeTypeImplementation",
        "name",
        &defs.node_type_implementations,
        scope,
        |t| t.base.name.clone(),
        |e, old, t, s| {
            let old = old.and_then(|d| d.node_type_implementations.into_iter().next());
            if old.as_ref().is_some_and(|o| {
                same(&o.base, &t.base)
                    && o.node_type == t.node_type
                    && o.implementation_artifacts == t.implementation_artifacts
                    && o.deployment_artifacts == t.deployment_artifacts
            }) {
                return false;
            }
            patch_entity(
                e,
                s,
                &t.base,
                old.as_ref().map(|o| &o.base),
                tns,
                IMPLEMENTATION_ORDER,
            );
            set_qname_attr(e, s, "nodeType", &t.node_type);
            let decls = e.ns_decls.clone();
            let s = s.enter_decls(&decls);
            if old.as_ref().map(|o| &o.implementation_artifacts)
                != Some(&t.implementation_artifacts)
            {
                let list = (!t.implementation_artifacts.is_empty()).then(|| {
                    container(
                        "ImplementationArtifacts",
                        t.implementation_artifacts.iter().map(|a| {
                            let mut x = Element::new(TOSCA_NS, "ImplementationArtifact");
                            for (n, v) in [
                                ("name", &a.name),
                                ("interfaceName", &a.interface_name),
                                ("operationName", &a.operation_name),
                            ] {
                                if let Some(v) = v {
                                    x.set_attr(n, v);
                                }
                            }
                            set_qname_attr(&mut x, &s, "artifactType", &a.artifact_type);
                            if let Some(r) = &a.artifact_ref {
                                set_qname_attr(&mut x, &s, "artifactRef", r);
                            }
                            x
                        }),
                    )
                });
                upsert_child_ns(
                    e,
                    TOSCA_NS,
                    "ImplementationArtifacts",
                    list,
                    IMPLEMENTATION_ORDER,
                );
            }
            if old.as_ref().map(|o| &o.deployment_artifacts) != Some(&t.deployment_artifacts) {
                let list = deployment_artifacts(&s, &t.deployment_artifacts);
                upsert_child_ns(
                    e,
                    TOSCA_NS,
                    "DeploymentArtifacts",
                    list,
                    IMPLEMENTATION_ORDER,
                );
            }
            true
        },
    );
    merge_kind(
        root,
        "ArtifactTemplate",
        "id",
        &defs.artifact_templates,
        scope,
        |t| t.id.clone(),
        |e, old, t, s| {
            let old = old.and_then(|d| d.artifact_templates.into_iter().next());
            let mut cmp = t.clone();
            cmp.line = 0;
            if old.as_ref().is_some_and(|o| {
                let mut o = o.clone();
                o.line = 0;
                o == cmp
            }) {
                return false;
            }
            e.set_attr("id", &t.id);
            match &t.name {
                Some(n) => e.set_attr("name", n),
                None => e.remove_attr_ns("", "name"),
            }
            if old.is_none() || e.attr("targetNamespace").is_some() || t.target_namespace != tns {
                e.set_attr("targetNamespace", &t.target_namespace);
            }
            set_qname_attr(e, s, "type", &t.type_ref);
            if old.as_ref().map(|o| &o.references) != Some(&t.references) {
                let list = (!t.references.is_empty()).then(|| {
                    container(
                        "ArtifactReferences",
                        t.references.iter().map(|r| {
                            let mut x = Element::new(TOSCA_NS, "ArtifactReference");
                            x.set_attr("reference", &r.reference);
                            for (local, pats) in
                                [("Include", &r.includes), ("Exclude", &r.excludes)]
                            {
                                for p in pats {
                                    let mut c = Element::new(TOSCA_NS, local);
                                    c.set_attr("pattern", p);
                                    x.children.push(Node::Element(c));
                                }
                            }
                            x
                        }),
                    )
                });
                upsert_child_ns(
                    e,
                    TOSCA_NS,
                    "ArtifactReferences",
                    list,
                    ARTIFACT_TEMPLATE_ORDER,
                );
            }
            true
        },
    );
}

/// Equal apart from source lines.
fn same(a: &EntityType, b: &EntityType) -> bool {
    let mut a = a.clone();
    a.line = b.line;
    a == *b
}

/// Merges the `local` children of `root` with `items`: each original element is re-read into
/// the model and kept as is when the item equals it; `patch` rebuilds what changed (returns
/// false when nothing did).
fn merge_kind<T>(
    root: &mut Element,
    local: &str,
    key: &str,
    items: &[T],
    scope: &Scope<'_>,
    name: impl Fn(&T) -> String,
    mut patch: impl FnMut(&mut Element, Option<Definitions>, &T, &Scope<'_>) -> bool,
) {
    let originals: Vec<Element> = root.children_named(TOSCA_NS, local).cloned().collect();
    if items.is_empty() && originals.is_empty() {
        return;
    }
    // The root without its children (cloning the root would copy every element).
    let shell = Element {
        prefix: root.prefix.clone(),
        local: root.local.clone(),
        ns: root.ns.clone(),
        ns_decls: root.ns_decls.clone(),
        attrs: root.attrs.clone(),
        children: Vec::new(),
        line: root.line,
    };
    let mut seen: HashMap<String, usize> = HashMap::new();
    merge_children_by(
        root,
        local,
        key,
        items,
        |t| Some(name(t)),
        |t| {
            let n = name(t);
            let k = seen.entry(n.clone()).or_default();
            let original = originals
                .iter()
                .filter(|o| o.attr(key) == Some(n.as_str()))
                .nth(*k)
                .cloned();
            *k += 1;
            let old = original.as_ref().map(|o| {
                let mut r = shell.clone();
                r.children.push(Node::Element(o.clone()));
                read::read_definitions(&mut r)
            });
            let mut e = original.unwrap_or_else(|| Element::new(TOSCA_NS, local));
            patch(&mut e, old, t, scope);
            e
        },
    );
}

fn patch_entity(
    e: &mut Element,
    scope: &Scope<'_>,
    t: &EntityType,
    old: Option<&EntityType>,
    tns: &str,
    order: &[&str],
) {
    e.set_attr("name", &t.name);
    if old.is_none() || e.attr("targetNamespace").is_some() || t.target_namespace != tns {
        e.set_attr("targetNamespace", &t.target_namespace);
    }
    for (attr, value) in [("abstract", t.is_abstract), ("final", t.is_final)] {
        if value || e.attr(attr).is_some() {
            e.set_attr(attr, if value { "yes" } else { "no" });
        }
    }
    for (k, v) in &t.winery_attrs {
        e.set_attr_ns(WINERY_NS, k, v);
    }
    let decls = e.ns_decls.clone();
    let s = scope.enter_decls(&decls);
    if old.map(|o| &o.documentation) != Some(&t.documentation) {
        let doc = t.documentation.as_ref().map(|d| {
            let mut x = Element::new(TOSCA_NS, "Documentation");
            x.set_text(d);
            x
        });
        upsert_child_ns(e, TOSCA_NS, "Documentation", doc, order);
    }
    if old.map(|o| &o.derived_from) != Some(&t.derived_from) {
        let df = t.derived_from.as_ref().map(|q| {
            let mut x = Element::new(TOSCA_NS, "DerivedFrom");
            set_qname_attr(&mut x, &s, "typeRef", q);
            x
        });
        upsert_child_ns(e, TOSCA_NS, "DerivedFrom", df, order);
    }
    if old.map(|o| &o.properties_definition) != Some(&t.properties_definition) {
        upsert_child_ns(e, TOSCA_NS, "PropertiesDefinition", None, order);
        upsert_child_ns(e, WINERY_NS, "PropertiesDefinition", None, order);
        match &t.properties_definition {
            None => {}
            Some(PropertiesDefinition::KeyValue {
                element_name,
                namespace,
                properties,
            }) => {
                let mut pd = Element::new(WINERY_NS, "PropertiesDefinition");
                pd.set_attr("elementname", element_name);
                pd.set_attr("namespace", namespace);
                for p in properties {
                    let mut x = Element::new(WINERY_NS, "properties");
                    let mut field = |n: &str, v: &str| {
                        let mut c = Element::new(WINERY_NS, n);
                        c.set_text(v);
                        x.children.push(Node::Element(c));
                    };
                    field("key", &p.key);
                    field("type", &p.type_name);
                    if p.required {
                        field("required", "true");
                    }
                    if let Some(d) = &p.default {
                        field("defaultValue", d);
                    }
                    if let Some(d) = &p.description {
                        field("description", d);
                    }
                    pd.children.push(Node::Element(x));
                }
                upsert_child_ns(e, WINERY_NS, "PropertiesDefinition", Some(pd), order);
            }
            Some(PropertiesDefinition::Element(q)) | Some(PropertiesDefinition::Type(q)) => {
                let attr = match &t.properties_definition {
                    Some(PropertiesDefinition::Element(_)) => "element",
                    _ => "type",
                };
                let mut pd = Element::new(TOSCA_NS, "PropertiesDefinition");
                set_qname_attr(&mut pd, &s, attr, q);
                upsert_child_ns(e, TOSCA_NS, "PropertiesDefinition", Some(pd), order);
            }
        }
    }
}

fn reqcaps(
    s: &Scope<'_>,
    list: &str,
    item: &str,
    type_attr: &str,
    defs: &[ReqCapDefinition],
) -> Option<Element> {
    (!defs.is_empty()).then(|| {
        container(
            list,
            defs.iter().map(|d| {
                let mut x = Element::new(TOSCA_NS, item);
                x.set_attr("name", &d.name);
                set_qname_attr(&mut x, s, type_attr, &d.type_ref);
                x.set_attr("lowerBound", &d.lower_bound.to_string());
                x.set_attr("upperBound", &d.upper_bound.to_string());
                x
            }),
        )
    })
}

fn interfaces(list: &str, ifaces: &[Interface]) -> Option<Element> {
    let params = |local: &str, item: &str, ps: &[Parameter]| {
        container(
            local,
            ps.iter().map(|p| {
                let mut x = Element::new(TOSCA_NS, item);
                x.set_attr("name", &p.name);
                x.set_attr("type", &p.type_name);
                x.set_attr("required", if p.required { "yes" } else { "no" });
                x
            }),
        )
    };
    (!ifaces.is_empty()).then(|| {
        container(
            list,
            ifaces.iter().map(|i| {
                let mut x = container(
                    "Interface",
                    i.operations.iter().map(|o| {
                        let mut op = Element::new(TOSCA_NS, "Operation");
                        op.set_attr("name", &o.name);
                        if !o.inputs.is_empty() {
                            op.children.push(Node::Element(params(
                                "InputParameters",
                                "InputParameter",
                                &o.inputs,
                            )));
                        }
                        if !o.outputs.is_empty() {
                            op.children.push(Node::Element(params(
                                "OutputParameters",
                                "OutputParameter",
                                &o.outputs,
                            )));
                        }
                        op
                    }),
                );
                x.set_attr("name", &i.name);
                x
            }),
        )
    })
}

fn deployment_artifacts(s: &Scope<'_>, das: &[DeploymentArtifact]) -> Option<Element> {
    (!das.is_empty()).then(|| {
        container(
            "DeploymentArtifacts",
            das.iter().map(|a| {
                let mut x = Element::new(TOSCA_NS, "DeploymentArtifact");
                x.set_attr("name", &a.name);
                set_qname_attr(&mut x, s, "artifactType", &a.artifact_type);
                if let Some(r) = &a.artifact_ref {
                    set_qname_attr(&mut x, s, "artifactRef", r);
                }
                x
            }),
        )
    })
}
