//! CSAR export in the layout Winery produces: `TOSCA-Metadata/TOSCA.meta`, `Definitions/` with
//! the full closure of what the service template needs (node and relationship types with their
//! ancestors, requirement/capability/artifact/policy types, type implementations, artifact and
//! policy templates), each written from its original document, and artifact files under their
//! referenced paths. Deterministic: the same input gives the same bytes.

use crate::QName;
use crate::diagnostic::Diagnostic;
use crate::library::Library;
use crate::tosca::{ServiceTemplate, TypeKind};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::Write;

/// Where artifact file bytes come from (a repository folder, an imported CSAR, the built-in
/// library): `reference` as written in the ArtifactReference.
pub trait ArtifactSource {
    fn read(&self, reference: &str) -> Option<Vec<u8>>;
}

impl<F: Fn(&str) -> Option<Vec<u8>>> ArtifactSource for F {
    fn read(&self, reference: &str) -> Option<Vec<u8>> {
        self(reference)
    }
}

/// What was exported.
#[derive(Debug, Clone)]
pub struct Exported {
    pub bytes: Vec<u8>,
    pub entries: Vec<String>,
    /// Missing artifact files and unresolved references (the export still succeeds).
    pub warnings: Vec<Diagnostic>,
}

/// Every (kind, QName) `st` needs, found by following references to a fixed point.
pub fn closure(lib: &Library, st: &ServiceTemplate) -> BTreeSet<(TypeKind, QName)> {
    use TypeKind as K;
    let mut seen: BTreeSet<(TypeKind, QName)> = BTreeSet::new();
    let mut queue: VecDeque<(TypeKind, QName)> = VecDeque::new();
    let push = |q: &mut VecDeque<(TypeKind, QName)>, k: TypeKind, n: &QName| {
        if !n.local.is_empty() {
            q.push_back((k, n.clone()));
        }
    };
    for n in &st.topology.node_templates {
        push(&mut queue, K::NodeType, &n.type_ref);
        for r in &n.requirements {
            push(&mut queue, K::RequirementType, &r.type_ref);
        }
        for c in &n.capabilities {
            push(&mut queue, K::CapabilityType, &c.type_ref);
        }
        for a in &n.deployment_artifacts {
            push(&mut queue, K::ArtifactType, &a.artifact_type);
            if let Some(r) = &a.artifact_ref {
                push(&mut queue, K::ArtifactTemplate, r);
            }
        }
        for p in &n.policies {
            push(&mut queue, K::PolicyType, &p.policy_type);
            if let Some(r) = &p.policy_ref {
                push(&mut queue, K::PolicyTemplate, r);
            }
        }
    }
    for r in &st.topology.relationship_templates {
        push(&mut queue, K::RelationshipType, &r.type_ref);
    }
    while let Some((kind, q)) = queue.pop_front() {
        if !lib.contains(kind, &q) || !seen.insert((kind, q.clone())) {
            continue;
        }
        match kind {
            K::NodeType => {
                if let Some(t) = lib.node_type(&q) {
                    if let Some(p) = &t.base.derived_from {
                        push(&mut queue, K::NodeType, p);
                    }
                    for r in &t.requirement_definitions {
                        push(&mut queue, K::RequirementType, &r.type_ref);
                    }
                    for c in &t.capability_definitions {
                        push(&mut queue, K::CapabilityType, &c.type_ref);
                    }
                }
                for imp in lib.implementations_of(&q) {
                    push(&mut queue, K::NodeTypeImplementation, &imp.base.qname());
                }
            }
            K::NodeTypeImplementation => {
                if let Some(i) = lib.node_type_implementation(&q) {
                    for a in &i.implementation_artifacts {
                        push(&mut queue, K::ArtifactType, &a.artifact_type);
                        if let Some(r) = &a.artifact_ref {
                            push(&mut queue, K::ArtifactTemplate, r);
                        }
                    }
                    for a in &i.deployment_artifacts {
                        push(&mut queue, K::ArtifactType, &a.artifact_type);
                        if let Some(r) = &a.artifact_ref {
                            push(&mut queue, K::ArtifactTemplate, r);
                        }
                    }
                    if let Some(p) = &i.base.derived_from {
                        push(&mut queue, K::NodeTypeImplementation, p);
                    }
                }
            }
            K::RelationshipType => {
                if let Some(t) = lib.relationship_type(&q) {
                    if let Some(p) = &t.base.derived_from {
                        push(&mut queue, K::RelationshipType, p);
                    }
                    for end in [&t.valid_source, &t.valid_target].into_iter().flatten() {
                        for k in [K::NodeType, K::RequirementType, K::CapabilityType] {
                            push(&mut queue, k, end);
                        }
                    }
                }
                for f in lib.files() {
                    for i in &f.definitions.relationship_type_implementations {
                        if i.relationship_type == q {
                            push(
                                &mut queue,
                                K::RelationshipTypeImplementation,
                                &i.base.qname(),
                            );
                            for a in &i.implementation_artifacts {
                                push(&mut queue, K::ArtifactType, &a.artifact_type);
                                if let Some(r) = &a.artifact_ref {
                                    push(&mut queue, K::ArtifactTemplate, r);
                                }
                            }
                        }
                    }
                }
            }
            K::RequirementType => {
                if let Some(t) = lib.requirement_type(&q) {
                    if let Some(c) = &t.required_capability_type {
                        push(&mut queue, K::CapabilityType, c);
                    }
                    if let Some(p) = &t.base.derived_from {
                        push(&mut queue, K::RequirementType, p);
                    }
                }
            }
            K::CapabilityType | K::ArtifactType | K::PolicyType => {
                let parent = match kind {
                    K::CapabilityType => lib.capability_type(&q),
                    K::ArtifactType => lib.artifact_type(&q),
                    _ => lib.policy_type(&q),
                }
                .and_then(|t| t.base.derived_from.clone());
                if let Some(p) = parent {
                    push(&mut queue, kind, &p);
                }
            }
            K::ArtifactTemplate => {
                if let Some(a) = lib.artifact_template(&q) {
                    push(&mut queue, K::ArtifactType, &a.type_ref);
                }
            }
            K::PolicyTemplate => {
                if let Some(p) = lib.policy_template(&q) {
                    push(&mut queue, K::PolicyType, &p.type_ref);
                }
            }
            _ => {}
        }
    }
    seen
}

