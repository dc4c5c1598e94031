//! CSAR export of a YAML service template in the TOSCA 1.3 layout: `TOSCA-Metadata/TOSCA.meta`
//! (TOSCA-Meta-File-Version 1.1, CSAR-Version 1.1, a YAML Entry-Definitions), the service
//! template as saved (edits included), every YAML file it imports at the same relative place so
//! imports still resolve, and the artifact files its node templates name. Deterministic.

use super::node::Node;
use crate::csar_export::{ArtifactSource, Exported};
use crate::diagnostic::Diagnostic;
use crate::library::Library;
use crate::tosca::{ServiceTemplate, TypeKind};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

/// Lexically normalised path (`a/b/../c` → `a/c`).
fn normal(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            c => out.push(c.as_os_str()),
        }
    }
    out
}

fn imports_of(root: &Node) -> Vec<String> {
    root.get("imports")
        .and_then(Node::as_seq)
        .unwrap_or(&[])
        .iter()
        .filter_map(|i| {
            i.as_str().map(str::to_string).or_else(|| {
                i.get_str("file")
                    .map(str::to_string)
                    .or_else(|| match i.as_map() {
                        Some([(_, v)]) => {
                            v.as_str().or_else(|| v.get_str("file")).map(str::to_string)
                        }
                        _ => None,
                    })
            })
        })
        .collect()
}

/// Exports `st` of YAML library file `file`. Artifact files are read from `files` (by the
/// reference as written) or, failing that, relative to the YAML file on disk.
pub fn export_csar(
    lib: &Library,
    file: usize,
    st: &ServiceTemplate,
    files: &dyn ArtifactSource,
    created_by: &str,
) -> Result<Exported, String> {
    let main = lib.file(file);
    let Some(source) = main.definitions.yaml_source() else {
        return Err("the service template was not read from YAML; use the XML CSAR export".into());
    };
    let _ = source;
    // The import closure, by normalised path.
    let by_path: BTreeMap<PathBuf, usize> = lib
        .files()
        .iter()
        .enumerate()
        .filter(|(_, f)| !f.builtin && f.definitions.is_yaml())
        .map(|(i, f)| (normal(&f.path), i))
        .collect();
    let main_path = normal(&main.path);
    let mut closure: BTreeSet<PathBuf> = BTreeSet::new();
    let mut stack = vec![main_path.clone()];
    while let Some(p) = stack.pop() {
        if !closure.insert(p.clone()) {
            continue;
        }
        let Some(i) = by_path.get(&p) else { continue };
        let Some(y) = lib.file(*i).definitions.yaml_source() else {
            continue;
        };
        for imp in imports_of(&y.root) {
            let next = normal(&p.parent().unwrap_or(Path::new("")).join(&imp));
            if by_path.contains_key(&next) {
                stack.push(next);
            }
        }
    }
    // The common folder of all files becomes the archive root.
    let dirs: Vec<PathBuf> = closure
        .iter()
        .map(|p| p.parent().unwrap_or(Path::new("")).to_path_buf())
        .collect();
    let mut base = dirs.first().cloned().unwrap_or_default();
    for d in &dirs {
        while !d.starts_with(&base) {
            if !base.pop() {
                break;
            }
        }
    }
    let rel = |p: &Path| -> String {
        p.strip_prefix(&base)
            .unwrap_or(p)
            .to_string_lossy()
            .replace('\\', "/")
    };
    let mut entries: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut warnings = Vec::new();
    for p in &closure {
        let Some(i) = by_path.get(p) else { continue };
        let d = &lib.file(*i).definitions;
        entries.insert(rel(p), d.to_yaml().into_bytes());
    }
    let entry = rel(&main_path);
    // Deployment artifacts of the node templates and implementation artifacts of their types,
    // each relative to the YAML file that names it.
    let mut templates: BTreeSet<(String, crate::QName)> = BTreeSet::new();
    for n in &st.topology.node_templates {
        for a in lib.deployment_artifacts_of(n) {
            if let Some(r) = a.artifact_ref {
                templates.insert((n.id.clone(), r));
            }
        }
        for t in lib.ancestry(TypeKind::NodeType, &n.type_ref) {
            for imp in lib.implementations_of(&t) {
                for a in &imp.implementation_artifacts {
                    if let Some(r) = &a.artifact_ref {
                        templates.insert((n.id.clone(), r.clone()));
                    }
                }
            }
        }
    }
    let mut packed: BTreeSet<String> = BTreeSet::new();
    for (node, q) in &templates {
        let Some(loc) = lib.locate(TypeKind::ArtifactTemplate, q) else {
            continue;
        };
        let owner = lib.file(loc.file);
        if owner.builtin || !owner.definitions.is_yaml() {
            continue;
        }
        let Some(t) = lib.artifact_template(q) else {
            continue;
        };
        let dir = normal(&owner.path)
            .parent()
            .unwrap_or(Path::new(""))
            .to_path_buf();
        for r in &t.references {
            let reference = &r.reference;
            let target = normal(&dir.join(reference));
            let name = rel(&target);
            if !packed.insert(name.clone()) {
                continue;
            }
            if reference.contains("://") || reference.starts_with('/') || !target.starts_with(&base)
            {
                warnings.push(Diagnostic::warning(
                    "artifact-file",
                    node.clone(),
                    format!(
                        "artifact file '{reference}' is not below the template's folder; not packed"
                    ),
                ));
                continue;
            }
            let from_source = (loc.file == file).then(|| files.read(reference)).flatten();
            match from_source.or_else(|| std::fs::read(&target).ok()) {
                Some(b) => {
                    entries.insert(name, b);
                }
                None => warnings.push(Diagnostic::warning(
                    "artifact-file",
                    node.clone(),
                    format!("file '{reference}' not found; the CSAR references it without content"),
                )),
            }
        }
    }
    let meta = format!(
        "TOSCA-Meta-File-Version: 1.1\nCSAR-Version: 1.1\nCreated-By: {created_by}\nEntry-Definitions: {entry}\n"
    );
    crate::csar_export::write_archive(&meta, &entries, warnings)
}
