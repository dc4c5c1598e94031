//! Shared CLI helpers: choosing the service template to act on and parsing `--input K=V`.

use provisio_model::tosca::ServiceTemplate;
use provisio_model::{Loaded, QName};
use std::collections::BTreeMap;

/// The service template named by `wanted` (`{ns}id` or a bare id), or the only one the user's
/// files hold (for a CSAR: the entry's first). Errors list the candidates.
pub fn select_service_template(
    loaded: &Loaded,
    wanted: Option<&str>,
) -> Result<ServiceTemplate, String> {
    let lib = &loaded.library;
    let candidates: Vec<(usize, &ServiceTemplate)> = lib
        .service_templates()
        .into_iter()
        .filter(|(f, _)| !lib.file(*f).builtin)
        .collect();
    let list = || {
        candidates
            .iter()
            .map(|(_, s)| format!("'{}'", s.qname()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(w) = wanted {
        let q = QName::parse(w)?;
        return candidates
            .iter()
            .find(|(_, s)| s.qname() == q || (q.namespace.is_empty() && s.id == q.local))
            .map(|(_, s)| (*s).clone())
            .ok_or_else(|| format!("no service template {w}; available: {}", list()));
    }
    if let Some(main) = loaded.main_file
        && let Some(st) = lib.file(main).definitions.service_templates.first()
        && (candidates.len() == 1 || loaded.csar.is_some())
    {
        return Ok(st.clone());
    }
    match candidates.as_slice() {
        [(_, only)] => Ok((*only).clone()),
        [] => Err("no service template in the input".into()),
        _ => Err(format!(
            "several service templates; choose one with --service-template: {}",
            list()
        )),
    }
}

/// Parses `KEY=VALUE` pairs.
pub fn parse_inputs(pairs: &[String]) -> Result<BTreeMap<String, String>, String> {
    pairs
        .iter()
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.to_string()))
                .filter(|(k, _)| !k.is_empty())
                .ok_or_else(|| format!("--input '{p}' is not KEY=VALUE"))
        })
        .collect()
}

/// Opens `path` on top of the built-in library and selects the service template; prints the
/// error and returns the exit code 2 when either fails.
pub fn open_and_select(
    path: &std::path::Path,
    wanted: Option<&str>,
) -> Result<(Loaded, ServiceTemplate), i32> {
    let loaded = crate::library::open_with_builtin(path).map_err(|e| {
        errln!("error: {e}");
        2
    })?;
    let st = select_service_template(&loaded, wanted).map_err(|e| {
        errln!("error: {e}");
        2
    })?;
    Ok((loaded, st))
}
