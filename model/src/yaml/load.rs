//! Loading TOSCA YAML: a file with its imports (relative paths, followed transitively, cycles
//! and missing files reported), a CSAR whose Entry-Definitions is YAML, or the YAML files of a
//! folder; with the normative types built in. Every file becomes one library file.

use super::node::{self, Node, YamlError};
use super::read::{Ctx, Registry, read_types};
use super::topology::{read_topology, source};
use super::{SUPPORTED_VERSIONS, TypeInfo};
use crate::diagnostic::Diagnostic;
use crate::library::Library;
use crate::load::{InputKind, LoadError, Loaded};
use crate::tosca::Definitions;
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// Most files one load follows through imports.
pub const MAX_IMPORTED_FILES: usize = 512;

/// The built-in normative types (TOSCA Simple Profile 1.0.3, as tosca-parser ships them).
pub const NORMATIVE_YAML: &str = include_str!("normative.yaml");
/// Where the normative types appear in a library.
pub const NORMATIVE_PATH: &str = "builtin/yaml/TOSCA_definition.yaml";

const TOP_LEVEL_KEYS: &[&str] = &[
    "tosca_definitions_version",
    "namespace",
    "metadata",
    "description",
    "dsl_definitions",
    "repositories",
    "imports",
    "artifact_types",
    "data_types",
    "capability_types",
    "interface_types",
    "relationship_types",
    "node_types",
    "group_types",
    "policy_types",
    "topology_template",
    "template_name",
    "template_author",
    "template_version",
];

/// Whether a path names a YAML file by extension.
pub fn is_yaml_path(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"))
}

/// Whether bytes look like TOSCA YAML (a `tosca_definitions_version` key near the top).
pub fn looks_like_tosca_yaml(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(4096)];
    String::from_utf8_lossy(head)
        .lines()
        .any(|l| l.trim_start().starts_with("tosca_definitions_version"))
}

/// Where files are read from: the file system or a CSAR.
trait Source {
    fn read(&self, path: &str) -> Result<Vec<u8>, String>;
}

struct FileSystem;

impl Source for FileSystem {
    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        let len = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
        if len > node::MAX_BYTES as u64 {
            return Err(format!(
                "file is {len} bytes, larger than the limit of {}",
                node::MAX_BYTES
            ));
        }
        std::fs::read(path).map_err(|e| e.to_string())
    }
}

struct Archive<'a>(&'a crate::csar::Csar);

impl Source for Archive<'_> {
    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        if !self.0.contains(path) {
            return Err("not in the archive".to_string());
        }
        // YAML documents are read on demand, under the archive's entry limit.
        self.0.read_entry(path).map_err(|e| e.to_string())
    }
}

/// Joins a relative import to the folder of `base`, normalising `.` and `..` (never above the root).
fn join(base: &str, rel: &str) -> Option<String> {
    if rel.starts_with('/') {
        return Some(rel.to_string());
    }
    let mut parts: Vec<&str> = base.split('/').collect();
    parts.pop();
    let absolute = base.starts_with('/');
    for p in rel.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                if parts.len() <= usize::from(absolute) {
                    return None;
                }
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

struct Parsed {
    key: String,
    display: PathBuf,
    text: String,
    root: Node,
    version: String,
}

fn yaml_error(display: &Path, e: YamlError) -> LoadError {
    LoadError {
        path: display.to_path_buf(),
        line: Some(e.line),
        message: if e.col > 0 {
            format!("column {}: {}", e.col, e.message)
        } else {
            e.message
        },
    }
}

/// Parses one file and checks its version.
fn parse_file(display: &Path, bytes: &[u8]) -> Result<(String, Node, String), LoadError> {
    let text = node::decode(bytes).map_err(|e| yaml_error(display, e))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let root = node::parse(text).map_err(|e| yaml_error(display, e))?;
    let err = |n: &Node, m: String| LoadError {
        path: display.to_path_buf(),
        line: Some(n.start.line),
        message: m,
    };
    if root.as_map().is_none() {
        return Err(err(
            &root,
            format!("a TOSCA YAML document is a map, not {}", root.kind_name()),
        ));
    }
    let Some(v) = root.get("tosca_definitions_version") else {
        return Err(err(&root, "tosca_definitions_version is missing; TOSCA YAML files start with e.g. 'tosca_definitions_version: tosca_simple_yaml_1_3'".into()));
    };
    let version = v.as_str().unwrap_or_default().to_string();
    if !SUPPORTED_VERSIONS.contains(&version.as_str()) {
        return Err(err(
            v,
            format!(
                "TOSCA version '{version}' is not supported; supported versions: {}",
                SUPPORTED_VERSIONS.join(", ")
            ),
        ));
    }
    Ok((text.to_string(), root, version))
}

/// The import locations of a file: `- path`, `- name: path`, `- file: path`, `- name: {file: path}`.
fn imports(root: &Node) -> Vec<(&Node, String)> {
    let mut out = Vec::new();
    for item in root.get("imports").and_then(Node::as_seq).unwrap_or(&[]) {
        let loc = item.as_str().map(str::to_string).or_else(|| {
            item.get_str("file")
                .map(str::to_string)
                .or_else(|| match item.as_map() {
                    Some([(_, v)]) => v.as_str().or_else(|| v.get_str("file")).map(str::to_string),
                    _ => None,
                })
        });
        if let Some(l) = loc {
            out.push((item, l));
        }
    }
    out
}

fn normative() -> &'static Node {
    static N: OnceLock<Node> = OnceLock::new();
    N.get_or_init(|| {
        node::parse(NORMATIVE_YAML).unwrap_or_else(|e| panic!("built-in normative types: {e}"))
    })
}

