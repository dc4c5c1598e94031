//! Reading YAML type definitions onto the model: a registry of every type name of the loaded
//! files (normative types included, short names resolved), and the conversion of node,
//! relationship, capability, artifact, policy, data, interface and group types.

use super::node::{Node, ScalarKind};
use super::{Constraint, DataType, PropDef, STANDARD_LIFECYCLE, TypeInfo, qname};
use crate::diagnostic::Diagnostic;
use crate::tosca::properties::PropertyDef;
use crate::tosca::types::*;
use crate::tosca::{Definitions, MaxInstances, PropertiesDefinition};
use std::path::PathBuf;

/// The kinds of YAML types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Node,
    Relationship,
    Capability,
    Data,
    Artifact,
    Interface,
    Policy,
    Group,
}

impl Kind {
    pub(crate) const ALL: [Kind; 8] = [
        Kind::Node,
        Kind::Relationship,
        Kind::Capability,
        Kind::Data,
        Kind::Artifact,
        Kind::Interface,
        Kind::Policy,
        Kind::Group,
    ];

    pub(crate) fn section(self) -> &'static str {
        match self {
            Kind::Node => "node_types",
            Kind::Relationship => "relationship_types",
            Kind::Capability => "capability_types",
            Kind::Data => "data_types",
            Kind::Artifact => "artifact_types",
            Kind::Interface => "interface_types",
            Kind::Policy => "policy_types",
            Kind::Group => "group_types",
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            Kind::Node => "tosca.nodes.",
            Kind::Relationship => "tosca.relationships.",
            Kind::Capability => "tosca.capabilities.",
            Kind::Data => "tosca.datatypes.",
            Kind::Artifact => "tosca.artifacts.",
            Kind::Interface => "tosca.interfaces.",
            Kind::Policy => "tosca.policies.",
            Kind::Group => "tosca.groups.",
        }
    }

    pub(crate) fn what(self) -> &'static str {
        match self {
            Kind::Node => "node type",
            Kind::Relationship => "relationship type",
            Kind::Capability => "capability type",
            Kind::Data => "data type",
            Kind::Artifact => "artifact type",
            Kind::Interface => "interface type",
            Kind::Policy => "policy type",
            Kind::Group => "group type",
        }
    }
}

/// The primitive (built-in) data types.
pub(crate) const PRIMITIVES: &[&str] = &[
    "string",
    "integer",
    "float",
    "boolean",
    "timestamp",
    "null",
    "list",
    "map",
    "version",
    "range",
    "scalar-unit.size",
    "scalar-unit.time",
    "scalar-unit.frequency",
    "scalar-unit.bitrate",
];

/// Every type of the loaded files by kind and full name, with short names.
#[derive(Default)]
pub(crate) struct Registry<'a> {
    types: [super::FastMap<String, &'a Node>; 8],
    short: [super::FastMap<String, String>; 8],
}

impl<'a> Registry<'a> {
    /// Adds the type sections of one file (the first definition of a name wins).
    pub(crate) fn add(&mut self, root: &'a Node, normative: bool) {
        for kind in Kind::ALL {
            for (k, v) in root
                .get(kind.section())
                .and_then(Node::as_map)
                .unwrap_or(&[])
            {
                let Some(name) = k.as_str() else { continue };
                self.types[kind as usize]
                    .entry(name.to_string())
                    .or_insert(v);
                if normative && let Some(short) = name.strip_prefix(kind.prefix()) {
                    // Short names: `Compute`, `tosca:Compute`, and the interfaces' last part.
                    let last = short.rsplit('.').next().unwrap_or(short);
                    for s in [
                        short.to_string(),
                        format!("tosca:{short}"),
                        last.to_string(),
                    ] {
                        self.short[kind as usize]
                            .entry(s)
                            .or_insert_with(|| name.to_string());
                    }
                }
            }
        }
    }

