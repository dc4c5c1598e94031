//! Writing the typed model back: the original document is patched with what changed (ids,
//! names, types, positions, properties, requirements, artifacts, added and removed templates),
//! so unknown elements, attributes, comments and prefixes are kept. New elements are indented
//! like their siblings.

use super::definitions::Definitions;
use super::read;
use super::templates::*;
use super::{TOSCA_NS, WINERY_NS};
use crate::QName;
use crate::xml::{Document, Element, Node, Scope};
use std::collections::{HashMap, VecDeque};

const NODE_TEMPLATE_ORDER: &[&str] = &[
    "Documentation",
    "Properties",
    "PropertyConstraints",
    "Requirements",
    "Capabilities",
    "Policies",
    "DeploymentArtifacts",
];
const RELATIONSHIP_ORDER: &[&str] = &[
    "Documentation",
    "Properties",
    "PropertyConstraints",
    "SourceElement",
    "TargetElement",
    "RelationshipConstraints",
];
const SERVICE_TEMPLATE_ORDER: &[&str] = &[
    "Documentation",
    "Tags",
    "BoundaryDefinitions",
    "TopologyTemplate",
    "Plans",
];

pub(crate) fn to_document(defs: &Definitions) -> Document {
    let mut doc = defs.doc.clone().unwrap_or_else(|| new_document(defs));
    let root = &mut doc.root;
    root.set_attr("id", &defs.id);
    set_opt_attr(root, "name", defs.name.as_deref());
    root.set_attr("targetNamespace", &defs.target_namespace);

    let decls = root.ns_decls.clone();
    let scope = Scope::ROOT;
    let scope = scope.enter_decls(&decls);
    let tns = defs.target_namespace.clone();
    merge_children(
        root,
        "ServiceTemplate",
        &defs.service_templates,
        |st| {
            st.xml
                .as_ref()
                .and_then(|x| x.attr("id"))
                .map(str::to_string)
        },
        |st| patch_service_template(st, &scope, &tns),
    );
    super::write_types::patch_types(root, defs, &scope);
    doc
}

fn new_document(defs: &Definitions) -> Document {
    let mut root = Element::new(TOSCA_NS, "Definitions");
    root.declare(None, TOSCA_NS);
    root.declare(Some("winery"), WINERY_NS);
    root.set_attr("id", &defs.id);
    root.set_attr("targetNamespace", &defs.target_namespace);
    root.children.push(Node::Text("\n".into()));
    Document {
        declaration: Some(" version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"".into()),
        before_root: Vec::new(),
        root,
        after_root: Vec::new(),
    }
}

fn set_opt_attr(e: &mut Element, name: &str, value: Option<&str>) {
    match value {
        Some(v) => e.set_attr(name, v),
        None => e.remove_attr_ns("", name),
    }
}

/// Rebuilds the `local` children of `parent` from `items`: each item replaces the original
/// element it was read from (matched by original id), removed ones disappear with their leading
/// whitespace, new ones are inserted after the last existing one, indented like their siblings.
fn merge_children<T>(
    parent: &mut Element,
    local: &str,
    items: &[T],
    original_id: impl Fn(&T) -> Option<String>,
    patch: impl FnMut(&T) -> Element,
) {
    merge_children_by(parent, local, "id", items, original_id, patch)
}

/// [`merge_children`] matching originals by the attribute `key` (`id`, or `name` for types).
pub(super) fn merge_children_by<T>(
    parent: &mut Element,
    local: &str,
    key: &str,
    items: &[T],
    original_id: impl Fn(&T) -> Option<String>,
    mut patch: impl FnMut(&T) -> Element,
) {
    let indent = child_indent(parent);
    let old = std::mem::take(&mut parent.children);
    let had_no_children = old.is_empty();
    let mut used = vec![false; items.len()];
    // Items by original id, in order: each original element takes the first unused one
    // (looked up, not searched for: 10,000 templates made that search quadratic).
    let mut by_id: HashMap<String, VecDeque<usize>> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        if let Some(id) = original_id(item) {
            by_id.entry(id).or_default().push_back(i);
        }
    }
    let mut out: Vec<Node> = Vec::with_capacity(old.len() + items.len());
    let mut last_pos: Option<usize> = None;
    for node in old {
        match node {
            Node::Element(e) if e.ns == TOSCA_NS && e.local == local => {
                let found = e
                    .attr(key)
                    .and_then(|id| by_id.get_mut(id))
                    .and_then(VecDeque::pop_front);
                match found {
                    Some(i) => {
                        used[i] = true;
                        out.push(Node::Element(patch(&items[i])));
                        last_pos = Some(out.len());
                    }
                    None => {
                        if matches!(out.last(), Some(Node::Text(t)) if t.trim().is_empty()) {
                            out.pop();
                        }
                        last_pos = last_pos.map(|p| p.min(out.len()));
                    }
                }
            }
            other => out.push(other),
        }
    }
    let mut insert_at = last_pos.unwrap_or_else(|| {
        // No such element existed: insert before the trailing whitespace.
        if matches!(out.last(), Some(Node::Text(t)) if t.trim().is_empty()) {
            out.len() - 1
        } else {
            out.len()
        }
    });
    for (i, item) in items.iter().enumerate() {
        if used[i] {
            continue;
        }
        let mut e = patch(item);
        pretty(&mut e, indent.trim_start_matches('\n'));
        out.insert(insert_at, Node::Text(indent.clone()));
        out.insert(insert_at + 1, Node::Element(e));
        insert_at += 2;
    }
    if had_no_children && !out.is_empty() {
        out.push(Node::Text(parent_indent_of(&indent)));
    }
    parent.children = out;
}

