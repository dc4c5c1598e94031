//! Saving the type editor's form: into Winery's files of a repository (the type, its
//! implementation and artifact templates with their copied files) or into the open file, then
//! re-indexing so the palette and validation see the new definition at once.

use super::super::ProvisioApp;
use super::TypeForm;
use provisio_model::QName;
use provisio_model::repository::{self, Repository};
use provisio_model::tosca::*;
use std::path::PathBuf;

/// Puts `defs` (read from or written to `path`) into the library: replaces the file it came
/// from, or adds it.
fn put(app: &mut ProvisioApp, path: PathBuf, defs: Definitions) {
    let lib = &mut app.state.doc.loaded.library;
    match lib
        .files()
        .iter()
        .position(|f| f.path == path && !f.builtin)
    {
        Some(i) => lib.set_definitions(i, path, defs),
        None => {
            lib.add(path, defs, false);
        }
    }
}

/// The file and definitions a type `q` of `kind` is saved into: where it is defined now (a user
/// file), else its Winery file in the repository, else the open document's file.
fn target(app: &ProvisioApp, kind: TypeKind, q: &QName) -> (Option<PathBuf>, Definitions) {
    let lib = app.state.doc.library();
    if let Some(loc) = lib.locate(kind, q)
        && !lib.file(loc.file).builtin
    {
        let f = lib.file(loc.file);
        return (Some(f.path.clone()), f.definitions.clone());
    }
    match super::super::workspace::Workspace::repository(&app.state) {
        Some(repo) => {
            let path = repo.element_file(kind, q);
            let defs = provisio_model::load::load_definitions_file(&path)
                .unwrap_or_else(|_| repository::new_definitions(kind, q));
            (Some(path), defs)
        }
        None => (None, lib.file(app.state.doc.file).definitions.clone()),
    }
}

/// Writes `defs` to `path` (a repository or user file) or, without a path, into the open
/// document (saved with it).
fn store(
    app: &mut ProvisioApp,
    path: Option<PathBuf>,
    defs: Definitions,
) -> Result<String, String> {
    match path {
        Some(p) => {
            Repository::new(PathBuf::new())
                .write_file(&p, &defs)
                .map_err(|e| e.to_string())?;
            put(app, p.clone(), defs);
            Ok(p.display().to_string())
        }
        None => {
            let file = app.state.doc.file;
            *app.state.doc.loaded.library.definitions_mut(file) = defs;
            app.state.doc.loaded.library.reindex();
            app.state.dirty = true;
            Ok("the open file (save it to keep the type)".into())
        }
    }
}

fn sibling_ns(ns: &str, folder: &str) -> String {
    if ns.contains("nodetypes") {
        ns.replace("nodetypes", folder)
    } else {
        format!("{}/{folder}", ns.trim_end_matches('/'))
    }
}

/// Saves the form: the type, then its implementation and artifact templates.
pub fn save_form(app: &mut ProvisioApp) -> Result<String, String> {
    let f = app.workspace.type_editor.clone().ok_or("no type open")?;
    let mut written = Vec::new();
    let q = QName::new(f.namespace.trim(), f.name.trim());
    match f.kind {
        TypeKind::RelationshipType => {
            let t = f.relationship_type()?;
            let (path, mut defs) = target(app, f.kind, &q);
            repository::upsert_relationship_type(&mut defs, t);
            written.push(store(app, path, defs)?);
        }
        _ => {
            let t = f.node_type()?;
            let (path, mut defs) = target(app, TypeKind::NodeType, &q);
            repository::upsert_node_type(&mut defs, t);
            written.push(store(app, path, defs)?);
            if f.artifacts.iter().any(|a| !a.file.trim().is_empty()) {
                written.push(save_implementation(app, &f, &q)?);
            }
        }
    }
    if let Some(form) = app.workspace.type_editor.as_mut() {
        form.original = Some(q.clone());
        for a in &mut form.artifacts {
            a.file.clear();
        }
        form.mark_clean();
    }
    app.state.revalidate();
    let msg = format!("saved {q} to {}", written.join(", "));
    app.state.status = msg.clone();
    Ok(msg)
}

/// Saves the form as its "Save type" button does (also Ctrl+S and File ▸ Save while the type
/// editor is in view): the outcome shows under the form (a refusal with its reason) and in the
/// status line (the path written, or why not). True when saved.
pub fn save_shown(app: &mut ProvisioApp) -> bool {
    let result = save_form(app);
    let ok = result.is_ok();
    if let Err(e) = &result {
        app.state.status = format!("type save failed: {e}");
    }
    if let Some(f) = app.workspace.type_editor.as_mut() {
        f.message = Some(match result {
            Ok(m) => (true, m),
            Err(e) => (false, e),
        });
    }
    ok
}

fn save_implementation(app: &mut ProvisioApp, f: &TypeForm, q: &QName) -> Result<String, String> {
    let repo = super::super::workspace::Workspace::repository(&app.state)
        .ok_or("artifact files can only be copied into a Winery repository folder")?;
    let at_ns = sibling_ns(&q.namespace, "artifacttemplates");
    let iq = QName::new(
        sibling_ns(&q.namespace, "nodetypeimplementations"),
        format!("{}_Impl", q.local),
    );
    let (ipath, mut idefs) = target(app, TypeKind::NodeTypeImplementation, &iq);
    let mut nti = idefs
        .node_type_implementations
        .iter()
        .find(|i| i.base.qname() == iq)
        .cloned()
        .unwrap_or_else(|| NodeTypeImplementation {
            base: EntityType {
                name: iq.local.clone(),
                target_namespace: iq.namespace.clone(),
                ..Default::default()
            },
            node_type: q.clone(),
            ..Default::default()
        });
    for a in f.artifacts.iter().filter(|a| !a.file.trim().is_empty()) {
        repository::check_id(a.name.trim()).map_err(|e| format!("artifact: {e}"))?;
        let aq = QName::new(&at_ns, format!("{}_{}", q.local, a.name.trim()));
        let (apath, adefs) = repo
            .add_artifact_template(&aq, &a.artifact_type, &[PathBuf::from(a.file.trim())])
            .map_err(|e| e.to_string())?;
        put(app, apath, adefs);
        if a.deployment {
            nti.deployment_artifacts.retain(|d| d.name != a.name.trim());
            nti.deployment_artifacts.push(DeploymentArtifact {
                name: a.name.trim().into(),
                artifact_type: a.artifact_type.clone(),
                artifact_ref: Some(aq),
            });
        } else {
            let (iface, op) = a.operation.rsplit_once('/').unwrap_or(("", &a.operation));
            nti.implementation_artifacts
                .retain(|d| d.name.as_deref() != Some(a.name.trim()));
            nti.implementation_artifacts.push(ImplementationArtifact {
                name: Some(a.name.trim().into()),
                interface_name: Some(iface.to_string()).filter(|s| !s.is_empty()),
                operation_name: Some(op.to_string()).filter(|s| !s.is_empty()),
                artifact_type: a.artifact_type.clone(),
                artifact_ref: Some(aq),
            });
        }
    }
    repository::upsert_node_type_implementation(&mut idefs, nti);
    store(app, ipath, idefs)
}
