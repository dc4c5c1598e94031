//! The persisted state of one simulated device (its "flash"): two firmware slots, the active
//! slot, the app's config and whether it runs. Kept like a device keeps its config sector: two
//! copies with a sequence number, each save overwrites the older copy in place and fsyncs, and
//! a load takes the newest readable copy (a torn write leaves the other intact). No file is
//! created per save (a temp file and rename per save made the filesystem allocate and free an
//! inode every time: about a sixth of the install CPU with 1,000 devices).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One of the two firmware slots (OTA partitions) of a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Slot {
    #[default]
    A,
    B,
}

impl Slot {
    /// The other slot: the one an install writes to.
    pub fn other(self) -> Slot {
        match self {
            Slot::A => Slot::B,
            Slot::B => Slot::A,
        }
    }

    /// File name of the slot's image inside the device directory.
    pub fn file_name(self) -> &'static str {
        match self {
            Slot::A => "slot-a.bin",
            Slot::B => "slot-b.bin",
        }
    }
}

/// The verified image held by a slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotImage {
    /// Lowercase hex MD5 of the image.
    pub md5: String,
    /// Byte count of the image.
    pub size: u64,
}

/// Everything a device keeps across reboots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct DeviceState {
    /// The slot the device boots from.
    pub active_slot: Slot,
    /// Image in slot A (None: empty or uninstalled).
    pub slot_a: Option<SlotImage>,
    /// Image in slot B.
    pub slot_b: Option<SlotImage>,
    /// The appConfig last given by a configure command.
    pub app_config: Option<String>,
    /// Whether the app is started (restored after a reboot).
    pub running: bool,
    /// Set while an install writes to this slot; found set at boot it means the flash was cut.
    pub flashing: Option<Slot>,
}

impl DeviceState {
    /// The image of `slot`.
    pub fn slot(&self, slot: Slot) -> Option<&SlotImage> {
        match slot {
            Slot::A => self.slot_a.as_ref(),
            Slot::B => self.slot_b.as_ref(),
        }
    }

    /// Replace the image of `slot`.
    pub fn set_slot(&mut self, slot: Slot, image: Option<SlotImage>) {
        match slot {
            Slot::A => self.slot_a = image,
            Slot::B => self.slot_b = image,
        }
    }

    /// The installed app: the image of the active slot.
    pub fn installed(&self) -> Option<&SlotImage> {
        self.slot(self.active_slot)
    }
}

/// Failure to read or write a device directory.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: corrupt state file: {source}")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
}

/// The name of the state file inside a device directory (the first copy).
pub const STATE_FILE: &str = "state.json";
/// The second copy.
pub const STATE_FILE_2: &str = "state.2.json";

/// A state file as stored: the state with the sequence number of its save (absent in files
/// written before there were two copies: 0).
#[derive(Serialize)]
struct Stored<'a> {
    seq: u64,
    #[serde(flatten)]
    state: &'a DeviceState,
}

#[derive(Deserialize)]
struct Loaded {
    #[serde(default)]
    seq: u64,
    #[serde(flatten)]
    state: DeviceState,
}

/// Create the device directory and, where missing, its empty slot files and state copies
/// (the flash partitions a device has from the factory): installs and saves then write into
/// existing files and never allocate one.
pub fn provision(dir: &Path) -> Result<(), StateError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| StateError::Io { path, source }
    };
    fs::create_dir_all(dir).map_err(io(dir))?;
    for name in [
        Slot::A.file_name(),
        Slot::B.file_name(),
        STATE_FILE,
        STATE_FILE_2,
    ] {
        let path = dir.join(name);
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
                return Err(io(&path)(e));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Where a device's two state copies stand, so saves need not read them again: the sequence
/// number of the newest copy, which file holds it, and each file's length.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Copies {
    seq: u64,
    newest: Option<usize>,
    len: [usize; 2],
}

const FILES: [&str; 2] = [STATE_FILE, STATE_FILE_2];

