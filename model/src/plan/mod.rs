//! Deployment plans: from a service template to a DAG of lifecycle steps with every operation
//! input resolved (own properties, then down the HostedOn stack, then deploy inputs), and the
//! reverse plan for undeploy. Pure data: the engine executes it.

mod build;
mod connections;
mod inputs;
mod login;

pub use build::{
    RelationKind, build_deploy_plan, build_open_deploy_plan, build_open_undeploy_plan,
    build_undeploy_plan, deploy_operations, relation_kind,
};
pub use connections::{CONNECTIONS_INPUT, first_host};
pub use inputs::{is_secret_name, missing_marker};
pub use login::{LOGIN_TAG, check_logins, login_keys};

use crate::QName;
use std::collections::BTreeMap;
use std::fmt;

/// Deploy or undeploy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlanKind {
    Deploy,
    Undeploy,
}

/// Where an input value came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "from", content = "name", rename_all = "kebab-case")]
pub enum InputSource {
    /// A property of the node itself.
    Own,
    /// A property of a node below it in its HostedOn stack.
    Host(String),
    /// A deploy-time input (`get_input:` or asked for).
    DeployInput(String),
    /// A property of a ConnectsTo target: the login its type declares for the nodes that
    /// connect to it (see the `login` module).
    Target(String),
}

/// A resolved operation input.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ResolvedInput {
    pub name: String,
    pub value: String,
    pub source: InputSource,
    /// Passwords, tokens, keys: masked in every display.
    pub secret: bool,
}

impl ResolvedInput {
    /// The value as it may be shown (`***` for secrets).
    pub fn shown(&self) -> &str {
        if self.is_missing() {
            &self.value // `<input: NAME>`: nothing secret in it
        } else if self.secret {
            "***"
        } else {
            &self.value
        }
    }

    /// Whether this is the placeholder of an open plan for an input nobody gave yet.
    pub fn is_missing(&self) -> bool {
        matches!(&self.source, InputSource::DeployInput(n) if self.value == inputs::missing_marker(n))
    }
}

/// A deployment artifact a step needs (for install): its artifact template and file references.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PlanArtifact {
    pub name: String,
    pub artifact_type: QName,
    pub template: Option<QName>,
    /// File references of the artifact template (relative to the CSAR/repository root).
    pub files: Vec<String>,
}

/// One lifecycle operation of one node template.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Step {
    /// `node.operation`, unique in the plan.
    pub id: String,
    pub node: String,
    pub node_type: QName,
    pub interface: String,
    pub operation: String,
    pub inputs: Vec<ResolvedInput>,
    /// Output parameter names the operation declares.
    pub outputs: Vec<String>,
    pub artifacts: Vec<PlanArtifact>,
    /// Indices of the steps this one waits for.
    pub deps: Vec<usize>,
    /// Stage number: every step of a stage can run in parallel.
    pub stage: usize,
}

impl Step {
    /// An input value by name.
    pub fn input(&self, name: &str) -> Option<&str> {
        self.inputs
            .iter()
            .find(|i| i.name == name)
            .map(|i| i.value.as_str())
    }

    /// Inputs as a map (secrets included, unmasked: for drivers only).
    pub fn input_map(&self) -> BTreeMap<String, String> {
        self.inputs
            .iter()
            .map(|i| (i.name.clone(), i.value.clone()))
            .collect()
    }
}

/// A plan: steps in dependency order with their stages.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Plan {
    pub kind: PlanKind,
    pub service_template: QName,
    pub steps: Vec<Step>,
    /// Step indices per stage.
    pub stages: Vec<Vec<usize>>,
    /// Node templates in the order they are handled (deploy: hosts first).
    pub node_order: Vec<String>,
}

impl Plan {
    pub fn deps(&self) -> Vec<Vec<usize>> {
        self.steps.iter().map(|s| s.deps.clone()).collect()
    }
}

/// An input nobody provided.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MissingInput {
    pub node: String,
    pub operation: String,
    pub input: String,
    /// The `get_input:` name to provide, when the value asked for one.
    pub deploy_input: Option<String>,
}

/// Why no plan could be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize)]
pub enum PlanError {
    #[error("node templates depend on each other in a cycle: {}", .0.join(" → "))]
    Cycle(Vec<String>),
    #[error("{} input(s) have no value: {}", .0.len(), describe_missing(.0))]
    MissingInputs(Vec<MissingInput>),
}

fn describe_missing(m: &[MissingInput]) -> String {
    m.iter()
        .map(|m| match &m.deploy_input {
            Some(d) => format!(
                "{}.{} needs '{}' (get_input: {d})",
                m.node, m.operation, m.input
            ),
            None => format!("{}.{} needs '{}'", m.node, m.operation, m.input),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:?} plan for {}: {} steps in {} stages",
            self.kind,
            self.service_template,
            self.steps.len(),
            self.stages.len()
        )?;
        for (n, stage) in self.stages.iter().enumerate() {
            writeln!(f, "stage {}:", n + 1)?;
            for &i in stage {
                let s = &self.steps[i];
                writeln!(f, "  {} ({})", s.id, s.node_type.local)?;
                for inp in &s.inputs {
                    let from = match &inp.source {
                        InputSource::Own => String::new(),
                        InputSource::Host(h) => format!("  [from {h}]"),
                        InputSource::DeployInput(d) => format!("  [input {d}]"),
                        InputSource::Target(t) => format!("  [login of {t}]"),
                    };
                    writeln!(f, "      {} = {}{from}", inp.name, inp.shown())?;
                }
                for a in &s.artifacts {
                    writeln!(f, "      artifact {} {}", a.name, a.files.join(", "))?;
                }
            }
        }
        Ok(())
    }
}
