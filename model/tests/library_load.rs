//! Loading real repositories and CSARs as libraries: everything parses, QNames resolve across
//! files, DerivedFrom chains are followed, and hostile archives are refused.

mod common;
use provisio_model::tosca::TypeKind;
use provisio_model::{InputKind, QName, load_path};

#[test]
fn real_winery_repositories_load_without_errors() {
    for repo in ["opentosca-public", "winery-test-repository"] {
        let loaded = load_path(&common::corpus_dir().join(repo)).unwrap();
        assert_eq!(loaded.kind, InputKind::WineryRepository);
        let errors: Vec<_> = loaded
            .library
            .load_diagnostics()
            .iter()
            .filter(|d| d.is_error())
            .collect();
        assert!(errors.is_empty(), "{repo}: {errors:#?}");
        assert!(
            loaded.library.files().len() > 100,
            "{repo}: {}",
            loaded.library.files().len()
        );
        assert!(!loaded.library.service_templates().is_empty());
        // Unresolved references are warnings only.
        assert!(
            loaded
                .library
                .unresolved_references()
                .iter()
                .all(|d| !d.is_error())
        );
    }
}

#[test]
fn derived_from_chains_resolve_across_files() {
    let loaded = load_path(&common::corpus_dir().join("opentosca-public")).unwrap();
    let lib = &loaded.library;
    // Some node type in the corpus derives from another one defined in a different file.
    let derived = lib
        .node_types()
        .into_iter()
        .find(|t| {
            t.base
                .derived_from
                .as_ref()
                .is_some_and(|p| lib.node_type(p).is_some())
        })
        .expect("a derived node type");
    let chain = lib.ancestry(TypeKind::NodeType, &derived.base.qname());
    assert!(chain.len() >= 2, "{chain:?}");
    assert!(lib.derives_from(TypeKind::NodeType, &derived.base.qname(), &chain[1]));
    assert!(!lib.derives_from(TypeKind::NodeType, &chain[1], &derived.base.qname()));
    let hosted_on = QName::new(
        "http://docs.oasis-open.org/tosca/ns/2011/12/ToscaBaseTypes",
        "HostedOn",
    );
    assert!(lib.relationship_type(&hosted_on).is_some());
}

#[test]
fn every_shared_csar_imports() {
    let files = common::files_with_ext(&common::corpus_dir().join("csar"), &["csar"]);
    assert_eq!(files.len(), 3);
    for f in files {
        let loaded = load_path(&f).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(loaded.kind, InputKind::Csar);
        let main = loaded
            .main_file
            .unwrap_or_else(|| panic!("{}: no entry", f.display()));
        assert!(
            !loaded
                .library
                .file(main)
                .definitions
                .service_templates
                .is_empty(),
            "{}",
            f.display()
        );
    }
}

#[test]
fn broken_file_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.tosca");
    std::fs::write(&p, "<?xml version=\"1.0\"?>\n<Definitions xmlns=\"http://docs.oasis-open.org/tosca/ns/2011/12\">\n<NodeType name=\"x\">\n</Definitions>").unwrap();
    let e = load_path(&p).unwrap_err();
    assert_eq!(e.line, Some(4), "{e}");
    assert!(e.to_string().starts_with(&p.display().to_string()), "{e}");
    // In a repository the broken file is an error diagnostic and the rest still loads.
    std::fs::write(dir.path().join("good.tosca"), "<Definitions xmlns=\"http://docs.oasis-open.org/tosca/ns/2011/12\" id=\"g\" targetNamespace=\"urn:g\"><NodeType name=\"G\"/></Definitions>").unwrap();
    let loaded = load_path(dir.path()).unwrap();
    assert!(
        loaded
            .library
            .node_type(&QName::new("urn:g", "G"))
            .is_some()
    );
    let d = &loaded.library.load_diagnostics()[0];
    assert!(d.is_error() && d.line == Some(4), "{d}");
}