    /// The full name `name` stands for, if it is defined.
    pub(crate) fn resolve(&self, kind: Kind, name: &str) -> Option<String> {
        if self.types[kind as usize].contains_key(name) {
            return Some(name.to_string());
        }
        self.short[kind as usize].get(name).cloned()
    }

    pub(crate) fn def(&self, kind: Kind, full: &str) -> Option<&'a Node> {
        self.types[kind as usize].get(full).copied()
    }

    pub(crate) fn parent(&self, kind: Kind, full: &str) -> Option<String> {
        let d = self.def(kind, full)?.get_str("derived_from")?;
        self.resolve(kind, d)
    }

    /// `full` and its ancestors, nearest first (stops at cycles and unknown parents).
    pub(crate) fn ancestry(&self, kind: Kind, full: &str) -> Vec<String> {
        let mut out = vec![full.to_string()];
        let mut cur = full.to_string();
        while let Some(p) = self.parent(kind, &cur) {
            if out.contains(&p) || out.len() > 64 {
                break;
            }
            out.push(p.clone());
            cur = p;
        }
        out
    }

    pub(crate) fn derives(&self, kind: Kind, t: &str, base: &str) -> bool {
        self.ancestry(kind, t).iter().any(|a| a == base)
    }

    /// Entries of map section `key` along the ancestry, nearest definition of a name first.
    pub(crate) fn inherited_map(
        &self,
        kind: Kind,
        full: &str,
        key: &str,
    ) -> Vec<(String, &'a Node)> {
        let mut out: Vec<(String, &'a Node)> = Vec::new();
        for t in self.ancestry(kind, full) {
            let Some(def) = self.def(kind, &t) else {
                continue;
            };
            for (k, v) in def.get(key).and_then(Node::as_map).unwrap_or(&[]) {
                if let Some(n) = k.as_str()
                    && !out.iter().any(|(o, _)| o == n)
                {
                    out.push((n.to_string(), v));
                }
            }
        }
        out
    }

    /// Requirement definitions of a node type, inherited (nearest first).
    pub(crate) fn requirements(&self, full: &str) -> Vec<(String, &'a Node)> {
        let mut out: Vec<(String, &'a Node)> = Vec::new();
        for t in self.ancestry(Kind::Node, full) {
            let Some(def) = self.def(Kind::Node, &t) else {
                continue;
            };
            for item in def
                .get("requirements")
                .and_then(Node::as_seq)
                .unwrap_or(&[])
            {
                if let Some([(k, v)]) = item.as_map()
                    && let Some(n) = k.as_str()
                    && !out.iter().any(|(o, _)| o == n)
                {
                    out.push((n.to_string(), v));
                }
            }
        }
        out
    }

    /// Capability (name, full type) of a node type, inherited.
    pub(crate) fn capabilities(&self, full: &str) -> Vec<(String, String)> {
        self.inherited_map(Kind::Node, full, "capabilities")
            .into_iter()
            .filter_map(|(n, v)| {
                let t = v.as_str().or_else(|| v.get_str("type"))?;
                Some((
                    n,
                    self.resolve(Kind::Capability, t).unwrap_or(t.to_string()),
                ))
            })
            .collect()
    }
}

/// Reading context: the registry, the file, and the diagnostics found.
pub(crate) struct Ctx<'r, 'a> {
    pub reg: &'r Registry<'a>,
    pub file: PathBuf,
    pub diags: Vec<Diagnostic>,
    /// Built-in normative types: no diagnostics.
    pub quiet: bool,
}

impl Ctx<'_, '_> {
    pub(crate) fn error(&mut self, code: &'static str, element: &str, at: &Node, msg: String) {
        if !self.quiet {
            self.diags
                .push(Diagnostic::error(code, element, msg).at_col(
                    Some(self.file.clone()),
                    at.start.line,
                    at.start.col,
                ));
        }
    }

    /// Reports keys of mapping `node` that are not in `allowed`.
    pub(crate) fn check_keys(&mut self, node: &Node, allowed: &[&str], element: &str, what: &str) {
        for (k, _) in node.as_map().unwrap_or(&[]) {
            let key = k.as_str().unwrap_or_default();
            if !allowed.contains(&key) {
                self.error(
                    "unknown-key",
                    element,
                    k,
                    format!(
                        "unknown key '{key}' in {what} (allowed: {})",
                        allowed.join(", ")
                    ),
                );
            }
        }
    }

    /// Expects a mapping (or nothing); reports anything else.
    pub(crate) fn map<'n>(
        &mut self,
        node: Option<&'n Node>,
        element: &str,
        what: &str,
    ) -> &'n [(Node, Node)] {
        match node {
            None => &[],
            Some(n) if n.is_null() => &[],
            Some(n) => match n.as_map() {
                Some(m) => m,
                None => {
                    self.error(
                        "yaml-structure",
                        element,
                        n,
                        format!("{what} must be a map, not {}", n.kind_name()),
                    );
                    &[]
                }
            },
        }
    }

    /// Resolves a type reference; reports it when unknown. Unknown names map as written.
    pub(crate) fn type_ref(&mut self, kind: Kind, n: &Node, element: &str) -> String {
        let name = n.as_str().unwrap_or_default();
        match self.reg.resolve(kind, name) {
            Some(f) => f,
            None => {
                self.error(
                    "unknown-type",
                    element,
                    n,
                    format!("{} '{name}' is not defined", kind.what()),
                );
                name.to_string()
            }
        }
    }
}

