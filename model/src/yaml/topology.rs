//! Reading a YAML `topology_template` onto a service template: inputs, node templates with
//! properties (checked against their types and data types), requirement assignments as
//! relationship templates, artifacts, relationship templates, outputs, groups, policies and
//! substitution mappings.

use super::RequirementOrigin;
use super::node::{Node, ScalarKind};
use super::read::{Ctx, Kind, data_type};
use super::{YamlSource, qname};
use crate::QName;
use crate::tosca::types::{ArtifactRefEntry, ArtifactTemplate};
use crate::tosca::{
    DeploymentArtifact, NodeTemplate, Properties, RelationshipTemplate, ServiceTemplate,
    TopologyTemplate,
};
use std::collections::HashMap;

const FUNCTIONS: &[&str] = &[
    "get_input",
    "get_property",
    "get_attribute",
    "get_operation_output",
    "get_nodes_of_type",
    "get_artifact",
    "concat",
    "join",
    "token",
];

/// Whether a value is an intrinsic function call (`{get_input: x}` …).
pub(crate) fn is_function(v: &Node) -> bool {
    matches!(v.as_map(), Some([(k, _)]) if k.as_str().is_some_and(|k| FUNCTIONS.contains(&k)))
}

pub(crate) struct TopoOut {
    pub st: ServiceTemplate,
    pub artifact_templates: Vec<ArtifactTemplate>,
    pub origins: super::FastMap<String, RequirementOrigin>,
    pub value_pos: super::FastMap<(String, String), (u32, u32)>,
}

