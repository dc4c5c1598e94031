//! The simulated NodeMCU fleet: N device runners in one tokio runtime against one broker, with
//! seeded fault injection. The engine and the app start it in-process with [`Fleet::spawn`];
//! the `provisio-fleet` binary wraps the same API.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::agent::core::AgentConfig;
use crate::agent::runner::{
    BrokerAddr, DeviceSpec, RunnerError, Shared, parse_broker_url, run_device,
};
use crate::agent::security::BrokerSecurity;
use crate::agent::state::{self, DeviceState, StateError};
use crate::faults::{self, DeviceFaults, FaultSpec, FaultTable};

/// How to run a fleet.
#[derive(Debug, Clone)]
pub struct FleetConfig {
    /// Hardware ids, one device each (duplicates are ignored).
    pub ids: Vec<String>,
    pub broker: BrokerAddr,
    /// TLS and credentials (plain TCP and anonymous by default).
    pub security: BrokerSecurity,
    pub control_topic: String,
    pub response_topic: String,
    /// Parent of the per-device directories (`<state_dir>/<hardware id>/`).
    pub state_dir: PathBuf,
    /// Faults to inject, assigned with `seed`.
    pub faults: Vec<FaultSpec>,
    pub seed: u64,
    pub agent: AgentConfig,
    /// Devices allowed to be connecting at the same moment (Mosquitto's listen backlog is 100:
    /// more makes the kernel drop SYNs and connects stall for a second).
    pub concurrent_connects: usize,
    /// Devices allowed to download an image at the same moment (the others wait their turn).
    pub concurrent_downloads: usize,
    pub keep_alive: Duration,
    pub reboot_delay: Duration,
}

impl FleetConfig {
    /// A fleet of `ids` on `broker` with the NodeMCU template's topics, no faults.
    pub fn new(
        ids: Vec<String>,
        broker: BrokerAddr,
        control_topic: impl Into<String>,
        response_topic: impl Into<String>,
        state_dir: impl Into<PathBuf>,
    ) -> Self {
        FleetConfig {
            ids,
            broker,
            security: BrokerSecurity::default(),
            control_topic: control_topic.into(),
            response_topic: response_topic.into(),
            state_dir: state_dir.into(),
            faults: Vec::new(),
            seed: 0,
            agent: AgentConfig::default(),
            concurrent_connects: 64,
            concurrent_downloads: 256,
            keep_alive: Duration::from_secs(60),
            reboot_delay: Duration::from_millis(100),
        }
    }
}

impl FleetConfig {
    /// A fleet for a NodeMCU node template: its `hardwareIds` property text (JSON list),
    /// `pubSubServer` (`tcp://host:port` / `mqtt://…`), `controlTopic` and `responseTopic`.
    /// A TLS `pubSubServer` (`mqtts://…`) needs `security` with a TLS configuration.
    pub fn for_template(
        hardware_ids: &str,
        pub_sub_server: &str,
        control_topic: &str,
        response_topic: &str,
        state_dir: impl Into<PathBuf>,
        security: BrokerSecurity,
    ) -> Result<Self, FleetError> {
        let ids = hardware_ids_from_property(hardware_ids)
            .map_err(|e| FleetError::BadIds(e.to_string()))?;
        let (broker, tls) =
            parse_broker_url(pub_sub_server).map_err(|e| FleetError::BadBroker(e.to_string()))?;
        if tls != security.tls.is_some() {
            return Err(FleetError::BadBroker(if tls {
                format!("{pub_sub_server} is a TLS broker: give the broker CA certificate")
            } else {
                format!("{pub_sub_server} is a plain TCP broker but TLS settings were given")
            }));
        }
        let mut cfg = FleetConfig::new(ids, broker, control_topic, response_topic, state_dir);
        cfg.security = security;
        Ok(cfg)
    }
}

/// A fleet that could not be started.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    #[error("hardware id '{0}' cannot name a device directory")]
    BadId(String),
    #[error("hardwareIds is not a JSON list of strings: {0}")]
    BadIds(String),
    #[error("{0}")]
    BadBroker(String),
    #[error("topic '{0}' must be non-empty and free of the wildcards + and #")]
    BadTopic(String),
    #[error("{0}")]
    State(#[from] StateError),
    #[error("the fleet needs a tokio runtime (call Fleet::spawn inside one)")]
    NoRuntime,
}

