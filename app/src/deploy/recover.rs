//! Deploys that never finished because their process ended (killed, Ctrl-C twice, the window
//! closed): [`sweep`] removes, on the next start, what a deploy set up before its plan ran
//! (nothing on devices was touched yet) when its lease names a process that is gone;
//! [`progress`] tells `provisio instances` and the GUI's Instances window which recorded instances are still being worked on
//! and which were interrupted (those may have parts on devices: they are shown, and
//! `undeploy` or `undeploy --force` removes them). Nothing a live process holds is touched.

use super::lease::{self, Holder};
use provisio_engines::engine::instance::InstanceState;
use std::path::Path;

/// What became of one interrupted setup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Swept {
    pub id: String,
    /// The process that ran it.
    pub pid: u32,
    /// `None`: everything of it is gone; else what could not be removed (tried again next time).
    pub error: Option<String>,
}

impl std::fmt::Display for Swept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.error {
            None => write!(
                f,
                "removed the leftovers of deploy {} (interrupted during setup: process {} ended)",
                self.id, self.pid
            ),
            Some(e) => write!(
                f,
                "deploy {} was interrupted during setup (process {} ended); could not remove all it left: {e}",
                self.id, self.pid
            ),
        }
    }
}

/// Ids with a lease file in `instances`.
fn leased(instances: &Path) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(instances)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".lease").map(str::to_string)
        })
        .collect();
    ids.sort();
    ids
}

/// Removes the leftovers of every deploy under `data_dir` that was interrupted before its plan
/// ran (no instance record) and whose process is gone: its simulated network, state directory,
/// snapshot and lease.
pub fn sweep(data_dir: &Path) -> Vec<Swept> {
    let instances = data_dir.join("instances");
    let mut out = Vec::new();
    for id in leased(&instances) {
        let Some(h) = lease::holder(&instances, &id) else {
            continue;
        };
        if h.is_live() || InstanceState::path_in(&instances, &id).exists() {
            continue;
        }
        let error = lease::undo_setup(data_dir, &instances, &id).err();
        if error.is_none() {
            lease::remove_if_held_by(&instances, &id, &h);
        }
        out.push(Swept {
            id,
            pid: h.pid,
            error,
        });
    }
    out
}

/// Where an instance's deploy or undeploy stands, beyond its recorded phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Its phase is final (deployed, failed, cancelled, undeployed) and nobody works on it.
    Settled,
    /// A live process works on it now.
    Running(u32),
    /// Its process ended while it ran (phase `running` or the like, nobody holds it).
    Interrupted,
}

/// Whether the last deploy or undeploy of instance `id`, recorded in `phase`, finished, runs
/// now, or was interrupted. A live lease counts also when the phase is final: an undeploy
/// takes the lease before it records its phase.
pub fn progress(instances: &Path, id: &str, phase: &str) -> Progress {
    if let Some(h) = lease::holder(instances, id).filter(Holder::is_live) {
        return Progress::Running(h.pid);
    }
    if matches!(phase, "deployed" | "failed" | "cancelled" | "undeployed") {
        Progress::Settled
    } else {
        Progress::Interrupted
    }
}

/// Snapshots with no instance record: deploys in setup now (with the live process) or
/// interrupted in setup by a version without leases (`None`; `undeploy --force` removes them).
pub fn unrecorded(instances: &Path) -> Vec<(String, Option<u32>)> {
    let mut out: Vec<(String, Option<u32>)> = std::fs::read_dir(instances)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let id = name.strip_suffix(".csar")?.to_string();
            (!InstanceState::path_in(instances, &id).exists()).then_some(id)
        })
        .map(|id| {
            let live = lease::holder(instances, &id)
                .filter(Holder::is_live)
                .map(|h| h.pid);
            (id, live)
        })
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_lease(instances: &Path, id: &str, h: &Holder) {
        std::fs::create_dir_all(instances).unwrap();
        std::fs::write(
            lease::lease_path(instances, id),
            serde_json::to_vec(h).unwrap(),
        )
        .unwrap();
    }

    #[test]
    fn only_setups_of_ended_processes_are_swept() {
        let data = tempfile::tempdir().unwrap();
        let instances = data.path().join("instances");
        let dead = Holder {
            pid: u32::MAX,
            ..Holder::current()
        };
        // Interrupted in setup: swept.
        write_lease(&instances, "a-1-000", &dead);
        std::fs::write(InstanceState::snapshot_in(&instances, "a-1-000"), b"x").unwrap();
        let state = super::super::sim_hosts::state_dir(data.path(), "a-1-000");
        std::fs::create_dir_all(&state).unwrap();
        // Being set up by a live process: left alone.
        write_lease(&instances, "b-1-000", &Holder::current());
        std::fs::write(InstanceState::snapshot_in(&instances, "b-1-000"), b"x").unwrap();
        // Interrupted while its plan ran (recorded): left for undeploy.
        write_lease(&instances, "c-1-000", &dead);
        std::fs::write(InstanceState::path_in(&instances, "c-1-000"), b"{}").unwrap();
        let swept = sweep(data.path());
        assert_eq!(
            swept,
            vec![Swept {
                id: "a-1-000".into(),
                pid: u32::MAX,
                error: None
            }]
        );
        assert!(!state.exists());
        assert!(!InstanceState::snapshot_in(&instances, "a-1-000").exists());
        assert!(!lease::lease_path(&instances, "a-1-000").exists());
        assert!(InstanceState::snapshot_in(&instances, "b-1-000").exists());
        assert!(lease::lease_path(&instances, "c-1-000").exists());
        assert_eq!(
            unrecorded(&instances),
            vec![("b-1-000".to_string(), Some(std::process::id()))]
        );
        assert!(sweep(data.path()).is_empty());
    }
}
