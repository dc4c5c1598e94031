//! Building plans: order node templates by their relationships (HostedOn, ConnectsTo and
//! DependsOn targets first), expand each node into its lifecycle operations, wire step
//! dependencies, and layer the DAG into stages of steps that can run in parallel.

use super::inputs::resolve_input;
use super::{MissingInput, Plan, PlanArtifact, PlanError, PlanKind, Step};
use crate::QName;
use crate::library::Library;
use crate::tosca::{
    BASE_TYPES_NS, LIFECYCLE_INTERFACE, LIFECYCLE_INTERFACE_PRIMER, ServiceTemplate, TypeKind,
};
use petgraph::graph::{DiGraph, NodeIndex};
use std::collections::{BTreeMap, HashMap};

/// What a relationship means for ordering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelationKind {
    HostedOn,
    ConnectsTo,
    DependsOn,
    /// Any other relationship type: no ordering.
    Other,
}

/// Classifies a relationship type along its DerivedFrom chain.
pub fn relation_kind(lib: &Library, type_ref: &QName) -> RelationKind {
    for q in lib.ancestry(TypeKind::RelationshipType, type_ref) {
        // XML base types, TOSCA YAML normative types, or unknown types by name.
        if q.namespace == BASE_TYPES_NS
            || q.namespace == "tosca.relationships"
            || lib.relationship_type(&q).is_none()
        {
            match q.local.as_str() {
                "HostedOn" => return RelationKind::HostedOn,
                "ConnectsTo" => return RelationKind::ConnectsTo,
                "DependsOn" => return RelationKind::DependsOn,
                _ => {}
            }
        }
    }
    RelationKind::Other
}

const LIFECYCLE_INTERFACES: &[&str] = &[
    LIFECYCLE_INTERFACE,
    LIFECYCLE_INTERFACE_PRIMER,
    "tosca.interfaces.node.lifecycle.Standard",
];
const DEPLOY_OPS: &[&[&str]] = &[&["install", "create"], &["configure"], &["start"]];
const UNDEPLOY_OPS: &[&[&str]] = &[&["stop"], &["uninstall", "delete"]];

/// Node graph: an edge a → b means a must be handled before b in a deploy.
struct NodeGraph {
    order: Vec<String>,
    /// node → nodes it waits for (deploy direction).
    waits_for: HashMap<String, Vec<String>>,
    /// node → its HostedOn chain, nearest host first.
    stacks: HashMap<String, Vec<String>>,
}

