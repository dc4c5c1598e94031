//! Writing a Winery repository: one Definitions file per element at
//! `<kind folder>/<percent-encoded namespace>/<id>/<Element>.tosca` (artifact files under
//! `artifacttemplates/<ns>/<id>/files/`), written atomically; creating, renaming, duplicating
//! and deleting service templates moves or copies only that element's folder, so the files of
//! other elements are never touched.

use crate::QName;
use crate::save::write_atomic;
use crate::tosca::{
    ArtifactRefEntry, ArtifactTemplate, Definitions, NodeType, NodeTypeImplementation,
    RelationshipType, ServiceTemplate, TypeKind,
};
use std::fmt;
use std::path::{Path, PathBuf};

/// Why a repository operation failed (the path concerned, if any, and the cause).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryError {
    pub path: Option<PathBuf>,
    pub message: String,
}

impl fmt::Display for RepositoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(p) => write!(f, "{}: {}", p.display(), self.message),
            None => write!(f, "{}", self.message),
        }
    }
}

impl std::error::Error for RepositoryError {}

fn io_err(path: &Path, e: std::io::Error) -> RepositoryError {
    RepositoryError {
        path: Some(path.to_path_buf()),
        message: e.to_string(),
    }
}

fn err(message: impl Into<String>) -> RepositoryError {
    RepositoryError {
        path: None,
        message: message.into(),
    }
}

/// Percent-encodes a namespace, id or file name the way Winery names its folders
/// (`http://a/b` → `http%3A%2F%2Fa%2Fb`): everything but ASCII letters, digits and `.-_*`
/// becomes `%XX` (upper case). A space is `%20` (Winery's Java encoder writes `+`).
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b".-_*".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Checks a name for a new element: an XML NCName-like id (no spaces, colons or slashes).
pub fn check_id(id: &str) -> Result<(), RepositoryError> {
    let ok = !id.is_empty()
        && !id.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '.')
        && id.chars().all(|c| c.is_alphanumeric() || "-_.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(err(format!(
            "'{id}' is not a valid id (letters, digits, '-', '_', '.'; not starting with a digit)"
        )))
    }
}

fn check_namespace(ns: &str) -> Result<(), RepositoryError> {
    if ns.trim().is_empty() || ns.chars().any(char::is_whitespace) {
        Err(err(format!(
            "'{ns}' is not a valid namespace (a URI without spaces)"
        )))
    } else {
        Ok(())
    }
}

/// A Winery repository folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    pub root: PathBuf,
}

