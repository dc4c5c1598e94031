//! Command-line arguments of a simulated fleet (`provisio-fleet run`, and `provisio fleet` when
//! the app embeds them with `#[command(flatten)]`), and running a fleet until Ctrl-C.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::agent::runner::parse_broker_url;
use crate::agent::security::BrokerSecurity;
use crate::faults::FaultSpec;
use crate::fleet::{self, Fleet, FleetConfig, FleetError};

/// Which devices to simulate.
#[derive(Args, Debug, Clone)]
pub struct Devices {
    /// Number of generated devices (ids sim00000, sim00001, ...).
    #[arg(long, conflicts_with = "ids")]
    pub count: Option<usize>,
    /// Explicit hardware ids, comma separated (or a JSON list as in the NodeMCU template).
    #[arg(long)]
    pub ids: Option<String>,
}

impl Devices {
    /// The hardware ids these arguments name.
    pub fn resolve(&self) -> Result<Vec<String>, FleetError> {
        match (&self.count, &self.ids) {
            (Some(n), None) => Ok(fleet::generated_ids(*n)),
            (None, Some(text)) if text.trim_start().starts_with('[') => {
                fleet::hardware_ids_from_property(text)
                    .map_err(|e| FleetError::BadIds(e.to_string()))
            }
            (None, Some(text)) => Ok(text
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()),
            _ => Err(FleetError::BadIds(
                "give --count N or --ids ID,ID,...".into(),
            )),
        }
    }
}

/// Everything `provisio-fleet run` takes.
#[derive(Args, Debug, Clone)]
pub struct FleetArgs {
    #[command(flatten)]
    pub devices: Devices,
    /// Broker URL: mqtt://HOST:PORT or tcp://HOST:PORT (port 1883 when absent), or
    /// mqtts://HOST:PORT for TLS (port 8883 when absent; needs --ca-file).
    #[arg(long, default_value = "tcp://127.0.0.1:1883")]
    pub broker: String,
    /// PEM file of the CA the broker's TLS certificate must chain to.
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate presented to a TLS broker (with --client-key).
    #[arg(long, requires = "client_key")]
    pub client_cert: Option<PathBuf>,
    /// PEM private key of --client-cert.
    #[arg(long, requires = "client_cert")]
    pub client_key: Option<PathBuf>,
    /// MQTT user name of every device.
    #[arg(long)]
    pub username: Option<String>,
    /// File holding the MQTT password (first line); never given on the command line.
    #[arg(long, requires = "username")]
    pub password_file: Option<PathBuf>,
    #[arg(long, default_value = "control")]
    pub control_topic: String,
    #[arg(long, default_value = "response")]
    pub response_topic: String,
    /// Parent directory of the per-device state directories.
    #[arg(long)]
    pub state_dir: PathBuf,
    /// Fault to inject: KIND[=VALUE][:FRACTION|@ID]; KIND: offline, slow=BYTES_PER_S, drop,
    /// corrupt, crash-flash, refuse-start. Repeatable.
    #[arg(long = "fault")]
    pub faults: Vec<FaultSpec>,
    /// Seed for choosing the devices a fractional fault hits.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

impl FleetArgs {
    /// The fleet configuration these arguments describe.
    pub fn to_config(&self) -> Result<FleetConfig, FleetError> {
        let (broker, tls) =
            parse_broker_url(&self.broker).map_err(|e| FleetError::BadBroker(e.to_string()))?;
        let mut cfg = FleetConfig::new(
            self.devices.resolve()?,
            broker,
            self.control_topic.clone(),
            self.response_topic.clone(),
            self.state_dir.clone(),
        );
        cfg.faults = self.faults.clone();
        cfg.seed = self.seed;
        cfg.security = self.security(tls)?;
        Ok(cfg)
    }