fn node_graph(lib: &Library, st: &ServiceTemplate) -> Result<NodeGraph, PlanError> {
    let topo = &st.topology;
    let index = crate::tosca::TopologyIndex::new(topo);
    let mut kinds: HashMap<&QName, RelationKind> = HashMap::new();
    let mut g: DiGraph<String, ()> = DiGraph::new();
    let mut idx: HashMap<&str, NodeIndex> = HashMap::new();
    for n in &topo.node_templates {
        idx.entry(n.id.as_str())
            .or_insert_with(|| g.add_node(n.id.clone()));
    }
    let mut hosts: HashMap<String, String> = HashMap::new();
    let mut waits_for: HashMap<String, Vec<String>> = HashMap::new();
    for r in &topo.relationship_templates {
        let kind = *kinds
            .entry(&r.type_ref)
            .or_insert_with(|| relation_kind(lib, &r.type_ref));
        if kind == RelationKind::Other {
            continue;
        }
        let (Some(src), Some(tgt)) = (
            index.endpoint_node(&r.source),
            index.endpoint_node(&r.target),
        ) else {
            continue; // dangling ends are reported by validation
        };
        if src.id == tgt.id {
            return Err(PlanError::Cycle(vec![src.id.clone(), tgt.id.clone()]));
        }
        g.update_edge(idx[tgt.id.as_str()], idx[src.id.as_str()], ());
        waits_for
            .entry(src.id.clone())
            .or_default()
            .push(tgt.id.clone());
        if kind == RelationKind::HostedOn {
            hosts
                .entry(src.id.clone())
                .or_insert_with(|| tgt.id.clone());
        }
    }
    let sorted = petgraph::algo::toposort(&g, None).map_err(|c| {
        let start = c.node_id();
        // Walk the cycle for a readable message.
        let mut path = vec![g[start].clone()];
        let mut cur = start;
        for _ in 0..g.node_count() {
            let Some(next) = g
                .neighbors(cur)
                .find(|n| petgraph::algo::has_path_connecting(&g, *n, start, None))
            else {
                break;
            };
            path.push(g[next].clone());
            if next == start {
                break;
            }
            cur = next;
        }
        PlanError::Cycle(path)
    })?;
    // Stable order: topological, ties broken by document order via a second pass.
    let doc_pos: HashMap<&str, usize> = topo
        .node_templates
        .iter()
        .enumerate()
        .map(|(i, n)| (n.id.as_str(), i))
        .collect();
    let mut level: HashMap<String, usize> = HashMap::new();
    for n in &sorted {
        let id = &g[*n];
        let l = waits_for
            .get(id)
            .map(|ws| {
                ws.iter()
                    .filter_map(|w| level.get(w))
                    .map(|l| l + 1)
                    .max()
                    .unwrap_or(0)
            })
            .unwrap_or(0);
        level.insert(id.clone(), l);
    }
    // The keys are looked up once, not in every comparison (hashing ids there was a fifth of
    // the plan of 10,000 nodes).
    let mut keyed: Vec<((usize, usize), &String)> = sorted
        .iter()
        .map(|n| {
            let id = &g[*n];
            let pos = doc_pos.get(id.as_str()).copied().unwrap_or(usize::MAX);
            ((level[id], pos), id)
        })
        .collect();
    keyed.sort_by_key(|(key, _)| *key);
    let mut order: Vec<String> = keyed.into_iter().map(|(_, id)| id.clone()).collect();
    order.dedup();
    let mut stacks = HashMap::new();
    for n in &order {
        let mut chain = Vec::new();
        let mut cur = n.clone();
        while let Some(h) = hosts.get(&cur) {
            if chain.contains(h) || h == n {
                break;
            }
            chain.push(h.clone());
            cur = h.clone();
        }
        stacks.insert(n.clone(), chain);
    }
    Ok(NodeGraph {
        order,
        waits_for,
        stacks,
    })
}