/// Reads `entries` and everything they import into a library (normative types first).
fn load_set(
    src: &dyn Source,
    entries: &[(String, PathBuf)],
    prefix: &dyn Fn(&str) -> PathBuf,
) -> Result<(Library, Vec<Option<usize>>), LoadError> {
    let mut parsed: Vec<Parsed> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    // (key, shown path, the import that named it: file, line, column)
    type Origin = Option<(PathBuf, u32, u32)>;
    let mut queue: VecDeque<(String, PathBuf, Origin)> = entries
        .iter()
        .map(|(k, d)| (k.clone(), d.clone(), None))
        .collect();
    let mut diags: Vec<Diagnostic> = Vec::new();
    while let Some((key, display, origin)) = queue.pop_front() {
        if !seen.insert(key.clone()) {
            continue;
        }
        if parsed.len() >= MAX_IMPORTED_FILES {
            return Err(LoadError {
                path: display,
                line: None,
                message: format!("more than {MAX_IMPORTED_FILES} files imported"),
            });
        }
        let bytes = match (src.read(&key), origin) {
            (Ok(b), _) => b,
            (Err(m), None) => {
                return Err(LoadError {
                    path: display.clone(),
                    line: None,
                    message: m,
                });
            }
            (Err(m), Some((from, line, col))) => {
                // A missing import is reported at the import; the rest still loads.
                diags.push(
                    Diagnostic::error(
                        "import",
                        key.clone(),
                        format!("imported file '{}' cannot be read: {m}", display.display()),
                    )
                    .with_hint("fix the import path (relative to the importing file)")
                    .at_col(Some(from), line, col),
                );
                continue;
            }
        };
        let (text, root, version) = parse_file(&display, &bytes)?;
        for (at, loc) in imports(&root) {
            let here = Some(display.clone());
            if loc.contains("://") {
                diags.push(
                    Diagnostic::error(
                        "import",
                        display.display().to_string(),
                        format!("import '{loc}' is a URL; only relative paths are followed (nothing is downloaded)"),
                    )
                    .at_col(here, at.start.line, at.start.col),
                );
                continue;
            }
            match join(&key, &loc) {
                Some(k) => {
                    let shown = prefix(&k);
                    queue.push_back((
                        k,
                        shown,
                        Some((display.clone(), at.start.line, at.start.col)),
                    ));
                }
                None => diags.push(
                    Diagnostic::error(
                        "import",
                        display.display().to_string(),
                        format!("import '{loc}' leaves the folder or archive"),
                    )
                    .at_col(here, at.start.line, at.start.col),
                ),
            }
        }
        parsed.push(Parsed {
            key,
            display,
            text,
            root,
            version,
        });
    }
    let mut reg = Registry::default();
    reg.add(normative(), true);
    for p in &parsed {
        reg.add(&p.root, false);
    }
    let mut library = Library::new();
    // Normative types.
    {
        let mut ctx = Ctx {
            reg: &reg,
            file: PathBuf::from(NORMATIVE_PATH),
            diags: Vec::new(),
            quiet: true,
        };
        let mut defs = Definitions::new("tosca-normative-types", "");
        let mut info = TypeInfo::default();
        read_types(&mut ctx, normative(), &mut defs, &mut info);
        defs.yaml = Some(Arc::new(source(
            PathBuf::from(NORMATIVE_PATH),
            NORMATIVE_YAML.to_string(),
            normative().clone(),
            "tosca_simple_yaml_1_0".into(),
            info,
            None,
        )));
        library.add(NORMATIVE_PATH, defs, true);
    }
    let mut converted = Vec::with_capacity(parsed.len());
    for p in &parsed {
        let mut ctx = Ctx {
            reg: &reg,
            file: p.display.clone(),
            diags: Vec::new(),
            quiet: false,
        };
        ctx.check_keys(
            &p.root,
            TOP_LEVEL_KEYS,
            &p.display.display().to_string(),
            "a TOSCA YAML file",
        );
        let stem = p
            .display
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("service")
            .to_string();
        let id = p
            .root
            .get("metadata")
            .and_then(|m| m.get_str("template_name"))
            .or_else(|| p.root.get_str("template_name"))
            .unwrap_or(&stem)
            .to_string();
        let namespace = p.root.get_str("namespace").unwrap_or_default().to_string();
        let mut defs = Definitions::new(&id, &namespace);
        defs.name = Some(id.clone());
        let mut info = TypeInfo::default();
        read_types(&mut ctx, &p.root, &mut defs, &mut info);
        let topo = read_topology(&mut ctx, &p.root, &id, &namespace);
        let parts = topo.map(|t| {
            let parts = super::topology::TopoParts {
                original: t.st.topology.clone(),
                origins: t.origins,
                value_pos: t.value_pos,
            };
            defs.service_templates.push(t.st);
            defs.artifact_templates.extend(t.artifact_templates);
            parts
        });
        diags.append(&mut ctx.diags);
        converted.push((defs, info, parts));
    }
    drop(reg);
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for (p, (mut defs, info, parts)) in parsed.into_iter().zip(converted) {
        defs.yaml = Some(Arc::new(source(
            p.display.clone(),
            p.text,
            p.root,
            p.version,
            info,
            parts,
        )));
        let i = library.add(p.display, defs, false);
        index.insert(p.key, i);
    }
    for d in diags {
        library.push_load_diagnostic(d);
    }
    let mains = entries.iter().map(|(k, _)| index.get(k).copied()).collect();
    Ok((library, mains))
}

