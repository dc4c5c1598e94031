//! Writing TOSCA YAML back. An untouched document is its original bytes; an edited one is the
//! original with span edits for what changed in the topology (a property value, a property
//! added or removed, a node type, a node template added or removed, a requirement added or
//! removed), so comments, key order, formatting and keys the model does not know survive.
//! Definitions not read from YAML are written as a new document.

use super::node::{Node, ScalarKind, plain_kind};
use super::{YamlSource, full_name};
use crate::tosca::{Definitions, NodeTemplate, RelationshipTemplate, TopologyTemplate};

impl Definitions {
    /// The YAML text to save (see the module documentation).
    pub fn to_yaml(&self) -> String {
        match self.yaml_source() {
            Some(y) if y.original.is_some() => edit(self, y),
            Some(y) => y.text.clone(),
            None => render_document(self),
        }
    }

    /// The text to save in this document's own format: YAML when read from YAML, else XML.
    pub fn to_text(&self) -> String {
        if self.is_yaml() {
            self.to_yaml()
        } else {
            self.to_xml()
        }
    }
}

fn kv(n: &NodeTemplate) -> &[(String, String)] {
    n.properties.as_ref().and_then(|p| p.kv()).unwrap_or(&[])
}

fn same_node(a: &NodeTemplate, b: &NodeTemplate) -> bool {
    a.id == b.id
        && a.type_ref == b.type_ref
        && kv(a) == kv(b)
        && a.deployment_artifacts == b.deployment_artifacts
}

type RelKey<'a> = (&'a str, &'a crate::QName, &'a str, &'a str);

fn rel_key(r: &RelationshipTemplate) -> RelKey<'_> {
    (
        r.id.as_str(),
        &r.type_ref,
        r.source.as_str(),
        r.target.as_str(),
    )
}

fn same_rel(a: &RelationshipTemplate, b: &RelationshipTemplate) -> bool {
    a.id == b.id && a.type_ref == b.type_ref && a.source == b.source && a.target == b.target
}

fn unchanged(a: &TopologyTemplate, b: &TopologyTemplate) -> bool {
    a.node_templates.len() == b.node_templates.len()
        && a.relationship_templates.len() == b.relationship_templates.len()
        && a.node_templates
            .iter()
            .zip(&b.node_templates)
            .all(|(x, y)| same_node(x, y))
        && a.relationship_templates
            .iter()
            .zip(&b.relationship_templates)
            .all(|(x, y)| same_rel(x, y))
}

fn line_start(t: &str, byte: usize) -> usize {
    t[..byte.min(t.len())].rfind('\n').map_or(0, |p| p + 1)
}

fn line_end(t: &str, byte: usize) -> usize {
    let b = byte.min(t.len());
    t[b..].find('\n').map_or(t.len(), |p| b + p + 1)
}

/// A scalar as YAML: plain when that reads back as the same string of the same kind, else
/// double-quoted; JSON lists/maps as flow collections; `get_input: X` as `{ get_input: X }`.
pub fn render_value(v: &str, original: Option<&Node>) -> String {
    if let Some(name) = crate::tosca::properties::input_name(v) {
        return format!("{{ get_input: {} }}", render_value(name, None));
    }
    let t = v.trim_start();
    if (t.starts_with('[') || t.starts_with('{'))
        && serde_json::from_str::<serde_json::Value>(v).is_ok()
    {
        return v.to_string();
    }
    // Keep the quoting style of the value it replaces.
    if let Some(super::node::Value::Scalar { plain: false, .. }) = original.map(|o| &o.value) {
        return double_quoted(v);
    }
    let kind = plain_kind(v);
    let wanted = match original.and_then(Node::scalar_kind) {
        Some(k) => k,
        None if kind == ScalarKind::Null => ScalarKind::Str,
        None => kind,
    };
    let special = v.is_empty()
        || v.starts_with(|c: char| "-?:,[]{}#&*!|>'\"%@`".contains(c) || c.is_whitespace())
        || v.ends_with(char::is_whitespace)
        || v.contains(": ")
        || v.contains(" #")
        || v.contains(['\n', '\t', '\r'])
        || v.chars().any(not_printable)
        || v.ends_with(':');
    if !special && kind == wanted {
        v.to_string()
    } else {
        double_quoted(v)
    }
}

/// Characters YAML does not allow as they are (outside its printable set, or a byte order
/// mark inside a document): written as `\uXXXX` escapes.
fn not_printable(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}')
}