fn build(
    lib: &Library,
    st: &ServiceTemplate,
    deploy_inputs: &BTreeMap<String, String>,
    kind: PlanKind,
) -> Result<(Plan, Vec<MissingInput>), PlanError> {
    let graph = node_graph(lib, st)?;
    let topo = &st.topology;
    let index = crate::tosca::TopologyIndex::new(topo);
    let mut interfaces_of: HashMap<&QName, std::rc::Rc<Vec<crate::tosca::Interface>>> =
        HashMap::new();
    let phases = match kind {
        PlanKind::Deploy => DEPLOY_OPS,
        PlanKind::Undeploy => UNDEPLOY_OPS,
    };
    let node_order: Vec<String> = match kind {
        PlanKind::Deploy => graph.order.clone(),
        PlanKind::Undeploy => graph.order.iter().rev().cloned().collect(),
    };
    // In an undeploy, a node waits for the nodes that waited for it in the deploy.
    let mut waits: HashMap<String, Vec<String>> = HashMap::new();
    for (src, targets) in &graph.waits_for {
        for t in targets {
            match kind {
                PlanKind::Deploy => waits.entry(src.clone()).or_default().push(t.clone()),
                PlanKind::Undeploy => waits.entry(t.clone()).or_default().push(src.clone()),
            }
        }
    }
    let defaults = super::inputs::Defaults::new(lib);
    let edges = super::connections::Edges::new(lib, topo, &index);
    let conn_ctx = super::connections::Ctx {
        lib,
        index: &index,
        defaults: &defaults,
        stacks: &graph.stacks,
        deploy_inputs,
        edges: &edges,
    };
    let mut type_artifacts: HashMap<&QName, Vec<PlanArtifact>> = HashMap::new();
    let mut steps: Vec<Step> = Vec::new();
    let mut missing: Vec<MissingInput> = Vec::new();
    // The steps that mark a node as finished (its last step, or its dependencies' when it has none).
    let mut completion: HashMap<String, Vec<usize>> = HashMap::new();
    for node_id in &node_order {
        let Some(node) = index.node(node_id) else {
            continue;
        };
        let mut before: Vec<usize> = waits
            .get(node_id)
            .into_iter()
            .flatten()
            .flat_map(|w| completion.get(w).cloned().unwrap_or_default())
            .collect();
        before.sort_unstable();
        before.dedup();
        let interfaces = interfaces_of
            .entry(&node.type_ref)
            .or_insert_with(|| std::rc::Rc::new(lib.node_interfaces(&node.type_ref)))
            .clone();
        let lifecycle = LIFECYCLE_INTERFACES
            .iter()
            .find_map(|name| interfaces.iter().find(|i| i.name == *name));
        let stack = graph.stacks.get(node_id).cloned().unwrap_or_default();
        let mut last: Option<usize> = None;
        if let Some(iface) = lifecycle {
            for names in phases {
                let Some(op) = names
                    .iter()
                    .find_map(|n| iface.operations.iter().find(|o| o.name == *n))
                else {
                    continue;
                };
                let mut inputs: Vec<super::ResolvedInput> = op
                    .inputs
                    .iter()
                    .filter_map(|p| {
                        if p.name == super::CONNECTIONS_INPUT {
                            // Computed by the planner, never a property or deploy input.
                            return Some(super::ResolvedInput {
                                name: p.name.clone(),
                                value: super::connections::connections_json(&conn_ctx, node_id),
                                source: super::InputSource::Own,
                                secret: false,
                            });
                        }
                        resolve_input(
                            &defaults,
                            &index,
                            node_id,
                            &stack,
                            p,
                            deploy_inputs,
                            &op.name,
                            &mut missing,
                        )
                    })
                    .collect();
                // A container's own secrets come with its connections (never in them), and
                // the login of the target it logs in to when it has none of its own.
                if op.inputs.iter().any(|p| p.name == super::CONNECTIONS_INPUT) {
                    let login =
                        super::login::target_login(&conn_ctx, node_id, &op.name, &mut missing);
                    for s in super::connections::own_secrets(&conn_ctx, node_id)
                        .into_iter()
                        .chain(login)
                    {
                        if !inputs.iter().any(|i| i.name == s.name) {
                            inputs.push(s);
                        }
                    }
                }
                let artifacts = if !matches!(op.name.as_str(), "install" | "create") {
                    Vec::new()
                } else if node.deployment_artifacts.is_empty() {
                    // The type's artifacts, looked up once per type.
                    type_artifacts
                        .entry(&node.type_ref)
                        .or_insert_with(|| plan_artifacts(lib, node))
                        .clone()
                } else {
                    plan_artifacts(lib, node)
                };
                let deps = match last {
                    Some(l) => vec![l],
                    None => before.clone(),
                };
                steps.push(Step {
                    id: format!("{node_id}.{}", op.name),
                    node: node_id.clone(),
                    node_type: node.type_ref.clone(),
                    interface: iface.name.clone(),
                    operation: op.name.clone(),
                    inputs,
                    outputs: op.outputs.iter().map(|o| o.name.clone()).collect(),
                    artifacts,
                    deps,
                    stage: 0,
                });
                last = Some(steps.len() - 1);
            }
        }
        completion.insert(
            node_id.clone(),
            match last {
                Some(l) => vec![l],
                None => before,
            },
        );
    }
    // Stages: longest path from a root.
    for i in 0..steps.len() {
        let stage = steps[i]
            .deps
            .iter()
            .map(|&d| steps[d].stage + 1)
            .max()
            .unwrap_or(0);
        steps[i].stage = stage;
    }
    let n_stages = steps.iter().map(|s| s.stage + 1).max().unwrap_or(0);
    let mut stages = vec![Vec::new(); n_stages];
    for (i, s) in steps.iter().enumerate() {
        stages[s.stage].push(i);
    }
    Ok((
        Plan {
            kind,
            service_template: st.qname(),
            steps,
            stages,
            node_order,
        },
        missing,
    ))
}

