//! `provisio validate PATH [--json]`: exit 0 without errors, 1 with errors, 2 when the input
//! cannot be read or parsed.

use crate::library::open_with_builtin;
use provisio_model::{Diagnostic, Severity};
use std::path::Path;

/// The JSON report of `validate --json`.
#[derive(Debug, serde::Serialize)]
pub struct Report {
    pub service_templates: Vec<TemplateSummary>,
    pub diagnostics: Vec<Diagnostic>,
}

#[derive(Debug, serde::Serialize)]
pub struct TemplateSummary {
    pub namespace: String,
    pub id: String,
    pub node_templates: usize,
    pub relationship_templates: usize,
}

/// Loads `path` (with the built-in library underneath) and collects every diagnostic.
pub fn report(path: &Path) -> Result<Report, provisio_model::LoadError> {
    let loaded = open_with_builtin(path)?;
    let lib = &loaded.library;
    let mut diagnostics: Vec<Diagnostic> = lib.load_diagnostics().to_vec();
    diagnostics.extend(lib.unresolved_references().into_iter().filter(|d| {
        // Built-in files are ours and tested; report only what the user opened.
        !d.file.as_ref().is_some_and(|f| f.starts_with("builtin"))
    }));
    for (f, st) in lib.service_templates() {
        if !lib.file(f).builtin {
            diagnostics.extend(crate::validation::validate_all(
                &loaded,
                st,
                Some(lib.file(f).path.clone()),
            ));
        }
    }
    let service_templates = lib
        .service_templates()
        .into_iter()
        .filter(|(f, _)| !lib.file(*f).builtin)
        .map(|(_, st)| TemplateSummary {
            namespace: st.target_namespace.clone(),
            id: st.id.clone(),
            node_templates: st.topology.node_templates.len(),
            relationship_templates: st.topology.relationship_templates.len(),
        })
        .collect();
    Ok(Report {
        service_templates,
        diagnostics,
    })
}

pub fn run(path: &Path, json: bool) -> i32 {
    let report = match report(path) {
        Ok(r) => r,
        Err(e) => {
            errln!("error: {e}");
            return 2;
        }
    };
    if json {
        match serde_json::to_string_pretty(&report) {
            Ok(s) => outln!("{s}"),
            Err(e) => {
                errln!("error: {e}");
                return 2;
            }
        }
    } else {
        for st in &report.service_templates {
            outln!(
                "service template {{{}}}{}: {} node templates, {} relationship templates",
                st.namespace,
                st.id,
                st.node_templates,
                st.relationship_templates
            );
        }
        for d in &report.diagnostics {
            outln!("{d}");
        }
        let errors = report
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count();
        let warnings = report.diagnostics.len() - errors;
        outln!("{errors} error(s), {warnings} warning(s)");
    }
    if report.diagnostics.iter().any(|d| d.is_error()) {
        1
    } else {
        0
    }
}