/// Reads the topology of `root` (whose file is `name`) into a service template.
pub(crate) fn read_topology(
    ctx: &mut Ctx<'_, '_>,
    root: &Node,
    id: &str,
    namespace: &str,
) -> Option<TopoOut> {
    let topo = root.get("topology_template")?;
    ctx.check_keys(
        topo,
        &[
            "description",
            "inputs",
            "node_templates",
            "relationship_templates",
            "outputs",
            "groups",
            "policies",
            "substitution_mappings",
            "workflows",
        ],
        id,
        "topology_template",
    );
    let mut out = TopoOut {
        st: ServiceTemplate::new(namespace, id),
        artifact_templates: Vec::new(),
        origins: Default::default(),
        value_pos: Default::default(),
    };
    out.st.line = topo.start.line;
    // Inputs.
    let mut inputs: HashMap<String, Option<&Node>> = HashMap::new();
    for (k, v) in ctx.map(topo.get("inputs"), id, "inputs") {
        let name = k.as_str().unwrap_or_default().to_string();
        ctx.check_keys(
            v,
            &[
                "type",
                "description",
                "required",
                "default",
                "status",
                "constraints",
                "entry_schema",
                "key_schema",
                "metadata",
                "value",
            ],
            &name,
            &format!("input '{name}'"),
        );
        if let Some(t) = v.get("type") {
            let tn = t.as_str().unwrap_or_default();
            if data_type(ctx.reg, tn).is_none() {
                ctx.error(
                    "unknown-type",
                    &name,
                    t,
                    format!("data type '{tn}' of input '{name}' is not defined"),
                );
            } else if let Some(d) = v.get("default") {
                check_value(
                    ctx,
                    d,
                    tn,
                    None,
                    &name,
                    &format!("default of input '{name}'"),
                    0,
                );
            }
        }
        inputs.insert(name, v.get("default"));
    }
    let node_map = ctx.map(topo.get("node_templates"), id, "node_templates");
    if topo.get("node_templates").is_none() && topo.get("substitution_mappings").is_none() {
        ctx.error(
            "yaml-structure",
            id,
            topo,
            "topology_template has no node_templates".into(),
        );
    }
    let names: super::FastSet<&str> = node_map.iter().filter_map(|(k, _)| k.as_str()).collect();
    let type_of: super::FastMap<&str, &str> = node_map
        .iter()
        .filter_map(|(k, v)| Some((k.as_str()?, v.get_str("type")?)))
        .collect();
    let mut rel_ids: super::FastSet<String> = Default::default();
    // Per-type lookups, computed once.
    type Entries<'n> = Vec<(String, &'n Node)>;
    let mut props_cache: HashMap<String, Entries<'_>> = HashMap::new();
    let mut reqs_cache: HashMap<String, Entries<'_>> = HashMap::new();
    let mut caps_cache: HashMap<String, Vec<(String, String)>> = HashMap::new();
    let mut cap_ok: HashMap<(String, String), bool> = HashMap::new();
    let rel_templates = ctx.map(
        topo.get("relationship_templates"),
        id,
        "relationship_templates",
    );
    let mut topology = TopologyTemplate::default();
    let mut rels: Vec<RelationshipTemplate> = Vec::new();
    for (k, v) in node_map {
        let nid = k.as_str().unwrap_or_default().to_string();
        ctx.check_keys(
            v,
            &[
                "type",
                "description",
                "metadata",
                "directives",
                "properties",
                "attributes",
                "requirements",
                "capabilities",
                "interfaces",
                "artifacts",
                "node_filter",
                "copy",
            ],
            &nid,
            "a node template",
        );
        let type_name = v.get_str("type").unwrap_or_default();
        if v.get("type").is_none() {
            ctx.error(
                "yaml-structure",
                &nid,
                k,
                format!("node template '{nid}' has no type"),
            );
        }
        let full = ctx.reg.resolve(Kind::Node, type_name);
        let mut n = NodeTemplate::new(&nid, qname(full.as_deref().unwrap_or(type_name)), 0.0, 0.0);
        n.x = None;
        n.y = None;
        n.line = k.start.line;
        // Properties: assigned values, then type defaults.
        let mut kv: Vec<(String, String)> = Vec::new();
        let defs = full
            .as_deref()
            .map(|f| {
                props_cache
                    .entry(f.to_string())
                    .or_insert_with(|| ctx.reg.inherited_map(Kind::Node, f, "properties"))
                    .clone()
            })
            .unwrap_or_default();
        for (pk, pv) in ctx.map(v.get("properties"), &nid, "properties") {
            let key = pk.as_str().unwrap_or_default().to_string();
            out.value_pos
                .insert((nid.clone(), key.clone()), (pv.start.line, pv.start.col));
            match defs.iter().find(|(d, _)| *d == key) {
                None if full.is_some() => ctx.error(
                    "unknown-property",
                    &nid,
                    pk,
                    format!("property '{key}' is not defined by node type {type_name}"),
                ),
                None => {}
                Some((_, d)) => {
                    if let Some(t) = d.get_str("type") {
                        let es = d
                            .get("entry_schema")
                            .and_then(|e| e.as_str().or_else(|| e.get_str("type")));
                        check_value(ctx, pv, t, es, &nid, &format!("property '{key}'"), 0);
                    }
                }
            }
            check_inputs(ctx, pv, &inputs, &nid);
            kv.push((key, value_string(pv, &inputs)));
        }
        for (key, d) in &defs {
            if !kv.iter().any(|(k, _)| k == key)
                && let Some(def) = d.get("default")
            {
                kv.push((key.clone(), value_string(def, &inputs)));
            }
        }
        if !kv.is_empty() {
            n.properties = Some(Properties::new_kv("", "Properties", &kv));
        }
        // Artifacts.
        for (ak, av) in ctx.map(v.get("artifacts"), &nid, "artifacts") {
            let aname = ak.as_str().unwrap_or_default().to_string();
            let (file, atype) = match av.as_str() {
                Some(f) => (Some(f.to_string()), None),
                None => (av.get_str("file").map(str::to_string), av.get("type")),
            };
            let atype = match atype {
                Some(t) => ctx.type_ref(Kind::Artifact, t, &nid),
                None => "tosca.artifacts.File".to_string(),
            };
            let Some(file) = file else {
                ctx.error(
                    "yaml-structure",
                    &nid,
                    av,
                    format!("artifact '{aname}' has no file"),
                );
                continue;
            };
            let tq = QName::new(
                format!("{namespace}.{id}.{nid}.artifacts").trim_start_matches('.'),
                &aname,
            );
            out.artifact_templates.push(ArtifactTemplate {
                id: tq.local.clone(),
                name: Some(aname.clone()),
                target_namespace: tq.namespace.clone(),
                type_ref: qname(&atype),
                properties: None,
                references: vec![ArtifactRefEntry {
                    reference: file,
                    includes: Vec::new(),
                    excludes: Vec::new(),
                }],
                line: ak.start.line,
            });
            n.deployment_artifacts.push(DeploymentArtifact {
                name: aname,
                artifact_type: qname(&atype),
                artifact_ref: Some(tq),
            });
        }
        // Requirements.
        let req_defs = full
            .as_deref()
            .map(|f| {
                reqs_cache
                    .entry(f.to_string())
                    .or_insert_with(|| ctx.reg.requirements(f))
                    .clone()
            })
            .unwrap_or_default();
        let items = match v.get("requirements") {
            None => &[][..],
            Some(r) if r.is_null() => &[][..],
            Some(r) => r.as_seq().unwrap_or_else(|| {
                ctx.error(
                    "yaml-structure",
                    &nid,
                    r,
                    "requirements must be a list".into(),
                );
                &[]
            }),
        };
        for (index, item) in items.iter().enumerate() {
            let Some([(rk, rv)]) = item.as_map() else {
                ctx.error(
                    "yaml-structure",
                    &nid,
                    item,
                    "a requirement assignment is a map with one name".into(),
                );
                continue;
            };
            let rname = rk.as_str().unwrap_or_default().to_string();
            let def = req_defs.iter().find(|(d, _)| *d == rname).map(|(_, d)| *d);
            if def.is_none() && full.is_some() {
                ctx.error(
                    "unknown-requirement",
                    &nid,
                    rk,
                    format!("requirement '{rname}' is not defined by node type {type_name}"),
                );
                continue;
            }
            if rv.as_map().is_some() {
                ctx.check_keys(
                    rv,
                    &[
                        "node",
                        "capability",
                        "relationship",
                        "node_filter",
                        "occurrences",
                        "description",
                    ],
                    &nid,
                    &format!("requirement '{rname}'"),
                );
            }
            let target_node = if rv.as_str().is_some() {
                Some(rv)
            } else {
                rv.get("node")
            };
            let Some(target_node) = target_node else {
                continue;
            };
            let target = target_node.as_str().unwrap_or_default();
            if !names.contains(target) {
                if ctx.reg.resolve(Kind::Node, target).is_none() {
                    ctx.error(
                        "requirement-target",
                        &nid,
                        target_node,
                        format!("requirement '{rname}' names '{target}', which is neither a node template of this topology nor a node type"),
                    );
                }
                continue;
            }
            // The capability the target must offer.
            let cap = rv
                .get_str("capability")
                .or_else(|| def.and_then(|d| d.as_str().or_else(|| d.get_str("capability"))));
            if let Some(cap) = cap {
                let target_type = type_of
                    .get(target)
                    .and_then(|t| ctx.reg.resolve(Kind::Node, t));
                if let Some(tt) = target_type {
                    let reg = ctx.reg;
                    let ok = *cap_ok
                        .entry((tt.clone(), cap.to_string()))
                        .or_insert_with(|| {
                            let caps = caps_cache
                                .entry(tt.clone())
                                .or_insert_with(|| reg.capabilities(&tt));
                            let by_type = reg.resolve(Kind::Capability, cap);
                            caps.iter().any(|(cn, ct)| {
                                cn == cap
                                    || by_type
                                        .as_ref()
                                        .is_some_and(|w| reg.derives(Kind::Capability, ct, w))
                            })
                        });
                    if !ok {
                        ctx.error(
                            "requirement-target",
                            &nid,
                            target_node,
                            format!("requirement '{rname}' needs capability {cap}, which node '{target}' ({tt}) does not offer"),
                        );
                    }
                }
            }
            // Relationship type: the assignment's, its relationship template's, the definition's.
            let mut rel_props: Option<Properties> = None;
            let assigned = rv.get("relationship");
            let rel_type = match assigned {
                Some(r) if r.as_str().is_some() => {
                    let rn = r.as_str().unwrap_or_default();
                    if let Some((_, rt)) =
                        rel_templates.iter().find(|(k, _)| k.as_str() == Some(rn))
                    {
                        rel_props = props_of(rt.get("properties"), &inputs);
                        rt.get("type")
                            .map(|t| ctx.type_ref(Kind::Relationship, t, rn))
                    } else {
                        Some(ctx.type_ref(Kind::Relationship, r, &nid))
                    }
                }
                Some(r) => {
                    rel_props = props_of(r.get("properties"), &inputs);
                    r.get("type")
                        .map(|t| ctx.type_ref(Kind::Relationship, t, &nid))
                }
                None => None,
            }
            .or_else(|| {
                let d = def?.get("relationship")?;
                let t = d.as_str().or_else(|| d.get_str("type"))?;
                ctx.reg.resolve(Kind::Relationship, t)
            })
            .unwrap_or_else(|| "tosca.relationships.DependsOn".to_string());
            let mut rid = format!("{nid}_{rname}");
            let mut i = 2;
            while rel_ids.contains(&rid) || names.contains(rid.as_str()) {
                rid = format!("{nid}_{rname}_{i}");
                i += 1;
            }
            rel_ids.insert(rid.clone());
            let mut r = RelationshipTemplate::new(&rid, qname(&rel_type), &nid, target);
            r.name = Some(rname.clone());
            r.line = rk.start.line;
            r.properties = rel_props;
            out.origins.insert(
                rid,
                RequirementOrigin {
                    node: nid.clone(),
                    requirement: rname,
                    index,
                },
            );
            rels.push(r);
        }
        topology.node_templates.push(n);
    }
    for (k, v) in rel_templates {
        let rn = k.as_str().unwrap_or_default();
        ctx.check_keys(
            v,
            &[
                "type",
                "description",
                "metadata",
                "properties",
                "attributes",
                "interfaces",
                "copy",
            ],
            rn,
            "a relationship template",
        );
        match v.get("type") {
            Some(t) => {
                ctx.type_ref(Kind::Relationship, t, rn);
            }
            None => ctx.error(
                "yaml-structure",
                rn,
                k,
                format!("relationship template '{rn}' has no type"),
            ),
        }
    }
    topology.relationship_templates = rels;
    // Outputs, groups, policies, substitution mappings.
    for (k, v) in ctx.map(topo.get("outputs"), id, "outputs") {
        let on = k.as_str().unwrap_or_default();
        ctx.check_keys(
            v,
            &["description", "value", "type", "required", "status"],
            on,
            &format!("output '{on}'"),
        );
        if v.get("value").is_none() {
            ctx.error(
                "yaml-structure",
                on,
                k,
                format!("output '{on}' has no value"),
            );
        }
    }
    for (k, v) in ctx.map(topo.get("groups"), id, "groups") {
        let gn = k.as_str().unwrap_or_default();
        ctx.check_keys(
            v,
            &[
                "type",
                "description",
                "metadata",
                "properties",
                "members",
                "interfaces",
            ],
            gn,
            "a group",
        );
        if let Some(t) = v.get("type") {
            ctx.type_ref(Kind::Group, t, gn);
        }
        for m in v.get("members").and_then(Node::as_seq).unwrap_or(&[]) {
            let mn = m.as_str().unwrap_or_default();
            if !names.contains(mn) {
                ctx.error(
                    "unknown-member",
                    gn,
                    m,
                    format!("group member '{mn}' is not a node template"),
                );
            }
        }
    }
    if let Some(p) = topo.get("policies") {
        for item in p.as_seq().unwrap_or(&[]) {
            let Some([(pk, pv)]) = item.as_map() else {
                ctx.error(
                    "yaml-structure",
                    id,
                    item,
                    "a policy is a map with one name".into(),
                );
                continue;
            };
            let pn = pk.as_str().unwrap_or_default();
            ctx.check_keys(
                pv,
                &[
                    "type",
                    "description",
                    "metadata",
                    "properties",
                    "targets",
                    "triggers",
                ],
                pn,
                "a policy",
            );
            if let Some(t) = pv.get("type") {
                ctx.type_ref(Kind::Policy, t, pn);
            }
        }
    }
    if let Some(sm) = topo.get("substitution_mappings") {
        ctx.check_keys(
            sm,
            &[
                "node_type",
                "substitution_filter",
                "properties",
                "attributes",
                "capabilities",
                "requirements",
                "interfaces",
            ],
            id,
            "substitution_mappings",
        );
        if let Some(t) = sm.get("node_type") {
            out.st.substitutable_node_type = Some(qname(&ctx.type_ref(Kind::Node, t, id)));
        } else {
            ctx.error(
                "yaml-structure",
                id,
                sm,
                "substitution_mappings has no node_type".into(),
            );
        }
        for sect in ["capabilities", "requirements"] {
            for (k, v) in sm.get(sect).and_then(Node::as_map).unwrap_or(&[]) {
                if let Some([target, _]) = v.as_seq()
                    && let Some(tn) = target.as_str()
                    && !names.contains(tn)
                {
                    ctx.error(
                        "unknown-member",
                        id,
                        target,
                        format!("substitution mapping of {} '{}' names '{tn}', which is not a node template", &sect[..sect.len() - 1], k.as_str().unwrap_or_default()),
                    );
                }
            }
        }
    }
    out.st.topology = topology;
    Some(out)
}