/// The whitespace that precedes child elements of `parent` ("\n" + indentation).
pub(super) fn child_indent(parent: &Element) -> String {
    parent
        .children
        .windows(2)
        .find_map(|w| match (&w[0], &w[1]) {
            (Node::Text(t), Node::Element(_)) if t.trim().is_empty() && t.contains('\n') => {
                Some(format!("\n{}", t.rsplit('\n').next().unwrap_or("")))
            }
            _ => None,
        })
        .unwrap_or_else(|| {
            // Derive from the closing whitespace: one level deeper.
            match parent.children.last() {
                Some(Node::Text(t)) if t.trim().is_empty() && t.contains('\n') => {
                    format!("\n{}    ", t.rsplit('\n').next().unwrap_or(""))
                }
                _ => "\n    ".to_string(),
            }
        })
}

/// TOSCA and Winery children take part in the schema order.
fn known_ns(e: &Element) -> bool {
    e.ns == TOSCA_NS || e.ns == WINERY_NS
}

fn parent_indent_of(indent: &str) -> String {
    let spaces = indent.trim_start_matches('\n');
    let keep = spaces.len().saturating_sub(4);
    format!("\n{}", &spaces[..keep])
}

/// Indents a newly built element tree whose start tag sits at `indent`.
pub(super) fn pretty(e: &mut Element, indent: &str) {
    if e.line != 0
        || !e.has_element_children()
        || e.children
            .iter()
            .any(|c| matches!(c, Node::Text(t) if !t.trim().is_empty()))
    {
        return;
    }
    if e.children.iter().any(|c| matches!(c, Node::Text(_))) {
        return; // already laid out
    }
    let inner = format!("{indent}    ");
    let old = std::mem::take(&mut e.children);
    for c in old {
        e.children.push(Node::Text(format!("\n{inner}")));
        if let Node::Element(mut ce) = c {
            pretty(&mut ce, &inner);
            e.children.push(Node::Element(ce));
        } else {
            e.children.push(c);
        }
    }
    e.children.push(Node::Text(format!("\n{indent}")));
}

/// Writes a QName value for an attribute of `e`: keeps `original` if it still means `q`, else
/// uses a prefix in scope or declares one on `e`.
fn qname_value(e: &mut Element, parent: &Scope<'_>, q: &QName, original: Option<&str>) -> String {
    let decls = e.ns_decls.clone();
    let scope = parent.enter_decls(&decls);
    if let Some(orig) = original
        && scope
            .resolve_qname_value(orig)
            .is_some_and(|(ns, l)| ns == q.namespace && l == q.local)
    {
        return orig.to_string();
    }
    match scope.prefix_for(&q.namespace) {
        Some(Some(p)) => format!("{p}:{}", q.local),
        Some(None) => q.local.clone(),
        None if q.namespace.is_empty() => q.local.clone(),
        None => {
            let p = (0..)
                .map(|i| format!("ns{i}"))
                .find(|p| scope.resolve(Some(p)).is_none())
                .unwrap_or_else(|| "nsx".into());
            e.declare(Some(&p), &q.namespace);
            format!("{p}:{}", q.local)
        }
    }
}