/// Parse a NodeMCU template's `hardwareIds` property (`["ID0","ID1"]`); empty text is no ids.
pub fn hardware_ids_from_property(text: &str) -> Result<Vec<String>, serde_json::Error> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_str(text)
}

/// `count` generated hardware ids: `sim00000`, `sim00001`, …
pub fn generated_ids(count: usize) -> Vec<String> {
    (0..count).map(|i| format!("sim{i:05}")).collect()
}

/// Whether `id` can be a directory name (no separators, not `.`/`..`, printable ASCII).
fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id != "."
        && id != ".."
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

/// Raise the open-files limit as far as the hard limit allows; returns the new soft limit.
pub fn raise_fd_limit() -> Option<u64> {
    rlimit::increase_nofile_limit(u64::MAX).ok()
}

/// Entry point: `Fleet::spawn(config)`.
#[derive(Debug)]
pub struct Fleet;

impl Fleet {
    /// Start every device of `config` on the current tokio runtime.
    pub fn spawn(config: FleetConfig) -> Result<FleetHandle, FleetError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| FleetError::NoRuntime)?;
        let mut seen = std::collections::HashSet::new();
        let ids: Vec<String> = config
            .ids
            .iter()
            .filter(|id| seen.insert(id.as_str()))
            .cloned()
            .collect();
        if let Some(bad) = ids.iter().find(|id| !valid_id(id)) {
            return Err(FleetError::BadId(bad.clone()));
        }
        for topic in [&config.control_topic, &config.response_topic] {
            if topic.is_empty() || topic.contains(['+', '#', '\0']) {
                return Err(FleetError::BadTopic(topic.clone()));
            }
        }
        if ids.len() > 200 {
            match raise_fd_limit() {
                Some(limit) if limit < ids.len() as u64 + 256 => tracing::warn!(
                    "open files limit {limit} is too low for {} devices: some will not connect",
                    ids.len()
                ),
                limit => tracing::info!("open files limit: {limit:?}"),
            }
        }
        std::fs::create_dir_all(&config.state_dir).map_err(|source| StateError::Io {
            path: config.state_dir.clone(),
            source,
        })?;
        let table = Arc::new(FaultTable::new(faults::assign(
            &ids,
            &config.faults,
            config.seed,
        )));
        let shared = Arc::new(Shared::new(
            table,
            config.concurrent_connects,
            config.concurrent_downloads,
        ));
        let shutdown = CancellationToken::new();
        let mut tasks = Vec::with_capacity(ids.len());
        for id in &ids {
            let spec = DeviceSpec {
                hardware_id: id.clone(),
                broker: config.broker.clone(),
                security: config.security.clone(),
                control_topic: config.control_topic.clone(),
                response_topic: config.response_topic.clone(),
                dir: config.state_dir.join(id),
                agent: config.agent.clone(),
                keep_alive: config.keep_alive,
                reboot_delay: config.reboot_delay,
            };
            let device = run_device(spec, shared.clone(), shutdown.child_token());
            tasks.push(runtime.spawn(async move {
                let result = device.await;
                if let Err(e) = &result {
                    tracing::error!("device stopped: {e}");
                }
                result
            }));
        }
        Ok(FleetHandle {
            ids,
            state_dir: config.state_dir,
            shared,
            shutdown,
            tasks,
        })
    }
}

/// A running fleet. Dropping it without [`FleetHandle::shutdown`] cancels the devices; they
/// say `offline` and disconnect in the background while the runtime lives.
#[derive(Debug)]
pub struct FleetHandle {
    ids: Vec<String>,
    state_dir: PathBuf,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<Result<(), RunnerError>>>,
}

/// The online count of a fleet's devices; see [`FleetHandle::online_gauge`].
#[derive(Clone)]
pub struct OnlineGauge(Arc<Shared>);

impl OnlineGauge {
    /// Devices connected to the broker right now.
    pub fn online(&self) -> usize {
        self.0.online.load(Ordering::Relaxed)
    }

