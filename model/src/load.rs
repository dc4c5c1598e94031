//! Opening what a user points at: a TOSCA XML or YAML file, a Winery repository folder (with
//! any TOSCA YAML files in it), or a CSAR (XML or YAML Entry-Definitions).

use crate::csar;
use crate::diagnostic::Diagnostic;
use crate::library::Library;
use crate::tosca::Definitions;
use std::fmt;
use std::path::{Path, PathBuf};

/// What was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InputKind {
    File,
    WineryRepository,
    Csar,
}

/// The result of opening a path.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub kind: InputKind,
    pub path: PathBuf,
    pub library: Library,
    /// The file the user opened (for a CSAR: its Entry-Definitions); `None` for a repository.
    pub main_file: Option<usize>,
    /// For a CSAR: the open archive (Definitions read, artifacts inflated only when deploy or
    /// export asks for one, under a limit).
    pub csar: Option<csar::Csar>,
}

/// The input could not be read or parsed at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub path: PathBuf,
    pub line: Option<u32>,
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(l) = self.line.filter(|l| *l > 0) {
            write!(f, ":{l}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for LoadError {}

impl LoadError {
    fn new(path: &Path, line: Option<u32>, message: impl Into<String>) -> Self {
        LoadError {
            path: path.to_path_buf(),
            line,
            message: message.into(),
        }
    }
}

/// Opens a file, folder or CSAR.
pub fn load_path(path: &Path) -> Result<Loaded, LoadError> {
    let meta = std::fs::metadata(path).map_err(|e| LoadError::new(path, None, e.to_string()))?;
    if meta.is_dir() {
        return Ok(load_winery_repository(path));
    }
    let is_csar = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("csar") || e.eq_ignore_ascii_case("zip"));
    if is_csar {
        return load_csar(path);
    }
    if crate::yaml::is_yaml_path(path) {
        return crate::yaml::load_yaml_path(path);
    }
    let defs = load_definitions_file(path)?;
    let mut library = Library::new();
    let i = library.add(path, defs, false);
    Ok(Loaded {
        kind: InputKind::File,
        path: path.to_path_buf(),
        library,
        main_file: Some(i),
        csar: None,
    })
}

/// Reads and parses one Definitions file.
pub fn load_definitions_file(path: &Path) -> Result<Definitions, LoadError> {
    let len = std::fs::metadata(path)
        .map_err(|e| LoadError::new(path, None, e.to_string()))?
        .len();
    if len > crate::xml::parse::MAX_DOCUMENT_BYTES as u64 {
        return Err(LoadError::new(
            path,
            None,
            format!("file is {len} bytes, larger than the limit"),
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| LoadError::new(path, None, e.to_string()))?;
    Definitions::from_bytes(&bytes)
        .map_err(|e| LoadError::new(path, Some(e.line()), strip_line(&e.to_string())))
}

fn strip_line(msg: &str) -> String {
    match msg.strip_prefix("line ") {
        Some(rest) => rest
            .split_once(": ")
            .map(|(_, m)| m.to_string())
            .unwrap_or_else(|| msg.to_string()),
        None => msg.to_string(),
    }
}

/// Opens a CSAR.
pub fn load_csar(path: &Path) -> Result<Loaded, LoadError> {
    let archive = csar::read_file(path).map_err(|e| LoadError::new(path, None, e.to_string()))?;
    if let Some(entry) = archive.entry_definitions().map(str::to_string)
        && crate::yaml::is_yaml_path(Path::new(&entry))
    {
        return crate::yaml::load::load_yaml_csar(archive, path, &entry);
    }
    let (library, main_file) =
        csar::to_library(&archive, path).map_err(|e| LoadError::new(path, None, e.to_string()))?;
    Ok(Loaded {
        kind: InputKind::Csar,
        path: path.to_path_buf(),
        library,
        main_file,
        csar: Some(archive),
    })
}

/// Opens a Winery repository folder: every `.tosca` file below it (hidden folders skipped),
/// in sorted order. A file that cannot be parsed becomes an error diagnostic; the rest loads.
pub fn load_winery_repository(root: &Path) -> Loaded {
    let mut library = Library::new();
    let mut files = Vec::new();
    let mut yaml_files = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            library.push_load_diagnostic(
                Diagnostic::warning(
                    "unreadable",
                    dir.display().to_string(),
                    "folder cannot be read",
                )
                .at(Some(dir.clone()), 0),
            );
            continue;
        };
        for entry in entries.flatten() {
            let p = entry.path();
            let hidden = p
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'));
            if hidden {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "tosca") {
                files.push(p);
            } else if crate::yaml::is_yaml_path(&p)
                && std::fs::read(&p).is_ok_and(|b| crate::yaml::looks_like_tosca_yaml(&b))
            {
                yaml_files.push(p);
            }
        }
    }
    files.sort();
    for f in files {
        match load_definitions_file(&f) {
            Ok(defs) => {
                library.add(f, defs, false);
            }
            Err(e) => library.push_load_diagnostic(
                Diagnostic::error("parse-error", f.display().to_string(), e.message.clone())
                    .with_hint("fix or remove the file")
                    .at(Some(f.clone()), e.line.unwrap_or(0)),
            ),
        }
    }
    yaml_files.sort();
    if !yaml_files.is_empty() {
        match crate::yaml::load::load_yaml_files(&yaml_files) {
            Ok(y) => library.merge(y),
            Err(e) => library.push_load_diagnostic(
                Diagnostic::error(
                    "parse-error",
                    e.path.display().to_string(),
                    e.message.clone(),
                )
                .with_hint("fix or remove the file")
                .at(Some(e.path.clone()), e.line.unwrap_or(0)),
            ),
        }
    }
    Loaded {
        kind: InputKind::WineryRepository,
        path: root.to_path_buf(),
        library,
        main_file: None,
        csar: None,
    }
}

/// Adds built-in files (repository-relative path, bytes) to a library as read-only definitions.
pub fn add_builtin_files<'a>(
    library: &mut Library,
    files: impl IntoIterator<Item = (&'a str, &'a [u8])>,
) {
    for (path, bytes) in files {
        if !path.ends_with(".tosca") {
            continue;
        }
        match Definitions::from_bytes(bytes) {
            Ok(defs) => {
                library.add(PathBuf::from("builtin").join(path), defs, true);
            }
            Err(e) => library.push_load_diagnostic(
                Diagnostic::error("parse-error", path.to_string(), e.to_string())
                    .at(Some(PathBuf::from("builtin").join(path)), e.line()),
            ),
        }
    }
}
