//! Every instance recorded under a data directory, as `provisio instances` prints them and the
//! GUI's Instances window lists them: recorded ones with their phase (interrupted or worked on
//! by a live process, see [`super::recover::progress`]), unreadable records, and deploys still
//! in (or interrupted during) setup. [`Listing`] re-reads only the records that changed since
//! it last read them. [`forget`] is `provisio undeploy --force`.

use super::lease::{self, Holder};
use super::recover::{self, Progress};
use provisio_engines::engine::instance::{InstanceError, InstanceState};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Where one listed instance stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Its phase is final: `deployed`, `failed`, `cancelled` or `undeployed`.
    Settled(String),
    /// A live process deploys or undeploys it now (its phase, the process).
    Running { phase: String, pid: u32 },
    /// Its process ended while its plan ran: its devices may hold parts of it.
    Interrupted,
    /// A live process sets its deploy up (no record yet).
    SettingUp(u32),
    /// Only a snapshot is left of a deploy interrupted during setup (an earlier version's).
    SetupInterrupted,
    /// Its record cannot be read (the reason names the file).
    Unreadable(String),
}

/// One instance as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub id: String,
    /// `{namespace}id` of its service template (empty when its record is missing or unreadable).
    pub service_template: String,
    /// Unix seconds of its deploy (when recorded).
    pub created: Option<u64>,
    /// Where its topology came from.
    pub source: Option<PathBuf>,
    pub simulated: bool,
    /// Its snapshot (the exact definitions it was deployed from) is kept.
    pub snapshot: bool,
    pub status: Status,
}

impl Listed {
    /// The process that works on it now, if any (this one included).
    pub fn live_pid(&self) -> Option<u32> {
        match self.status {
            Status::Running { pid, .. } | Status::SettingUp(pid) => Some(pid),
            _ => None,
        }
    }

    /// Its state in a word or a few: `deployed`, `interrupted`, `undeploying (process 42)`.
    pub fn state(&self) -> String {
        match &self.status {
            Status::Settled(phase) => phase.clone(),
            Status::Running { phase, pid } => format!("{phase} (process {pid})"),
            Status::Interrupted => "interrupted".into(),
            Status::SettingUp(pid) => format!("setting up (process {pid})"),
            Status::SetupInterrupted => "interrupted during setup".into(),
            Status::Unreadable(_) => "unreadable record".into(),
        }
    }

    /// Its record can be undeployed: readable, not undeployed, nobody working on it.
    pub fn can_undeploy(&self) -> bool {
        match &self.status {
            Status::Settled(phase) => phase != "undeployed",
            Status::Interrupted => true,
            _ => false,
        }
    }

    /// The service template's local id (`Thesis` of `{ns}Thesis`).
    pub fn template_name(&self) -> &str {
        self.service_template
            .rsplit_once('}')
            .map_or(self.service_template.as_str(), |(_, id)| id)
    }
}

/// What a record file looked like when it was read (re-read only when this changes).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
}

/// The part of a record the list shows (kept for unchanged records; a fleet's steps and
/// devices are large: 10,000 devices are half a megabyte).
#[derive(Debug, Clone)]
struct Record {
    service_template: String,
    created: u64,
    source: PathBuf,
    simulated: bool,
    phase: String,
}

/// The instances of one data directory; [`Listing::read`] re-reads changed records only.
#[derive(Debug)]
pub struct Listing {
    data_dir: PathBuf,
    cache: HashMap<String, (Stamp, Result<Record, String>)>,
}

