//! The persisted state of one simulated device (its "flash"): two firmware slots, the active
//! slot, the app's config and whether it runs, written atomically (temp file, fsync, rename).

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
    /// A response to publish right after the next boot (install answers after its reboot).
    pub pending_response: Option<String>,
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

/// The name of the state file inside a device directory.
pub const STATE_FILE: &str = "state.json";

/// Load the state of the device in `dir`; a missing file is a factory-new device.
pub fn load(dir: &Path) -> Result<DeviceState, StateError> {
    let path = dir.join(STATE_FILE);
    match fs::read(&path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes).map_err(|source| StateError::Corrupt { path, source })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(DeviceState::default()),
        Err(source) => Err(StateError::Io { path, source }),
    }
}

/// Save `state` into `dir` atomically: write a temp file, fsync it, rename it over the old one.
pub fn save(dir: &Path, state: &DeviceState) -> Result<(), StateError> {
    let bytes = serde_json::to_vec_pretty(state).map_err(|source| StateError::Corrupt {
        path: dir.join(STATE_FILE),
        source,
    })?;
    write_atomic(&dir.join(STATE_FILE), &bytes)
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
    fn corrupt_file_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(STATE_FILE), b"{not json").unwrap();
        let err = load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("state.json"), "{err}");
    }
}
