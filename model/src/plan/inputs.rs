//! Resolving operation inputs the way the thesis does: the node's own properties first, then
//! the nodes below it along HostedOn, then deploy inputs; `get_input: NAME` defers to the deploy
//! input `NAME`.

use super::{InputSource, MissingInput, ResolvedInput};
use crate::tosca::properties::input_name;
use crate::tosca::{Parameter, TopologyIndex};
use std::collections::BTreeMap;

/// Resolves a `{"get_property": [entity, name]}` value (how TOSCA YAML's function reaches the
/// model) to the named property of SELF (`node`), HOST (the nearest host that has it) or a node
/// template; `None` when `value` is not such a call or names nothing.
fn get_property(
    lib: &crate::Library,
    topo: &TopologyIndex<'_>,
    node: &str,
    stack: &[String],
    value: &str,
    depth: usize,
) -> Option<String> {
    let v = value.trim();
    if depth > 8 || !v.starts_with("{\"get_property\"") {
        return None;
    }
    let call: BTreeMap<String, Vec<String>> = serde_json::from_str(v).ok()?;
    let args = call.get("get_property")?;
    let (entity, name) = (args.first()?, args.get(1)?);
    let owners: Vec<&str> = match entity.as_str() {
        "SELF" => vec![node],
        "HOST" => stack.iter().map(String::as_str).collect(),
        other => vec![other],
    };
    owners.into_iter().find_map(|o| {
        let n = topo.node(o)?;
        let found = n
            .property(name)
            .filter(|v| !v.trim().is_empty())
            .or_else(|| lib.property_default(&n.type_ref, name))?;
        Some(get_property(lib, topo, o, &[], found, depth + 1).unwrap_or_else(|| found.to_string()))
    })
}

/// The placeholder an open plan shows for an input nobody provided yet.
pub fn missing_marker(name: &str) -> String {
    format!("<input: {name}>")
}

/// Whether an input of this name holds a secret (masked everywhere).
pub fn is_secret_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "password",
        "passwd",
        "secret",
        "token",
        "privatekey",
        "private_key",
        "apikey",
        "api_key",
    ]
    .iter()
    .any(|s| n.contains(s))
}

/// Resolves one parameter for `node`; `stack` is the node's HostedOn chain (excluding itself).
#[allow(clippy::too_many_arguments)]
pub(crate) fn resolve_input(
    lib: &crate::Library,
    topo: &TopologyIndex<'_>,
    node: &str,
    stack: &[String],
    param: &Parameter,
    deploy_inputs: &BTreeMap<String, String>,
    operation: &str,
    missing: &mut Vec<MissingInput>,
) -> Option<ResolvedInput> {
    let mut asked_for: Option<String> = None;
    let candidates = std::iter::once((node, InputSource::Own)).chain(
        stack
            .iter()
            .map(|h| (h.as_str(), InputSource::Host(h.clone()))),
    );
    for (id, source) in candidates {
        let Some(n) = topo.node(id) else {
            continue;
        };
        // The template's value; an empty or absent one falls back to the type's default.
        let value = match n.property(&param.name) {
            Some(v) if !v.trim().is_empty() => Some(v),
            _ => lib.property_default(&n.type_ref, &param.name),
        };
        let Some(value) = value else {
            continue;
        };
        // TOSCA YAML's `{get_property: [SELF|HOST|node, name]}`, resolved now (depth-limited).
        let owned;
        let value = match get_property(lib, topo, id, stack, value, 0) {
            Some(v) => {
                owned = v;
                owned.as_str()
            }
            None => value,
        };
        if let Some(input) = input_name(value) {
            if let Some(v) = deploy_inputs.get(input) {
                return Some(ResolvedInput {
                    name: param.name.clone(),
                    value: v.clone(),
                    source: InputSource::DeployInput(input.to_string()),
                    secret: is_secret_name(&param.name),
                });
            }
            asked_for.get_or_insert_with(|| input.to_string());
            continue;
        }
        if value.trim().is_empty() {
            continue; // an empty property is asked for at deploy time
        }
        return Some(ResolvedInput {
            name: param.name.clone(),
            value: value.to_string(),
            source,
            secret: is_secret_name(&param.name),
        });
    }
    if let Some(v) = deploy_inputs.get(&param.name) {
        return Some(ResolvedInput {
            name: param.name.clone(),
            value: v.clone(),
            source: InputSource::DeployInput(param.name.clone()),
            secret: is_secret_name(&param.name),
        });
    }
    if param.required || asked_for.is_some() {
        let name = asked_for.clone().unwrap_or_else(|| param.name.clone());
        missing.push(MissingInput {
            node: node.to_string(),
            operation: operation.to_string(),
            input: param.name.clone(),
            deploy_input: asked_for,
        });
        // A marked placeholder: a strict plan refuses it, an open plan shows it.
        return Some(ResolvedInput {
            name: param.name.clone(),
            value: missing_marker(&name),
            source: InputSource::DeployInput(name),
            secret: is_secret_name(&param.name),
        });
    }
    None
}