impl Listing {
    pub fn new(data_dir: &Path) -> Listing {
        Listing {
            data_dir: data_dir.to_path_buf(),
            cache: HashMap::new(),
        }
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn instances_dir(&self) -> PathBuf {
        self.data_dir.join("instances")
    }

    /// Every instance: deploys in setup first, then recorded ones newest first, then
    /// unreadable records. Reads the directory, changed records and the leases of instances
    /// whose phase is not final.
    pub fn read(&mut self) -> Vec<Listed> {
        let dir = self.instances_dir();
        let mut setups: Vec<Listed> = recover::unrecorded(&dir)
            .into_iter()
            .map(|(id, live)| Listed {
                snapshot: true,
                service_template: String::new(),
                created: None,
                source: None,
                simulated: false,
                status: live.map_or(Status::SetupInterrupted, Status::SettingUp),
                id,
            })
            .collect();
        let mut recorded = Vec::new();
        let mut unreadable = Vec::new();
        let mut seen = Vec::new();
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(id) = name.strip_suffix(".json") else {
                continue;
            };
            let meta = e.metadata().ok();
            let stamp = Stamp {
                len: meta.as_ref().map_or(0, |m| m.len()),
                modified: meta.and_then(|m| m.modified().ok()),
            };
            let fresh = self.cache.get(id).is_some_and(|(s, _)| *s == stamp);
            if !fresh {
                let record = read_record(&dir, id);
                self.cache.insert(id.to_string(), (stamp, record));
            }
            seen.push(id.to_string());
            let snapshot = InstanceState::snapshot_in(&dir, id).is_file();
            match &self.cache[id].1 {
                Ok(r) => {
                    let status = match recover::progress(&dir, id, &r.phase) {
                        Progress::Settled => Status::Settled(r.phase.clone()),
                        Progress::Running(pid) => Status::Running {
                            phase: r.phase.clone(),
                            pid,
                        },
                        Progress::Interrupted => Status::Interrupted,
                    };
                    recorded.push(Listed {
                        id: id.to_string(),
                        service_template: r.service_template.clone(),
                        created: Some(r.created),
                        source: Some(r.source.clone()),
                        simulated: r.simulated,
                        snapshot,
                        status,
                    });
                }
                Err(why) => {
                    // A live process may be writing it: its lease says so.
                    let status = match lease::holder(&dir, id).filter(Holder::is_live) {
                        Some(h) => Status::Running {
                            phase: "running".into(),
                            pid: h.pid,
                        },
                        None => Status::Unreadable(why.clone()),
                    };
                    unreadable.push(Listed {
                        id: id.to_string(),
                        service_template: String::new(),
                        created: None,
                        source: None,
                        simulated: false,
                        snapshot,
                        status,
                    });
                }
            }
        }
        self.cache.retain(|id, _| seen.contains(id));
        setups.sort_by(|a, b| a.id.cmp(&b.id));
        recorded.sort_by(|a, b| b.created.cmp(&a.created).then(b.id.cmp(&a.id)));
        unreadable.sort_by(|a, b| a.id.cmp(&b.id));
        setups.extend(recorded);
        setups.extend(unreadable);
        setups
    }
}

/// Every instance under `data_dir` (see [`Listing::read`]).
pub fn list(data_dir: &Path) -> Vec<Listed> {
    Listing::new(data_dir).read()
}

/// The record's listed fields, or why it cannot be read (naming the file and what is wrong).
/// Read whole by the engine's own parser, the one undeploy reads it with: a record listed as
/// undeployable is one undeploy can read (bad `steps` or `devices` make it unreadable too).
fn read_record(dir: &Path, id: &str) -> Result<Record, String> {
    let i = InstanceState::load(dir, id).map_err(|e| match e {
        InstanceError::NotFound(_) => {
            format!(
                "{}: removed while listed",
                InstanceState::path_in(dir, id).display()
            )
        }
        e => e.to_string(),
    })?;
    Ok(Record {
        service_template: i.service_template,
        created: i.created,
        source: i.source,
        simulated: i.simulated,
        phase: i.phase,
    })
}

/// What [`forget`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forgotten {
    /// One line saying so.
    pub message: String,
    /// What could not be removed on the way (simulated hosts), if anything.
    pub warning: Option<String>,
}

