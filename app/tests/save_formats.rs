//! A document is saved in the format its path asks for: the thesis scenario (XML) saved as
//! `.yaml` reopens as TOSCA YAML with the same topology, validates and plans the same steps; a
//! YAML file saved back untouched is byte-identical.

use provisio_app::gui::ProvisioApp;
use provisio_app::gui::files::{open_example, open_path};

#[test]
fn xml_topology_saved_as_yaml_reopens_with_the_same_plan() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = ProvisioApp::with_document(open_example("ThesisScenario").unwrap());
    let yaml = dir.path().join("thesis.yaml");
    app.state.save_to(&yaml).unwrap();
    let text = std::fs::read_to_string(&yaml).unwrap();
    assert!(
        text.starts_with("tosca_definitions_version: tosca_simple_yaml_1_"),
        "{text}"
    );
    let doc = open_path(&yaml).unwrap();
    let defs = &doc.loaded.library.file(doc.file).definitions;
    assert!(defs.is_yaml());
    let st = doc.st();
    assert_eq!(st.topology.node_templates.len(), 7);
    let xml = open_example("ThesisScenario").unwrap();
    let inputs = [("raspberryPassword", "x"), ("micaPassword", "y")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let a = provisio_model::plan::build_deploy_plan(doc.library(), st, &inputs).unwrap();
    let b = provisio_model::plan::build_deploy_plan(xml.library(), xml.st(), &inputs).unwrap();
    let ids =
        |p: &provisio_model::plan::Plan| p.steps.iter().map(|s| s.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&a), ids(&b));
    // Saved again untouched, the YAML file is byte-identical.
    let mut again = ProvisioApp::with_document(doc);
    let copy = dir.path().join("copy.yaml");
    again.state.save_to(&copy).unwrap();
    assert_eq!(std::fs::read(&copy).unwrap(), std::fs::read(&yaml).unwrap());
}
