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

/// The recovery copy: every file with unsaved edits of what was open, one XML copy each.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Recovery {
    /// The folder holding the copy (the data directory's `recovery`; not stored).
    #[serde(skip)]
    pub dir: PathBuf,
    /// What was open (a Winery repository folder, a TOSCA file or a CSAR); `None` for an
    /// untitled topology or an example.
    pub workspace: Option<PathBuf>,
    pub files: Vec<RecoveredFile>,
    pub saved_at: u64,
}

/// One file with unsaved edits in the recovery copy.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RecoveredFile {
    /// The file's path in what was open (the library's path: a repository's file, the TOSCA
    /// file, a CSAR entry).
    pub library_path: PathBuf,
    /// Where Save writes it (`None`: not saved yet).
    pub origin: Option<PathBuf>,
    /// The service templates with unsaved edits in it (`{ns}id`).
    pub service_templates: Vec<String>,
    /// Its XML copy: a file name in the recovery folder.
    pub xml: String,
}

impl Recovery {
    /// Where the XML copy of `f` is.
    pub fn xml_path(&self, f: &RecoveredFile) -> PathBuf {
        self.dir.join(&f.xml)
    }
}

/// The format before several tabs were covered: one service template.
#[derive(serde::Deserialize)]
struct OneRecovery {
    origin: Option<PathBuf>,
    service_template: String,
    saved_at: u64,
}

fn recovery_dir() -> PathBuf {
    data_dir().join("recovery")
}

fn manifest_path() -> PathBuf {
    recovery_dir().join("recovery.json")
}

/// Writes the recovery copy atomically: each file's XML (`recovery.tosca`, `recovery-1.tosca`,
/// …) then the list of them (`recovery.json`); copies of files no longer listed are removed.
pub fn write_recovery(workspace: Option<PathBuf>, files: Vec<(RecoveredFile, Vec<u8>)>) {
    let dir = recovery_dir();
    let _ = std::fs::create_dir_all(&dir);
    let mut listed = Vec::new();
    for (i, (mut f, xml)) in files.into_iter().enumerate() {
        f.xml = if i == 0 {
            "recovery.tosca".to_string()
        } else {
            format!("recovery-{i}.tosca")
        };
        if provisio_model::save::write_atomic(&dir.join(&f.xml), &xml).is_err() {
            return;
        }
        listed.push(f);
    }
    let keep: Vec<String> = listed.iter().map(|f| f.xml.clone()).collect();
    let meta = Recovery {
        dir: dir.clone(),
        workspace,
        files: listed,
        saved_at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    };
    if let Ok(b) = serde_json::to_vec(&meta)
        && provisio_model::save::write_atomic(&manifest_path(), &b).is_ok()
    {
        remove_copies_except(&keep);
    }
}

/// Removes the XML copies in the recovery folder not named in `keep`.
fn remove_copies_except(keep: &[String]) {
    let Ok(entries) = std::fs::read_dir(recovery_dir()) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if name.starts_with("recovery") && name.ends_with(".tosca") && !keep.contains(&name) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// The recovery left by a previous session, if any (also in the one-template format of
/// earlier versions).
pub fn pending_recovery() -> Option<Recovery> {
    let bytes = std::fs::read(manifest_path()).ok()?;
    let meta = serde_json::from_slice::<Recovery>(&bytes)
        .ok()
        .or_else(|| {
            let one: OneRecovery = serde_json::from_slice(&bytes).ok()?;
            Some(Recovery {
                dir: PathBuf::new(),
                workspace: None,
                files: vec![RecoveredFile {
                    library_path: one.origin.clone().unwrap_or_default(),
                    origin: one.origin,
                    service_templates: vec![one.service_template],
                    xml: "recovery.tosca".into(),
                }],
                saved_at: one.saved_at,
            })
        })?;
    let meta = Recovery {
        dir: recovery_dir(),
        ..meta
    };
    (!meta.files.is_empty() && meta.files.iter().all(|f| meta.xml_path(f).exists())).then_some(meta)
}

/// Removes the recovery copy `r` (the Discard button): its list and XML copies.
pub fn discard_recovery(r: &Recovery) {
    let _ = std::fs::remove_file(r.dir.join("recovery.json"));
    for f in &r.files {
        let _ = std::fs::remove_file(r.xml_path(f));
    }
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
    let _ = std::fs::remove_file(manifest_path());
    remove_copies_except(&[]);
}
