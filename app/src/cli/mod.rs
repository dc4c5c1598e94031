//! The command-line interface: `provisio validate|export-csar|plan|deploy|undeploy|fleet|…`.
//! Each subcommand lives in its own module and returns the process exit code.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

pub mod bench;
pub mod bench_model;
pub mod bench_repository;
pub mod deploy;
pub mod export_csar;
pub mod logs;
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
    /// Export a service template as a CSAR (with every type, implementation and artifact it needs).
    ExportCsar {
        path: PathBuf,
        #[arg(long)]
        service_template: Option<String>,
        /// Output file.
        #[arg(short, long)]
        output: PathBuf,
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
    /// Deploy a service template (to real devices, or simulated ones with --simulate).
    Deploy {
        path: PathBuf,
        #[arg(long)]
        service_template: Option<String>,
        /// Deploy input `KEY=VALUE` (repeatable).
        #[arg(long = "input", value_name = "KEY=VALUE")]
        inputs: Vec<String>,
        /// Use simulated devices: embedded broker, fleet simulator, local stand-ins.
        #[arg(long)]
        simulate: bool,
        /// Fault for simulated devices, e.g. `offline@1361877`, `corrupt:0.1`, `refuse-start@ID`.
        #[arg(long = "fault", value_name = "FAULT")]
        faults: Vec<String>,
        /// Seed for fault assignment.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Trust SSH host keys seen for the first time and remember them in ~/.ssh/known_hosts.
        #[arg(long)]
        accept_new_host_keys: bool,
    },
    /// Undeploy an instance (see `provisio instances`).
    Undeploy {
        instance: String,
        #[arg(long = "input", value_name = "KEY=VALUE")]
        inputs: Vec<String>,
    },
    /// List deployed instances.
    Instances,
    /// Log analysis (anomaly scores per line and per file).
    #[command(subcommand)]
    Logs(LogsCommand),
    /// Benchmarks that print figures.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Debug, Subcommand)]
pub enum LogsCommand {
    /// Print the most anomalous lines of the given log files.
    Analyze {
        files: Vec<PathBuf>,
        #[arg(long, default_value_t = 20)]
        top: usize,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Model figures: load the OpenTOSCA repository, a 10,000-node topology, CSAR export.
    Model {
        /// The corpus folder (tests/corpus or ../shared/tosca).
        #[arg(long, default_value = "tests/corpus")]
        corpus: PathBuf,
    },
    /// One SSH operation fanned out to N hosts vs one (needs root and openssh-server).
    Ssh {
        #[arg(long, default_value_t = 8)]
        hosts: usize,
    },
    /// Repository browser: open a Winery repository to a drawn browser, switch service templates.
    Repository {
        /// The repository folder.
        #[arg(long, default_value = "tests/corpus/opentosca-public")]
        path: PathBuf,
    },
    /// Editor CPU time per frame for a generated topology.
    Gui {
        #[arg(long, default_value_t = 1000)]
        nodes: usize,
    },
    /// Deploy a generated fleet of simulated NodeMCUs and compare install with plain HTTP.
    Deploy {
        #[arg(long, default_value_t = 1000)]
        devices: usize,
        #[arg(long, default_value_t = 1024)]
        size_kib: usize,
    },
}

/// Runs the CLI; returns the exit code.
pub fn run(cli: Cli) -> i32 {
    match cli.command {
        Some(Command::Validate { path, json }) => validate::run(&path, json),
        Some(Command::ExportCsar {
            path,
            service_template,
            output,
        }) => export_csar::run(&path, service_template.as_deref(), &output),
        Some(Command::Plan {
            path,
            service_template,
            json,
            inputs,
            undeploy,
        }) => plan::run(&path, service_template.as_deref(), json, &inputs, undeploy),
        Some(Command::Deploy {
            path,
            service_template,
            inputs,
            simulate,
            faults,
            seed,
            accept_new_host_keys,
        }) => deploy::run_deploy(
            &path,
            service_template.as_deref(),
            deploy::Args {
                inputs: &inputs,
                simulate,
                faults: &faults,
                seed,
                accept_new_host_keys,
            },
        ),
        Some(Command::Undeploy { instance, inputs }) => deploy::run_undeploy(
            &instance,
            deploy::Args {
                inputs: &inputs,
                simulate: false,
                faults: &[],
                seed: 0,
                accept_new_host_keys: false,
            },
        ),
        Some(Command::Instances) => {
            let dir = crate::deploy::DeployOptions::new(crate::deploy::default_data_dir(), false)
                .instances_dir();
            for i in provisio_engines::engine::instance::InstanceState::list(&dir) {
                println!(
                    "{}  {}  {}{}",
                    i.id,
                    i.phase,
                    i.service_template,
                    if i.simulated { "  (simulated)" } else { "" }
                );
            }
            0
        }
        Some(Command::Logs(LogsCommand::Analyze { files, top, json })) => {
            logs::run(&files, top, json)
        }
        Some(Command::Bench(BenchCommand::Model { corpus })) => bench_model::run_model(&corpus),
        Some(Command::Bench(BenchCommand::Gui { nodes })) => bench_model::run_gui(nodes),
        Some(Command::Bench(BenchCommand::Repository { path })) => bench_repository::run(&path),
        Some(Command::Bench(BenchCommand::Ssh { hosts })) => bench_model::run_ssh(hosts),
        Some(Command::Bench(BenchCommand::Deploy { devices, size_kib })) => {
            bench::run(devices, size_kib)
        }
        None => match crate::gui::run() {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("error: cannot open the window: {e}");
                2
            }
        },
    }
}
