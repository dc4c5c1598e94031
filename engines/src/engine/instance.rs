//! Instance state: what was deployed where, each step's status and outputs, and every device's
//! last known state. Written atomically after every change so `undeploy` works after a restart
//! and a crash loses nothing. Secrets are never part of it.

use super::executor::{Outputs, StepStatus};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One step as recorded.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StepRecord {
    pub id: String,
    pub node: String,
    pub operation: String,
    pub status: StepStatus,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub outputs: Outputs,
}

/// A device's last known state (kept small: a few hundred bytes per device).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeviceRecord {
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The whole state of one deployment.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InstanceState {
    pub id: String,
    /// Where the topology came from (file, repository or CSAR).
    pub source: PathBuf,
    /// `{namespace}id` of the service template.
    pub service_template: String,
    /// Unix seconds.
    pub created: u64,
    pub simulated: bool,
    /// Non-secret deploy inputs (secrets are asked again for undeploy).
    #[serde(default)]
    pub inputs: BTreeMap<String, String>,
    pub steps: Vec<StepRecord>,
    /// node template id → device id → state.
    #[serde(default)]
    pub devices: BTreeMap<String, BTreeMap<String, DeviceRecord>>,
    /// `deployed`, `failed`, `cancelled`, `undeployed`, or `running`.
    pub phase: String,
}

/// Reading or writing instance state failed.
#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a valid instance file: {source}")]
    Format {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("no instance '{0}'")]
    NotFound(String),
}

impl InstanceState {
    /// A new instance id: time-based and unique enough for one desktop.
    pub fn new_id(service_template_id: &str) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let clean: String = crate::drivers::raspberry::container_name(service_template_id)
            .chars()
            .take(40)
            .collect();
        format!("{clean}-{}-{:03}", now.as_secs(), now.subsec_millis())
    }

    pub fn path_in(dir: &Path, id: &str) -> PathBuf {
        dir.join(format!("{id}.json"))
    }

    /// The CSAR with the exact definitions (and artifacts) the instance was deployed from, so
    /// undeploy works after the topology file changed or vanished.
    pub fn snapshot_in(dir: &Path, id: &str) -> PathBuf {
        dir.join(format!("{id}.csar"))
    }

    /// Forgets the instance: its state and its snapshot.
    pub fn remove(dir: &Path, id: &str) -> Result<(), InstanceError> {
        let path = Self::path_in(dir, id);
        if !path.exists() {
            return Err(InstanceError::NotFound(id.to_string()));
        }
        std::fs::remove_file(&path).map_err(|source| InstanceError::Io { path, source })?;
        let _ = std::fs::remove_file(Self::snapshot_in(dir, id));
        Ok(())
    }

    /// Writes the state atomically to `dir/<id>.json`.
    pub fn save(&self, dir: &Path) -> Result<(), InstanceError> {
        let path = Self::path_in(dir, &self.id);
        std::fs::create_dir_all(dir).map_err(|source| InstanceError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let bytes = serde_json::to_vec_pretty(self).map_err(|source| InstanceError::Format {
            path: path.clone(),
            source,
        })?;
        provisio_model::save::write_atomic(&path, &bytes)
            .map_err(|source| InstanceError::Io { path, source })
    }

    /// Reads `dir/<id>.json`.
    pub fn load(dir: &Path, id: &str) -> Result<Self, InstanceError> {
        let path = Self::path_in(dir, id);
        let bytes = std::fs::read(&path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                InstanceError::NotFound(id.to_string())
            } else {
                InstanceError::Io {
                    path: path.clone(),
                    source,
                }
            }
        })?;
        serde_json::from_slice(&bytes).map_err(|source| InstanceError::Format { path, source })
    }

    /// Every instance in `dir`, newest first; unreadable files are skipped.
    pub fn list(dir: &Path) -> Vec<InstanceState> {
        let mut out: Vec<InstanceState> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .filter_map(|e| std::fs::read(e.path()).ok())
            .filter_map(|b| serde_json::from_slice(&b).ok())
            .collect();
        out.sort_by(|a: &InstanceState, b| b.created.cmp(&a.created).then(b.id.cmp(&a.id)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_load_list_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = InstanceState {
            id: InstanceState::new_id("Thesis Scenario"),
            source: "x.tosca".into(),
            service_template: "{ns}Thesis".into(),
            created: 5,
            simulated: true,
            inputs: BTreeMap::new(),
            steps: vec![StepRecord {
                id: "SensorPublisher.install".into(),
                node: "SensorPublisher".into(),
                operation: "install".into(),
                status: StepStatus::Failed("2 of 3 devices".into()),
                outputs: Outputs::new(),
            }],
            devices: BTreeMap::new(),
            phase: "failed".into(),
        };
        s.devices.entry("NodeMCU".into()).or_default().insert(
            "1345963".into(),
            DeviceRecord {
                state: "failed".into(),
                detail: Some("md5 mismatch".into()),
            },
        );
        assert!(!s.id.contains(' '));
        s.save(dir.path()).unwrap();
        assert_eq!(InstanceState::load(dir.path(), &s.id).unwrap(), s);
        assert_eq!(InstanceState::list(dir.path()).len(), 1);
        assert!(matches!(
            InstanceState::load(dir.path(), "nope"),
            Err(InstanceError::NotFound(_))
        ));
        std::fs::write(InstanceState::path_in(dir.path(), "bad"), b"{").unwrap();
        assert!(matches!(
            InstanceState::load(dir.path(), "bad"),
            Err(InstanceError::Format { .. })
        ));
    }
}