/// Resolves a data type name (primitive or defined).
pub(crate) fn data_type(reg: &Registry<'_>, name: &str) -> Option<String> {
    if PRIMITIVES.contains(&name) {
        return Some(name.to_string());
    }
    reg.resolve(Kind::Data, name)
}

const TYPE_KEYS: &[&str] = &["derived_from", "version", "metadata", "description"];

fn keys(extra: &[&'static str]) -> Vec<&'static str> {
    TYPE_KEYS.iter().chain(extra).copied().collect()
}

fn entity(ctx: &mut Ctx<'_, '_>, kind: Kind, name: &str, def: &Node, key: &Node) -> EntityType {
    let q = qname(name);
    let derived_from = def
        .get("derived_from")
        .map(|d| qname(&ctx.type_ref(kind, d, name)));
    let tags = def
        .get("metadata")
        .and_then(Node::as_map)
        .unwrap_or(&[])
        .iter()
        .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v.to_model_string())))
        .collect();
    EntityType {
        name: q.local,
        target_namespace: q.namespace,
        is_abstract: false,
        is_final: false,
        derived_from,
        properties_definition: None,
        tags,
        documentation: def.get_str("description").map(str::to_string),
        winery_attrs: Vec::new(),
        line: key.start.line,
    }
}

/// Reads `properties:` definitions: model key/value definitions and the YAML details.
pub(crate) fn prop_defs(
    ctx: &mut Ctx<'_, '_>,
    node: Option<&Node>,
    element: &str,
) -> (Vec<PropertyDef>, Vec<PropDef>) {
    let mut model = Vec::new();
    let mut yaml = Vec::new();
    for (k, v) in ctx.map(node, element, "properties") {
        let name = k.as_str().unwrap_or_default().to_string();
        if v.as_map().is_none() {
            ctx.error(
                "yaml-structure",
                element,
                v,
                format!("property definition '{name}' must be a map with a type"),
            );
            continue;
        }
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
                "external-schema",
            ],
            element,
            &format!("property definition '{name}'"),
        );
        let type_name = match v.get("type") {
            Some(t) => {
                let tn = t.as_str().unwrap_or_default();
                match data_type(ctx.reg, tn) {
                    Some(f) => f,
                    None => {
                        ctx.error(
                            "unknown-type",
                            element,
                            t,
                            format!("data type '{tn}' of property '{name}' is not defined"),
                        );
                        tn.to_string()
                    }
                }
            }
            None => {
                ctx.error(
                    "yaml-structure",
                    element,
                    k,
                    format!("property definition '{name}' has no type"),
                );
                "string".to_string()
            }
        };
        let required = match v.get("required") {
            None => true,
            Some(r) => match r.as_str() {
                Some("true" | "True" | "TRUE") => true,
                Some("false" | "False" | "FALSE") => false,
                _ => {
                    ctx.error(
                        "property-type",
                        element,
                        r,
                        format!("'required' of property '{name}' must be true or false"),
                    );
                    true
                }
            },
        };
        let default = v.get("default");
        let entry_schema = v.get("entry_schema").and_then(|e| {
            e.as_str()
                .or_else(|| e.get_str("type"))
                .map(|t| data_type(ctx.reg, t).unwrap_or(t.to_string()))
        });
        let constraints = constraints(ctx, v.get("constraints"), element);
        model.push(PropertyDef {
            key: name.clone(),
            type_name: type_name.clone(),
            required,
            default: default.map(Node::to_model_string),
            description: v.get_str("description").map(str::to_string),
        });
        yaml.push(PropDef {
            name,
            type_name,
            required,
            has_default: default.is_some(),
            constraints,
            entry_schema,
            line: k.start.line,
            col: k.start.col,
        });
    }
    (model, yaml)
}

