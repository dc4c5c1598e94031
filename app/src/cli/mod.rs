//! The command-line interface: `provisio validate|export-csar|plan|deploy|undeploy|fleet|…`.
//! Each subcommand lives in its own module and returns the process exit code.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

// First: its `outln!`, `out!` and `errln!` (output that survives a vanished terminal) are
// what every module below prints with.
#[macro_use]
pub mod output;

pub mod bench;
mod bench_baseline;
pub mod bench_model;
pub mod bench_monitor;
pub mod bench_repository;
pub mod bench_ssh;
pub mod deploy;
pub mod export_csar;
pub mod images;
pub mod instances;
pub mod logs;
pub mod monitor;
pub mod plan;
pub mod select;
pub mod signals;
pub mod simnet;
pub mod validate;
pub mod watch;

/// Provisio: model, validate, export and deploy TOSCA topologies of IoT systems.
///
/// Without a subcommand the editor window opens: `provisio PATH` opens PATH (a TOSCA file, a
/// Winery repository folder or a CSAR) in it.
#[derive(Debug, Parser)]
#[command(
    name = "provisio",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Open this TOSCA file, Winery repository folder or CSAR in the editor window.
    pub path: Option<PathBuf>,
    /// `{namespace}id` or id of the service template to open (with PATH).
    #[arg(long, requires = "path")]
    pub service_template: Option<String>,
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
        /// Fail (exit 1) when an input has no value yet instead of showing `<input: NAME>`.
        #[arg(long)]
        strict: bool,
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
        /// With --simulate: keep the simulated system running after the deploy and print every
        /// reading and device status change until Ctrl-C (the instance stays deployed).
        #[arg(long, requires = "simulate")]
        watch: bool,
        /// Devices fetch artifacts from URL/<token>/<file> (a CDN or a caching proxy in front of
        /// this machine's artifact server) instead of from this machine directly.
        #[arg(long, value_name = "URL")]
        artifact_base_url: Option<String>,
    },
    /// Undeploy an instance (see `provisio instances`).
    Undeploy {
        instance: String,
        #[arg(long = "input", value_name = "KEY=VALUE")]
        inputs: Vec<String>,
        /// Forget the instance without contacting its devices (e.g. they are gone for good).
        #[arg(long)]
        force: bool,
    },
    /// List deployed instances (and remove what deploys interrupted during setup left).
    Instances,
    /// Simulated networks of `--simulate` (`pvb…` bridges and `pvn…` namespaces).
    #[command(subcommand)]
    Simnet(SimnetCommand),
    /// Container images cached from recipes (`$PROVISIO_IMAGE_CACHE` or the default cache).
    #[command(subcommand)]
    Images(ImagesCommand),
    /// Log analysis (anomaly scores per line and per file).
    #[command(subcommand)]
    Logs(LogsCommand),
    /// Flex4Apps monitoring: broker activity tap, MQTT → InfluxDB connector, gateway pollers.
    #[command(subcommand)]
    Monitor(MonitorCommand),
    /// Benchmarks that print figures.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Debug, Subcommand)]