    fn security(&self, tls: bool) -> Result<BrokerSecurity, FleetError> {
        let read = |p: &PathBuf| {
            std::fs::read_to_string(p)
                .map_err(|e| FleetError::BadBroker(format!("{}: {e}", p.display())))
        };
        let mut security = match (&self.ca_file, tls) {
            (Some(ca), true) => {
                let ca = read(ca)?;
                let client = match (&self.client_cert, &self.client_key) {
                    (Some(c), Some(k)) => Some((read(c)?, read(k)?)),
                    _ => None,
                };
                let client = client.as_ref().map(|(c, k)| (c.as_str(), k.as_str()));
                BrokerSecurity::tls(&ca, client)
                    .map_err(|e| FleetError::BadBroker(e.to_string()))?
            }
            (None, true) => {
                return Err(FleetError::BadBroker(format!(
                    "{} is a TLS broker: give --ca-file",
                    self.broker
                )));
            }
            (Some(_), false) => {
                return Err(FleetError::BadBroker(format!(
                    "--ca-file needs an mqtts:// broker, not {}",
                    self.broker
                )));
            }
            (None, false) => BrokerSecurity::default(),
        };
        if let Some(user) = &self.username {
            let password = match &self.password_file {
                Some(p) => read(p)?.lines().next().unwrap_or_default().to_owned(),
                None => String::new(),
            };
            security = security.with_credentials(user, &password);
        }
        Ok(security)
    }
}

/// Run the fleet until Ctrl-C, printing the online count to stderr when it changes; then shut
/// it down cleanly. Device errors are printed.
pub async fn run_until_ctrl_c(args: FleetArgs) -> Result<(), FleetError> {
    let cfg = args.to_config()?;
    let n = cfg.ids.len();
    let fleet = Fleet::spawn(cfg)?;
    let faulty = fleet::fault_summary(&fleet);
    eprintln!(
        "{n} devices started, {} with faults; Ctrl-C stops",
        faulty.len()
    );
    let mut last = usize::MAX;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {
                let online = fleet.online();
                if online != last {
                    eprintln!("online: {online}/{n}, responses: {}", fleet.responses());
                    last = online;
                }
            }
        }
    }
    for e in fleet.shutdown().await {
        eprintln!("{e}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        fleet: FleetArgs,
    }

    fn config(args: &[&str]) -> Result<FleetConfig, FleetError> {
        let mut all = vec!["provisio-fleet", "--ids", "a,b", "--state-dir", "/tmp/x"];
        all.extend_from_slice(args);
        Cli::try_parse_from(all).unwrap().fleet.to_config()
    }

    #[test]
    fn tls_broker_with_ca_and_password_file() {
        let dir = tempfile::tempdir().unwrap();
        let ca = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, ca.cert.pem()).unwrap();
        let pw_file = dir.path().join("pw");
        std::fs::write(&pw_file, "s3cret-pw\n").unwrap();
        let ca_arg = ca_file.to_str().unwrap();
        let cfg = config(&[
            "--broker",
            "mqtts://broker.example",
            "--ca-file",
            ca_arg,
            "--username",
            "device",
            "--password-file",
            pw_file.to_str().unwrap(),
        ])
        .unwrap();
        assert_eq!(cfg.broker.port, 8883);
        assert!(cfg.security.tls.is_some());
        assert_eq!(cfg.security.password.as_deref(), Some("s3cret-pw"));
        assert!(!format!("{cfg:?}").contains("s3cret-pw"));

        let e = config(&["--broker", "mqtts://h"]).unwrap_err().to_string();
        assert!(e.contains("--ca-file"), "{e}");
        let e = config(&["--broker", "tcp://h", "--ca-file", ca_arg])
            .unwrap_err()
            .to_string();
        assert!(e.contains("mqtts://"), "{e}");
        std::fs::write(&ca_file, "not a certificate").unwrap();
        let e = config(&["--broker", "mqtts://h", "--ca-file", ca_arg])
            .unwrap_err()
            .to_string();
        assert!(e.contains("PEM"), "{e}");
        assert!(config(&[]).unwrap().security.tls.is_none());
    }
}