fn entry_name(path: &std::path::Path, used: &BTreeSet<String>) -> String {
    // A readable, unique name from the source path's last folders (Winery: <kind>__<id>.tosca).
    let parts: Vec<String> = path
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    let n = parts.len();
    let base = if n >= 4
        && parts[n - 1].ends_with(".tosca")
        && parts[n - 1]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_uppercase())
    {
        format!("{}__{}", parts[n - 4], parts[n - 2])
    } else {
        parts
            .last()
            .cloned()
            .unwrap_or_else(|| "definitions.tosca".into())
            .trim_end_matches(".tosca")
            .trim_end_matches(".xml")
            .to_string()
    };
    let clean: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut name = format!("Definitions/{clean}.tosca");
    let mut k = 2;
    while used.contains(&name) {
        name = format!("Definitions/{clean}_{k}.tosca");
        k += 1;
    }
    name
}

/// Exports `st` (found in library file `file`) with everything it needs.
pub fn export_csar(
    lib: &Library,
    file: usize,
    st: &ServiceTemplate,
    files: &dyn ArtifactSource,
    created_by: &str,
) -> Result<Exported, String> {
    // A service template read from TOSCA YAML exports in the YAML (TOSCA 1.3) layout.
    if lib.file(file).definitions.is_yaml() {
        return crate::yaml::export::export_csar(lib, file, st, files, created_by);
    }
    let needed = closure(lib, st);
    let mut file_set: BTreeSet<usize> = BTreeSet::new();
    file_set.insert(file);
    for (k, q) in &needed {
        if let Some(loc) = lib.locate(*k, q) {
            file_set.insert(loc.file);
        }
    }
    let mut entries: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut used = BTreeSet::new();
    let mut entry_defs = String::new();
    // The service template's file first so its name is stable.
    let ordered: Vec<usize> = std::iter::once(file)
        .chain(file_set.iter().copied().filter(|f| *f != file))
        .collect();
    for f in ordered {
        let src = lib.file(f);
        let name = if f == file {
            let clean: String = st
                .id
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            format!("Definitions/{clean}.tosca")
        } else {
            entry_name(&src.path, &used)
        };
        used.insert(name.clone());
        if f == file {
            entry_defs = name.clone();
        }
        entries.insert(name, src.definitions.to_xml().into_bytes());
    }
    let mut warnings: Vec<Diagnostic> = Vec::new();
    for (k, q) in &needed {
        if *k != TypeKind::ArtifactTemplate {
            continue;
        }
        let Some(a) = lib.artifact_template(q) else {
            continue;
        };
        for r in &a.references {
            let path = crate::csar::percent_decode(&r.reference);
            if path.starts_with('/') || path.split('/').any(|c| c == "..") || path.contains("://") {
                warnings.push(Diagnostic::warning(
                    "artifact-file",
                    q.to_string(),
                    format!(
                        "reference '{}' is not a relative path; not packed",
                        r.reference
                    ),
                ));
                continue;
            }
            match files.read(&r.reference) {
                Some(b) => {
                    entries.insert(path, b);
                }
                None => warnings.push(Diagnostic::warning(
                    "artifact-file",
                    q.to_string(),
                    format!(
                        "file '{}' not found; the CSAR references it without content",
                        r.reference
                    ),
                )),
            }
        }
    }
    let mut meta = format!(
        "TOSCA-Meta-Version: 1.0\nCSAR-Version: 1.0\nCreated-By: {created_by}\nEntry-Definitions: {entry_defs}\n"
    );
    for name in entries.keys() {
        let ct = if name.starts_with("Definitions/") {
            "application/vnd.oasis.tosca.definitions"
        } else {
            "application/octet-stream"
        };
        meta.push_str(&format!("\nName: {name}\nContent-Type: {ct}\n"));
    }
    write_archive(&meta, &entries, warnings)
}

/// The CSAR bytes: TOSCA.meta first, then the entries in name order, with fixed times and
/// permissions so the same input always gives the same bytes.
pub(crate) fn write_archive(
    meta: &str,
    entries: &BTreeMap<String, Vec<u8>>,
    warnings: Vec<Diagnostic>,
) -> Result<Exported, String> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::DEFAULT)
        .unix_permissions(0o644);
    let mut names = vec![crate::csar::META_PATH.to_string()];
    zip.start_file(crate::csar::META_PATH, opts)
        .map_err(|e| e.to_string())?;
    zip.write_all(meta.as_bytes()).map_err(|e| e.to_string())?;
    for (name, bytes) in entries {
        zip.start_file(name.as_str(), opts)
            .map_err(|e| e.to_string())?;
        zip.write_all(bytes).map_err(|e| e.to_string())?;
        names.push(name.clone());
    }
    let bytes = zip.finish().map_err(|e| e.to_string())?.into_inner();
    Ok(Exported {
        bytes,
        entries: names,
        warnings,
    })
}
