//! Validation of a service template against its library: every finding is a [`Diagnostic`]
//! with severity, element id, message, a hint, and file:line.
//!
//! Codes: `unknown-type`, `abstract-type`, `duplicate-id`, `dangling-relationship`,
//! `invalid-relationship`, `hosting-cycle`, `missing-host`, `requirement-unmatched`,
//! `missing-property`, `property-type`, `json-list`, `instances`, `login`, `deploy-input`
//! (warning).

use crate::diagnostic::Diagnostic;
use crate::library::Library;
use crate::plan::{RelationKind, relation_kind};
use crate::rules::relationship_allowed;
use crate::tosca::properties::input_name;
use crate::tosca::{MaxInstances, NodeTemplate, PropertiesDefinition, ServiceTemplate, TypeKind};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;

/// Property keys whose values must be JSON lists of strings.
pub const JSON_LIST_KEYS: &[&str] = &["hardwareIds", "addresses", "certificates"];

/// Validates `st` (which lives in library file `file`, for locations).
pub fn validate_service_template(
    lib: &Library,
    st: &ServiceTemplate,
    file: Option<PathBuf>,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let topo = &st.topology;
    let at = |d: Diagnostic, line: u32| d.at(file.clone(), line);

    // Ids.
    let mut seen: HashMap<&str, u32> = HashMap::new();
    let ids = topo
        .node_templates
        .iter()
        .map(|n| (n.id.as_str(), n.line))
        .chain(
            topo.relationship_templates
                .iter()
                .map(|r| (r.id.as_str(), r.line)),
        );
    for (id, line) in ids {
        if id.is_empty() {
            out.push(at(
                Diagnostic::error("duplicate-id", "(no id)", "a template has no id")
                    .with_hint("give every template a unique id"),
                line,
            ));
        } else if let Some(first) = seen.insert(id, line) {
            out.push(at(
                Diagnostic::error(
                    "duplicate-id",
                    id,
                    format!("id '{id}' is used twice (first on line {first})"),
                )
                .with_hint("rename one of them"),
                line,
            ));
        }
    }

    // Node templates.
    for n in &topo.node_templates {
        match lib.node_type(&n.type_ref) {
            None => out.push(at(
                Diagnostic::error(
                    "unknown-type",
                    &n.id,
                    format!("node type {} is not defined", n.type_ref),
                )
                .with_hint(
                    "open the repository or CSAR that defines it, or pick a type from the palette",
                ),
                n.line,
            )),
            Some(t) if t.base.is_abstract => out.push(at(
                Diagnostic::warning(
                    "abstract-type",
                    &n.id,
                    format!(
                        "node type {} is abstract: it must be substituted before deployment",
                        n.type_ref.local
                    ),
                )
                .with_hint("choose a concrete type derived from it"),
                n.line,
            )),
            Some(_) => {}
        }
        if let MaxInstances::Bounded(max) = n.max_instances
            && n.min_instances > max
        {
            out.push(at(
                Diagnostic::error(
                    "instances",
                    &n.id,
                    format!(
                        "minInstances {} is larger than maxInstances {max}",
                        n.min_instances
                    ),
                )
                .with_hint("make minInstances ≤ maxInstances"),
                n.line,
            ));
        }
        check_properties(lib, n, &mut out, &file);
    }

    // Relationships.
    let index = crate::tosca::TopologyIndex::new(topo);
    let mut hosts: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut outgoing: HashMap<&str, Vec<&NodeTemplate>> = HashMap::new();
    let mut kinds: HashMap<&crate::QName, RelationKind> = HashMap::new();
    for r in &topo.relationship_templates {
        let rt = lib.relationship_type(&r.type_ref);
        if rt.is_none() {
            out.push(at(
                Diagnostic::error(
                    "unknown-type",
                    &r.id,
                    format!("relationship type {} is not defined", r.type_ref),
                )
                .with_hint(
                    "use HostedOn, ConnectsTo or DependsOn, or open the definitions of this type",
                ),
                r.line,
            ));
        }
        let (src, tgt) = (
            index.endpoint_node(&r.source),
            index.endpoint_node(&r.target),
        );
        if let (Some(s), Some(t)) = (src, tgt) {
            outgoing.entry(s.id.as_str()).or_default().push(t);
        }
        for (end, name, node) in [("source", &r.source, src), ("target", &r.target, tgt)] {
            if node.is_none() {
                out.push(at(
                    Diagnostic::error("dangling-relationship", &r.id, format!("{end} '{name}' is not a node template, requirement or capability of this topology"))
                        .with_hint("reconnect or delete the relationship"),
                    r.line,
                ));
            }
        }
        if let (Some(rt), Some(s), Some(t)) = (rt, src, tgt) {
            if lib.node_type(&s.type_ref).is_some()
                && lib.node_type(&t.type_ref).is_some()
                && !relationship_allowed(lib, rt, s, t)
            {
                out.push(at(
                    Diagnostic::error(
                        "invalid-relationship",
                        &r.id,
                        format!("{} may not connect {} ({}) to {} ({})", r.type_ref.local, s.id, s.type_ref.local, t.id, t.type_ref.local),
                    )
                    .with_hint("its type's ValidSource/ValidTarget do not accept these nodes; pick another relationship type"),
                    r.line,
                ));
            }
            if *kinds
                .entry(&r.type_ref)
                .or_insert_with(|| relation_kind(lib, &r.type_ref))
                == RelationKind::HostedOn
            {
                hosts.entry(s.id.as_str()).or_default().push(t.id.as_str());
            }
        }
    }

    // Hosting stacks: cycles, several hosts, requirements unmatched down the stack.
    let hosted_targets: HashSet<&str> = hosts.values().flatten().copied().collect();
    let mut req_defs: HashMap<&crate::QName, Vec<crate::tosca::ReqCapDefinition>> = HashMap::new();
    let mut needs_of: HashMap<&crate::QName, Vec<String>> = HashMap::new();
    for n in &topo.node_templates {
        let mut chain = vec![n.id.as_str()];
        let mut cur = n.id.as_str();
        while let Some(h) = hosts.get(cur).and_then(|v| v.first()) {
            if chain.contains(h) {
                if *h == n.id {
                    out.push(at(
                        Diagnostic::error(
                            "hosting-cycle",
                            &n.id,
                            format!("HostedOn cycle: {} -> {}", chain.join(" -> "), h),
                        )
                        .with_hint("a node cannot (indirectly) host itself; remove one HostedOn"),
                        n.line,
                    ));
                }
                break;
            }
            chain.push(h);
            cur = h;
        }
        if hosts.get(n.id.as_str()).is_some_and(|v| v.len() > 1) {
            out.push(at(
                Diagnostic::error(
                    "missing-host",
                    &n.id,
                    "node is hosted on more than one node",
                )
                .with_hint("keep one HostedOn per node"),
                n.line,
            ));
        }
        // Requirements (from the type) must be met by a capability somewhere down the stack or
        // by a node connected to it.
        let stack: Vec<&NodeTemplate> = chain
            .iter()
            .skip(1)
            .filter_map(|id| index.node(id))
            .collect();
        let defs = req_defs.entry(&n.type_ref).or_insert_with(|| {
            lib.node_requirement_definitions(&n.type_ref)
                .into_iter()
                .cloned()
                .collect()
        });
        for req in defs.iter() {
            if req.lower_bound == 0 {
                continue;
            }
            let wanted = lib
                .requirement_type(&req.type_ref)
                .and_then(|r| r.required_capability_type.clone());
            let Some(wanted) = wanted else { continue };
            let has = |m: &NodeTemplate| {
                lib.node_capability_definitions(&m.type_ref)
                    .iter()
                    .map(|c| &c.type_ref)
                    .chain(m.capabilities.iter().map(|c| &c.type_ref))
                    .any(|c| lib.derives_from(TypeKind::CapabilityType, c, &wanted))
            };
            let connected = outgoing.get(n.id.as_str()).into_iter().flatten().copied();
            let speaks_caps = |m: &NodeTemplate| {
                !m.capabilities.is_empty()
                    || !lib.node_capability_definitions(&m.type_ref).is_empty()
            };
            // Nodes below or connected that declare capabilities but not the wanted one are a
            // conflict (error); nodes that declare none are untyped hosting (warning).
            let conflict = stack.iter().any(|m| speaks_caps(m));
            if !stack.iter().any(|m| has(m)) && !connected.clone().any(has) {
                // With nothing below or connected, the topology is open for completion (Winery's
                // topology completion fills such requirements): a warning, not an error.
                let open = !conflict;
                let hint = if stack.is_empty() {
                    format!(
                        "host it (HostedOn) on a stack that ends on a node with capability {}",
                        wanted.local
                    )
                } else {
                    format!(
                        "the stack below ({}) has no node with capability {}",
                        chain[1..].join(" -> "),
                        wanted.local
                    )
                };
                let msg = format!(
                    "requirement {} ({}) is not met",
                    req.name, req.type_ref.local
                );
                let d = if open {
                    Diagnostic::warning("requirement-unmatched", &n.id, msg)
                } else {
                    Diagnostic::error("requirement-unmatched", &n.id, msg)
                };
                out.push(at(d.with_hint(hint), n.line));
            }
        }
        // A node with lifecycle operations that needs devices' addresses from below has no host.
        let hosts_others = hosted_targets.contains(n.id.as_str());
        if !hosts.contains_key(n.id.as_str()) && !hosts_others {
            let needs = needs_of.entry(&n.type_ref).or_insert_with(|| {
                let mut v: Vec<String> = lib
                    .node_interfaces(&n.type_ref)
                    .iter()
                    .flat_map(|i| i.operations.iter())
                    .flat_map(|o| o.inputs.iter())
                    .filter(|p| p.required)
                    .map(|p| p.name.clone())
                    .collect();
                v.sort();
                v.dedup();
                v
            });
            let missing: Vec<&String> = needs
                .iter()
                .filter(|k| n.property(k).is_none() && !own_key(lib, n, k))
                .collect();
            if !missing.is_empty() && lib.node_type(&n.type_ref).is_some() {
                let mut m: Vec<&str> = missing.into_iter().map(String::as_str).collect();
                m.sort();
                // A warning: some containers fill inputs at run time; the planner reports what
                // is really missing before anything runs.
                out.push(at(
                    Diagnostic::warning("missing-host", &n.id, format!("no HostedOn host provides {}", m.join(", ")))
                        .with_hint("connect it with HostedOn to the node that has these properties (e.g. its hardware)"),
                    n.line,
                ));
            }
        }
    }
    // Logins taken from ConnectsTo targets that contradict each other.
    out.extend(crate::plan::check_logins(lib, st, file.clone()));
    // Constraints, scalar-units and data types of node types read from TOSCA YAML.
    out.extend(crate::yaml::validate::check_service_template(lib, st, file));
    out
}