/// The constraint operators of the Simple Profile.
pub(crate) const CONSTRAINT_OPS: &[&str] = &[
    "equal",
    "greater_than",
    "greater_or_equal",
    "less_than",
    "less_or_equal",
    "in_range",
    "valid_values",
    "length",
    "min_length",
    "max_length",
    "pattern",
    "schema",
];

pub(crate) fn constraints(
    ctx: &mut Ctx<'_, '_>,
    node: Option<&Node>,
    element: &str,
) -> Vec<Constraint> {
    let mut out = Vec::new();
    let Some(node) = node else { return out };
    let Some(items) = node.as_seq() else {
        ctx.error(
            "yaml-structure",
            element,
            node,
            "constraints must be a list".into(),
        );
        return out;
    };
    for item in items {
        let Some([(k, v)]) = item.as_map() else {
            ctx.error(
                "yaml-structure",
                element,
                item,
                "a constraint is a map with one operator, e.g. '- greater_than: 0'".into(),
            );
            continue;
        };
        let op = k.as_str().unwrap_or_default();
        if !CONSTRAINT_OPS.contains(&op) {
            ctx.error(
                "unknown-key",
                element,
                k,
                format!("unknown constraint operator '{op}'"),
            );
            continue;
        }
        let ok = match op {
            "in_range" => v.as_seq().is_some_and(|s| s.len() == 2),
            "valid_values" => v.as_seq().is_some(),
            "length" | "min_length" | "max_length" => v.scalar_kind() == Some(ScalarKind::Int),
            "pattern" => v.as_str().is_some(),
            _ => true,
        };
        if !ok {
            ctx.error(
                "constraint-syntax",
                element,
                v,
                format!(
                    "constraint '{op}' has an argument of the wrong form ({})",
                    v.kind_name()
                ),
            );
            continue;
        }
        if op == "pattern"
            && super::validate::compile_pattern(v.as_str().unwrap_or_default()).is_err()
        {
            ctx.error(
                "constraint-syntax",
                element,
                v,
                "pattern is not a regular expression this reader understands".into(),
            );
            continue;
        }
        out.push(Constraint {
            op: op.to_string(),
            arg: v.to_json(),
            line: k.start.line,
            col: k.start.col,
        });
    }
    out
}