impl Repository {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Repository { root: root.into() }
    }

    /// `<root>/<kind folder>/<encoded namespace>/<encoded id>`.
    pub fn element_dir(&self, kind: TypeKind, q: &QName) -> PathBuf {
        self.root
            .join(kind.folder())
            .join(encode(&q.namespace))
            .join(encode(&q.local))
    }

    /// `<element_dir>/<Element>.tosca`, e.g. `…/MyST/ServiceTemplate.tosca`.
    pub fn element_file(&self, kind: TypeKind, q: &QName) -> PathBuf {
        self.element_dir(kind, q)
            .join(format!("{}.tosca", kind.element()))
    }

    /// Whether `kind` `q` has a folder in the repository.
    pub fn exists(&self, kind: TypeKind, q: &QName) -> bool {
        self.element_dir(kind, q).exists()
    }

    /// The `reference` of an artifact file as Winery writes it: the repository-relative path,
    /// percent-encoded once more (`artifacttemplates/http%253A%252F%252F…/id/files/x.sh`).
    pub fn artifact_reference(q: &QName, file_name: &str) -> String {
        format!(
            "{}/{}/{}/files/{}",
            TypeKind::ArtifactTemplate.folder(),
            encode(&encode(&q.namespace)),
            encode(&encode(&q.local)),
            encode(file_name)
        )
    }

    /// Writes `defs` to `path` atomically, creating its folders.
    pub fn write_file(&self, path: &Path, defs: &Definitions) -> Result<(), RepositoryError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
        }
        write_atomic(path, defs.to_xml().as_bytes()).map_err(|e| io_err(path, e))
    }

    /// Writes `defs` (holding the one element `kind` `q`) to that element's file.
    pub fn write(
        &self,
        kind: TypeKind,
        q: &QName,
        defs: &Definitions,
    ) -> Result<PathBuf, RepositoryError> {
        let path = self.element_file(kind, q);
        self.write_file(&path, defs)?;
        Ok(path)
    }

    /// Creates the empty service template `q`; fails if it exists.
    pub fn create_service_template(
        &self,
        q: &QName,
    ) -> Result<(PathBuf, Definitions), RepositoryError> {
        self.check_new(TypeKind::ServiceTemplate, q)?;
        let mut defs = new_definitions(TypeKind::ServiceTemplate, q);
        defs.service_templates
            .push(ServiceTemplate::new(&q.namespace, &q.local));
        let path = self.write(TypeKind::ServiceTemplate, q, &defs)?;
        Ok((path, defs))
    }

    fn check_new(&self, kind: TypeKind, q: &QName) -> Result<(), RepositoryError> {
        check_id(&q.local)?;
        check_namespace(&q.namespace)?;
        if self.exists(kind, q) {
            return Err(RepositoryError {
                path: Some(self.element_dir(kind, q)),
                message: format!("{} {q} already exists", kind.element()),
            });
        }
        Ok(())
    }

    /// Renames service template `old` (held by `defs`) to `new` (id and namespace): its folder
    /// moves with everything in it (README, plans, self-service data), the Definitions file is
    /// rewritten. Returns the new file and definitions.
    pub fn rename_service_template(
        &self,
        defs: &Definitions,
        old: &QName,
        new: &QName,
    ) -> Result<(PathBuf, Definitions), RepositoryError> {
        if old == new {
            return Ok((
                self.element_file(TypeKind::ServiceTemplate, old),
                defs.clone(),
            ));
        }
        self.check_new(TypeKind::ServiceTemplate, new)?;
        let renamed = renamed_service_template(defs, old, new)?;
        let from = self.element_dir(TypeKind::ServiceTemplate, old);
        let to = self.element_dir(TypeKind::ServiceTemplate, new);
        if from.is_dir() {
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent).map_err(|e| io_err(parent, e))?;
            }
            std::fs::rename(&from, &to).map_err(|e| io_err(&from, e))?;
            remove_if_empty(from.parent());
        }
        let path = self.write(TypeKind::ServiceTemplate, new, &renamed)?;
        Ok((path, renamed))
    }

    /// Copies service template `old` (held by `defs`) to `new`, with the other files of its
    /// folder.
    pub fn duplicate_service_template(
        &self,
        defs: &Definitions,
        old: &QName,
        new: &QName,
    ) -> Result<(PathBuf, Definitions), RepositoryError> {
        self.check_new(TypeKind::ServiceTemplate, new)?;
        let copy = renamed_service_template(defs, old, new)?;
        let from = self.element_dir(TypeKind::ServiceTemplate, old);
        let to = self.element_dir(TypeKind::ServiceTemplate, new);
        if from.is_dir() {
            copy_dir(&from, &to)?;
        }
        let path = self.write(TypeKind::ServiceTemplate, new, &copy)?;
        Ok((path, copy))
    }

    /// Deletes element `q` of `kind`: its folder and, when it becomes empty, its namespace
    /// folder.
    pub fn delete(&self, kind: TypeKind, q: &QName) -> Result<(), RepositoryError> {
        let dir = self.element_dir(kind, q);
        if !dir.is_dir() {
            return Err(RepositoryError {
                path: Some(dir),
                message: format!("{} {q} is not in the repository", kind.element()),
            });
        }
        std::fs::remove_dir_all(&dir).map_err(|e| io_err(&dir, e))?;
        remove_if_empty(dir.parent());
        Ok(())
    }

    /// Creates (or extends) artifact template `q` of type `type_ref` with copies of `files` in
    /// its `files/` folder, one ArtifactReference each. Returns its file and definitions.
    pub fn add_artifact_template(
        &self,
        q: &QName,
        type_ref: &QName,
        files: &[PathBuf],
    ) -> Result<(PathBuf, Definitions), RepositoryError> {
        check_id(&q.local)?;
        check_namespace(&q.namespace)?;
        let path = self.element_file(TypeKind::ArtifactTemplate, q);
        let mut defs = if path.exists() {
            crate::load::load_definitions_file(&path).map_err(|e| err(e.to_string()))?
        } else {
            new_definitions(TypeKind::ArtifactTemplate, q)
        };
        let mut at = defs
            .artifact_templates
            .iter()
            .find(|a| a.qname() == *q)
            .cloned()
            .unwrap_or_else(|| ArtifactTemplate {
                id: q.local.clone(),
                name: Some(q.local.clone()),
                target_namespace: q.namespace.clone(),
                type_ref: type_ref.clone(),
                ..Default::default()
            });
        at.type_ref = type_ref.clone();
        let dir = self
            .element_dir(TypeKind::ArtifactTemplate, q)
            .join("files");
        std::fs::create_dir_all(&dir).map_err(|e| io_err(&dir, e))?;
        for f in files {
            let name = f
                .file_name()
                .and_then(|n| n.to_str())
                .ok_or_else(|| RepositoryError {
                    path: Some(f.clone()),
                    message: "not a file name".into(),
                })?;
            let bytes = std::fs::read(f).map_err(|e| io_err(f, e))?;
            let target = dir.join(name);
            write_atomic(&target, &bytes).map_err(|e| io_err(&target, e))?;
            let reference = Self::artifact_reference(q, name);
            if !at.references.iter().any(|r| r.reference == reference) {
                at.references.push(ArtifactRefEntry {
                    reference,
                    includes: Vec::new(),
                    excludes: Vec::new(),
                });
            }
        }
        upsert_artifact_template(&mut defs, at);
        self.write_file(&path, &defs)?;
        Ok((path, defs))
    }
}

