//! Provisio's data directory (`$PROVISIO_DATA_DIR`, else the platform's): deployed instances,
//! recent files, the autosave recovery file and the copies kept aside ([`kept`]). Shared by the
//! CLI and the GUI; no GUI code here.

use std::path::{Path, PathBuf};

pub mod kept;

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

/// The name of the XML copy of library file `library_path` of `workspace`: a stable key (FNV-1a
/// of both paths), so a name never holds another file's copy, whatever else is unsaved.
pub fn copy_name(workspace: Option<&Path>, library_path: &Path) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let ws = workspace.map(|w| w.to_string_lossy().to_string());
    let key = format!(
        "{}\0{}",
        ws.unwrap_or_default(),
        library_path.to_string_lossy()
    );
    for b in key.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("recovery-{h:016x}.tosca")
}

/// Writes the recovery copy: every file's XML first (each under its [`copy_name`]), then, only
/// when all were written, the list of them (`recovery.json`, replaced atomically); copies no
/// longer listed are removed last. A crash at any point leaves a list whose every name holds
/// a copy of the file it names. Returns what could not be written (the old list then stays).
pub fn write_recovery(
    workspace: Option<PathBuf>,
    files: Vec<(RecoveredFile, Vec<u8>)>,
) -> Result<(), String> {
    let dir = recovery_dir();
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut listed = Vec::new();
    for (mut f, xml) in files {
        f.xml = copy_name(workspace.as_deref(), &f.library_path);
        let path = dir.join(&f.xml);
        provisio_model::save::write_atomic(&path, &xml)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        listed.push(f);
    }
    let keep: Vec<String> = listed.iter().map(|f| f.xml.clone()).collect();
    let meta = Recovery {
        dir: dir.clone(),
        workspace,
        files: listed,
        saved_at: now_secs(),
    };
    let b = serde_json::to_vec(&meta).map_err(|e| e.to_string())?;
    provisio_model::save::write_atomic(&manifest_path(), &b)
        .map_err(|e| format!("{}: {e}", manifest_path().display()))?;
    remove_copies_except(&keep);
    Ok(())
}

/// Seconds since the epoch, now.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `secs` since the epoch as a UTC date and time for a folder name: `2026-12-01_143005`.
pub fn utc_stamp(secs: u64) -> String {
    let (y, m, d, h, min, s) = utc_civil(secs);
    format!("{y:04}-{m:02}-{d:02}_{h:02}{min:02}{s:02}")
}

/// `secs` since the epoch as a UTC date and time for people: `2026-12-01 14:30:05`.
pub fn utc_date_time(secs: u64) -> String {
    let (y, m, d, h, min, s) = utc_civil(secs);
    format!("{y:04}-{m:02}-{d:02} {h:02}:{min:02}:{s:02}")
}

/// Year, month, day, hour, minute, second (UTC) of `secs` since the epoch.
fn utc_civil(secs: u64) -> (i64, i64, i64, u64, u64, u64) {
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, rem / 3600, rem / 60 % 60, rem % 60)
}

/// Keeps the recovery copy `r` (its list and every copy still there) in a dated folder of the
/// data directory (`recovery-kept/2026-12-01_143005`), out of the way of later autosaves.
/// Returns that folder.
pub fn keep_recovery(r: &Recovery) -> Result<PathBuf, String> {
    let base = kept::kept_dir();
    let stamp = utc_stamp(now_secs());
    let mut to = base.join(&stamp);
    let mut n = 1;
    while to.exists() {
        to = base.join(format!("{stamp}-{n}"));
        n += 1;
    }
    std::fs::create_dir_all(&to).map_err(|e| format!("{}: {e}", to.display()))?;
    let names = r
        .files
        .iter()
        .map(|f| f.xml.clone())
        .chain(["recovery.json".to_string()]);
    for name in names {
        let from = r.dir.join(&name);
        if from.exists() {
            std::fs::copy(&from, to.join(&name)).map_err(|e| format!("{}: {e}", from.display()))?;
        }
    }
    Ok(to)
}

/// Removes the XML copies in the recovery folder not named in `keep`.
fn remove_copies_except(keep: &[String]) {
    let Ok(entries) = std::fs::read_dir(recovery_dir()) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if name.starts_with("recovery")
            && name.ends_with(".tosca")
            && !keep.contains(&name)
            && e.path().is_file()
        {
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
    // Offered while any copy is there (a missing one is reported when restoring).
    meta.files
        .iter()
        .any(|f| meta.xml_path(f).exists())
        .then_some(meta)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_stamps_are_utc_dates() {
        assert_eq!(utc_stamp(0), "1970-01-01_000000");
        assert_eq!(utc_stamp(1_796_135_405), "2026-12-01_143005");
        assert_eq!(utc_stamp(951_782_400 + 86_399), "2000-02-29_235959");
        assert_eq!(utc_date_time(1_796_135_405), "2026-12-01 14:30:05");
    }

    #[test]
    fn a_copy_name_depends_on_the_file_only() {
        let ws = Path::new("/home/ann/repo");
        let a = Path::new("/home/ann/repo/servicetemplates/a/ServiceTemplate.tosca");
        let b = Path::new("/home/ann/repo/servicetemplates/b/ServiceTemplate.tosca");
        assert_eq!(copy_name(Some(ws), a), copy_name(Some(ws), a));
        assert_ne!(copy_name(Some(ws), a), copy_name(Some(ws), b));
        assert_ne!(copy_name(Some(ws), a), copy_name(None, a));
        assert!(
            copy_name(None, a).starts_with("recovery-") && copy_name(None, a).ends_with(".tosca")
        );
    }
}
