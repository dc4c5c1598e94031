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
        lib,
        st,
        file.clone(),
        &exists,
    ));
    out.extend(images_to_build(loaded, st, file));
    out
}

/// A warning per container whose image is built from its recipe at Deploy (not cached yet):
/// the deploy works, but the first one takes minutes and needs root, debootstrap and network.
fn images_to_build(
    loaded: &Loaded,
    st: &ServiceTemplate,
    file: Option<PathBuf>,
) -> Vec<Diagnostic> {
    use provisio_engines::images;
    let arch = crate::deploy::artifacts::image_arch();
    let bin = crate::deploy::artifacts::provisio_binary();
    let mut out = Vec::new();
    // Per recipe file: the name of its image when it is still to be built (many templates share
    // one recipe; each is read and hashed once per validation).
    let mut unbuilt: std::collections::HashMap<&str, Option<String>> = Default::default();
    for n in &st.topology.node_templates {
        for da in loaded.library.deployment_artifacts_of(n) {
            let Some(t) = da
                .artifact_ref
                .as_ref()
                .and_then(|r| loaded.library.artifact_template(r))
            else {
                continue;
            };
            for r in t
                .references
                .iter()
                .filter(|r| r.reference.ends_with(".recipe"))
            {
                let pending = unbuilt.entry(r.reference.as_str()).or_insert_with(|| {
                    // A missing file is the deploy checks' error.
                    let bytes =
                        crate::deploy::artifacts::load_artifact(loaded, &r.reference).ok()?;
                    (images::is_recipe(&bytes)
                        && images::cached_image(&bytes, &arch, bin.as_deref()).is_none())
                    .then(|| images::recipe_field(&bytes, "name").unwrap_or_default())
                });
                if let Some(name) = pending {
                    let mut d = Diagnostic::warning(
                        "image-build",
                        &n.id,
                        format!(
                            "the {name} image ({arch}) is not built yet: Deploy builds it first \
                             (minutes, once; needs root, debootstrap and access to Debian/npm)"
                        ),
                    )
                    .with_hint("run scripts/build-images.sh ahead, or deploy and wait");
                    d.file = file.clone();
                    d.line = (n.line > 0).then_some(n.line);
                    out.push(d);
                }
            }
        }
    }
    out
}

/// The errors among `diags`.
pub fn errors(diags: &[Diagnostic]) -> Vec<&Diagnostic> {
    diags.iter().filter(|d| d.is_error()).collect()
}