/// One copy and its file length: `None` when the file does not exist or is empty
/// (provisioned, never saved).
fn read_copy(path: &Path) -> Result<(Option<Loaded>, usize), StateError> {
    match fs::read(path) {
        Ok(bytes) if bytes.is_empty() => Ok((None, 0)),
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(|l| (Some(l), bytes.len()))
            .map_err(|source| StateError::Corrupt {
                path: path.to_owned(),
                source,
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok((None, 0)),
        Err(source) => Err(StateError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Load the state of the device in `dir` with where its copies stand; no state file is a
/// factory-new device. A copy that cannot be read is an error unless the other one can be
/// (then it was torn by a power loss and is written over next).
pub fn load_copies(dir: &Path) -> Result<(DeviceState, Copies), StateError> {
    let a = read_copy(&dir.join(STATE_FILE));
    let b = read_copy(&dir.join(STATE_FILE_2));
    let len = |r: &Result<(Option<Loaded>, usize), StateError>| match r {
        Ok((_, n)) => *n,
        // Unreadable: its length is unknown, the next save of it cuts it to size.
        Err(_) => usize::MAX,
    };
    let lens = [len(&a), len(&b)];
    let (loaded, newest) = match (a, b) {
        (Ok((Some(a), _)), Ok((Some(b), _))) if b.seq > a.seq => (Some(b), Some(1)),
        (Ok((Some(a), _)), _) => (Some(a), Some(0)),
        (_, Ok((Some(b), _))) => (Some(b), Some(1)),
        (Ok((None, _)), Ok((None, _))) => (None, None),
        (Err(e), _) | (_, Err(e)) => return Err(e),
    };
    let copies = Copies {
        seq: loaded.as_ref().map_or(0, |l| l.seq),
        newest,
        len: lens,
    };
    Ok((loaded.map(|l| l.state).unwrap_or_default(), copies))
}

/// Load the state of the device in `dir`; no state file is a factory-new device.
pub fn load(dir: &Path) -> Result<DeviceState, StateError> {
    load_copies(dir).map(|(st, _)| st)
}

/// Save `state` into `dir` (reads where the copies stand first; see [`save_to`]).
pub fn save(dir: &Path, state: &DeviceState) -> Result<(), StateError> {
    // Unreadable copies: start over in the first file.
    let mut copies = load_copies(dir).map(|(_, c)| c).unwrap_or(Copies {
        len: [usize::MAX; 2],
        ..Default::default()
    });
    save_to(dir, state, &mut copies, true)
}

/// Save `state` into `dir`: overwrite the older copy in place (sequence number one past the
/// newest) and, when `durable`, fsync it. The newest copy stays untouched, so a save cut by a
/// power loss leaves the previous state readable. A save that need not survive a power loss
/// (one whose loss only repeats an answer) skips the fsync.
pub fn save_to(
    dir: &Path,
    state: &DeviceState,
    copies: &mut Copies,
    durable: bool,
) -> Result<(), StateError> {
    let (seq, target) = match copies.newest {
        Some(at) => (copies.seq + 1, 1 - at),
        None => (0, 0),
    };
    let path = dir.join(FILES[target]);
    let mut bytes = serde_json::to_vec_pretty(&Stored { seq, state }).map_err(|source| {
        StateError::Corrupt {
            path: path.clone(),
            source,
        }
    })?;
    // Pad with spaces (valid after JSON) over what the file held, so it needs no cutting.
    let old = copies.len[target];
    if old != usize::MAX && old > bytes.len() {
        bytes.resize(old, b' ');
    }
    write_in_place(&path, &bytes, old == usize::MAX, durable)?;
    copies.len[target] = bytes.len();
    copies.newest = Some(target);
    copies.seq = seq;
    Ok(())
}

/// Overwrite `path` with `bytes` (created if missing; cut to length when `cut`), fsync when
/// `durable`.
fn write_in_place(path: &Path, bytes: &[u8], cut: bool, durable: bool) -> Result<(), StateError> {
    let io = |source| StateError::Io {
        path: path.to_owned(),
        source,
    };
    let open = || {
        fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
    };
    let mut f = match open() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fs::create_dir_all(path.parent().unwrap_or(Path::new("."))).map_err(io)?;
            open()
        }
        r => r,
    }
    .map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    if cut {
        f.set_len(bytes.len() as u64).map_err(io)?;
    }
    // fdatasync: the data and the length, without the timestamps nobody reads.
    if durable {
        f.sync_data().map_err(io)?;
    }
    Ok(())
}

/// Write `bytes` to `path` atomically (temp file in the same directory, fsync, rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    let io = |source| StateError::Io {
        path: path.to_owned(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io)?;
    let tmp = path.with_extension("tmp");
    let mut f = fs::File::create(&tmp).map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)?;
    drop(f);
    fs::rename(&tmp, path).map_err(io)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_then_load_round_trips_and_missing_is_default() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()).unwrap(), DeviceState::default());
        let st = DeviceState {
            active_slot: Slot::B,
            slot_b: Some(SlotImage {
                md5: "ab".into(),
                size: 3,
            }),
            app_config: Some("{\"interval\":3000}".into()),
            running: true,
            ..Default::default()
        };
        save(dir.path(), &st).unwrap();
        assert_eq!(load(dir.path()).unwrap(), st);
        assert!(!dir.path().join("state.tmp").exists());
    }

    #[test]
    fn saves_alternate_between_two_copies_and_a_torn_copy_falls_back_to_the_other() {
        let dir = tempfile::tempdir().unwrap();
        let mut st = DeviceState::default();
        for i in 0..5 {
            st.app_config = Some(format!("config {i} {}", "x".repeat(40 - i * 8)));
            save(dir.path(), &st).unwrap();
            assert_eq!(load(dir.path()).unwrap(), st);
        }
        // Five saves: copies 0, 2, 4 in the first file, 1, 3 in the second.
        let first = fs::read_to_string(dir.path().join(STATE_FILE)).unwrap();
        let second = fs::read_to_string(dir.path().join(STATE_FILE_2)).unwrap();
        assert!(first.contains("config 4") && second.contains("config 3"));
        assert!(first.contains("\"seq\": 4"), "{first}");
        // Power lost while the newest copy was written: the older one is loaded.
        fs::write(
            dir.path().join(STATE_FILE),
            &first.as_bytes()[..first.len() / 2],
        )
        .unwrap();
        assert_eq!(
            load(dir.path()).unwrap().app_config.as_deref(),
            Some(format!("config 3 {}", "x".repeat(16)).as_str())
        );
        // The next save overwrites the torn copy, the good one stays.
        st.app_config = Some("after".into());
        save(dir.path(), &st).unwrap();
        assert_eq!(load(dir.path()).unwrap(), st);
        assert!(
            fs::read_to_string(dir.path().join(STATE_FILE_2))
                .unwrap()
                .contains("config 3")
        );
    }

    #[test]
    fn a_provisioned_device_is_factory_new_and_keeps_what_it_saved() {
        let dir = tempfile::tempdir().unwrap();
        let dev = dir.path().join("dev");
        provision(&dev).unwrap();
        for f in ["slot-a.bin", "slot-b.bin", STATE_FILE, STATE_FILE_2] {
            assert_eq!(fs::metadata(dev.join(f)).unwrap().len(), 0, "{f}");
        }
        assert_eq!(load(&dev).unwrap(), DeviceState::default());
        let st = DeviceState {
            running: true,
            ..Default::default()
        };
        save(&dev, &st).unwrap();
        provision(&dev).unwrap();
        assert_eq!(load(&dev).unwrap(), st);
    }

    #[test]
    fn saves_through_known_copies_pad_instead_of_cutting_and_reload_the_same() {
        let dir = tempfile::tempdir().unwrap();
        provision(dir.path()).unwrap();
        let (st0, mut copies) = load_copies(dir.path()).unwrap();
        assert_eq!(st0, DeviceState::default());
        let long = DeviceState {
            app_config: Some("y".repeat(500)),
            ..Default::default()
        };
        let short = DeviceState {
            running: true,
            ..Default::default()
        };
        for st in [&long, &long, &short, &short] {
            save_to(dir.path(), st, &mut copies, false).unwrap();
            let (got, known) = load_copies(dir.path()).unwrap();
            assert_eq!(&got, st);
            assert_eq!(known, copies, "what a save remembers is what a load finds");
        }
        // Both files held the long state once: the short one is padded, not cut.
        for f in [STATE_FILE, STATE_FILE_2] {
            assert!(fs::metadata(dir.path().join(f)).unwrap().len() > 500);
        }
    }

    #[test]
    fn a_state_file_without_sequence_number_loads() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join(STATE_FILE),
            br#"{"activeSlot":"b","running":true}"#,
        )
        .unwrap();
        let st = load(dir.path()).unwrap();
        assert_eq!((st.active_slot, st.running), (Slot::B, true));
    }

    #[test]
    fn corrupt_file_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(STATE_FILE), b"{not json").unwrap();
        let err = load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("state.json"), "{err}");
    }
}