/// Opens a YAML file with its imports.
pub fn load_yaml_path(path: &Path) -> Result<Loaded, LoadError> {
    let key = path.to_string_lossy().replace('\\', "/");
    let (library, mains) = load_set(&FileSystem, &[(key, path.to_path_buf())], &|k| {
        PathBuf::from(k)
    })?;
    Ok(Loaded {
        kind: InputKind::File,
        path: path.to_path_buf(),
        library,
        main_file: mains.first().copied().flatten(),
        csar: None,
    })
}

/// Reads the YAML files of a folder (and what they import) into `library`'s files; returns the
/// library built from them, to merge, or the error of the first file that cannot be parsed.
pub fn load_yaml_files(files: &[PathBuf]) -> Result<Library, LoadError> {
    let entries: Vec<(String, PathBuf)> = files
        .iter()
        .map(|f| (f.to_string_lossy().replace('\\', "/"), f.clone()))
        .collect();
    load_set(&FileSystem, &entries, &|k| PathBuf::from(k)).map(|(l, _)| l)
}

/// Opens a CSAR whose Entry-Definitions is YAML.
pub fn load_yaml_csar(
    archive: crate::csar::Csar,
    path: &Path,
    entry: &str,
) -> Result<Loaded, LoadError> {
    let shown = |k: &str| PathBuf::from(format!("{}!/{k}", path.display()));
    let (library, mains) = load_set(
        &Archive(&archive),
        &[(entry.to_string(), shown(entry))],
        &shown,
    )?;
    Ok(Loaded {
        kind: InputKind::Csar,
        path: path.to_path_buf(),
        library,
        main_file: mains.first().copied().flatten(),
        csar: Some(archive),
    })
}