pub(super) fn set_qname_attr(e: &mut Element, parent: &Scope<'_>, name: &str, q: &QName) {
    let original = e.attr(name).map(str::to_string);
    let v = qname_value(e, parent, q, original.as_deref());
    e.set_attr(name, &v);
}

/// Replaces, inserts (at its schema position) or removes the TOSCA child `local` of `parent`.
fn upsert_child(parent: &mut Element, local: &str, new: Option<Element>, order: &[&str]) {
    upsert_child_ns(parent, TOSCA_NS, local, new, order)
}

/// [`upsert_child`] for a child in namespace `ns` (e.g. `winery:PropertiesDefinition`).
pub(super) fn upsert_child_ns(
    parent: &mut Element,
    ns: &str,
    local: &str,
    new: Option<Element>,
    order: &[&str],
) {
    // An element under construction is laid out as a whole later (see `pretty`).
    let fresh = parent.line == 0 && !parent.children.iter().any(|c| matches!(c, Node::Text(_)));
    if fresh {
        let rank = |l: &str| order.iter().position(|o| *o == l).unwrap_or(order.len());
        parent
            .children
            .retain(|n| !matches!(n, Node::Element(e) if e.ns == ns && e.local == local));
        if let Some(n) = new {
            let pos = parent
                .children
                .iter()
                .position(|c| matches!(c, Node::Element(e) if rank(&e.local) > rank(local)))
                .unwrap_or(parent.children.len());
            parent.children.insert(pos, Node::Element(n));
        }
        return;
    }
    let existing = parent
        .children
        .iter()
        .position(|n| matches!(n, Node::Element(e) if e.ns == ns && e.local == local));
    match (existing, new) {
        (Some(i), Some(mut n)) => {
            if let Node::Element(old) = &parent.children[i]
                && n.line == 0
            {
                n.prefix = old.prefix.clone();
            }
            let indent = child_indent(parent);
            pretty(&mut n, indent.trim_start_matches('\n'));
            parent.children[i] = Node::Element(n);
        }
        (Some(i), None) => {
            parent.children.remove(i);
            if i > 0 && matches!(&parent.children[i - 1], Node::Text(t) if t.trim().is_empty()) {
                parent.children.remove(i - 1);
            }
        }
        (None, Some(mut n)) => {
            let rank = |l: &str| order.iter().position(|o| *o == l);
            let my = rank(local).unwrap_or(order.len());
            let indent = child_indent(parent);
            pretty(&mut n, indent.trim_start_matches('\n'));
            // After the last TOSCA child that comes before us in the schema order.
            let mut pos = None;
            for (i, c) in parent.children.iter().enumerate() {
                if let Node::Element(e) = c {
                    match rank(&e.local) {
                        Some(r) if known_ns(e) && r < my => pos = Some(i + 1),
                        Some(_) if known_ns(e) => break,
                        _ => {}
                    }
                }
            }
            let had_children = parent.has_element_children();
            let pos = pos.unwrap_or_else(|| {
                parent
                    .children
                    .iter()
                    .position(|n| matches!(n, Node::Element(e) if known_ns(e) && rank(&e.local).is_some_and(|r| r > my)))
                    .map(|p| if p > 0 && matches!(&parent.children[p - 1], Node::Text(t) if t.trim().is_empty()) { p - 1 } else { p })
                    .unwrap_or_else(|| {
                        if matches!(parent.children.last(), Some(Node::Text(t)) if t.trim().is_empty()) {
                            parent.children.len() - 1
                        } else {
                            parent.children.len()
                        }
                    })
            });
            parent.children.insert(pos, Node::Element(n));
            parent.children.insert(pos, Node::Text(indent.clone()));
            if !had_children && !matches!(parent.children.last(), Some(Node::Text(_))) {
                parent.children.push(Node::Text(parent_indent_of(&indent)));
            }
        }
        (None, None) => {}
    }
}