/// `undeploy --force`: forgets an instance whose devices cannot be reached, touching nothing
/// on them (its simulated hosts and devices are this machine's and go with it); one
/// interrupted during setup (no record, only a snapshot or a lease) loses what it left here.
/// Refused while a live process deploys or undeploys it (the error names the instance).
pub fn forget(data_dir: &Path, id: &str) -> Result<Forgotten, String> {
    let dir = data_dir.join("instances");
    if !lease::plain_id(id) {
        return Err(format!("'{id}' is not an instance id"));
    }
    // Held while the record and what it left are removed: a deploy or undeploy of it (in this
    // process too, such as the window's own) cannot start meanwhile, and one running refuses
    // this.
    let had_lease = lease::lease_path(&dir, id).is_file();
    let _lease = lease::Lease::acquire(&dir, id)?;
    let recorded = InstanceState::load(&dir, id);
    // An unreadable record may be a simulated instance's: what it may have left of simulated
    // hosts is removed too (nothing there is nothing removed).
    let simulated = recorded.as_ref().map_or(true, |i| i.simulated);
    // Only a missing record: a corrupt or unreadable one is a recorded instance, forgotten
    // below (its devices may hold parts of it).
    let unrecorded = matches!(recorded, Err(InstanceError::NotFound(_)))
        && (InstanceState::snapshot_in(&dir, id).is_file() || had_lease);
    if unrecorded {
        // Its plan never ran: only this machine holds anything of it.
        lease::undo_setup(data_dir, &dir, id).map_err(|e| format!("{id}: {e}"))?;
        let _ = std::fs::remove_file(lease::lease_path(&dir, id));
        return Ok(Forgotten {
            message: format!("removed what the interrupted deploy {id} left"),
            warning: None,
        });
    }
    InstanceState::remove(&dir, id).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_file(lease::lease_path(&dir, id));
    let _ = std::fs::remove_file(super::image_use::images_path(&dir, id));
    let warning = if simulated {
        super::sim_hosts::remove_simulated(data_dir, id)
            .err()
            .map(|e| format!("simulated hosts of {id}: {e}"))
    } else {
        None
    };
    Ok(Forgotten {
        message: format!(
            "instance {id} forgotten; nothing on its devices was touched (remove what is left \
             there by hand)"
        ),
        warning,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, created: u64, phase: &str) -> InstanceState {
        InstanceState {
            id: id.into(),
            source: "builtin".into(),
            service_template: "{ns}Thesis".into(),
            created,
            simulated: false,
            inputs: Default::default(),
            steps: Vec::new(),
            devices: Default::default(),
            phase: phase.into(),
        }
    }

    #[test]
    fn lists_settled_interrupted_unreadable_and_setups_and_rereads_changed_records() {
        let data = tempfile::tempdir().unwrap();
        let dir = data.path().join("instances");
        record("a", 1, "deployed").save(&dir).unwrap();
        record("b", 2, "running").save(&dir).unwrap();
        std::fs::write(InstanceState::path_in(&dir, "c"), b"{").unwrap();
        std::fs::write(InstanceState::snapshot_in(&dir, "d"), b"csar").unwrap();
        let mut listing = Listing::new(data.path());
        let got: Vec<(String, String)> = listing
            .read()
            .into_iter()
            .map(|l| (l.id.clone(), l.state()))
            .collect();
        let want = [
            ("d", "interrupted during setup"),
            ("b", "interrupted"),
            ("a", "deployed"),
            ("c", "unreadable record"),
        ];
        assert_eq!(
            got,
            want.map(|(a, b)| (a.to_string(), b.to_string())).to_vec()
        );
        // A changed record is read again; a removed one goes.
        let mut b = record("b", 2, "failed");
        b.service_template = "{ns}Other".into();
        b.save(&dir).unwrap();
        std::fs::remove_file(InstanceState::path_in(&dir, "a")).unwrap();
        let l = listing.read();
        assert_eq!(l.len(), 3, "{l:?}");
        assert_eq!(l[1].status, Status::Settled("failed".into()));
        assert_eq!(l[1].template_name(), "Other");
        assert!(l[1].can_undeploy() && !l[0].can_undeploy() && !l[2].can_undeploy());
    }

    /// Valid JSON with every listed field, but steps undeploy cannot read: unreadable, as
    /// undeploy finds it, naming the file and what is wrong; not undeployable.
    #[test]
    fn a_record_with_bad_steps_is_unreadable_as_undeploy_finds_it() {
        let data = tempfile::tempdir().unwrap();
        let dir = data.path().join("instances");
        for (id, steps) in [("n", "5"), ("m", r#"[{"id": "s1", "node": "N"}]"#)] {
            let mut v = serde_json::to_value(record(id, 1, "deployed")).unwrap();
            v["steps"] = serde_json::from_str(steps).unwrap();
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(InstanceState::path_in(&dir, id), v.to_string()).unwrap();
        }
        let l = list(data.path());
        assert_eq!(l.len(), 2, "{l:?}");
        for (row, wrong) in l
            .iter()
            .zip(["missing field `operation`", "invalid type: integer `5`"])
        {
            let Status::Unreadable(why) = &row.status else {
                panic!("{row:?}");
            };
            let file = InstanceState::path_in(&dir, &row.id).display().to_string();
            assert!(why.contains(&file) && why.contains(wrong), "{why}");
            assert!(!row.can_undeploy());
            let undeploy = InstanceState::load(&dir, &row.id).unwrap_err().to_string();
            assert_eq!(*why, undeploy);
        }
    }

    #[test]
    fn forget_refuses_a_live_one_and_removes_a_corrupt_one() {
        let data = tempfile::tempdir().unwrap();
        let dir = data.path().join("instances");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(InstanceState::path_in(&dir, "c"), b"{").unwrap();
        let held = lease::Lease::acquire(&dir, "c").unwrap();
        let err = forget(data.path(), "c").unwrap_err();
        assert!(
            err.contains("instance c") && err.contains(&std::process::id().to_string()),
            "{err}"
        );
        assert!(InstanceState::path_in(&dir, "c").exists());
        drop(held);
        let done = forget(data.path(), "c").unwrap();
        assert!(done.message.contains("instance c forgotten"), "{done:?}");
        assert!(!InstanceState::path_in(&dir, "c").exists());
        assert!(
            forget(data.path(), "c")
                .unwrap_err()
                .contains("no instance 'c'")
        );
        assert!(forget(data.path(), "../x").is_err());
    }
}
