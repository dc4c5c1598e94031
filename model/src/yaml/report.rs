//! A summary of one YAML template for comparing with other TOSCA processors (the tosca-parser
//! peer test): valid or not, node template count, requirement targets, the errors found.

use crate::diagnostic::Severity;
use std::collections::BTreeMap;
use std::path::Path;

/// What Provisio makes of one template.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Report {
    pub valid: bool,
    pub nodes: usize,
    /// Node template → sorted (requirement, target node) pairs.
    pub requirements: BTreeMap<String, Vec<(String, String)>>,
    /// Every error, as `file:line:col: error[code]: …`.
    pub errors: Vec<String>,
}

/// Loads `path` (YAML file or CSAR) and validates its service templates.
pub fn report(path: &Path) -> Report {
    let loaded = match crate::load_path(path) {
        Ok(l) => l,
        Err(e) => {
            return Report {
                valid: false,
                nodes: 0,
                requirements: BTreeMap::new(),
                errors: vec![e.to_string()],
            };
        }
    };
    let lib = &loaded.library;
    let mut errors: Vec<String> = lib
        .load_diagnostics()
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| d.to_string())
        .collect();
    let mut nodes = 0;
    let mut requirements = BTreeMap::new();
    if let Some(main) = loaded.main_file {
        let file = lib.file(main);
        for st in &file.definitions.service_templates {
            nodes += st.topology.node_templates.len();
            for n in &st.topology.node_templates {
                requirements.insert(n.id.clone(), Vec::new());
            }
            for r in &st.topology.relationship_templates {
                if let Some(v) = requirements.get_mut(&r.source) {
                    v.push((r.name.clone().unwrap_or_default(), r.target.clone()));
                }
            }
            errors.extend(
                crate::validate::validate_service_template(lib, st, Some(file.path.clone()))
                    .into_iter()
                    .filter(|d| d.severity == Severity::Error)
                    .map(|d| d.to_string()),
            );
        }
    }
    for v in requirements.values_mut() {
        v.sort();
    }
    Report {
        valid: errors.is_empty(),
        nodes,
        requirements,
        errors,
    }
}