fn own_key(lib: &Library, n: &NodeTemplate, key: &str) -> bool {
    lib.node_properties_definition(&n.type_ref)
        .is_some_and(|d| d.keys().iter().any(|k| k.key == key))
}

fn check_properties(
    lib: &Library,
    n: &NodeTemplate,
    out: &mut Vec<Diagnostic>,
    file: &Option<PathBuf>,
) {
    let at = |d: Diagnostic| d.at(file.clone(), n.line);
    if let Some(PropertiesDefinition::KeyValue { properties, .. }) =
        lib.node_properties_definition(&n.type_ref)
    {
        for def in properties {
            let value = n.property(&def.key);
            if def.required && def.default.is_none() && value.is_none_or(|v| v.trim().is_empty()) {
                out.push(at(Diagnostic::error(
                    "missing-property",
                    &n.id,
                    format!("required property '{}' has no value", def.key),
                )
                .with_hint(
                    "fill it in the inspector, or write get_input: NAME to ask at deploy time",
                )));
            }
            if let Some(v) = value.filter(|v| !v.trim().is_empty() && input_name(v).is_none()) {
                let ok = match def
                    .type_name
                    .trim_start_matches("xsd:")
                    .trim_start_matches("xs:")
                {
                    "integer" | "int" | "long" | "short" | "nonNegativeInteger"
                    | "positiveInteger" => v.trim().parse::<i64>().is_ok(),
                    "boolean" => matches!(v.trim(), "true" | "false" | "1" | "0"),
                    "decimal" | "float" | "double" => v.trim().parse::<f64>().is_ok(),
                    _ => true,
                };
                if !ok {
                    out.push(at(Diagnostic::error(
                        "property-type",
                        &n.id,
                        format!(
                            "property '{}' = '{v}' is not of type {}",
                            def.key, def.type_name
                        ),
                    )
                    .with_hint("enter a value of the declared type")));
                }
            }
        }
    }
    for key in JSON_LIST_KEYS {
        if let Some(v) = n
            .property(key)
            .filter(|v| !v.trim().is_empty() && input_name(v).is_none())
            && serde_json::from_str::<Vec<String>>(v).is_err()
        {
            out.push(at(Diagnostic::error(
                "json-list",
                &n.id,
                format!("property '{key}' is not a JSON list of strings: {v}"),
            )
            .with_hint(r#"write it like ["a","b"]"#)));
        }
    }
    if let Some(p) = &n.properties {
        for (key, input) in p.inputs() {
            out.push(at(Diagnostic::warning(
                "deploy-input",
                &n.id,
                format!("property '{key}' is asked for at deploy time (input '{input}')"),
            )));
        }
    }
}
