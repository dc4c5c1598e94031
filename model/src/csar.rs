//! CSAR archives (TOSCA 1.0 §16): import with hard limits. An archive is read fully into memory
//! after checking every entry name (no zip-slip, no absolute paths) and size (no zip bombs).

use crate::diagnostic::Diagnostic;
use crate::library::Library;
use crate::tosca::Definitions;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Largest archive file accepted.
pub const MAX_ARCHIVE_BYTES: u64 = 512 * 1024 * 1024;
/// Most entries accepted.
pub const MAX_ENTRIES: usize = 20_000;
/// Largest total of uncompressed bytes accepted.
pub const MAX_UNCOMPRESSED_BYTES: u64 = 1024 * 1024 * 1024;

/// The path of the metadata file inside a CSAR.
pub const META_PATH: &str = "TOSCA-Metadata/TOSCA.meta";

/// Why an archive was refused.
#[derive(Debug, thiserror::Error)]
pub enum CsarError {
    #[error("cannot read archive: {0}")]
    Io(#[from] std::io::Error),
    #[error("not a valid zip archive: {0}")]
    Zip(String),
    #[error("entry '{0}' escapes the archive (absolute path or '..'); refused")]
    UnsafePath(String),
    #[error("archive exceeds a limit: {0}")]
    TooLarge(String),
    #[error("{META_PATH} is missing")]
    NoMeta,
    #[error("{META_PATH}: {0}")]
    BadMeta(String),
    #[error("{path}: line {line}: {message}")]
    Definitions {
        path: String,
        line: u32,
        message: String,
    },
}

/// An archive's content: entry path → bytes, plus the parsed metadata.
#[derive(Debug, Clone, Default)]
pub struct Csar {
    pub files: BTreeMap<String, Vec<u8>>,
    /// TOSCA.meta blocks in order; the first is the header block.
    pub meta: Vec<Vec<(String, String)>>,
}

impl Csar {
    /// The `Entry-Definitions` path of the header block.
    pub fn entry_definitions(&self) -> Option<&str> {
        self.meta
            .first()?
            .iter()
            .find(|(k, _)| k == "Entry-Definitions")
            .map(|(_, v)| v.as_str())
    }
}

/// Decodes `%XX` escapes once (Winery writes artifact references percent-encoded, sometimes
/// twice); invalid escapes are kept as written.
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Checks an entry name: relative, no `..`, no drive letters, forward slashes.
pub fn safe_entry_name(name: &str) -> Result<String, CsarError> {
    let bad = name.starts_with('/')
        || name.starts_with('\\')
        || name.contains('\\')
        || name.contains('\0')
        || name.as_bytes().get(1) == Some(&b':')
        || name.split('/').any(|c| c == "..");
    if bad || name.is_empty() {
        return Err(CsarError::UnsafePath(name.to_string()));
    }
    Ok(name.trim_start_matches("./").to_string())
}

/// Parses TOSCA.meta: `Key: Value` lines, blocks separated by blank lines.
pub fn parse_meta(text: &str) -> Result<Vec<Vec<(String, String)>>, CsarError> {
    let mut blocks = Vec::new();
    let mut cur: Vec<(String, String)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end();
        if line.trim().is_empty() {
            if !cur.is_empty() {
                blocks.push(std::mem::take(&mut cur));
            }
            continue;
        }
        let (k, v) = line
            .split_once(':')
            .ok_or_else(|| CsarError::BadMeta(format!("line {}: expected 'Key: Value'", i + 1)))?;
        cur.push((k.trim().to_string(), v.trim().to_string()));
    }
    if !cur.is_empty() {
        blocks.push(cur);
    }
    Ok(blocks)
}

/// Reads an archive from bytes.
pub fn read_bytes(bytes: &[u8]) -> Result<Csar, CsarError> {
    if bytes.len() as u64 > MAX_ARCHIVE_BYTES {
        return Err(CsarError::TooLarge(format!("{} bytes", bytes.len())));
    }
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| CsarError::Zip(e.to_string()))?;
    if zip.len() > MAX_ENTRIES {
        return Err(CsarError::TooLarge(format!(
            "{} entries (limit {MAX_ENTRIES})",
            zip.len()
        )));
    }
    let mut total: u64 = 0;
    let mut files = BTreeMap::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).map_err(|e| CsarError::Zip(e.to_string()))?;
        let name = f
            .name()
            .map_err(|e| CsarError::Zip(e.to_string()))?
            .to_string();
        let name = safe_entry_name(&name)?;
        if f.is_dir() || name.ends_with('/') {
            continue;
        }
        let budget = MAX_UNCOMPRESSED_BYTES - total;
        let mut buf = Vec::with_capacity(f.size().min(budget).min(64 * 1024 * 1024) as usize);
        (&mut f)
            .take(budget + 1)
            .read_to_end(&mut buf)
            .map_err(|e| CsarError::Zip(format!("{name}: {e}")))?;
        total += buf.len() as u64;
        if total > MAX_UNCOMPRESSED_BYTES {
            return Err(CsarError::TooLarge(format!(
                "more than {MAX_UNCOMPRESSED_BYTES} bytes uncompressed"
            )));
        }
        files.insert(name, buf);
    }
    let meta_text = files.get(META_PATH).ok_or(CsarError::NoMeta)?;
    let meta = parse_meta(&String::from_utf8_lossy(meta_text))?;
    Ok(Csar { files, meta })
}

/// Reads an archive file.
pub fn read_file(path: &Path) -> Result<Csar, CsarError> {
    let len = std::fs::metadata(path)?.len();
    if len > MAX_ARCHIVE_BYTES {
        return Err(CsarError::TooLarge(format!("{len} bytes")));
    }
    read_bytes(&std::fs::read(path)?)
}

/// Builds a library from an archive: every `.tosca`/`.xml` Definitions document inside (the
/// entry document first). Documents that fail to parse are errors naming the entry and line;
/// XML files that are not TOSCA are skipped.
pub fn to_library(csar: &Csar, archive_path: &Path) -> Result<(Library, Option<usize>), CsarError> {
    let mut library = Library::new();
    let entry = csar.entry_definitions().map(str::to_string);
    let mut names: Vec<&String> = csar
        .files
        .keys()
        .filter(|n| {
            n.ends_with(".tosca") || n.ends_with(".xml") || Some(n.as_str()) == entry.as_deref()
        })
        .collect();
    names.sort_by_key(|n| (Some(n.as_str()) != entry.as_deref(), n.as_str()));
    let mut entry_file = None;
    for name in names {
        let bytes = &csar.files[name];
        let is_entry = Some(name.as_str()) == entry.as_deref();
        match Definitions::from_bytes(bytes) {
            Ok(defs) => {
                let i = library.add(
                    PathBuf::from(format!("{}!/{name}", archive_path.display())),
                    defs,
                    false,
                );
                if is_entry {
                    entry_file = Some(i);
                }
            }
            Err(crate::tosca::definitions::DefinitionsError::NotDefinitions { .. })
                if !is_entry && !name.ends_with(".tosca") => {}
            Err(e) => {
                if is_entry || name.ends_with(".tosca") {
                    return Err(CsarError::Definitions {
                        path: name.clone(),
                        line: e.line(),
                        message: e.to_string(),
                    });
                }
            }
        }
    }
    if entry.is_some() && entry_file.is_none() {
        library.push_load_diagnostic(Diagnostic::warning(
            "csar-entry",
            entry.clone().unwrap_or_default(),
            "Entry-Definitions names a file that is not in the archive",
        ));
    }
    Ok((library, entry_file))
}
