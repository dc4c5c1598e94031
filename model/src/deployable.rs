//! Deploy checks: what Provisio's drivers would refuse for a reason the model already shows, said
//! before Deploy. A topology without errors here and in [`crate::validate`] deploys.
//!
//! Codes: `no-driver` (lifecycle operations no driver runs), `unsupported-operation`,
//! `driver-input` (an operation does not declare an input its driver needs), `missing-artifact`
//! (install without a firmware/container artifact from template or type, or an artifact
//! template that is not defined or names no file), `artifact-file-missing`, `address-format`,
//! `dependency-cycle`, `broker-tls` (an mqtts:// broker nobody said how to trust), and
//! `input-at-deploy` (warning: a value the user gives at deploy time).

use crate::diagnostic::Diagnostic;
use crate::drivers::{DriverKind, driver_kind, is_os_node};
use crate::library::Library;
use crate::plan::{PlanError, build_open_deploy_plan, deploy_operations};
use crate::tosca::properties::input_name;
use crate::tosca::{NodeTemplate, ServiceTemplate};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

/// Answers whether an artifact file reference (as written in an ArtifactTemplate) can be read
/// from where the topology was opened (CSAR, repository, folder or the built-in library).
pub trait ArtifactFiles {
    fn exists(&self, reference: &str) -> bool;
}

impl<F: Fn(&str) -> bool> ArtifactFiles for F {
    fn exists(&self, reference: &str) -> bool {
        self(reference)
    }
}

/// The deploy checks of `st` (in library file `file`, for locations).
pub fn check_deployable(
    lib: &Library,
    st: &ServiceTemplate,
    file: Option<PathBuf>,
    files: &dyn ArtifactFiles,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let at = |d: Diagnostic, line: u32| d.at(file.clone(), line);
    let mut ops_of: HashMap<&crate::QName, Vec<crate::tosca::Operation>> = HashMap::new();
    for n in &st.topology.node_templates {
        if lib.node_type(&n.type_ref).is_none() {
            continue; // unknown-type is reported by validation
        }
        let ops = ops_of
            .entry(&n.type_ref)
            .or_insert_with(|| deploy_operations(lib, &n.type_ref));
        if ops.is_empty() {
            continue; // hardware and other nodes without a lifecycle: nothing to run
        }
        let names: Vec<&str> = ops.iter().map(|o| o.name.as_str()).collect();
        let Some(kind) = driver_kind(lib, &n.type_ref) else {
            out.push(at(
                Diagnostic::error(
                    "no-driver",
                    &n.id,
                    format!(
                        "no driver runs {} of node type {}: Deploy would fail",
                        names.join("/"),
                        n.type_ref.local
                    ),
                )
                .with_hint(
                    "Provisio deploys NodeMCU_App, LXContainerRaspberryPi, RaspbianStretchLXC, \
                     LXContainerMICA and types derived from them; derive the type from one of these",
                ),
                n.line,
            ));
            continue;
        };
        let os = is_os_node(&n.type_ref);
        for op in ops.iter() {
            if !kind.supports(&op.name) {
                out.push(at(
                    Diagnostic::error(
                        "unsupported-operation",
                        &n.id,
                        format!(
                            "the {} driver has no operation '{}' (type {})",
                            kind.key(),
                            op.name,
                            n.type_ref.local
                        ),
                    )
                    .with_hint("remove the operation from the node type's lifecycle interface"),
                    n.line,
                ));
                continue;
            }
            for need in kind.required_inputs(&op.name, os) {
                if !op.inputs.iter().any(|p| p.name == *need) {
                    out.push(at(
                        Diagnostic::error(
                            "driver-input",
                            &n.id,
                            format!(
                                "operation '{}' of {} does not declare the input '{need}' the {} driver needs",
                                op.name, n.type_ref.local, kind.key()
                            ),
                        )
                        .with_hint("add the input parameter to the operation in the node type"),
                        n.line,
                    ));
                }
            }
        }
        if names.iter().any(|o| matches!(*o, "install" | "create"))
            && kind.install_needs_artifact(os)
        {
            check_artifacts(lib, n, kind, files, &mut out, &at);
        }
        if kind == DriverKind::Mica {
            check_mica_addresses(n, &mut out, &at);
        }
    }
    check_plan(lib, st, &mut out, &at);
    out
}