fn props_of(n: Option<&Node>, inputs: &HashMap<String, Option<&Node>>) -> Option<Properties> {
    let kv: Vec<(String, String)> = n?
        .as_map()?
        .iter()
        .filter_map(|(k, v)| Some((k.as_str()?.to_string(), value_string(v, inputs))))
        .collect();
    (!kv.is_empty()).then(|| Properties::new_kv("", "Properties", &kv))
}

/// The model string of a property value; `get_input` of an input with a default is that default.
fn value_string(v: &Node, inputs: &HashMap<String, Option<&Node>>) -> String {
    if let Some([(k, name)]) = v.as_map()
        && k.as_str() == Some("get_input")
        && let Some(Some(default)) = name.as_str().and_then(|n| inputs.get(n))
    {
        return default.to_model_string();
    }
    v.to_model_string()
}

fn check_inputs(
    ctx: &mut Ctx<'_, '_>,
    v: &Node,
    inputs: &HashMap<String, Option<&Node>>,
    element: &str,
) {
    if let Some([(k, name)]) = v.as_map()
        && k.as_str() == Some("get_input")
    {
        let n = name
            .as_str()
            .or_else(|| name.as_seq().and_then(|s| s.first()).and_then(Node::as_str));
        if let Some(n) = n
            && !inputs.contains_key(n)
        {
            ctx.error(
                "unknown-input",
                element,
                name,
                format!("get_input names '{n}', which is not an input of the topology"),
            );
        }
        return;
    }
    for (_, c) in v.as_map().unwrap_or(&[]) {
        check_inputs(ctx, c, inputs, element);
    }
    for c in v.as_seq().unwrap_or(&[]) {
        check_inputs(ctx, c, inputs, element);
    }
}

