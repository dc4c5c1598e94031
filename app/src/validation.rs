//! Everything said about a service template before Deploy: the model's validation plus the deploy
//! checks (drivers, artifacts, inputs) with artifact files looked up where the topology was
//! opened. The GUI's markers, `provisio validate` and the deploy gate all use this one function,
//! so a topology without errors here deploys.

use provisio_model::tosca::ServiceTemplate;
use provisio_model::{Diagnostic, Loaded};
use std::path::PathBuf;

/// Validation and deploy checks of `st`, located in `file` when known.
pub fn validate_all(
    loaded: &Loaded,
    st: &ServiceTemplate,
    file: Option<PathBuf>,
) -> Vec<Diagnostic> {
    let lib = &loaded.library;
    let mut out = provisio_model::validate::validate_service_template(lib, st, file.clone());
    let exists = |r: &str| crate::deploy::artifacts::artifact_exists(loaded, r);
    out.extend(provisio_model::deployable::check_deployable(
        lib, st, file, &exists,
    ));
    out
}

/// The errors among `diags`.
pub fn errors(diags: &[Diagnostic]) -> Vec<&Diagnostic> {
    diags.iter().filter(|d| d.is_error()).collect()
}