/// Empty definitions for one element, with Winery's id (`winery-defs-for_<prefix>-<id>`).
pub fn new_definitions(kind: TypeKind, q: &QName) -> Definitions {
    let prefix = q
        .namespace
        .trim_end_matches('/')
        .rsplit(['/', ':', '#'])
        .next()
        .filter(|p| !p.is_empty())
        .unwrap_or(kind.folder());
    Definitions::new(
        &format!("winery-defs-for_{prefix}-{}", q.local),
        &q.namespace,
    )
}

fn renamed_service_template(
    defs: &Definitions,
    old: &QName,
    new: &QName,
) -> Result<Definitions, RepositoryError> {
    check_id(&new.local)?;
    let mut d = defs.clone();
    let st = d
        .service_templates
        .iter_mut()
        .find(|s| s.qname() == *old)
        .ok_or_else(|| err(format!("no service template {old} in this file")))?;
    if st.name.as_deref().is_none_or(|n| n == old.local) {
        st.name = Some(new.local.clone());
    }
    st.id = new.local.clone();
    st.target_namespace = new.namespace.clone();
    if d.service_templates.len() == 1 {
        d.target_namespace = new.namespace.clone();
        d.id = new_definitions(TypeKind::ServiceTemplate, new).id;
    }
    Ok(d)
}

fn remove_if_empty(dir: Option<&Path>) {
    if let Some(d) = dir
        && std::fs::read_dir(d).is_ok_and(|mut r| r.next().is_none())
    {
        let _ = std::fs::remove_dir(d);
    }
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), RepositoryError> {
    std::fs::create_dir_all(to).map_err(|e| io_err(to, e))?;
    for entry in std::fs::read_dir(from).map_err(|e| io_err(from, e))? {
        let entry = entry.map_err(|e| io_err(from, e))?;
        let p = entry.path();
        let target = to.join(entry.file_name());
        if p.is_dir() {
            copy_dir(&p, &target)?;
        } else {
            std::fs::copy(&p, &target).map_err(|e| io_err(&p, e))?;
        }
    }
    Ok(())
}

/// Replaces the node type of the same QName in `defs`, or adds it.
pub fn upsert_node_type(defs: &mut Definitions, t: NodeType) {
    match defs
        .node_types
        .iter_mut()
        .find(|x| x.base.qname() == t.base.qname())
    {
        Some(x) => *x = t,
        None => defs.node_types.push(t),
    }
}

/// Replaces the relationship type of the same QName in `defs`, or adds it.
pub fn upsert_relationship_type(defs: &mut Definitions, t: RelationshipType) {
    match defs
        .relationship_types
        .iter_mut()
        .find(|x| x.base.qname() == t.base.qname())
    {
        Some(x) => *x = t,
        None => defs.relationship_types.push(t),
    }
}

/// Replaces the node type implementation of the same QName in `defs`, or adds it.
pub fn upsert_node_type_implementation(defs: &mut Definitions, t: NodeTypeImplementation) {
    match defs
        .node_type_implementations
        .iter_mut()
        .find(|x| x.base.qname() == t.base.qname())
    {
        Some(x) => *x = t,
        None => defs.node_type_implementations.push(t),
    }
}

/// Replaces the artifact template of the same QName in `defs`, or adds it.
pub fn upsert_artifact_template(defs: &mut Definitions, t: ArtifactTemplate) {
    match defs
        .artifact_templates
        .iter_mut()
        .find(|x| x.qname() == t.qname())
    {
        Some(x) => *x = t,
        None => defs.artifact_templates.push(t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_winery_folder_names() {
        assert_eq!(
            encode("http://opentosca.org/nodetypes"),
            "http%3A%2F%2Fopentosca.org%2Fnodetypes"
        );
        assert_eq!(encode("Apache-2.4_x"), "Apache-2.4_x");
        assert_eq!(
            Repository::artifact_reference(
                &QName::new(
                    "https://examples.opentosca.org/edmm/artifacttemplates",
                    "T-IA"
                ),
                "create.sh"
            ),
            "artifacttemplates/https%253A%252F%252Fexamples.opentosca.org%252Fedmm%252Fartifacttemplates/T-IA/files/create.sh"
        );
    }

    #[test]
    fn rejects_bad_ids() {
        assert!(check_id("My_ST-1.0").is_ok());
        for bad in ["", "1abc", "a b", "a/b", "a:b"] {
            assert!(check_id(bad).is_err(), "{bad}");
        }
    }
}