fn patch_service_template(st: &ServiceTemplate, parent: &Scope<'_>, tns: &str) -> Element {
    let mut e = st
        .xml
        .as_deref()
        .cloned()
        .unwrap_or_else(|| Element::new(TOSCA_NS, "ServiceTemplate"));
    e.set_attr("id", &st.id);
    set_opt_attr(&mut e, "name", st.name.as_deref());
    if e.attr("targetNamespace").is_some() || st.target_namespace != tns {
        e.set_attr("targetNamespace", &st.target_namespace);
    }
    let decls = e.ns_decls.clone();
    let scope = parent.enter_decls(&decls);
    let has_topology = e.child(TOSCA_NS, "TopologyTemplate").is_some();
    if !has_topology {
        upsert_child(
            &mut e,
            "TopologyTemplate",
            Some(Element::new(TOSCA_NS, "TopologyTemplate")),
            SERVICE_TEMPLATE_ORDER,
        );
    }
    if let Some(t) = e.child_mut(TOSCA_NS, "TopologyTemplate") {
        let tdecls = t.ns_decls.clone();
        let ts = scope.enter_decls(&tdecls);
        merge_children(
            t,
            "NodeTemplate",
            &st.topology.node_templates,
            |n| {
                n.xml
                    .as_ref()
                    .and_then(|x| x.attr("id"))
                    .map(str::to_string)
            },
            |n| patch_node_template(n, &ts),
        );
        merge_children(
            t,
            "RelationshipTemplate",
            &st.topology.relationship_templates,
            |r| {
                r.xml
                    .as_ref()
                    .and_then(|x| x.attr("id"))
                    .map(str::to_string)
            },
            |r| patch_relationship_template(r, &ts),
        );
    }
    e
}

fn format_coord(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v:.1}")
    }
}

fn patch_node_template(nt: &NodeTemplate, parent: &Scope<'_>) -> Element {
    let orig = nt.xml.as_ref().map(|x| read::node_template(parent, x));
    let mut e = nt
        .xml
        .as_deref()
        .cloned()
        .unwrap_or_else(|| Element::new(TOSCA_NS, "NodeTemplate"));
    e.set_attr("id", &nt.id);
    set_opt_attr(&mut e, "name", nt.name.as_deref());
    set_qname_attr(&mut e, parent, "type", &nt.type_ref);
    let had = |n: &str, e: &Element| e.attr(n).is_some();
    if (had("minInstances", &e) || nt.min_instances != 1)
        && orig
            .as_ref()
            .is_none_or(|o| o.min_instances != nt.min_instances)
    {
        e.set_attr("minInstances", &nt.min_instances.to_string());
    }
    if (had("maxInstances", &e) || nt.max_instances != MaxInstances::Bounded(1))
        && orig
            .as_ref()
            .is_none_or(|o| o.max_instances != nt.max_instances)
    {
        e.set_attr("maxInstances", &nt.max_instances.to_string());
    }
    for (name, value, old) in [
        ("x", nt.x, orig.as_ref().and_then(|o| o.x)),
        ("y", nt.y, orig.as_ref().and_then(|o| o.y)),
    ] {
        match value {
            Some(v) if Some(v) != old => e.set_attr_ns(WINERY_NS, name, &format_coord(v)),
            Some(_) => {}
            None => e.remove_attr_ns(WINERY_NS, name),
        }
    }
    let decls = e.ns_decls.clone();
    let scope = parent.enter_decls(&decls);
    if properties_changed(nt.xml.as_deref(), nt.properties.as_ref()) {
        sync_properties(&mut e, nt.properties.as_ref(), NODE_TEMPLATE_ORDER);
    }
    if orig.as_ref().map(|o| &o.requirements) != Some(&nt.requirements) {
        let list = (!nt.requirements.is_empty()).then(|| {
            container(
                "Requirements",
                nt.requirements.iter().map(|r| {
                    let mut x = Element::new(TOSCA_NS, "Requirement");
                    x.set_attr("id", &r.id);
                    x.set_attr("name", &r.name);
                    set_qname_attr(&mut x, &scope, "type", &r.type_ref);
                    x
                }),
            )
        });
        upsert_child(&mut e, "Requirements", list, NODE_TEMPLATE_ORDER);
    }
    if orig.as_ref().map(|o| &o.capabilities) != Some(&nt.capabilities) {
        let list = (!nt.capabilities.is_empty()).then(|| {
            container(
                "Capabilities",
                nt.capabilities.iter().map(|c| {
                    let mut x = Element::new(TOSCA_NS, "Capability");
                    x.set_attr("id", &c.id);
                    x.set_attr("name", &c.name);
                    set_qname_attr(&mut x, &scope, "type", &c.type_ref);
                    x
                }),
            )
        });
        upsert_child(&mut e, "Capabilities", list, NODE_TEMPLATE_ORDER);
    }
    if orig.as_ref().map(|o| &o.policies) != Some(&nt.policies) {
        let list = (!nt.policies.is_empty()).then(|| {
            container(
                "Policies",
                nt.policies.iter().map(|p| {
                    let mut x = Element::new(TOSCA_NS, "Policy");
                    if let Some(n) = &p.name {
                        x.set_attr("name", n);
                    }
                    set_qname_attr(&mut x, &scope, "policyType", &p.policy_type);
                    if let Some(r) = &p.policy_ref {
                        set_qname_attr(&mut x, &scope, "policyRef", r);
                    }
                    x
                }),
            )
        });
        upsert_child(&mut e, "Policies", list, NODE_TEMPLATE_ORDER);
    }
    if orig.as_ref().map(|o| &o.deployment_artifacts) != Some(&nt.deployment_artifacts) {
        let list = (!nt.deployment_artifacts.is_empty()).then(|| {
            container(
                "DeploymentArtifacts",
                nt.deployment_artifacts.iter().map(|a| {
                    let mut x = Element::new(TOSCA_NS, "DeploymentArtifact");
                    x.set_attr("name", &a.name);
                    set_qname_attr(&mut x, &scope, "artifactType", &a.artifact_type);
                    if let Some(r) = &a.artifact_ref {
                        set_qname_attr(&mut x, &scope, "artifactRef", r);
                    }
                    x
                }),
            )
        });
        upsert_child(&mut e, "DeploymentArtifacts", list, NODE_TEMPLATE_ORDER);
    }
    e
}

