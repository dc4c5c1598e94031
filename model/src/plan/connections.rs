//! The planner-computed `connections` input: a node's own host and properties and its
//! ConnectsTo neighbours (targets and sources) with their types, artifacts, host address and
//! properties, as one JSON document a
//! container reads at start (`/etc/provisio/connections.json`). This is how a Node-RED
//! container learns its broker and its InfluxDB from the topology instead of from an image.

use super::RelationKind;
use super::inputs::{Defaults, is_secret_name};
use super::{InputSource, ResolvedInput};
use crate::Library;
use crate::QName;
use crate::tosca::properties::input_name;
use crate::tosca::{TopologyIndex, TopologyTemplate, TypeKind};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};

/// The input name an operation declares to receive its node's connections.
pub const CONNECTIONS_INPUT: &str = "connections";

/// ConnectsTo edges of a topology, both directions.
pub(crate) struct Edges {
    targets: HashMap<String, Vec<String>>,
    sources: HashMap<String, Vec<String>>,
}

impl Edges {
    pub(crate) fn new(lib: &Library, topo: &TopologyTemplate, index: &TopologyIndex<'_>) -> Self {
        let mut kinds: HashMap<&QName, RelationKind> = HashMap::new();
        let mut edges = Edges {
            targets: HashMap::new(),
            sources: HashMap::new(),
        };
        for r in &topo.relationship_templates {
            let kind = *kinds
                .entry(&r.type_ref)
                .or_insert_with(|| super::relation_kind(lib, &r.type_ref));
            if kind != RelationKind::ConnectsTo {
                continue;
            }
            let (Some(s), Some(t)) = (
                index.endpoint_node(&r.source),
                index.endpoint_node(&r.target),
            ) else {
                continue;
            };
            edges
                .targets
                .entry(s.id.clone())
                .or_default()
                .push(t.id.clone());
            edges
                .sources
                .entry(t.id.clone())
                .or_default()
                .push(s.id.clone());
        }
        edges
    }

    /// The ConnectsTo targets of node `id`, in document order.
    pub(crate) fn targets_of(&self, id: &str) -> &[String] {
        self.targets.get(id).map_or(&[], Vec::as_slice)
    }
}

/// Everything the JSON needs, borrowed from the planner.
pub(crate) struct Ctx<'a, 'b> {
    pub lib: &'a Library,
    pub index: &'b TopologyIndex<'b>,
    pub defaults: &'b Defaults<'a>,
    pub stacks: &'b HashMap<String, Vec<String>>,
    pub deploy_inputs: &'b BTreeMap<String, String>,
    pub edges: &'b Edges,
}

/// The `connections` document of `node`.
pub(crate) fn connections_json(ctx: &Ctx<'_, '_>, node: &str) -> String {
    let list = |ids: Option<&Vec<String>>| -> Vec<Value> {
        ids.into_iter()
            .flatten()
            .map(|id| neighbour(ctx, id))
            .collect()
    };
    // The node itself too: a container reads its own properties (port, database, …) here.
    let properties = stack_properties(ctx, node);
    let host = host_of(&properties);
    json!({
        "node": node,
        "host": host,
        "properties": Value::Object(properties),
        "targets": list(ctx.edges.targets.get(node)),
        "sources": list(ctx.edges.sources.get(node)),
    })
    .to_string()
}

fn neighbour(ctx: &Ctx<'_, '_>, id: &str) -> Value {
    let Some(n) = ctx.index.node(id) else {
        return json!({ "node": id });
    };
    let types: Vec<String> = ctx
        .lib
        .ancestry(TypeKind::NodeType, &n.type_ref)
        .into_iter()
        .map(|q| q.local)
        .collect();
    // Artifact templates by name (YAML artifacts have none: their own name).
    let artifacts: Vec<String> = ctx
        .lib
        .deployment_artifacts_of(n)
        .into_iter()
        .map(|da| da.artifact_ref.map_or(da.name, |r| r.local))
        .collect();
    let properties = stack_properties(ctx, id);
    let host = host_of(&properties);
    json!({
        "node": id,
        "types": types,
        "artifacts": artifacts,
        "host": host,
        "properties": Value::Object(properties),
    })
}

/// The host part of the first of `addresses` found down a stack, else null.
fn host_of(properties: &Map<String, Value>) -> Value {
    properties
        .get("addresses")
        .and_then(Value::as_str)
        .and_then(first_host)
        .map(Value::String)
        .unwrap_or(Value::Null)
}