fn check_artifacts(
    lib: &Library,
    n: &NodeTemplate,
    kind: DriverKind,
    files: &dyn ArtifactFiles,
    out: &mut Vec<Diagnostic>,
    at: &dyn Fn(Diagnostic, u32) -> Diagnostic,
) {
    let das = lib.deployment_artifacts_of(n);
    if das.is_empty() {
        out.push(at(
            Diagnostic::error(
                "missing-artifact",
                &n.id,
                format!(
                    "install needs {} and neither the template nor its type {} has a deployment artifact",
                    kind.artifact_noun(),
                    n.type_ref.local
                ),
            )
            .with_hint("add a deployment artifact in the inspector, or give the type a NodeTypeImplementation with one"),
            n.line,
        ));
        return;
    }
    // The driver uses the first artifact it can: one usable artifact is enough.
    let mut problems = Vec::new();
    for da in &das {
        let Some(r) = &da.artifact_ref else {
            problems.push(format!(
                "deployment artifact '{}' names no artifact template",
                da.name
            ));
            continue;
        };
        let Some(t) = lib.artifact_template(r) else {
            problems.push(format!(
                "artifact template {r} of '{}' is not defined",
                da.name
            ));
            continue;
        };
        if t.references.is_empty() {
            problems.push(format!("artifact template {r} names no file"));
            continue;
        }
        let missing: Vec<&str> = t
            .references
            .iter()
            .map(|x| x.reference.as_str())
            .filter(|x| !files.exists(x))
            .collect();
        if missing.is_empty() {
            return;
        }
        problems.push(format!(
            "file {} of artifact template {r} is missing",
            missing.join(", ")
        ));
    }
    let code = if problems.iter().all(|p| p.starts_with("file ")) {
        "artifact-file-missing"
    } else {
        "missing-artifact"
    };
    out.push(at(
        Diagnostic::error(code, &n.id, format!("install has no usable artifact: {}", problems.join("; ")))
            .with_hint("put the file where the artifact template's reference points (Winery: artifacttemplates/<ns>/<id>/files/), or choose another artifact"),
        n.line,
    ));
}

fn check_mica_addresses(
    n: &NodeTemplate,
    out: &mut Vec<Diagnostic>,
    at: &dyn Fn(Diagnostic, u32) -> Diagnostic,
) {
    let Some(v) = n
        .property("addresses")
        .filter(|v| !v.trim().is_empty() && input_name(v).is_none())
    else {
        return;
    };
    if let Ok(list) = serde_json::from_str::<Vec<String>>(v) {
        for a in list.iter().filter(|a| !a.starts_with("https://")) {
            out.push(at(
                Diagnostic::error(
                    "address-format",
                    &n.id,
                    format!("MICA address '{a}' must start with https://"),
                )
                .with_hint("write it like https://192.168.1.20"),
                n.line,
            ));
        }
    }
}

/// An `mqtts://` broker needs a CA or pinned certificates to be trusted (the NodeMCU driver
/// refuses to connect otherwise).
fn check_broker_tls(
    lib: &Library,
    plan: &crate::plan::Plan,
    out: &mut Vec<Diagnostic>,
    at: &dyn Fn(Diagnostic, u32) -> Diagnostic,
    line_of: &dyn Fn(&str) -> u32,
) {
    let mut seen = std::collections::BTreeSet::new();
    for s in &plan.steps {
        if driver_kind(lib, &s.node_type) != Some(DriverKind::NodeMcu) || !seen.insert(&s.node) {
            continue;
        }
        let broker = s.input("pubSubServer").unwrap_or("").trim();
        let tls = ["mqtts://", "ssl://", "tls://"]
            .iter()
            .any(|p| broker.starts_with(p));
        let given = |k: &str| s.input(k).is_some_and(|v| !v.trim().is_empty());
        if tls && !given("brokerCaCertificate") && !given("brokerPinnedCertificates") {
            out.push(at(
                Diagnostic::error(
                    "broker-tls",
                    &s.node,
                    format!("the TLS broker {broker} cannot be trusted: neither brokerCaCertificate nor brokerPinnedCertificates is given"),
                )
                .with_hint("give the broker's CA (PEM) or pin its certificate on the NodeMCU template, or a get_input for it"),
                line_of(&s.node),
            ));
        }
    }
}

fn check_plan(
    lib: &Library,
    st: &ServiceTemplate,
    out: &mut Vec<Diagnostic>,
    at: &dyn Fn(Diagnostic, u32) -> Diagnostic,
) {
    let line_of = |id: &str| {
        st.topology
            .node_templates
            .iter()
            .find(|n| n.id == id)
            .map(|n| n.line)
            .unwrap_or(st.line)
    };
    match build_open_deploy_plan(lib, st, &BTreeMap::new()) {
        Err(PlanError::Cycle(path)) => {
            let first = path.first().cloned().unwrap_or_default();
            out.push(at(
                Diagnostic::error(
                    "dependency-cycle",
                    &first,
                    format!(
                        "node templates wait for each other in a cycle: {}",
                        path.join(" → ")
                    ),
                )
                .with_hint("remove one ConnectsTo/DependsOn/HostedOn relationship of the cycle"),
                line_of(&first),
            ));
        }
        Err(PlanError::MissingInputs(_)) => {}
        Ok((plan, missing)) => {
            check_broker_tls(lib, &plan, out, at, &line_of);
            let mut seen = std::collections::BTreeSet::new();
            for m in missing {
                if m.deploy_input.is_some() || !seen.insert((m.node.clone(), m.input.clone())) {
                    continue; // get_input values are reported as deploy-input already
                }
                out.push(at(
                    Diagnostic::warning(
                        "input-at-deploy",
                        &m.node,
                        format!("'{}' has no value here or down its hosting stack: it is asked for at deploy time", m.input),
                    )
                    .with_hint("fill it in the inspector to deploy without being asked"),
                    line_of(&m.node),
                ));
            }
        }
    }
}