pub(super) fn container(local: &str, items: impl Iterator<Item = Element>) -> Element {
    let mut c = Element::new(TOSCA_NS, local);
    c.children = items.map(Node::Element).collect();
    c
}

/// Whether the properties of a template must be written into its element `xml`: always when
/// its wrapper was moved out into the properties (a placeholder is in its place, see
/// `tosca::read`), else when they differ from what the element holds.
fn properties_changed(xml: Option<&Element>, props: Option<&super::Properties>) -> bool {
    let Some(xml) = xml else {
        return true;
    };
    match read::properties_wrapper(xml) {
        Some(w) if read::is_placeholder(w) => true,
        Some(w) => props.is_none_or(|p| *p != super::Properties::from_wrapper(w.clone())),
        None => props.is_some(),
    }
}

fn sync_properties(e: &mut Element, props: Option<&super::Properties>, order: &[&str]) {
    match props {
        None => upsert_child(e, "Properties", None, order),
        Some(p) => {
            if let Some(pe) = e.child_mut(TOSCA_NS, "Properties") {
                // Replace the wrapper, keep whitespace and comments around it.
                let wrapper = p.wrapper().clone();
                match pe
                    .children
                    .iter()
                    .position(|n| matches!(n, Node::Element(_)))
                {
                    Some(i) => pe.children[i] = Node::Element(wrapper),
                    None => pe.children.push(Node::Element(wrapper)),
                }
            } else {
                let mut pe = Element::new(TOSCA_NS, "Properties");
                pe.children.push(Node::Element(p.wrapper().clone()));
                upsert_child(e, "Properties", Some(pe), order);
            }
        }
    }
}

fn patch_relationship_template(rt: &RelationshipTemplate, parent: &Scope<'_>) -> Element {
    let mut e = rt
        .xml
        .as_deref()
        .cloned()
        .unwrap_or_else(|| Element::new(TOSCA_NS, "RelationshipTemplate"));
    e.set_attr("id", &rt.id);
    set_opt_attr(&mut e, "name", rt.name.as_deref());
    set_qname_attr(&mut e, parent, "type", &rt.type_ref);
    if properties_changed(rt.xml.as_deref(), rt.properties.as_ref()) {
        sync_properties(&mut e, rt.properties.as_ref(), RELATIONSHIP_ORDER);
    }
    for (local, value) in [("SourceElement", &rt.source), ("TargetElement", &rt.target)] {
        if let Some(c) = e.child_mut(TOSCA_NS, local) {
            c.set_attr("ref", value);
        } else {
            let mut c = Element::new(TOSCA_NS, local);
            c.set_attr("ref", value);
            upsert_child(&mut e, local, Some(c), RELATIONSHIP_ORDER);
        }
    }
    e
}