fn occurrences(
    ctx: &mut Ctx<'_, '_>,
    n: Option<&Node>,
    element: &str,
    default: (u32, MaxInstances),
) -> (u32, MaxInstances) {
    let Some(n) = n else { return default };
    let parsed = n.as_seq().and_then(|s| match s {
        [lo, hi] => {
            let lo = lo.as_str()?.parse::<u32>().ok()?;
            let hi = match hi.as_str()? {
                "UNBOUNDED" => MaxInstances::Unbounded,
                h => MaxInstances::Bounded(h.parse::<u32>().ok()?),
            };
            Some((lo, hi))
        }
        _ => None,
    });
    match parsed {
        Some((lo, hi)) if hi.allows(lo) => (lo, hi),
        _ => {
            ctx.error(
                "yaml-structure",
                element,
                n,
                "occurrences must be [min, max] with min ≤ max (max may be UNBOUNDED)".into(),
            );
            default
        }
    }
}

/// The interfaces of a node or relationship type (or template) as model interfaces.
pub(crate) fn interfaces(
    ctx: &mut Ctx<'_, '_>,
    node: Option<&Node>,
    element: &str,
    inherited_types: &[(String, String)],
) -> (Vec<Interface>, Vec<(String, String, String)>) {
    let mut out = Vec::new();
    let mut impls = Vec::new();
    for (k, v) in ctx.map(node, element, "interfaces") {
        let iname = k.as_str().unwrap_or_default();
        let itype = match v.get("type") {
            Some(t) => Some(ctx.type_ref(Kind::Interface, t, element)),
            None => inherited_types
                .iter()
                .find(|(n, _)| n == iname)
                .map(|(_, t)| t.clone())
                .or_else(|| ctx.reg.resolve(Kind::Interface, iname)),
        };
        let name = match &itype {
            Some(t) if ctx.reg.derives(Kind::Interface, t, STANDARD_LIFECYCLE) => {
                STANDARD_LIFECYCLE.to_string()
            }
            Some(t) => t.clone(),
            None => iname.to_string(),
        };
        let shared_inputs = v.get("inputs");
        let ops_node = v.get("operations").unwrap_or(v);
        let mut operations = Vec::new();
        for (ok, ov) in ops_node.as_map().unwrap_or(&[]) {
            let op = ok.as_str().unwrap_or_default();
            if matches!(
                op,
                "type" | "inputs" | "description" | "notifications" | "operations"
            ) {
                continue;
            }
            let mut inputs = Vec::new();
            for src in [shared_inputs, ov.get("inputs")] {
                for (pk, pv) in src.and_then(Node::as_map).unwrap_or(&[]) {
                    let pname = pk.as_str().unwrap_or_default().to_string();
                    let is_def = pv.get("type").is_some();
                    let param = Parameter {
                        type_name: pv.get_str("type").unwrap_or("string").to_string(),
                        required: is_def
                            && !matches!(pv.get_str("required"), Some("false" | "False" | "FALSE")),
                        name: pname,
                    };
                    inputs.retain(|p: &Parameter| p.name != param.name);
                    inputs.push(param);
                }
            }
            let outputs = ov
                .get("outputs")
                .and_then(Node::as_map)
                .unwrap_or(&[])
                .iter()
                .filter_map(|(k, v)| {
                    Some(Parameter {
                        name: k.as_str()?.to_string(),
                        type_name: v.get_str("type").unwrap_or("string").to_string(),
                        required: false,
                    })
                })
                .collect();
            // implementation: file | {primary: file | {file: …}, dependencies: […]}
            let primary = ov.as_str().or_else(|| {
                let i = ov.get("implementation")?;
                i.as_str().or_else(|| {
                    let p = i.get("primary")?;
                    p.as_str().or_else(|| p.get_str("file"))
                })
            });
            if let Some(file) = primary.filter(|f| !f.is_empty()) {
                impls.push((name.clone(), op.to_string(), file.to_string()));
            }
            operations.push(Operation {
                name: op.to_string(),
                inputs,
                outputs,
            });
        }
        out.push(Interface { name, operations });
    }
    (out, impls)
}