/// Checks a value against a data type (primitive or defined), reporting mismatches.
pub(crate) fn check_value(
    ctx: &mut Ctx<'_, '_>,
    v: &Node,
    type_name: &str,
    entry_schema: Option<&str>,
    element: &str,
    what: &str,
    depth: usize,
) {
    if is_function(v) || depth > 32 {
        return;
    }
    let Some(full) = data_type(ctx.reg, type_name) else {
        return;
    };
    let kind = v.scalar_kind();
    let bad = |ctx: &mut Ctx<'_, '_>, expected: &str| {
        ctx.error(
            "property-type",
            element,
            v,
            format!("{what} must be {expected}, not {}", v.kind_name()),
        );
    };
    match full.as_str() {
        "string" => {
            if kind != Some(ScalarKind::Str) {
                bad(ctx, "a string");
            }
        }
        "integer" => {
            if kind != Some(ScalarKind::Int) {
                bad(ctx, "an integer");
            }
        }
        "float" => {
            if !matches!(kind, Some(ScalarKind::Float | ScalarKind::Int)) {
                bad(ctx, "a float");
            }
        }
        "boolean" => {
            if kind != Some(ScalarKind::Bool) {
                bad(ctx, "a boolean");
            }
        }
        "list" => match v.as_seq() {
            None => bad(ctx, "a list"),
            Some(items) => {
                if let Some(es) = entry_schema {
                    for (i, item) in items.iter().enumerate() {
                        check_value(
                            ctx,
                            item,
                            es,
                            None,
                            element,
                            &format!("{what}[{i}]"),
                            depth + 1,
                        );
                    }
                }
            }
        },
        "map" => match v.as_map() {
            None => bad(ctx, "a map"),
            Some(entries) => {
                if let Some(es) = entry_schema {
                    for (k, item) in entries {
                        let key = k.as_str().unwrap_or_default();
                        check_value(
                            ctx,
                            item,
                            es,
                            None,
                            element,
                            &format!("{what}.{key}"),
                            depth + 1,
                        );
                    }
                }
            }
        },
        "range" => {
            let ok = v.as_seq().is_some_and(|s| {
                s.len() == 2
                    && s.iter().all(|x| {
                        x.scalar_kind() == Some(ScalarKind::Int) || x.as_str() == Some("UNBOUNDED")
                    })
            });
            if !ok {
                bad(ctx, "a range [min, max]");
            }
        }
        "version" => {
            let ok = v
                .as_str()
                .is_some_and(|s| super::validate::parse_version(s).is_some());
            if !ok {
                bad(ctx, "a version (major.minor[.fix[.qualifier[-build]]])");
            }
        }
        "timestamp" | "null" => {}
        t if t.starts_with("scalar-unit.") => {
            let ok = v
                .as_str()
                .is_some_and(|s| super::validate::scalar_unit(t, s).is_ok());
            if !ok {
                let e = super::validate::scalar_unit(t, v.as_str().unwrap_or_default())
                    .err()
                    .unwrap_or_default();
                ctx.error("property-type", element, v, format!("{what}: {e}"));
            }
        }
        dt => {
            // A defined data type: derived from a primitive, or with properties.
            let chain = ctx.reg.ancestry(Kind::Data, dt);
            let root_primitive = ctx
                .reg
                .def(Kind::Data, chain.last().map(String::as_str).unwrap_or(dt))
                .and_then(|d| d.get_str("derived_from"))
                .filter(|p| super::read::PRIMITIVES.contains(p))
                .or_else(|| ctx.reg.def(Kind::Data, dt).and_then(|d| d.get_str("type")));
            if let Some(p) = root_primitive {
                check_value(ctx, v, p, entry_schema, element, what, depth + 1);
                return;
            }
            let Some(entries) = v.as_map() else {
                bad(ctx, &format!("a map (data type {dt})"));
                return;
            };
            let fields = ctx.reg.inherited_map(Kind::Data, dt, "properties");
            for (k, item) in entries {
                let key = k.as_str().unwrap_or_default();
                match fields.iter().find(|(f, _)| f == key) {
                    None => ctx.error(
                        "unknown-property",
                        element,
                        k,
                        format!("{what}: data type {dt} has no field '{key}'"),
                    ),
                    Some((_, fd)) => {
                        if let Some(ft) = fd.get_str("type") {
                            let es = fd
                                .get("entry_schema")
                                .and_then(|e| e.as_str().or_else(|| e.get_str("type")));
                            check_value(
                                ctx,
                                item,
                                ft,
                                es,
                                element,
                                &format!("{what}.{key}"),
                                depth + 1,
                            );
                            let mut tmp = Ctx {
                                reg: ctx.reg,
                                file: ctx.file.clone(),
                                diags: Vec::new(),
                                quiet: true,
                            };
                            let cs =
                                super::read::constraints(&mut tmp, fd.get("constraints"), element);
                            for c in cs {
                                if !is_function(item)
                                    && let Err(m) =
                                        super::validate::check_constraint(&c, &item.to_json(), ft)
                                {
                                    ctx.error(
                                        "constraint",
                                        element,
                                        item,
                                        format!("{what}.{key}: {m}"),
                                    );
                                }
                            }
                        }
                    }
                }
            }
            for (f, fd) in &fields {
                let required = !matches!(fd.get_str("required"), Some("false" | "False" | "FALSE"));
                if required
                    && fd.get("default").is_none()
                    && !entries.iter().any(|(k, _)| k.as_str() == Some(f))
                {
                    ctx.error(
                        "missing-property",
                        element,
                        v,
                        format!("{what}: required field '{f}' of data type {dt} is missing"),
                    );
                }
            }
        }
    }
}

/// Keeps what write-back and validation need from a read file.
pub(crate) fn source(
    path: std::path::PathBuf,
    text: String,
    root: Node,
    version: String,
    info: super::TypeInfo,
    out: Option<TopoParts>,
) -> YamlSource {
    let (original, origins, value_pos) = match out {
        Some(o) => (Some(o.original), o.origins, o.value_pos),
        None => (None, Default::default(), Default::default()),
    };
    YamlSource {
        path,
        text,
        root,
        version,
        info,
        original,
        origins,
        value_pos,
    }
}

/// What a source keeps of a read topology.
pub(crate) struct TopoParts {
    pub original: TopologyTemplate,
    pub origins: super::FastMap<String, RequirementOrigin>,
    pub value_pos: super::FastMap<(String, String), (u32, u32)>,
}
