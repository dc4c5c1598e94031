//! Opening and saving: the built-in examples, TOSCA files, Winery repositories and CSARs
//! (native dialogs through rfd, with a typed-path fallback), atomic saves, recent files, and the
//! crash-recovery copy (see [`super::recovery`]).

use super::state::{Document, EditorState};
use provisio_model::tosca::{Definitions, ServiceTemplate};
use provisio_model::{InputKind, Loaded, QName};
use std::path::{Path, PathBuf};

pub use crate::data_dir::{
    RecoveredFile, Recovery, clear_recovery, pending_recovery, recent_files, remember_recent,
};
pub use crate::library::{BUILTIN, builtin_loaded};

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

/// Opens `path` like [`open_path`], choosing the service template `wanted` (`{ns}id` or a
/// bare id) when given; an unknown one is an error that lists the candidates.
pub fn open_path_with(path: &Path, wanted: Option<&str>) -> Result<Document, String> {
    let Some(w) = wanted else {
        return open_path(path);
    };
    let loaded = crate::library::open_with_builtin(path).map_err(|e| e.to_string())?;
    let st = crate::cli::select::select_service_template(&loaded, Some(w))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let save = matches!(loaded.kind, InputKind::File).then(|| path.to_path_buf());
    document_for(loaded, Some(&st.qname()), save)
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
    /// Saves to `path` atomically; the document then belongs to that file. The format is the
    /// path's: `.yaml`/`.yml` writes TOSCA YAML (Simple Profile), `.tosca`/`.xml` TOSCA 1.0 XML,
    /// anything else the document's own format.
    /// The recovery copy is left to the caller (other tabs may still have unsaved edits).
    pub fn save_to(&mut self, path: &Path) -> Result<(), String> {
        write_file(&self.doc, self.doc.file, path)?;
        self.doc.save_path = Some(path.to_path_buf());
        self.dirty = false;
        self.status = format!("saved {}", path.display());
        remember_recent(path);
        Ok(())
    }
}

/// Writes library file `file` of `doc` to `path` atomically, in the path's format (as
/// [`EditorState::save_to`]).
pub fn write_file(doc: &Document, file: usize, path: &Path) -> Result<(), String> {
    let defs = &doc.loaded.library.file(file).definitions;
    let text = match path.extension().and_then(|e| e.to_str()) {
        Some("yaml" | "yml") => defs.to_yaml(),
        Some("tosca" | "xml") => defs.to_xml(),
        _ => defs.to_text(),
    };
    provisio_model::save::write_atomic(path, text.as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Opens a recovery copy `xml` as a document showing service template `st` (`{ns}id`) that
/// saves back to `origin`.
pub fn open_recovery(xml: &Path, st: &str, origin: Option<PathBuf>) -> Result<Document, String> {
    let mut doc = open_path(xml)?;
    if let Ok(q) = QName::parse(st) {
        let defs = &doc.loaded.library.file(doc.file).definitions;
        if let Some(i) = defs.service_templates.iter().position(|s| s.qname() == q) {
            doc.st_index = i;
        }
    }
    doc.save_path = origin;
    Ok(doc)
}
