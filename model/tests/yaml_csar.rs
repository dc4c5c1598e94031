//! CSAR export of YAML service templates (TOSCA 1.3 layout, YAML Entry-Definitions): the
//! archive holds the template, what it imports and its artifact files; it loads back with the
//! same plan, and tosca-parser accepts it when installed.

use provisio_model::csar_export::export_csar;
use provisio_model::plan::build_deploy_plan;
use provisio_model::{InputKind, load_path};
use std::collections::BTreeMap;
use std::path::Path;

fn none(_: &str) -> Option<Vec<u8>> {
    None
}

#[test]
fn thesis_yaml_exports_and_loads_back_with_the_same_plan() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/library-yaml/ThesisScenario.yaml");
    let l = load_path(&path).unwrap();
    let main = l.main_file.unwrap();
    let st = l.library.file(main).definitions.service_templates[0].clone();
    let ex = export_csar(&l.library, main, &st, &none, "provisio test").unwrap();
    assert!(ex.warnings.is_empty(), "{:#?}", ex.warnings);
    for e in [
        "TOSCA-Metadata/TOSCA.meta",
        "ThesisScenario.yaml",
        "provisio-types.yaml",
        "files/SensorPublisher.ino.bin",
        "files/nodered.recipe",
        "files/influxdb.recipe",
    ] {
        assert!(ex.entries.iter().any(|n| n == e), "{e}: {:?}", ex.entries);
    }
    // Deterministic.
    let again = export_csar(&l.library, main, &st, &none, "provisio test").unwrap();
    assert_eq!(ex.bytes, again.bytes);
    let archive = provisio_model::csar::read_bytes(&ex.bytes).unwrap();
    assert_eq!(archive.entry_definitions(), Some("ThesisScenario.yaml"));
    assert_eq!(
        archive.read_entry("ThesisScenario.yaml").unwrap(),
        std::fs::read(&path).unwrap()
    );
    let dir = tempfile::tempdir().unwrap();
    let csar = dir.path().join("thesis.csar");
    std::fs::write(&csar, &ex.bytes).unwrap();
    let back = load_path(&csar).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back.kind, InputKind::Csar);
    assert!(
        back.library.load_diagnostics().is_empty(),
        "{:#?}",
        back.library.load_diagnostics()
    );
    let st2 = &back
        .library
        .file(back.main_file.unwrap())
        .definitions
        .service_templates[0];
    let inputs = BTreeMap::from([
        ("raspberryPassword".to_string(), "r".to_string()),
        ("micaPassword".to_string(), "m".to_string()),
    ]);
    let a = build_deploy_plan(&l.library, &st, &inputs).unwrap();
    let b = build_deploy_plan(&back.library, st2, &inputs).unwrap();
    assert_eq!(a.steps, b.steps);
    // Artifact bytes are in the archive under the name the plan uses.
    let step = b
        .steps
        .iter()
        .find(|s| s.id == "SensorPublisher.install")
        .unwrap();
    let file = &step.artifacts[0].files[0];
    assert_eq!(
        back.csar.as_ref().unwrap().read_entry(file).unwrap()[0],
        0xE9
    );

    if std::process::Command::new("python3")
        .args(["-c", "import toscaparser"])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        let out = std::process::Command::new("python3")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/yaml_peer.py"))
            .arg(&csar)
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["valid"], true, "{v}");
        assert_eq!(v["nodes"], 7);
    }
}

#[test]
fn edits_are_exported_and_nested_imports_keep_their_place() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/corpus-yaml/valid/imports/service.yaml");
    let mut l = load_path(&path).unwrap();
    let main = l.main_file.unwrap();
    let defs = l.library.definitions_mut(main);
    defs.service_templates[0]
        .topology
        .node_mut("publisher")
        .unwrap()
        .properties
        .as_mut()
        .unwrap()
        .set("topic", "sensors/humidity");
    let st = defs.service_templates[0].clone();
    let ex = export_csar(&l.library, main, &st, &none, "t").unwrap();
    assert!(
        ex.entries.contains(&"types/common/base.yaml".to_string()),
        "{:?}",
        ex.entries
    );
    let dir = tempfile::tempdir().unwrap();
    let csar = dir.path().join("x.csar");
    std::fs::write(&csar, &ex.bytes).unwrap();
    let back = load_path(&csar).unwrap();
    assert!(
        back.library.load_diagnostics().is_empty(),
        "{:#?}",
        back.library.load_diagnostics()
    );
    let st2 = &back
        .library
        .file(back.main_file.unwrap())
        .definitions
        .service_templates[0];
    assert_eq!(
        st2.topology.node("publisher").unwrap().property("topic"),
        Some("sensors/humidity")
    );
}

#[test]
fn operation_implementations_are_modelled_and_packed() {
    use provisio_model::QName;
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/corpus-yaml/valid/scripted/collector.yaml");
    let l = load_path(&path).unwrap();
    let t = QName::new("example.nodes", "Collector");
    let imps = l.library.implementations_of(&t);
    assert_eq!(imps.len(), 1);
    let arts: Vec<(Option<&str>, Option<&str>, &str)> = imps[0]
        .implementation_artifacts
        .iter()
        .map(|a| {
            (
                a.interface_name.as_deref(),
                a.operation_name.as_deref(),
                a.artifact_type.local.as_str(),
            )
        })
        .collect();
    assert_eq!(
        arts,
        vec![
            (
                Some("tosca.interfaces.node.lifecycle.Standard"),
                Some("create"),
                "Bash"
            ),
            (
                Some("tosca.interfaces.node.lifecycle.Standard"),
                Some("configure"),
                "Python"
            ),
        ]
    );
    // The plan runs the operations the type implements (create, configure) on the collector.
    let main = l.main_file.unwrap();
    let st = l.library.file(main).definitions.service_templates[0].clone();
    let plan = build_deploy_plan(&l.library, &st, &BTreeMap::new()).unwrap();
    let ids: Vec<&str> = plan.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, vec!["collector.create", "collector.configure"]);
    let ex = export_csar(&l.library, main, &st, &none, "t").unwrap();
    assert!(ex.warnings.is_empty(), "{:#?}", ex.warnings);
    assert!(
        ex.entries.contains(&"scripts/create.sh".to_string()),
        "{:?}",
        ex.entries
    );
    assert!(
        ex.entries.contains(&"scripts/configure.py".to_string()),
        "{:?}",
        ex.entries
    );
}