/// The artifacts an install step of `node` deploys: its own, else its type's (see
/// [`Library::deployment_artifacts_of`]), with the files of their artifact templates.
fn plan_artifacts(lib: &Library, node: &crate::tosca::NodeTemplate) -> Vec<PlanArtifact> {
    lib.deployment_artifacts_of(node)
        .into_iter()
        .map(|da| {
            let files = da
                .artifact_ref
                .as_ref()
                .and_then(|r| lib.artifact_template(r))
                .map(|t| t.references.iter().map(|r| r.reference.clone()).collect())
                .unwrap_or_default();
            PlanArtifact {
                name: da.name.clone(),
                artifact_type: da.artifact_type.clone(),
                template: da.artifact_ref,
                files,
            }
        })
        .collect()
}

fn strict(built: Result<(Plan, Vec<MissingInput>), PlanError>) -> Result<Plan, PlanError> {
    let (plan, missing) = built?;
    if missing.is_empty() {
        Ok(plan)
    } else {
        Err(PlanError::MissingInputs(missing))
    }
}

/// The lifecycle operations a node type's deploy runs (install/create, configure, start), in
/// order, as the planner finds them.
pub fn deploy_operations(lib: &Library, node_type: &QName) -> Vec<crate::tosca::Operation> {
    let interfaces = lib.node_interfaces(node_type);
    let Some(iface) = LIFECYCLE_INTERFACES
        .iter()
        .find_map(|name| interfaces.iter().find(|i| i.name == *name))
    else {
        return Vec::new();
    };
    DEPLOY_OPS
        .iter()
        .chain(UNDEPLOY_OPS)
        .filter_map(|names| {
            names
                .iter()
                .find_map(|n| iface.operations.iter().find(|o| o.name == *n))
                .cloned()
        })
        .collect()
}

/// A deploy plan that shows inputs nobody provided yet as `<input: NAME>` and lists them
/// (for `provisio plan` and validation); only a dependency cycle is an error.
pub fn build_open_deploy_plan(
    lib: &Library,
    st: &ServiceTemplate,
    deploy_inputs: &BTreeMap<String, String>,
) -> Result<(Plan, Vec<MissingInput>), PlanError> {
    build(lib, st, deploy_inputs, PlanKind::Deploy)
}

/// The undeploy counterpart of [`build_open_deploy_plan`].
pub fn build_open_undeploy_plan(
    lib: &Library,
    st: &ServiceTemplate,
    deploy_inputs: &BTreeMap<String, String>,
) -> Result<(Plan, Vec<MissingInput>), PlanError> {
    build(lib, st, deploy_inputs, PlanKind::Undeploy)
}

/// The deploy plan of `st` (install, configure, start; hosts and connection targets first).
pub fn build_deploy_plan(
    lib: &Library,
    st: &ServiceTemplate,
    deploy_inputs: &BTreeMap<String, String>,
) -> Result<Plan, PlanError> {
    strict(build(lib, st, deploy_inputs, PlanKind::Deploy))
}

/// The undeploy plan of `st` (stop, uninstall; hosts last).
pub fn build_undeploy_plan(
    lib: &Library,
    st: &ServiceTemplate,
    deploy_inputs: &BTreeMap<String, String>,
) -> Result<Plan, PlanError> {
    strict(build(lib, st, deploy_inputs, PlanKind::Undeploy))
}