    /// Wait until at least `n` devices are online; false on timeout.
    pub async fn wait(&self, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.online() < n {
            if Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }
}

impl FleetHandle {
    /// The devices' hardware ids.
    pub fn ids(&self) -> &[String] {
        &self.ids
    }

    /// Devices connected to the broker right now.
    pub fn online(&self) -> usize {
        self.shared.online.load(Ordering::Relaxed)
    }

    /// Responses the devices published so far.
    pub fn responses(&self) -> usize {
        self.shared.responses.load(Ordering::Relaxed)
    }

    /// The faults of `id`.
    pub fn faults(&self, id: &str) -> DeviceFaults {
        self.shared.faults.get(id)
    }

    /// Replace the faults of `id` (takes effect at once: offline disconnects the device, the
    /// others apply from the next command or download).
    pub fn set_faults(&self, id: &str, faults: DeviceFaults) {
        self.shared.faults.set(id, faults);
    }

    /// The directory of device `id`.
    pub fn device_dir(&self, id: &str) -> PathBuf {
        self.state_dir.join(id)
    }

    /// The persisted state of device `id`.
    pub fn device_state(&self, id: &str) -> Result<DeviceState, StateError> {
        state::load(&self.device_dir(id))
    }

    /// Wait until at least `n` devices are online; false on timeout.
    pub async fn wait_online(&self, n: usize, timeout: Duration) -> bool {
        self.online_gauge().wait(n, timeout).await
    }

    /// A handle that reads the online count without holding the fleet (for code that waits
    /// for the devices while someone else owns the fleet).
    pub fn online_gauge(&self) -> OnlineGauge {
        OnlineGauge(self.shared.clone())
    }

    /// Stop every device cleanly (status `offline`, MQTT disconnect); returns device errors.
    pub async fn shutdown(mut self) -> Vec<RunnerError> {
        self.shutdown.cancel();
        let mut errors = Vec::new();
        for t in std::mem::take(&mut self.tasks) {
            if let Ok(Err(e)) = t.await {
                errors.push(e);
            }
        }
        errors
    }
}

impl Drop for FleetHandle {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Pre-install an app image record into device directories (benchmarks: devices that can answer
/// `start` without an install first).
pub fn seed_installed_app(
    state_dir: &Path,
    ids: &[String],
    md5: &str,
    size: u64,
) -> Result<(), StateError> {
    let image = state::SlotImage {
        md5: md5.to_owned(),
        size,
    };
    for id in ids {
        let st = DeviceState {
            slot_a: Some(image.clone()),
            ..Default::default()
        };
        state::save(&state_dir.join(id), &st)?;
    }
    Ok(())
}

/// Faults per device as assigned (for reports).
pub fn fault_summary(handle: &FleetHandle) -> HashMap<String, DeviceFaults> {
    handle
        .ids()
        .iter()
        .map(|id| (id.clone(), handle.faults(id)))
        .filter(|(_, f)| *f != DeviceFaults::default())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_from_the_thesis_template() {
        let cfg = FleetConfig::for_template(
            r#"["1345963","1361877","8797990"]"#,
            "tcp://192.168.0.27:1883",
            "controlTopic",
            "responseTopic",
            "/tmp/x",
            BrokerSecurity::default(),
        )
        .unwrap();
        assert_eq!(cfg.ids, vec!["1345963", "1361877", "8797990"]);
        assert_eq!(
            cfg.broker,
            BrokerAddr {
                host: "192.168.0.27".into(),
                port: 1883
            }
        );
        assert!(
            FleetConfig::for_template("[1,2]", "tcp://h", "c", "r", "/tmp", Default::default())
                .is_err()
        );
        assert!(
            FleetConfig::for_template("", "tcp://h", "c", "r", "/tmp", Default::default())
                .unwrap()
                .ids
                .is_empty()
        );
        let tls = FleetConfig::for_template("", "mqtts://h", "c", "r", "/tmp", Default::default());
        assert!(tls.unwrap_err().to_string().contains("CA certificate"));
    }

    #[test]
    fn ids_that_would_escape_the_state_dir_are_refused() {
        for bad in ["../x", "a/b", "..", "", "a b"] {
            assert!(!valid_id(bad), "{bad:?}");
        }
        assert!(valid_id("1345963") && valid_id("sim00001") && valid_id("AA:BB:CC"));
    }
}
