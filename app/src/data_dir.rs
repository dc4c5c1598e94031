//! Provisio's data directory (`$PROVISIO_DATA_DIR`, else the platform's): deployed instances,
//! recent files and the autosave recovery file. Shared by the CLI and the GUI; no GUI code here.

use std::path::{Path, PathBuf};

/// The default data directory (`$PROVISIO_DATA_DIR`, else the platform's data dir).
pub fn default_data_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("PROVISIO_DATA_DIR") {
        return PathBuf::from(d);
    }
    directories::ProjectDirs::from("dev", "provisio", "provisio")
        .map(|p| p.data_dir().to_path_buf())
        .unwrap_or_else(|| std::env::temp_dir().join("provisio"))
}

fn data_dir() -> PathBuf {
    default_data_dir()
}

/// Recently opened or saved files, newest first.
pub fn recent_files() -> Vec<PathBuf> {
    std::fs::read(data_dir().join("recent.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<Vec<PathBuf>>(&b).ok())
        .unwrap_or_default()
}

/// Puts `path` first in the recent files (at most ten).
pub fn remember_recent(path: &Path) {
    let Ok(abs) = std::fs::canonicalize(path) else {
        return;
    };
    let mut list = recent_files();
    list.retain(|p| *p != abs);
    list.insert(0, abs);
    list.truncate(10);
    let _ = std::fs::create_dir_all(data_dir());
    if let Ok(b) = serde_json::to_vec(&list) {
        let _ = provisio_model::save::write_atomic(&data_dir().join("recent.json"), &b);
    }
}

/// Recovery: the unsaved document's XML plus where it came from.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Recovery {
    pub origin: Option<PathBuf>,
    pub service_template: String,
    pub saved_at: u64,
}

fn recovery_paths() -> (PathBuf, PathBuf) {
    let d = data_dir().join("recovery");
    (d.join("recovery.tosca"), d.join("recovery.json"))
}

/// Writes the recovery file and its metadata atomically.
pub fn write_recovery(origin: Option<PathBuf>, service_template: String, xml: &[u8]) {
    let (xml_path, meta_path) = recovery_paths();
    if let Some(dir) = xml_path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let meta = Recovery {
        origin,
        service_template,
        saved_at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    };
    if provisio_model::save::write_atomic(&xml_path, xml).is_ok()
        && let Ok(b) = serde_json::to_vec(&meta)
    {
        let _ = provisio_model::save::write_atomic(&meta_path, &b);
    }
}

/// The recovery left by a previous session, if any.
pub fn pending_recovery() -> Option<(PathBuf, Recovery)> {
    let (xml_path, meta_path) = recovery_paths();
    let meta: Recovery = serde_json::from_slice(&std::fs::read(&meta_path).ok()?).ok()?;
    xml_path.exists().then_some((xml_path, meta))
}

/// Removes the recovery file `xml` and its metadata next to it (the Discard button).
pub fn discard_recovery(xml: &Path) {
    let _ = std::fs::remove_file(xml);
    let _ = std::fs::remove_file(xml.with_extension("json"));
}

/// Window settings remembered between sessions (`ui.json` in the data directory).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct UiSettings {
    /// Height of the bottom panel (diagnostics, deploy, logs) in points.
    pub bottom_height: Option<f32>,
}

pub fn load_ui_settings() -> UiSettings {
    std::fs::read(data_dir().join("ui.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

pub fn save_ui_settings(s: &UiSettings) {
    let _ = std::fs::create_dir_all(data_dir());
    if let Ok(b) = serde_json::to_vec(s) {
        let _ = provisio_model::save::write_atomic(&data_dir().join("ui.json"), &b);
    }
}

/// Removes the recovery file (after a save, or when the user discards it).
pub fn clear_recovery() {
    let (a, b) = recovery_paths();
    let _ = std::fs::remove_file(a);
    let _ = std::fs::remove_file(b);
}
