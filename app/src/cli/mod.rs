//! The command-line interface: `provisio validate|export-csar|plan|deploy|undeploy|fleet|…`.
//! Each subcommand lives in its own module and returns the process exit code.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

pub mod plan;
pub mod select;
pub mod validate;

/// Provisio: model, validate, export and deploy TOSCA topologies of IoT systems.
#[derive(Debug, Parser)]
#[command(name = "provisio", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate a TOSCA file, Winery repository folder or CSAR.
    Validate {
        path: PathBuf,
        /// Print one JSON object instead of human-readable lines.
        #[arg(long)]
        json: bool,
    },
    /// Print the deployment plan: stages of lifecycle steps with resolved inputs.
    Plan {
        path: PathBuf,
        /// `{namespace}id` or id of the service template (optional when there is one).
        #[arg(long)]
        service_template: Option<String>,
        #[arg(long)]
        json: bool,
        /// Deploy input `KEY=VALUE` (repeatable), e.g. for `get_input:` properties.
        #[arg(long = "input", value_name = "KEY=VALUE")]
        inputs: Vec<String>,
        /// Print the undeploy plan instead.
        #[arg(long)]
        undeploy: bool,
    },
}

/// Runs the CLI; returns the exit code.
pub fn run(cli: Cli) -> i32 {
    match cli.command {
        Some(Command::Validate { path, json }) => validate::run(&path, json),
        Some(Command::Plan { path, service_template, json, inputs, undeploy }) => {
            plan::run(&path, service_template.as_deref(), json, &inputs, undeploy)
        }
        None => 0,
    }
}