/// The entity of a node or relationship type with its key/value properties definition; the
/// YAML property definitions go to `info` for validation.
fn typed_entity(
    ctx: &mut Ctx<'_, '_>,
    kind: Kind,
    name: &str,
    def: &Node,
    key: &Node,
    info: &mut TypeInfo,
) -> EntityType {
    let mut base = entity(ctx, kind, name, def, key);
    let (model, yaml) = prop_defs(ctx, def.get("properties"), name);
    if !model.is_empty() {
        base.properties_definition = Some(PropertiesDefinition::KeyValue {
            element_name: "Properties".into(),
            namespace: String::new(),
            properties: model,
        });
    }
    info.properties.insert(name.to_string(), yaml);
    base
}

/// Reads every type section of `root` into `defs` and `info`.
pub(crate) fn read_types(
    ctx: &mut Ctx<'_, '_>,
    root: &Node,
    defs: &mut Definitions,
    info: &mut TypeInfo,
) {
    for (k, v) in ctx.map(root.get("node_types"), "node_types", "node_types") {
        let name = k.as_str().unwrap_or_default().to_string();
        ctx.check_keys(
            v,
            &keys(&[
                "attributes",
                "properties",
                "requirements",
                "capabilities",
                "interfaces",
                "artifacts",
            ]),
            &name,
            "a node type",
        );
        let base = typed_entity(ctx, Kind::Node, &name, v, k, info);
        let mut capability_definitions = Vec::new();
        for (ck, cv) in ctx.map(v.get("capabilities"), &name, "capabilities") {
            let cname = ck.as_str().unwrap_or_default().to_string();
            let tnode = if cv.as_str().is_some() {
                Some(cv)
            } else {
                cv.get("type")
            };
            let Some(tnode) = tnode else {
                ctx.error(
                    "yaml-structure",
                    &name,
                    cv,
                    format!("capability '{cname}' has no type"),
                );
                continue;
            };
            let t = ctx.type_ref(Kind::Capability, tnode, &name);
            let (lo, hi) = occurrences(
                ctx,
                cv.get("occurrences"),
                &name,
                (1, MaxInstances::Unbounded),
            );
            capability_definitions.push(ReqCapDefinition {
                name: cname,
                type_ref: qname(&t),
                lower_bound: lo,
                upper_bound: hi,
            });
        }
        let mut requirement_definitions = Vec::new();
        let reqs = match v.get("requirements") {
            None => &[][..],
            Some(r) => match r.as_seq() {
                Some(s) => s,
                None => {
                    ctx.error(
                        "yaml-structure",
                        &name,
                        r,
                        "requirements must be a list".into(),
                    );
                    &[][..]
                }
            },
        };
        for item in reqs {
            let Some([(rk, rv)]) = item.as_map() else {
                ctx.error(
                    "yaml-structure",
                    &name,
                    item,
                    "a requirement definition is a map with one name".into(),
                );
                continue;
            };
            let rname = rk.as_str().unwrap_or_default().to_string();
            let cap_node = if rv.as_str().is_some() {
                Some(rv)
            } else {
                rv.get("capability")
            };
            if rv.as_map().is_some() {
                ctx.check_keys(
                    rv,
                    &[
                        "capability",
                        "node",
                        "relationship",
                        "occurrences",
                        "description",
                        "node_filter",
                    ],
                    &name,
                    &format!("requirement '{rname}'"),
                );
                if let Some(n) = rv.get("node") {
                    ctx.type_ref(Kind::Node, n, &name);
                }
                if let Some(r) = rv.get("relationship") {
                    let rt = if r.as_str().is_some() {
                        Some(r)
                    } else {
                        r.get("type")
                    };
                    if let Some(rt) = rt {
                        ctx.type_ref(Kind::Relationship, rt, &name);
                    }
                }
            }
            let cap = match cap_node {
                Some(c) => ctx.type_ref(Kind::Capability, c, &name),
                None => {
                    ctx.error(
                        "yaml-structure",
                        &name,
                        rv,
                        format!("requirement '{rname}' names no capability"),
                    );
                    continue;
                }
            };
            let (lo, hi) = occurrences(
                ctx,
                rv.get("occurrences"),
                &name,
                (1, MaxInstances::Bounded(1)),
            );
            let rq = crate::QName::new(&name, &rname);
            defs.requirement_types.push(RequirementType {
                base: EntityType {
                    name: rname.clone(),
                    target_namespace: name.clone(),
                    line: rk.start.line,
                    ..EntityType::default()
                },
                required_capability_type: Some(qname(&cap)),
            });
            requirement_definitions.push(ReqCapDefinition {
                name: rname,
                type_ref: rq,
                lower_bound: lo,
                upper_bound: hi,
            });
        }
        let inherited: Vec<(String, String)> = ctx
            .reg
            .parent(Kind::Node, &name)
            .map(|p| inherited_interface_types(ctx.reg, &p))
            .unwrap_or_default();
        let (interfaces, impls) = interfaces(ctx, v.get("interfaces"), &name, &inherited);
        if !impls.is_empty() {
            defs.node_type_implementations.push(implementation(
                &name,
                &impls,
                k.start.line,
                &mut defs.artifact_templates,
            ));
        }
        defs.node_types.push(NodeType {
            base,
            requirement_definitions,
            capability_definitions,
            interfaces,
        });
    }
    for (k, v) in ctx.map(
        root.get("relationship_types"),
        "relationship_types",
        "relationship_types",
    ) {
        let name = k.as_str().unwrap_or_default().to_string();
        if !ctx.quiet {
            ctx.check_keys(
                v,
                &keys(&[
                    "attributes",
                    "properties",
                    "interfaces",
                    "valid_target_types",
                ]),
                &name,
                "a relationship type",
            );
        }
        let base = typed_entity(ctx, Kind::Relationship, &name, v, k, info);
        let valid_target = v
            .get("valid_target_types")
            .and_then(Node::as_seq)
            .and_then(|s| s.first())
            .map(|t| qname(&ctx.type_ref(Kind::Capability, t, &name)));
        defs.relationship_types.push(RelationshipType {
            base,
            valid_source: None,
            valid_target,
            source_interfaces: interfaces(ctx, v.get("interfaces"), &name, &[]).0,
            target_interfaces: Vec::new(),
        });
    }
    for (kind, extra) in [
        (
            Kind::Capability,
            &["attributes", "properties", "valid_source_types"][..],
        ),
        (Kind::Artifact, &["mime_type", "file_ext", "properties"][..]),
        (Kind::Policy, &["properties", "targets", "triggers"][..]),
    ] {
        for (k, v) in ctx.map(root.get(kind.section()), kind.section(), kind.section()) {
            let name = k.as_str().unwrap_or_default().to_string();
            ctx.check_keys(v, &keys(extra), &name, &format!("a {}", kind.what()));
            let base = entity(ctx, kind, &name, v, k);
            let (_, yaml) = prop_defs(ctx, v.get("properties"), &name);
            info.properties.insert(name.clone(), yaml);
            let t = TypeDef { base };
            match kind {
                Kind::Capability => defs.capability_types.push(t),
                Kind::Artifact => defs.artifact_types.push(t),
                _ => {
                    info.policy_types.push(name.clone());
                    defs.policy_types.push(t)
                }
            }
        }
    }
    for (k, v) in ctx.map(root.get("data_types"), "data_types", "data_types") {
        let name = k.as_str().unwrap_or_default().to_string();
        ctx.check_keys(
            v,
            &keys(&[
                "properties",
                "constraints",
                "type",
                "key_schema",
                "entry_schema",
            ]),
            &name,
            "a data type",
        );
        // tosca-parser's normative types write a primitive base as `type:` (PortDef).
        let derived_from = v.get("type").or(v.get("derived_from")).map(|d| {
            let dn = d.as_str().unwrap_or_default();
            data_type(ctx.reg, dn).unwrap_or_else(|| {
                ctx.error(
                    "unknown-type",
                    &name,
                    d,
                    format!("data type '{dn}' is not defined"),
                );
                dn.to_string()
            })
        });
        let (_, properties) = prop_defs(ctx, v.get("properties"), &name);
        let constraints = constraints(ctx, v.get("constraints"), &name);
        info.data_types.insert(
            name.clone(),
            DataType {
                name,
                derived_from,
                properties,
                constraints,
            },
        );
    }
    for (k, v) in ctx.map(
        root.get("interface_types"),
        "interface_types",
        "interface_types",
    ) {
        let name = k.as_str().unwrap_or_default().to_string();
        let parent = v
            .get("derived_from")
            .map(|d| ctx.type_ref(Kind::Interface, d, &name));
        let ops = v
            .get("operations")
            .unwrap_or(v)
            .as_map()
            .unwrap_or(&[])
            .iter()
            .filter_map(|(o, _)| o.as_str())
            .filter(|o| {
                !TYPE_KEYS.contains(o) && !matches!(*o, "inputs" | "operations" | "notifications")
            })
            .map(str::to_string)
            .collect();
        info.interface_types.insert(name, (parent, ops));
    }
    for (k, v) in ctx.map(root.get("group_types"), "group_types", "group_types") {
        let name = k.as_str().unwrap_or_default().to_string();
        if let Some(d) = v.get("derived_from") {
            ctx.type_ref(Kind::Group, d, &name);
        }
        info.group_types.push(name);
    }
}