pub enum MonitorCommand {
    /// MQTT-aware tap in front of a broker: one JSON activity record per event to a Logstash-style
    /// TCP receiver (D3.5 §4).
    Tap {
        /// Address clients connect to, e.g. 0.0.0.0:1883.
        #[arg(long)]
        listen: String,
        /// The broker behind the tap, e.g. 127.0.0.1:1884.
        #[arg(long)]
        broker: String,
        /// Record receiver HOST:PORT (default: $HICAP_HOST:$HICAP_PORT, 127.0.0.1:12345).
        #[arg(long)]
        receiver: Option<String>,
    },
    /// Logstash-style record receiver: accepts TCP connections and appends each JSON record
    /// (one per line) to a file, one record per line.
    Receiver {
        /// Address to listen on, e.g. 0.0.0.0:5000.
        #[arg(long)]
        listen: String,
        /// File the records are appended to (created if missing).
        #[arg(long)]
        out: PathBuf,
    },
    /// Connector: subscribes to device topics and writes points to InfluxDB 1.x (flat JSON per
    /// device topic; The Things Network uplinks by device id).
    Influx {
        #[arg(long)]
        broker: String,
        /// Topic filter (repeatable), e.g. sensors/+ or v3/+/devices/+/up.
        #[arg(long = "topic", value_name = "FILTER", required = true)]
        topics: Vec<String>,
        /// InfluxDB HTTP API, e.g. http://127.0.0.1:8086.
        #[arg(long)]
        influx: String,
        #[arg(long)]
        database: String,
        #[arg(long, default_value = "readings")]
        measurement: String,
        /// Topic segment (0-based) naming the device in flat JSON topics.
        #[arg(long, default_value_t = 1)]
        device_segment: usize,
        /// Broker user name (the password is read from MQTT_PASSWORD).
        #[arg(long)]
        username: Option<String>,
    },
    /// Gateway poller: reads a HomeMatic CCU over XML-RPC and publishes one topic per device.
    Homematic {
        /// XML-RPC interface of the CCU, e.g. http://ccu3:2001 (BidCos-RF).
        #[arg(long)]
        ccu: String,
        #[arg(long, default_value_t = 60.0)]
        interval: f64,
        #[arg(long)]
        broker: String,
        #[arg(long, default_value = "homematic")]
        topic_prefix: String,
        /// Only these device addresses (repeatable; default: all).
        #[arg(long = "device", value_name = "ADDRESS")]
        devices: Vec<String>,
        /// PEM file of CA certificates to trust for https (default: the system bundle).
        #[arg(long)]
        ca_file: Option<PathBuf>,
        /// Broker user name (the password is read from MQTT_PASSWORD).
        #[arg(long)]
        username: Option<String>,
        /// CCU user for XML-RPC authentication (HTTP basic); the password is read from
        /// HOMEMATIC_PASSWORD or --ccu-password-file, never given on the command line.
        #[arg(long)]
        ccu_user: Option<String>,
        /// File whose first line is the CCU password (instead of HOMEMATIC_PASSWORD).
        #[arg(long)]
        ccu_password_file: Option<PathBuf>,
    },
    /// Online REST source (powerfox): reads meters and publishes one topic per device.
    /// Credentials from POWERFOX_USER / POWERFOX_PASSWORD.
    Powerfox {
        /// API root, e.g. https://backend.powerfox.energy/api/2.0.
        #[arg(long)]
        api: String,
        #[arg(long, default_value_t = 60.0)]
        interval: f64,
        #[arg(long)]
        broker: String,
        #[arg(long, default_value = "powerfox")]
        topic_prefix: String,
        /// Device ids (repeatable; default: main).
        #[arg(long = "device", value_name = "ID")]
        devices: Vec<String>,
        /// PEM file of CA certificates to trust for https (default: the system bundle).
        #[arg(long)]
        ca_file: Option<PathBuf>,
        /// Broker user name (the password is read from MQTT_PASSWORD).
        #[arg(long)]
        username: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum SimnetCommand {
    /// Remove simulated networks no owner record claims (e.g. made by an earlier version)
    /// and what interrupted deploys left; prints what it removed. Needs root.
    Prune {
        /// Only these networks (bridge name `pvbXXXXX` or its 5-hex tag).
        names: Vec<String>,
        /// List what would be removed, remove nothing.
        #[arg(long)]
        dry_run: bool,
        /// Also remove networks with processes still running in them, ending those processes
        /// (e.g. containers of an earlier version's deployment).
        #[arg(long)]
        end_processes: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImagesCommand {
    /// Every cached image: recipe, arch, key, size, build time, and whether a deploy of this
    /// provisio uses it now or a recorded instance does (else it is stale).
    List,
    /// Remove stale images: neither current, nor used by an instance that is not undeployed,
    /// nor built less than --keep-days ago. Prints each removed image and the space freed.
    Prune {
        /// List what would be removed, remove nothing.
        #[arg(long)]
        dry_run: bool,
        /// Keep images built less than this many days ago (another provisio sharing the cache
        /// may be deploying them); 0 removes every stale image.
        #[arg(long, value_name = "N", default_value_t = crate::deploy::image_use::DEFAULT_KEEP_DAYS)]
        keep_days: u64,
    },
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
    /// One SSH operation fanned out to N hosts vs one, each host an sshd stand-in behind a
    /// delaying relay (needs root and openssh-server).
    Ssh {
        /// Fan-outs to measure against one host (comma-separated).
        #[arg(long, value_delimiter = ',', default_value = "8,32")]
        hosts: Vec<usize>,
        /// Round-trip time each relay adds (0: connect to the sshds directly).
        #[arg(long, default_value_t = 40)]
        rtt_ms: u64,
        /// Timed runs per fan-out (the median is reported).
        #[arg(long, default_value_t = 5)]
        runs: usize,
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
    /// Monitoring figures: TTN normalisation, MQTT through the activity tap vs direct, connector
    /// into InfluxDB (when influxd is installed).
    Monitor {
        #[arg(long, default_value_t = 10_000)]
        messages: usize,
    },
    /// Deploy a generated fleet of simulated NodeMCUs and compare install with plain HTTP.
    Deploy {
        #[arg(long, default_value_t = 1000)]
        devices: usize,
        #[arg(long, default_value_t = 1024)]
        size_kib: usize,
        /// MQTT broker: embedded (rumqttd in this process), mosquitto (own process), or auto
        /// (as deploy --simulate: Mosquitto when installed, else embedded unless two sockets
        /// per device exceed the open-files limit).
        #[arg(long, default_value = "auto")]
        broker: bench::BrokerChoice,
        /// Repeat the whole run (baseline, deploy, baseline) this many times and print the
        /// ratio's median and range at the end.
        #[arg(long, default_value_t = 1)]
        runs: usize,
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
            strict,
        }) => plan::run(
            &path,
            service_template.as_deref(),
            json,
            &inputs,
            undeploy,
            strict,
        ),
        Some(Command::Deploy {
            path,
            service_template,
            inputs,
            simulate,
            faults,
            seed,
            accept_new_host_keys,
            watch,
            artifact_base_url,
        }) => deploy::run_deploy(
            &path,
            service_template.as_deref(),
            deploy::Args {
                inputs: &inputs,
                simulate,
                faults: &faults,
                seed,
                accept_new_host_keys,
                watch,
                artifact_base_url,
            },
        ),
        Some(Command::Undeploy {
            instance,
            force: true,
            ..
        }) => deploy::forget(&instance),
        Some(Command::Undeploy {
            instance, inputs, ..
        }) => deploy::run_undeploy(
            &instance,
            deploy::Args {
                inputs: &inputs,
                simulate: false,
                faults: &[],
                seed: 0,
                accept_new_host_keys: false,
                watch: false,
                artifact_base_url: None,
            },
        ),
        Some(Command::Instances) => instances::run(),
        Some(Command::Simnet(SimnetCommand::Prune {
            names,
            dry_run,
            end_processes,
        })) => simnet::run_prune(&names, dry_run, end_processes),
        Some(Command::Images(ImagesCommand::List)) => images::run_list(),
        Some(Command::Images(ImagesCommand::Prune { dry_run, keep_days })) => {
            images::run_prune(dry_run, keep_days)
        }
        Some(Command::Logs(LogsCommand::Analyze { files, top, json })) => {
            logs::run(&files, top, json)
        }
        Some(Command::Monitor(m)) => run_monitor(m),
        Some(Command::Bench(BenchCommand::Model { corpus })) => bench_model::run_model(&corpus),
        Some(Command::Bench(BenchCommand::Monitor { messages })) => bench_monitor::run(messages),
        Some(Command::Bench(BenchCommand::Gui { nodes })) => bench_model::run_gui(nodes),
        Some(Command::Bench(BenchCommand::Ssh {
            hosts,
            rtt_ms,
            runs,
        })) => bench_ssh::run(&hosts, rtt_ms, runs),
        Some(Command::Bench(BenchCommand::Repository { path })) => bench_repository::run(&path),
        Some(Command::Bench(BenchCommand::Deploy {
            devices,
            size_kib,
            broker,
            runs,
        })) => bench::run(devices, size_kib, broker, runs),
        None => match crate::gui::run(cli.path, cli.service_template) {
            Ok(()) => 0,
            Err(e) => {
                errln!("error: cannot open the window: {e}");
                2
            }
        },
    }
}

fn run_monitor(m: MonitorCommand) -> i32 {
    match m {
        MonitorCommand::Tap {
            listen,
            broker,
            receiver,
        } => monitor::run_tap(&listen, &broker, receiver.as_deref()),
        MonitorCommand::Receiver { listen, out } => monitor::run_receiver(&listen, &out),
        MonitorCommand::Influx {
            broker,
            topics,
            influx,
            database,
            measurement,
            device_segment,
            username,
        } => monitor::run_influx(monitor::InfluxArgs {
            broker: &broker,
            topics: &topics,
            influx: &influx,
            database: &database,
            measurement: &measurement,
            device_segment,
            username: username.as_deref(),
        }),
        MonitorCommand::Homematic {
            ccu,
            interval,
            broker,
            topic_prefix,
            devices,
            username,
            ca_file,
            ccu_user,
            ccu_password_file,
        } => monitor::run_homematic(
            &ccu,
            &devices,
            ccu_user.as_deref(),
            ccu_password_file.as_deref(),
            monitor::PollerArgs {
                broker: &broker,
                interval,
                topic_prefix: &topic_prefix,
                username: username.as_deref(),
                ca_file,
            },
        ),
        MonitorCommand::Powerfox {
            api,
            interval,
            broker,
            topic_prefix,
            devices,
            username,
            ca_file,
        } => monitor::run_powerfox(
            &api,
            &devices,
            monitor::PollerArgs {
                broker: &broker,
                interval,
                topic_prefix: &topic_prefix,
                username: username.as_deref(),
                ca_file,
            },
        ),
    }
}
