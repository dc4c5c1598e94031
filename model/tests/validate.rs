//! Validation diagnostics, one kind at a time, on the built-in library's thesis scenario with
//! targeted edits; the unedited scenario is clean; real corpus topologies give no false errors.

use provisio_model::tosca::{MaxInstances, NodeTemplate, RelationshipTemplate, ServiceTemplate};
use provisio_model::validate::validate_service_template;
use provisio_model::{Diagnostic, Library, QName, Severity, load_path};
use std::path::Path;

const NT: &str = "http://provisio.dev/tosca/nodetypes";
const BASE: &str = "http://docs.oasis-open.org/tosca/ns/2011/12/ToscaBaseTypes";

fn library() -> Library {
    load_path(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/library"))
        .unwrap()
        .library
}

fn thesis(lib: &Library) -> ServiceTemplate {
    lib.service_template(&QName::new(
        "http://provisio.dev/tosca/servicetemplates",
        "ThesisScenario",
    ))
    .unwrap()
    .clone()
}

fn errors(lib: &Library, st: &ServiceTemplate) -> Vec<Diagnostic> {
    validate_service_template(lib, st, None)
        .into_iter()
        .filter(|d| d.severity == Severity::Error)
        .collect()
}

fn has(diags: &[Diagnostic], code: &str, element: &str) -> bool {
    diags
        .iter()
        .any(|d| d.code == code && d.element == element && d.hint.is_some())
}

#[test]
fn thesis_scenario_is_clean_and_lists_its_deploy_inputs() {
    let lib = library();
    let st = thesis(&lib);
    let all = validate_service_template(&lib, &st, None);
    assert!(
        all.iter().all(|d| d.severity == Severity::Warning),
        "{all:#?}"
    );
    assert!(
        all.iter()
            .any(|d| d.code == "deploy-input" && d.message.contains("raspberryPassword"))
    );
}

#[test]
fn unknown_type_duplicate_id_and_dangling_relationship() {
    let lib = library();
    let mut st = thesis(&lib);
    st.topology.node_templates.push(NodeTemplate::new(
        "Ghost",
        QName::new(NT, "NoSuchType"),
        0.0,
        0.0,
    ));
    st.topology.node_templates.push(NodeTemplate::new(
        "NodeMCU",
        QName::new(NT, "NodeMCU"),
        0.0,
        0.0,
    ));
    st.topology
        .relationship_templates
        .push(RelationshipTemplate::new(
            "r9",
            QName::new(BASE, "ConnectsTo"),
            "NodeRED",
            "Nowhere",
        ));
    let e = errors(&lib, &st);
    assert!(has(&e, "unknown-type", "Ghost"), "{e:#?}");
    assert!(has(&e, "duplicate-id", "NodeMCU"), "{e:#?}");
    assert!(has(&e, "dangling-relationship", "r9"), "{e:#?}");
}

#[test]
fn hosting_cycle_and_wrong_hardware_are_errors() {
    let lib = library();
    let mut st = thesis(&lib);
    // NodeRED (needs a Raspberry Pi 3) moved onto the MICA stack.
    for r in &mut st.topology.relationship_templates {
        if r.source == "NodeRED" && r.type_ref.local == "HostedOn" {
            r.target = "MICA".into();
        }
    }
    st.topology
        .relationship_templates
        .push(RelationshipTemplate::new(
            "loop",
            QName::new(BASE, "HostedOn"),
            "RaspberryPi3",
            "RaspbianStretchLXC",
        ));
    let e = errors(&lib, &st);
    assert!(has(&e, "requirement-unmatched", "NodeRED"), "{e:#?}");
    assert!(has(&e, "hosting-cycle", "RaspberryPi3"), "{e:#?}");
}

#[test]
fn property_checks() {
    let lib = library();
    let mut st = thesis(&lib);
    let nodemcu = st.topology.node_mut("NodeMCU").unwrap();
    nodemcu
        .properties
        .as_mut()
        .unwrap()
        .set("hardwareIds", "1345963, 1361877");
    // pubSubServer has no default; controlTopic's type default ("control") fills it.
    nodemcu.properties.as_mut().unwrap().set("pubSubServer", "");
    nodemcu.properties.as_mut().unwrap().set("controlTopic", "");
    nodemcu.min_instances = 3;
    nodemcu.max_instances = MaxInstances::Bounded(2);
    st.topology
        .node_mut("MICA")
        .unwrap()
        .properties
        .as_mut()
        .unwrap()
        .set("addresses", "[1,2]");
    let e = errors(&lib, &st);
    assert!(has(&e, "json-list", "NodeMCU"), "{e:#?}");
    assert!(has(&e, "json-list", "MICA"), "{e:#?}");
    assert!(has(&e, "missing-property", "NodeMCU"), "{e:#?}");
    assert_eq!(
        e.iter()
            .filter(|d| d.code == "missing-property" && d.element == "NodeMCU")
            .count(),
        1,
        "{e:#?}"
    );
    assert!(has(&e, "instances", "NodeMCU"), "{e:#?}");
}

#[test]
fn property_type_is_checked() {
    let lib = library();
    let mut st = thesis(&lib);
    let mut m = NodeTemplate::new("Broker", QName::new(NT, "Mosquitto"), 0.0, 0.0);
    m.properties = Some(provisio_model::tosca::Properties::new_kv(
        "urn:p",
        "Properties",
        &[("port".into(), "eighteen".into())],
    ));
    st.topology.node_templates.push(m);
    st.topology
        .relationship_templates
        .push(RelationshipTemplate::new(
            "h",
            QName::new(BASE, "HostedOn"),
            "Broker",
            "RaspbianStretchLXC",
        ));
    let e = errors(&lib, &st);
    assert!(has(&e, "property-type", "Broker"), "{e:#?}");
}

#[test]
fn real_repositories_have_no_false_errors() {
    // The only error in the corpus: Winery's test repository connects two nodes with a
    // relationship type whose ValidSource/ValidTarget name other node types (a true positive).
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/corpus");
    for (repo, expected) in [("opentosca-public", 0), ("winery-test-repository", 1)] {
        let lib = load_path(&dir.join(repo)).unwrap().library;
        let mut errs = Vec::new();
        for (_, st) in lib.service_templates() {
            errs.extend(errors(&lib, st));
        }
        assert_eq!(errs.len(), expected, "{repo}: {errs:#?}");
        assert!(errs.iter().all(|e| e.code == "invalid-relationship"));
    }
}
