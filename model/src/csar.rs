//! CSAR archives (TOSCA 1.0 §16): import with hard limits. Opening an archive reads its central
//! directory (every entry name checked: no zip-slip, no absolute paths) and inflates only
//! TOSCA.meta and the Definitions documents, counting bytes while inflating (the sizes a zip
//! header declares are never trusted). Artifact files stay in the archive until asked for, one
//! entry at a time and under a size limit, so a zip bomb among the artifacts costs nothing to
//! open or validate.

use crate::diagnostic::Diagnostic;
use crate::library::Library;
use crate::tosca::Definitions;
use std::collections::BTreeMap;
use std::fmt;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

/// Largest archive file accepted.
pub const MAX_ARCHIVE_BYTES: u64 = 512 * 1024 * 1024;
/// Most entries accepted.
pub const MAX_ENTRIES: usize = 20_000;
/// Largest single Definitions document (or TOSCA.meta), counted while inflating.
pub const MAX_DEFINITIONS_ENTRY_BYTES: u64 = crate::xml::parse::MAX_DOCUMENT_BYTES as u64;
/// Largest total of Definitions documents inflated when an archive is opened.
pub const MAX_DEFINITIONS_BYTES: u64 = 128 * 1024 * 1024;
/// Largest artifact file read out of an archive, counted while inflating.
pub const MAX_ARTIFACT_BYTES: u64 = 512 * 1024 * 1024;
/// How much of a `.xml` entry is inflated to tell whether it can be a Definitions document.
const SNIFF_BYTES: u64 = 64 * 1024;

/// The path of the metadata file inside a CSAR.
pub const META_PATH: &str = "TOSCA-Metadata/TOSCA.meta";

/// The size limits an archive is read under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Size of the archive file itself.
    pub archive_bytes: u64,
    /// Number of entries in the central directory.
    pub entries: usize,
    /// Inflated size of one Definitions document or TOSCA.meta.
    pub definitions_entry_bytes: u64,
    /// Inflated size of all Definitions documents together.
    pub definitions_bytes: u64,
    /// Inflated size of one artifact file read with [`Csar::read_entry`] or [`Csar::copy_entry`].
    pub artifact_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            archive_bytes: MAX_ARCHIVE_BYTES,
            entries: MAX_ENTRIES,
            definitions_entry_bytes: MAX_DEFINITIONS_ENTRY_BYTES,
            definitions_bytes: MAX_DEFINITIONS_BYTES,
            artifact_bytes: MAX_ARTIFACT_BYTES,
        }
    }
}

/// Why an archive (or one of its entries) was refused.
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
    #[error("entry '{entry}' inflates to more than {limit} bytes (the limit); refused")]
    EntryTooLarge { entry: String, limit: u64 },
    #[error(
        "entry '{entry}' inflates to more than the {declared} bytes its header declares; refused"
    )]
    SizeMismatch { entry: String, declared: u64 },
    #[error("entry '{0}' is not in the archive")]
    NoEntry(String),
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

/// Where entries are inflated from: the open archive file, or archive bytes in memory.
trait ReadSeek: Read + Seek + Send {}
impl<T: Read + Seek + Send> ReadSeek for T {}
type Archive = zip::ZipArchive<Box<dyn ReadSeek>>;

/// A file entry as the central directory describes it.
#[derive(Debug, Clone, Copy)]
struct Entry {
    index: usize,
    /// The uncompressed size the header declares: a hint, never trusted.
    declared: u64,
}

/// An opened archive: its entry list, TOSCA.meta and Definitions documents (inflated at open),
/// and a handle to read artifact files from on demand. Clones share the handle.
#[derive(Clone)]
pub struct Csar {
    archive: Arc<Mutex<Archive>>,
    entries: BTreeMap<String, Entry>,
    definitions: BTreeMap<String, Vec<u8>>,
    /// TOSCA.meta blocks in order; the first is the header block.
    pub meta: Vec<Vec<(String, String)>>,
    notes: Vec<(String, String)>,
    limits: Limits,
}

impl fmt::Debug for Csar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Csar")
            .field("entries", &self.entries.len())
            .field("definitions", &self.definitions.keys().collect::<Vec<_>>())
            .field("meta", &self.meta)
            .field("notes", &self.notes)
            .finish()
    }
}

fn entry_definitions(meta: &[Vec<(String, String)>]) -> Option<&str> {
    meta.first()?
        .iter()
        .find(|(k, _)| k == "Entry-Definitions")
        .map(|(_, v)| v.as_str())
}

impl Csar {
    /// The `Entry-Definitions` path of the header block.
    pub fn entry_definitions(&self) -> Option<&str> {
        entry_definitions(&self.meta)
    }

