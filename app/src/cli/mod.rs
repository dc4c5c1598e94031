//! The command-line interface: `provisio validate|export-csar|plan|deploy|undeploy|fleet|…`.
//! Each subcommand lives in its own module and returns the process exit code.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

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
}

/// Runs the CLI; returns the exit code.
pub fn run(cli: Cli) -> i32 {
    match cli.command {
        Some(Command::Validate { path, json }) => validate::run(&path, json),
        None => 0,
    }
}