/// The operation implementations of a node type as a node type implementation
/// (`{<type>}Implementation`) with one implementation artifact, and artifact template, per file.
fn implementation(
    type_name: &str,
    impls: &[(String, String, String)],
    line: u32,
    templates: &mut Vec<ArtifactTemplate>,
) -> NodeTypeImplementation {
    let mut artifacts = Vec::new();
    for (iface, op, file) in impls {
        let kind = match file.rsplit('.').next() {
            Some("sh") => "tosca.artifacts.Implementation.Bash",
            Some("py") => "tosca.artifacts.Implementation.Python",
            _ => "tosca.artifacts.Implementation",
        };
        let tq = crate::QName::new(format!("{type_name}.implementation"), op.as_str());
        templates.push(ArtifactTemplate {
            id: tq.local.clone(),
            name: Some(format!("{op} ({iface})")),
            target_namespace: tq.namespace.clone(),
            type_ref: qname(kind),
            properties: None,
            references: vec![ArtifactRefEntry {
                reference: file.clone(),
                includes: Vec::new(),
                excludes: Vec::new(),
            }],
            line,
        });
        artifacts.push(ImplementationArtifact {
            name: Some(op.clone()),
            interface_name: Some(iface.clone()),
            operation_name: Some(op.clone()),
            artifact_type: qname(kind),
            artifact_ref: Some(tq),
        });
    }
    NodeTypeImplementation {
        base: EntityType {
            name: "Implementation".into(),
            target_namespace: type_name.to_string(),
            line,
            ..EntityType::default()
        },
        node_type: qname(type_name),
        implementation_artifacts: artifacts,
        deployment_artifacts: Vec::new(),
    }
}

/// (interface name, interface type) declared along a node type's ancestry.
pub(crate) fn inherited_interface_types(reg: &Registry<'_>, full: &str) -> Vec<(String, String)> {
    reg.inherited_map(Kind::Node, full, "interfaces")
        .into_iter()
        .filter_map(|(n, v)| {
            let t = v.get_str("type")?;
            Some((n, reg.resolve(Kind::Interface, t).unwrap_or(t.to_string())))
        })
        .collect()
}