/// The node's properties (type defaults filled in), then those down its HostedOn stack; the
/// nearest owner of a key wins. Secrets are left out; `get_input:` values are taken from the
/// deploy inputs or left out.
fn stack_properties(ctx: &Ctx<'_, '_>, id: &str) -> Map<String, Value> {
    let mut out = Map::new();
    let stack = ctx.stacks.get(id).cloned().unwrap_or_default();
    for owner in std::iter::once(id.to_string()).chain(stack) {
        let put = |k: &str, v: &str| {
            if is_secret_name(k) || out.contains_key(k) || v.trim().is_empty() {
                return;
            }
            let value = match input_name(v) {
                // A secret given at deploy time stays secret whatever the property's name.
                Some(input) if is_secret_name(input) => return,
                Some(input) => match ctx.deploy_inputs.get(input) {
                    Some(given) => given.clone(),
                    None => return,
                },
                None => v.to_string(),
            };
            out.insert(k.to_string(), Value::String(value));
        };
        each_property(ctx, owner.as_str(), put);
    }
    out
}

/// Calls `put` with each property of node `id`'s template, then with its type's defaults
/// (sorted by name), so a template's own value comes first.
fn each_property(ctx: &Ctx<'_, '_>, id: &str, mut put: impl FnMut(&str, &str)) {
    let Some(n) = ctx.index.node(id) else {
        return;
    };
    if let Some(kv) = n.properties.as_ref().and_then(|p| p.kv()) {
        for (k, v) in kv {
            put(k, v);
        }
    }
    let defaults = ctx.defaults.all(&n.type_ref);
    let mut keys: Vec<&String> = defaults.keys().collect();
    keys.sort();
    for k in keys {
        put(k, &defaults[k]);
    }
}

/// The node's own secrets for its container (`/etc/provisio/secrets.env`): its template's
/// properties (type defaults filled in) of a secret name or taking a deploy input of a secret
/// name, as secret inputs named after the property. Never its hosts' (their login) nor its
/// neighbours'; a `get_input:` nobody gave is left out.
///
/// The one exception, added by the planner next to these ([`super::login::target_login`]): an
/// operation that declares `connections` also gets the login of a ConnectsTo *target* (the
/// properties the `provisio:login` tags of both types name, e.g. a HomeMaticCCU's `ccuUser`
/// and `ccuPassword` for the HomeMaticPoller connecting to it) when the node sets no login
/// property of its own; the target's secret then reaches this node's secrets file only, never
/// that of a source of the target, of another neighbour or of a host.
pub(crate) fn own_secrets(ctx: &Ctx<'_, '_>, id: &str) -> Vec<ResolvedInput> {
    let mut out: Vec<ResolvedInput> = Vec::new();
    let put = |k: &str, v: &str| {
        if v.trim().is_empty() || out.iter().any(|i| i.name == k) {
            return;
        }
        let (value, source) = match input_name(v) {
            Some(input) if is_secret_name(k) || is_secret_name(input) => {
                match ctx.deploy_inputs.get(input) {
                    Some(given) => (given.clone(), InputSource::DeployInput(input.to_string())),
                    None => return,
                }
            }
            Some(_) => return,
            None if is_secret_name(k) => (v.to_string(), InputSource::Own),
            None => return,
        };
        out.push(ResolvedInput {
            name: k.to_string(),
            value,
            source,
            secret: true,
        });
    };
    each_property(ctx, id, put);
    out
}

/// The host part of the first address of an `addresses` value (a JSON list or one address):
/// scheme, user, path and port stripped, IPv6 brackets removed.
pub fn first_host(addresses: &str) -> Option<String> {
    let first = match serde_json::from_str::<Vec<String>>(addresses) {
        Ok(list) => list.into_iter().next()?,
        Err(_) => addresses.trim().to_string(),
    };
    let rest = first.split_once("://").map_or(first.as_str(), |(_, r)| r);
    let rest = rest.split('/').next().unwrap_or(rest);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let host = if let Some(v6) = rest.strip_prefix('[') {
        v6.split(']').next().unwrap_or(v6)
    } else if rest.matches(':').count() == 1 {
        rest.split(':').next().unwrap_or(rest)
    } else {
        rest // a bare IPv6 address or a plain host
    };
    (!host.is_empty()).then(|| host.to_string())
}

#[cfg(test)]
mod tests {
    use super::first_host;

    #[test]
    fn hosts_of_addresses() {
        assert_eq!(
            first_host(r#"["192.168.0.19"]"#).as_deref(),
            Some("192.168.0.19")
        );
        assert_eq!(
            first_host(r#"["https://192.168.0.20:8443/x", "b"]"#).as_deref(),
            Some("192.168.0.20")
        );
        assert_eq!(
            first_host("pi@raspberry.local:2222").as_deref(),
            Some("raspberry.local")
        );
        assert_eq!(
            first_host(r#"["[fe80::1]:22"]"#).as_deref(),
            Some("fe80::1")
        );
        assert_eq!(first_host("fe80::1").as_deref(), Some("fe80::1"));
        assert_eq!(first_host("[]"), None);
    }
}