/// A YAML double-quoted scalar (JSON's escapes are YAML's), with every non-printable character
/// escaped.
fn double_quoted(v: &str) -> String {
    let json = serde_json::to_string(v).unwrap_or_default();
    json.chars()
        .fold(String::with_capacity(json.len()), |mut out, c| {
            if not_printable(c) {
                out.push_str(&format!("\\u{:04x}", c as u32));
            } else {
                out.push(c);
            }
            out
        })
}

/// The requirement name and relationship for a relationship template created in the editor.
fn requirement_of(r: &RelationshipTemplate) -> (String, Option<String>) {
    let rt = full_name(&r.type_ref);
    let by_type = match r.type_ref.local.as_str() {
        "HostedOn" => Some("host"),
        "ConnectsTo" => Some("connection"),
        "AttachesTo" => Some("local_storage"),
        "DependsOn" => Some("dependency"),
        _ => None,
    };
    let name = r
        .name
        .clone()
        .filter(|n| *n != r.id && !n.is_empty())
        .or(by_type.map(str::to_string))
        .unwrap_or_else(|| "dependency".into());
    let explicit = (r.type_ref.namespace != "tosca.relationships").then_some(rt);
    (name, explicit)
}

fn render_requirement(r: &RelationshipTemplate) -> String {
    let (name, explicit) = requirement_of(r);
    match explicit {
        None => format!("- {name}: {}", render_value(&r.target, None)),
        Some(t) => format!(
            "- {name}: {{ node: {}, relationship: {t} }}",
            render_value(&r.target, None)
        ),
    }
}

/// A node template block at `indent` spaces (key line included, newline-terminated).
fn render_node(
    n: &NodeTemplate,
    rels: &[&RelationshipTemplate],
    indent: usize,
    step: usize,
) -> String {
    let p = " ".repeat(indent);
    let q = " ".repeat(indent + step);
    let r = " ".repeat(indent + 2 * step);
    let mut s = format!(
        "{p}{}:\n{q}type: {}\n",
        render_value(&n.id, None),
        full_name(&n.type_ref)
    );
    if !kv(n).is_empty() {
        s.push_str(&format!("{q}properties:\n"));
        for (k, v) in kv(n) {
            s.push_str(&format!(
                "{r}{}: {}\n",
                render_value(k, None),
                render_value(v, None)
            ));
        }
    }
    if !rels.is_empty() {
        s.push_str(&format!("{q}requirements:\n"));
        for rel in rels {
            s.push_str(&format!("{r}{}\n", render_requirement(rel)));
        }
    }
    s
}

/// A new YAML document for definitions that were not read from YAML.
pub fn render_document(d: &Definitions) -> String {
    let mut s = String::from("tosca_definitions_version: tosca_simple_yaml_1_3\n");
    if let Some(st) = d.service_templates.first() {
        s.push_str(&format!(
            "\nmetadata:\n  template_name: {}\n",
            render_value(&st.id, None)
        ));
        s.push_str("\ntopology_template:\n  node_templates:\n");
        for n in &st.topology.node_templates {
            let rels: Vec<&RelationshipTemplate> = st
                .topology
                .relationship_templates
                .iter()
                .filter(|r| r.source == n.id)
                .collect();
            s.push_str(&render_node(n, &rels, 4, 2));
        }
    }
    s
}

struct Edits {
    list: Vec<(usize, usize, String)>,
}

impl Edits {
    fn replace(&mut self, start: usize, end: usize, text: String) {
        self.list.push((start, end, text));
    }

    fn apply(mut self, text: &str) -> String {
        // Later edits first; an insertion at the same place as a deletion goes after it.
        self.list.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
        let mut out = text.to_string();
        let mut floor = usize::MAX;
        for (s, e, t) in self.list {
            if e > floor {
                continue; // overlaps an edit already made (e.g. inside a deleted block)
            }
            out.replace_range(s..e, &t);
            floor = s;
        }
        out
    }
}

