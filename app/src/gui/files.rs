//! Opening and saving: the built-in examples, TOSCA files, Winery repositories and CSARs
//! (native dialogs through rfd, with a typed-path fallback), atomic saves, recent files, and an
//! autosave recovery file offered back after a crash.

use super::state::{Document, EditorState};
use provisio_model::tosca::{Definitions, ServiceTemplate};
use provisio_model::{InputKind, Loaded, QName};
use std::path::{Path, PathBuf};

/// The path used for documents that come from the built-in library.
pub const BUILTIN: &str = "builtin";

/// The built-in library as a loaded document source.
pub fn builtin_loaded() -> Loaded {
    Loaded {
        kind: InputKind::WineryRepository,
        path: PathBuf::from(BUILTIN),
        library: crate::library::builtin_library(),
        main_file: None,
        csar: None,
    }
}

/// Opens the built-in example `id` (e.g. `ThesisScenario`).
pub fn open_example(id: &str) -> Result<Document, String> {
    let loaded = builtin_loaded();
    let q = QName::new(provisio_assets::SERVICE_TEMPLATES_NS, id);
    document_for(loaded, Some(&q), None)
}

/// Opens a file, repository or CSAR; picks `wanted` or the first service template of the
/// user's files; a file without one gets a new empty service template.
pub fn open_path(path: &Path) -> Result<Document, String> {
    let mut loaded = crate::library::open_with_builtin(path).map_err(|e| e.to_string())?;
    let has_st = loaded
        .library
        .service_templates()
        .iter()
        .any(|(f, _)| !loaded.library.file(*f).builtin);
    if !has_st {
        let file = loaded
            .main_file
            .ok_or_else(|| format!("{} holds no service template", path.display()))?;
        let defs = loaded.library.definitions_mut(file);
        let ns = if defs.target_namespace.is_empty() {
            "http://provisio.dev/tosca/servicetemplates".to_string()
        } else {
            defs.target_namespace.clone()
        };
        defs.service_templates
            .push(ServiceTemplate::new(&ns, "NewTopology"));
    }
    let save = match loaded.kind {
        InputKind::File => Some(path.to_path_buf()),
        _ => None,
    };
    document_for(loaded, None, save)
}

/// A new, empty topology (on top of the built-in library).
pub fn new_document() -> Document {
    let mut loaded = builtin_loaded();
    let mut defs = Definitions::new(
        "provisio-new-topology",
        "http://provisio.dev/tosca/servicetemplates",
    );
    defs.service_templates.push(ServiceTemplate::new(
        "http://provisio.dev/tosca/servicetemplates",
        "NewTopology",
    ));
    let file = loaded.library.add("untitled.tosca", defs, false);
    loaded.main_file = Some(file);
    Document {
        loaded,
        file,
        st_index: 0,
        save_path: None,
    }
}

fn document_for(
    loaded: Loaded,
    wanted: Option<&QName>,
    save_path: Option<PathBuf>,
) -> Result<Document, String> {
    let lib = &loaded.library;
    let candidates: Vec<(usize, usize)> = lib
        .files()
        .iter()
        .enumerate()
        .flat_map(|(f, file)| (0..file.definitions.service_templates.len()).map(move |i| (f, i)))
        .collect();
    let pick = |f: &(usize, usize)| {
        let st = &lib.file(f.0).definitions.service_templates[f.1];
        wanted.is_none_or(|w| st.qname() == *w)
    };
    let main_first = candidates
        .iter()
        .filter(|c| Some(c.0) == loaded.main_file)
        .chain(candidates.iter().filter(|c| !lib.file(c.0).builtin))
        .chain(candidates.iter())
        .find(|c| pick(c))
        .copied();
    let (file, st_index) = main_first.ok_or_else(|| "no service template to open".to_string())?;
    Ok(Document {
        loaded,
        file,
        st_index,
        save_path,
    })
}

impl EditorState {
    /// Saves to `path` atomically; the document then belongs to that file.
    pub fn save_to(&mut self, path: &Path) -> Result<(), String> {
        let xml = self.doc.to_xml();
        provisio_model::save::write_atomic(path, xml.as_bytes())
            .map_err(|e| format!("{}: {e}", path.display()))?;
        self.doc.save_path = Some(path.to_path_buf());
        self.dirty = false;
        self.status = format!("saved {}", path.display());
        remember_recent(path);
        clear_recovery();
        Ok(())
    }
}

fn data_dir() -> PathBuf {
    crate::deploy::default_data_dir()
}

/// Recently opened or saved files, newest first.
pub fn recent_files() -> Vec<PathBuf> {
    std::fs::read(data_dir().join("recent.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<Vec<PathBuf>>(&b).ok())
        .unwrap_or_default()
}

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

/// Writes the recovery file (called periodically while there are unsaved changes).
pub fn autosave(state: &EditorState) {
    let (xml_path, meta_path) = recovery_paths();
    if let Some(dir) = xml_path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let meta = Recovery {
        origin: state.doc.save_path.clone(),
        service_template: state.doc.st().qname().to_string(),
        saved_at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    };
    if provisio_model::save::write_atomic(&xml_path, state.doc.to_xml().as_bytes()).is_ok()
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

pub fn clear_recovery() {
    let (a, b) = recovery_paths();
    let _ = std::fs::remove_file(a);
    let _ = std::fs::remove_file(b);
}

/// Opens the recovery file as a document that saves back to its origin.
pub fn open_recovery(xml: &Path, meta: &Recovery) -> Result<Document, String> {
    let mut doc = open_path(xml)?;
    if let Ok(q) = QName::parse(&meta.service_template) {
        let defs = &doc.loaded.library.file(doc.file).definitions;
        if let Some(i) = defs.service_templates.iter().position(|s| s.qname() == q) {
            doc.st_index = i;
        }
    }
    doc.save_path = meta.origin.clone();
    Ok(doc)
}
