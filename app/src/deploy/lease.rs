//! Which process runs a deploy or undeploy of an instance: `instances/<id>.lease` holds its
//! pid, start time and boot id while it runs, so another process (a later `provisio` command)
//! tells a running one from one that was killed. A deploy's lease also undoes its setup when
//! dropped before the plan ran (a failed setup, or the deploy future dropped): the instance's
//! simulated network, state directory and snapshot go, and only then the lease. Whatever could
//! not go stays with an abandoned lease, and [`super::recover`] finishes it on the next start.

use std::path::{Path, PathBuf};

/// A process, identified across pid reuse and reboots.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Holder {
    pub pid: u32,
    /// Start time in clock ticks since boot (`/proc/<pid>/stat`, field 22).
    pub start: u64,
    /// `/proc/sys/kernel/random/boot_id` when it ran.
    pub boot: String,
    /// Its deploy was dropped and could not remove everything: nobody holds it any more.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub abandoned: bool,
}

fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// A process's start time (field 22 of `/proc/<pid>/stat`; the name in parentheses may hold
/// spaces, so fields are counted after its closing one).
fn start_time(pid: u32) -> Option<u64> {
    parse_start(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

fn parse_start(stat: &str) -> Option<u64> {
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(19)?
        .parse()
        .ok()
}

impl Holder {
    /// This process.
    pub fn current() -> Holder {
        let pid = std::process::id();
        Holder {
            pid,
            start: start_time(pid).unwrap_or(0),
            boot: boot_id(),
            abandoned: false,
        }
    }

    /// The process still runs (same boot, same pid with the same start time). A process whose
    /// `/proc` entry exists but cannot be read counts as running: only a missing one is gone.
    pub fn is_live(&self) -> bool {
        if self.abandoned || self.boot != boot_id() {
            return false;
        }
        match std::fs::read_to_string(format!("/proc/{}/stat", self.pid)) {
            Ok(stat) => parse_start(&stat) == Some(self.start),
            Err(e) => e.kind() != std::io::ErrorKind::NotFound,
        }
    }

    /// The same process as `other` (whatever either says of being abandoned).
    fn same_process(&self, other: &Holder) -> bool {
        self.pid == other.pid && self.start == other.start && self.boot == other.boot
    }
}

/// Serialises the leases' check-then-write among the processes sharing `instances`: an
/// advisory lock on the `instances` directory itself (no lock file is left behind), released
/// when the handle is dropped.
fn lock_leases(instances: &Path) -> Result<std::fs::File, String> {
    let dir =
        std::fs::File::open(instances).map_err(|e| format!("{}: {e}", instances.display()))?;
    dir.lock()
        .map_err(|e| format!("{}: {e}", instances.display()))?;
    Ok(dir)
}

/// `id` is one plain path component (an instance id, not a path).
pub fn plain_id(id: &str) -> bool {
    let mut c = Path::new(id).components();
    matches!(c.next(), Some(std::path::Component::Normal(_))) && c.next().is_none()
}

/// `instances/<id>.lease`.
pub fn lease_path(instances: &Path, id: &str) -> PathBuf {
    instances.join(format!("{id}.lease"))
}

/// Who holds the lease of `id`, if anyone wrote one (live or not: see [`Holder::is_live`]).
pub fn holder(instances: &Path, id: &str) -> Option<Holder> {
    let bytes = std::fs::read(lease_path(instances, id)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The lease of one deploy or undeploy; removed when dropped.
pub struct Lease {
    instances: PathBuf,
    id: String,
    /// While set (a deploy before its plan runs), dropping undoes the setup in this data dir.
    setup_of: Option<PathBuf>,
}

impl Lease {
    /// Takes the lease of `id`, unless a live process holds it.
    pub fn acquire(instances: &Path, id: &str) -> Result<Lease, String> {
        if !plain_id(id) {
            return Err(format!("'{id}' is not an instance id"));
        }
        let me = Holder::current();
        if me.start == 0 {
            return Err(
                "cannot read this process's start time from /proc/self/stat: leases need /proc"
                    .into(),
            );
        }
        std::fs::create_dir_all(instances).map_err(|e| format!("{}: {e}", instances.display()))?;
        // Check and write under one lock: two processes cannot both find the lease free.
        let _lock = lock_leases(instances)?;
        if let Some(h) = holder(instances, id).filter(Holder::is_live) {
            return Err(format!(
                "instance {id} is being deployed or undeployed by process {}: wait for it or stop it first",
                h.pid
            ));
        }
        write(instances, id, &me)?;
        Ok(Lease {
            instances: instances.to_path_buf(),
            id: id.to_string(),
            setup_of: None,
        })
    }

    /// A deploy's lease: until [`Lease::plan_runs`], dropping it removes what the deploy set up
    /// in `data_dir` (simulated network, state directory, snapshot).
    pub fn for_setup(mut self, data_dir: &Path) -> Lease {
        self.setup_of = Some(data_dir.to_path_buf());
        self
    }

    /// The plan runs: the instance is recorded and its undeploy removes what it set up.
    pub fn plan_runs(&mut self) {
        self.setup_of = None;
    }
}

/// Removes the lease of `id` if it still names `was` (a process found gone): a process that
/// took the lease meanwhile keeps it.
pub fn remove_if_held_by(instances: &Path, id: &str, was: &Holder) {
    let Ok(_lock) = lock_leases(instances) else {
        return;
    };
    if holder(instances, id).is_some_and(|h| h.same_process(was)) {
        let _ = std::fs::remove_file(lease_path(instances, id));
    }
}

fn write(instances: &Path, id: &str, h: &Holder) -> Result<(), String> {
    let path = lease_path(instances, id);
    let bytes = serde_json::to_vec(h).map_err(|e| e.to_string())?;
    provisio_model::save::write_atomic(&path, &bytes)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Removes what the deploy of `id` set up before its plan ran: its simulated network (ending
/// what runs there), its simulated state directory and its snapshot.
pub fn undo_setup(data_dir: &Path, instances: &Path, id: &str) -> Result<(), String> {
    let mut errors = Vec::new();
    if let Err(e) = super::sim_hosts::remove_simulated(data_dir, id) {
        errors.push(e);
    }
    let snap = provisio_engines::engine::instance::InstanceState::snapshot_in(instances, id);
    match std::fs::remove_file(&snap) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => errors.push(format!("{}: {e}", snap.display())),
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let undone = match self.setup_of.take() {
            Some(data_dir) => undo_setup(&data_dir, &self.instances, &self.id).is_ok(),
            None => true,
        };
        // Only a lease that still names this process is changed: another may hold it now.
        let Ok(_lock) = lock_leases(&self.instances) else {
            return;
        };
        let me = Holder::current();
        if !holder(&self.instances, &self.id).is_some_and(|h| h.same_process(&me)) {
            return;
        }
        if undone {
            let _ = std::fs::remove_file(lease_path(&self.instances, &self.id));
        } else {
            // The next start finishes it (see `recover`).
            let mut h = me;
            h.abandoned = true;
            let _ = write(&self.instances, &self.id, &h);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_live_and_a_gone_or_reused_one_is_not() {
        let me = Holder::current();
        assert!(me.start > 0, "{me:?}");
        assert!(me.is_live());
        let reused = Holder {
            start: me.start + 1,
            ..me.clone()
        };
        assert!(!reused.is_live());
        let rebooted = Holder {
            boot: "another boot".into(),
            ..me.clone()
        };
        assert!(!rebooted.is_live());
        let abandoned = Holder {
            abandoned: true,
            ..me.clone()
        };
        assert!(!abandoned.is_live());
        let gone = Holder {
            pid: u32::MAX,
            ..me
        };
        assert!(!gone.is_live());
    }

    #[test]
    fn a_live_lease_is_not_taken_twice_and_goes_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let a = Lease::acquire(dir.path(), "x").unwrap();
        let err = Lease::acquire(dir.path(), "x").err().unwrap();
        assert!(err.contains(&std::process::id().to_string()), "{err}");
        drop(a);
        assert!(holder(dir.path(), "x").is_none());
        // A dead holder's lease is taken over.
        let dead = Holder {
            pid: u32::MAX,
            ..Holder::current()
        };
        write(dir.path(), "x", &dead).unwrap();
        let _b = Lease::acquire(dir.path(), "x").unwrap();
        assert!(holder(dir.path(), "x").unwrap().is_live());
    }

    #[test]
    fn a_dropped_setup_removes_its_snapshot_and_state() {
        let data = tempfile::tempdir().unwrap();
        let instances = data.path().join("instances");
        let id = "T-1-000";
        let lease = Lease::acquire(&instances, id)
            .unwrap()
            .for_setup(data.path());
        let snap = provisio_engines::engine::instance::InstanceState::snapshot_in(&instances, id);
        std::fs::write(&snap, b"csar").unwrap();
        let state = super::super::sim_hosts::state_dir(data.path(), id);
        std::fs::create_dir_all(state.join("NodeMCU")).unwrap();
        drop(lease);
        assert!(!snap.exists() && !state.exists());
        assert!(!lease_path(&instances, id).exists());
        // Once the plan runs, both stay.
        let mut lease = Lease::acquire(&instances, id)
            .unwrap()
            .for_setup(data.path());
        std::fs::write(&snap, b"csar").unwrap();
        lease.plan_runs();
        drop(lease);
        assert!(snap.exists());
        assert!(!lease_path(&instances, id).exists());
    }

    #[test]
    fn a_dropped_lease_leaves_the_lease_another_process_took() {
        let dir = tempfile::tempdir().unwrap();
        let lease = Lease::acquire(dir.path(), "x").unwrap();
        // Another live process (init) holds it now, e.g. after a sweep found ours gone.
        let other = Holder {
            pid: 1,
            start: start_time(1).unwrap(),
            boot: boot_id(),
            abandoned: false,
        };
        write(dir.path(), "x", &other).unwrap();
        drop(lease);
        assert_eq!(holder(dir.path(), "x"), Some(other.clone()));
        // A sweep that found a gone process does not remove a lease taken since.
        let gone = Holder {
            pid: other.pid,
            start: other.start + 1,
            ..other.clone()
        };
        remove_if_held_by(dir.path(), "x", &gone);
        assert_eq!(holder(dir.path(), "x"), Some(other));
    }
}