fn edit(d: &Definitions, y: &YamlSource) -> String {
    let (Some(orig), Some(st)) = (y.original.as_ref(), d.service_templates.first()) else {
        return y.text.clone();
    };
    let cur = &st.topology;
    if unchanged(orig, cur) {
        return y.text.clone();
    }
    let t = y.text.as_str();
    let Some(nodes) = y
        .root
        .get("topology_template")
        .and_then(|tt| tt.get("node_templates"))
    else {
        return y.text.clone();
    };
    let mut ed = Edits { list: Vec::new() };
    // Constant-time lookups (a 10,000-node file saves without quadratic scans).
    let yaml_nodes: super::FastMap<&str, &(Node, Node)> = nodes
        .as_map()
        .unwrap_or(&[])
        .iter()
        .filter_map(|e| Some((e.0.as_str()?, e)))
        .collect();
    let entry = |id: &str| yaml_nodes.get(id).copied();
    let orig_nodes: super::FastMap<&str, &NodeTemplate> = orig
        .node_templates
        .iter()
        .map(|n| (n.id.as_str(), n))
        .collect();
    let cur_nodes: super::FastSet<&str> =
        cur.node_templates.iter().map(|n| n.id.as_str()).collect();
    let cur_rels: super::FastSet<RelKey<'_>> =
        cur.relationship_templates.iter().map(rel_key).collect();
    let orig_rels: super::FastSet<RelKey<'_>> =
        orig.relationship_templates.iter().map(rel_key).collect();
    let node_indent = nodes
        .as_map()
        .and_then(|m| m.first())
        .map(|(k, _)| k.start.col as usize - 1)
        .unwrap_or(4);
    let step = nodes
        .as_map()
        .and_then(|m| m.first())
        .and_then(|(k, v)| {
            v.as_map()
                .and_then(|m| m.first())
                .map(|(ik, _)| (ik.start.col as usize).saturating_sub(k.start.col as usize))
        })
        .filter(|s| *s > 0)
        .unwrap_or(2);
    // Removed nodes.
    for o in &orig.node_templates {
        if !cur_nodes.contains(o.id.as_str())
            && let Some((k, v)) = entry(&o.id)
        {
            let start = line_start(t, k.start.byte);
            let mut end = line_end(t, v.end.byte);
            // A blank line after a block that follows a blank line or its parent key goes too.
            let before_blank = start == 0 || {
                let prev = &t[line_start(t, start - 1)..start];
                prev.trim().is_empty() || prev.trim_end().ends_with(':')
            };
            if before_blank && t[end..].starts_with('\n') {
                end += 1;
            }
            ed.replace(start, end, String::new());
        }
    }
    // Changed nodes.
    for n in &cur.node_templates {
        let (Some(o), Some((_, v))) = (orig_nodes.get(n.id.as_str()).copied(), entry(&n.id)) else {
            continue;
        };
        if same_node(o, n) {
            continue;
        }
        if o.type_ref != n.type_ref
            && let Some(tn) = v.get("type")
        {
            ed.replace(tn.start.byte, tn.end.byte, full_name(&n.type_ref));
        }
        if kv(o) == kv(n) {
            continue;
        }
        let props = v
            .get("properties")
            .filter(|p| p.as_map().is_some_and(|m| !m.is_empty()) && !p.flow);
        let mut added: Vec<(String, String)> = Vec::new();
        for (k, val) in kv(n) {
            let before = kv(o).iter().find(|(ok, _)| ok == k).map(|(_, v)| v);
            if before == Some(val) {
                continue;
            }
            match props.and_then(|p| p.get(k)) {
                Some(node) => ed.replace(
                    node.start.byte,
                    node.end.byte,
                    render_value(val, Some(node)),
                ),
                None => added.push((k.clone(), val.clone())),
            }
        }
        for (k, _) in kv(o) {
            if !kv(n).iter().any(|(nk, _)| nk == k)
                && let Some((pk, pv)) = props.and_then(|p| p.entry(k))
            {
                ed.replace(
                    line_start(t, pk.start.byte),
                    line_end(t, pv.end.byte),
                    String::new(),
                );
            }
        }
        if !added.is_empty() {
            match props
                .and_then(|p| p.as_map())
                .and_then(|m| m.last().map(|l| (m[0].0.start.col, l)))
            {
                Some((col, (_, last))) => {
                    let pad = " ".repeat(col as usize - 1);
                    let at = line_end(t, last.end.byte);
                    let s: String = added
                        .iter()
                        .map(|(k, v)| {
                            format!(
                                "{pad}{}: {}\n",
                                render_value(k, None),
                                render_value(v, None)
                            )
                        })
                        .collect();
                    ed.replace(at, at, s);
                }
                None => {
                    let q = " ".repeat(node_indent + step);
                    let r = " ".repeat(node_indent + 2 * step);
                    let mut s = format!("{q}properties:\n");
                    for (k, v) in &added {
                        s.push_str(&format!(
                            "{r}{}: {}\n",
                            render_value(k, None),
                            render_value(v, None)
                        ));
                    }
                    match v.get("properties") {
                        // `properties:` with nothing (or a flow map): replace that entry.
                        Some(p) => {
                            let (pk, _) =
                                v.entry("properties").map(|(k, v)| (k, v)).unwrap_or((p, p));
                            ed.replace(
                                line_start(t, pk.start.byte),
                                line_end(t, p.end.byte.max(pk.end.byte)),
                                s,
                            );
                        }
                        None => {
                            let at = line_end(t, v.end.byte);
                            ed.replace(at, at, s);
                        }
                    }
                }
            }
        }
    }
    // Relationships: removed and added requirement assignments.
    for o in &orig.relationship_templates {
        if cur_rels.contains(&rel_key(o)) || !cur_nodes.contains(o.source.as_str()) {
            continue;
        }
        let Some(origin) = y.origins.get(&o.id) else {
            continue;
        };
        let Some((_, v)) = entry(&origin.node) else {
            continue;
        };
        let Some((rk, rv)) = v.entry("requirements") else {
            continue;
        };
        let Some(items) = rv.as_seq() else { continue };
        let Some(item) = items.get(origin.index) else {
            continue;
        };
        let remaining = items.len()
            - orig
                .relationship_templates
                .iter()
                .filter(|x| x.source == origin.node && !cur_rels.contains(&rel_key(x)))
                .count();
        if remaining == 0 && !rv.flow {
            ed.replace(
                line_start(t, rk.start.byte),
                line_end(t, rv.end.byte),
                String::new(),
            );
        } else if !rv.flow {
            ed.replace(
                line_start(t, item.start.byte),
                line_end(t, item.end.byte),
                String::new(),
            );
        }
    }
    let mut new_rels: Vec<&RelationshipTemplate> = Vec::new();
    for r in &cur.relationship_templates {
        if !orig_rels.contains(&rel_key(r)) {
            new_rels.push(r);
        }
    }
    for n in &cur.node_templates {
        let rels: Vec<&RelationshipTemplate> = new_rels
            .iter()
            .copied()
            .filter(|r| r.source == n.id)
            .collect();
        if rels.is_empty() || !orig_nodes.contains_key(n.id.as_str()) {
            continue;
        }
        let Some((_, v)) = entry(&n.id) else { continue };
        let lines: String = match v.entry("requirements") {
            Some((_, rv)) if rv.as_seq().is_some_and(|s| !s.is_empty()) && !rv.flow => {
                let first = &rv.as_seq().unwrap_or(&[])[0];
                let pad = " ".repeat(first.start.col as usize - 1);
                // `- name:` items: the dash is two columns left of the item's key.
                let pad = pad.get(2..).map(str::to_string).unwrap_or_default();
                let s: String = rels
                    .iter()
                    .map(|r| format!("{pad}{}\n", render_requirement(r)))
                    .collect();
                let at = line_end(t, rv.end.byte);
                ed.replace(at, at, s);
                continue;
            }
            _ => {
                let q = " ".repeat(node_indent + step);
                let r = " ".repeat(node_indent + 2 * step);
                let mut s = format!("{q}requirements:\n");
                for rel in &rels {
                    s.push_str(&format!("{r}{}\n", render_requirement(rel)));
                }
                s
            }
        };
        let at = line_end(t, v.end.byte);
        ed.replace(at, at, lines);
    }
    // Added nodes, after the last node template.
    let added: Vec<&NodeTemplate> = cur
        .node_templates
        .iter()
        .filter(|n| !orig_nodes.contains_key(n.id.as_str()))
        .collect();
    if !added.is_empty() {
        let at = nodes
            .as_map()
            .and_then(|m| m.last())
            .map(|(_, v)| line_end(t, v.end.byte))
            .unwrap_or_else(|| line_end(t, nodes.end.byte));
        let mut s = String::new();
        if at > 0 && !t[..at].ends_with('\n') {
            s.push('\n');
        }
        for n in added {
            let rels: Vec<&RelationshipTemplate> = new_rels
                .iter()
                .copied()
                .filter(|r| r.source == n.id)
                .collect();
            s.push_str(&render_node(n, &rels, node_indent, step));
        }
        ed.replace(at, at, s);
    }
    ed.apply(t)
}
