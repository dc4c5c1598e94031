//! The YAML corpus (tests/corpus-yaml): valid templates load and validate without errors;
//! each invalid one fails with the diagnostic its first line names (`# expect: code`), with a
//! line and column.

use provisio_model::yaml::report::report;
use std::path::{Path, PathBuf};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/corpus-yaml")
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "yaml") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn valid_templates_have_no_errors() {
    let files = yaml_files(&corpus().join("valid"));
    assert!(files.len() >= 9, "{files:?}");
    for f in files {
        let r = report(&f);
        assert!(r.valid, "{}: {:#?}", f.display(), r.errors);
    }
}

#[test]
fn invalid_templates_fail_with_the_expected_diagnostic_and_position() {
    let files = yaml_files(&corpus().join("invalid"));
    assert!(files.len() >= 18, "{files:?}");
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let expect = text
            .lines()
            .next()
            .unwrap()
            .strip_prefix("# expect: ")
            .unwrap()
            .trim()
            .to_string();
        let r = report(&f);
        assert!(!r.valid, "{} should be invalid", f.display());
        let hit = r
            .errors
            .iter()
            .find(|e| e.contains(&format!("error[{expect}]")) || e.contains(&expect));
        let hit = hit
            .unwrap_or_else(|| panic!("{}: expected {expect}, got {:#?}", f.display(), r.errors));
        // file:line[:col]: … — every diagnostic says where.
        let after = hit
            .split(".yaml:")
            .nth(1)
            .unwrap_or_else(|| panic!("no position: {hit}"));
        assert!(
            after.split(':').next().unwrap().parse::<u32>().is_ok(),
            "no line: {hit}"
        );
    }
}

#[test]
fn diagnostics_name_line_and_column() {
    let r = report(&corpus().join("invalid/constraint_in_range.yaml"));
    assert!(
        r.errors.iter().any(
            |e| e.contains("constraint_in_range.yaml:16:15: error[constraint]")
                && e.contains("70000")
        ),
        "{:#?}",
        r.errors
    );
    let r = report(&corpus().join("invalid/unknown_top_level_key.yaml"));
    assert!(
        r.errors
            .iter()
            .any(|e| e.contains(":3:1: error[unknown-key]")),
        "{:#?}",
        r.errors
    );
    let r = report(&corpus().join("invalid/unsupported_version.yaml"));
    assert!(
        r.errors[0].contains(":2: ")
            && r.errors[0].contains("TOSCA version 'tosca_2_0' is not supported"),
        "{:#?}",
        r.errors
    );
}

#[test]
fn short_names_and_nested_imports_resolve() {
    let r = report(&corpus().join("valid/imports/service.yaml"));
    assert_eq!(r.nodes, 3);
    assert_eq!(
        r.requirements["publisher"],
        vec![
            ("host".to_string(), "gateway".to_string()),
            ("messaging".to_string(), "broker".to_string())
        ]
    );
    let loaded = provisio_model::load_path(&corpus().join("valid/compute_minimal.yaml")).unwrap();
    let st = &loaded
        .library
        .file(loaded.main_file.unwrap())
        .definitions
        .service_templates[0];
    assert_eq!(
        st.topology.node_templates[0].type_ref,
        provisio_model::QName::new("tosca.nodes", "Compute")
    );
    assert!(
        loaded
            .library
            .node_type(&st.topology.node_templates[0].type_ref)
            .is_some()
    );
}

#[test]
#[ignore]
fn print_reports() {
    for f in yaml_files(&corpus()) {
        let r = report(&f);
        println!("{} valid={} nodes={}", f.display(), r.valid, r.nodes);
        for e in &r.errors {
            println!("    {e}");
        }
    }
}

#[test]
fn a_folder_with_xml_and_yaml_loads_both() {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(
        root.join("tests/fixtures/thesis.tosca"),
        dir.path().join("thesis.tosca"),
    )
    .unwrap();
    for f in ["ThesisScenario.yaml", "provisio-types.yaml"] {
        std::fs::copy(
            root.join("../assets/library-yaml").join(f),
            dir.path().join(f),
        )
        .unwrap();
    }
    std::fs::write(dir.path().join("notes.yaml"), "just: notes\n").unwrap(); // not TOSCA: ignored
    let l = provisio_model::load_path(dir.path()).unwrap();
    assert!(
        l.library.load_diagnostics().is_empty(),
        "{:#?}",
        l.library.load_diagnostics()
    );
    let ids: Vec<String> = l
        .library
        .service_templates()
        .into_iter()
        .filter(|(f, _)| !l.library.file(*f).builtin)
        .map(|(_, s)| s.qname().to_string())
        .collect();
    assert!(ids.contains(&"{}ThesisScenario".to_string()), "{ids:?}");
    assert!(
        ids.iter()
            .any(|i| i.starts_with("{http://") && i.ends_with("ThesisScenario")),
        "{ids:?}"
    );
    // YAML types sit next to the XML ones, grouped by their prefix.
    let yaml_nt = l
        .library
        .node_types()
        .into_iter()
        .filter(|t| t.base.target_namespace == "provisio.nodes")
        .count();
    assert_eq!(yaml_nt, 8);
}