    /// Every file entry, in name order (from the central directory).
    pub fn entry_names(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// Whether the archive holds a file entry `name`; nothing is inflated.
    pub fn contains(&self, name: &str) -> bool {
        self.entries.contains_key(name)
    }

    /// The uncompressed size the archive declares for `name` (reading never trusts it).
    pub fn declared_size(&self, name: &str) -> Option<u64> {
        self.entries.get(name).map(|e| e.declared)
    }

    /// The Definitions documents inflated at open: entry path → bytes.
    pub fn definitions(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.definitions
    }

    /// Entries left unread at open, each with the reason: `.xml` files too large to be
    /// Definitions, artifacts declaring more than the artifact limit.
    pub fn notes(&self) -> &[(String, String)] {
        &self.notes
    }

    /// The limits this archive was opened with.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Streams entry `name` into `out`, refusing it (after at most the artifact limit plus one
    /// byte) when it inflates to more than the artifact limit. Returns the bytes written.
    pub fn copy_entry(&self, name: &str, out: &mut dyn Write) -> Result<u64, CsarError> {
        let e = *self
            .entries
            .get(name)
            .ok_or_else(|| CsarError::NoEntry(name.to_string()))?;
        let mut zip = self.archive.lock().unwrap_or_else(PoisonError::into_inner);
        inflate(&mut zip, name, e, self.limits.artifact_bytes, out)
    }

    /// Reads entry `name` into memory under the artifact limit (Definitions documents come
    /// from what was read at open).
    pub fn read_entry(&self, name: &str) -> Result<Vec<u8>, CsarError> {
        if let Some(b) = self.definitions.get(name) {
            return Ok(b.clone());
        }
        let limit = self.limits.artifact_bytes;
        // The declared size only sizes the first allocation, and only when within the limit.
        let declared = self
            .declared_size(name)
            .filter(|d| *d <= limit)
            .unwrap_or(0);
        let mut buf = Vec::with_capacity(declared.min(64 * 1024 * 1024) as usize);
        self.copy_entry(name, &mut buf)?;
        Ok(buf)
    }
}

fn zip_error(name: &str, e: impl fmt::Display) -> CsarError {
    CsarError::Zip(format!("{name}: {e}"))
}

/// A read error while inflating `name`; the zip reader's own stop at the declared size (a
/// header that lies) gets its own error.
fn read_error(name: &str, e: Entry, err: std::io::Error) -> CsarError {
    if err.kind() == std::io::ErrorKind::InvalidData
        && err.to_string().contains("larger than its declared")
    {
        CsarError::SizeMismatch {
            entry: name.to_string(),
            declared: e.declared,
        }
    } else {
        zip_error(name, err)
    }
}

/// Inflates one entry into `out`, counting bytes: more than `limit` is refused, whatever the
/// header declares.
fn inflate(
    zip: &mut Archive,
    name: &str,
    e: Entry,
    limit: u64,
    out: &mut dyn Write,
) -> Result<u64, CsarError> {
    let too_large = || CsarError::EntryTooLarge {
        entry: name.to_string(),
        limit,
    };
    if e.declared > limit {
        return Err(too_large());
    }
    let f = zip.by_index(e.index).map_err(|err| zip_error(name, err))?;
    let n = std::io::copy(&mut f.take(limit + 1), out).map_err(|err| read_error(name, e, err))?;
    if n > limit {
        return Err(too_large());
    }
    Ok(n)
}

/// Inflates a Definitions document (or TOSCA.meta) under the per-entry limit and what is left
/// of the total. With `sniff`, an entry whose first bytes do not mention `Definitions` is left
/// unread (`None`).
fn read_document(
    zip: &mut Archive,
    name: &str,
    e: Entry,
    limits: &Limits,
    total: &mut u64,
    sniff: bool,
) -> Result<Option<Vec<u8>>, CsarError> {
    let left = limits.definitions_bytes.saturating_sub(*total);
    let limit = limits.definitions_entry_bytes.min(left);
    let over = |n: u64| {
        if limit < limits.definitions_entry_bytes {
            CsarError::TooLarge(format!(
                "Definitions documents inflate to more than {} bytes in total (at '{name}', {n} bytes or more)",
                limits.definitions_bytes
            ))
        } else {
            CsarError::EntryTooLarge {
                entry: name.to_string(),
                limit,
            }
        }
    };
    if e.declared > limit {
        return Err(over(e.declared));
    }
    let f = zip.by_index(e.index).map_err(|err| zip_error(name, err))?;
    let mut r = f.take(limit + 1);
    let mut buf = Vec::with_capacity(e.declared.min(limit).min(1024 * 1024) as usize);
    if sniff {
        (&mut r)
            .take(SNIFF_BYTES)
            .read_to_end(&mut buf)
            .map_err(|err| read_error(name, e, err))?;
        if !buf.windows(11).any(|w| w == b"Definitions") {
            return Ok(None);
        }
    }
    r.read_to_end(&mut buf)
        .map_err(|err| read_error(name, e, err))?;
    let n = buf.len() as u64;
    if n > limit {
        return Err(over(n));
    }
    *total += n;
    Ok(Some(buf))
}

/// Opens an archive: entry names checked, TOSCA.meta and Definitions inflated under limits.
fn open(reader: Box<dyn ReadSeek>, limits: Limits) -> Result<Csar, CsarError> {
    let mut zip = zip::ZipArchive::new(reader).map_err(|e| CsarError::Zip(e.to_string()))?;
    if zip.len() > limits.entries {
        return Err(CsarError::TooLarge(format!(
            "{} entries (limit {})",
            zip.len(),
            limits.entries
        )));
    }
    let mut entries = BTreeMap::new();
    for index in 0..zip.len() {
        let d = zip
            .by_index_data(index)
            .map_err(|e| CsarError::Zip(e.to_string()))?;
        let name = d.name().map_err(|e| CsarError::Zip(e.to_string()))?;
        let name = safe_entry_name(&name)?;
        if d.is_dir() || name.ends_with('/') {
            continue;
        }
        let declared = d.size();
        entries.insert(name, Entry { index, declared });
    }
    let mut total = 0;
    let meta_entry = *entries.get(META_PATH).ok_or(CsarError::NoMeta)?;
    let meta_bytes = read_document(&mut zip, META_PATH, meta_entry, &limits, &mut total, false)?
        .unwrap_or_default();
    let meta = parse_meta(&String::from_utf8_lossy(&meta_bytes))?;
    let entry = entry_definitions(&meta).map(str::to_string);
    let mut definitions = BTreeMap::new();
    let mut notes = Vec::new();
    for (name, e) in &entries {
        let must = Some(name.as_str()) == entry.as_deref() || name.ends_with(".tosca");
        if must {
            if let Some(b) = read_document(&mut zip, name, *e, &limits, &mut total, false)? {
                definitions.insert(name.clone(), b);
            }
        } else if name.ends_with(".xml") {
            match read_document(&mut zip, name, *e, &limits, &mut total, true) {
                Ok(Some(b)) => {
                    definitions.insert(name.clone(), b);
                }
                Ok(None) => {}
                Err(CsarError::EntryTooLarge { limit, .. }) => notes.push((
                    name.clone(),
                    format!(
                        "larger than {limit} bytes, too large for a Definitions document; not read"
                    ),
                )),
                Err(err) => return Err(err),
            }
        } else if e.declared > limits.artifact_bytes && name != META_PATH {
            notes.push((
                name.clone(),
                format!(
                    "declares {} bytes uncompressed, more than the artifact limit of {}; not read, and refused if an artifact needs it",
                    e.declared, limits.artifact_bytes
                ),
            ));
        }
    }
    Ok(Csar {
        archive: Arc::new(Mutex::new(zip)),
        entries,
        definitions,
        meta,
        notes,
        limits,
    })
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

/// Opens an archive held in memory, with the default limits.
pub fn read_bytes(bytes: &[u8]) -> Result<Csar, CsarError> {
    read_bytes_with(bytes, Limits::default())
}

/// Opens an archive held in memory.
pub fn read_bytes_with(bytes: &[u8], limits: Limits) -> Result<Csar, CsarError> {
    if bytes.len() as u64 > limits.archive_bytes {
        return Err(CsarError::TooLarge(format!("{} bytes", bytes.len())));
    }
    open(Box::new(std::io::Cursor::new(bytes.to_vec())), limits)
}

/// Opens an archive file, with the default limits. The file stays open for reading artifacts.
pub fn read_file(path: &Path) -> Result<Csar, CsarError> {
    read_file_with(path, Limits::default())
}

/// Opens an archive file. The file stays open for reading artifacts.
pub fn read_file_with(path: &Path, limits: Limits) -> Result<Csar, CsarError> {
    let file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    if len > limits.archive_bytes {
        return Err(CsarError::TooLarge(format!("{len} bytes")));
    }
    open(Box::new(std::io::BufReader::new(file)), limits)
}

/// Builds a library from an archive: every `.tosca`/`.xml` Definitions document inside (the
/// entry document first). Documents that fail to parse are errors naming the entry and line;
/// XML files that are not TOSCA are skipped. Entries left unread at open become warnings.
pub fn to_library(csar: &Csar, archive_path: &Path) -> Result<(Library, Option<usize>), CsarError> {
    let mut library = Library::new();
    let entry = csar.entry_definitions().map(str::to_string);
    let mut names: Vec<&String> = csar.definitions.keys().collect();
    names.sort_by_key(|n| (Some(n.as_str()) != entry.as_deref(), n.as_str()));
    let mut entry_file = None;
    for name in names {
        let bytes = &csar.definitions[name];
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
    for (name, why) in &csar.notes {
        library.push_load_diagnostic(
            Diagnostic::warning("csar-entry-size", name.clone(), why.clone()).at(
                Some(PathBuf::from(format!("{}!/{name}", archive_path.display()))),
                0,
            ),
        );
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
