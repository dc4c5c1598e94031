//! The built-in library (assets/library, a Winery repository): every file round-trips
//! XML-equivalent, every reference resolves, every example service template validates without
//! errors and yields a deploy plan.

mod common;
use provisio_model::tosca::Definitions;
use provisio_model::{QName, Severity, load_path, xml};
use std::collections::BTreeMap;
use std::path::Path;

fn dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/library")
}

#[test]
fn every_shipped_file_round_trips() {
    let files = common::files_with_ext(&dir(), &["tosca"]);
    assert!(files.len() >= 30, "{}", files.len());
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        let d = Definitions::from_bytes(&bytes).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let a = xml::parse_bytes(&bytes).unwrap();
        let b = xml::parse_str(&d.to_xml()).unwrap();
        xml::equivalent(&a.root, &b.root).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
    }
}

#[test]
fn examples_validate_without_errors_and_plan() {
    let lib = load_path(&dir()).unwrap().library;
    assert!(
        lib.load_diagnostics().is_empty(),
        "{:#?}",
        lib.load_diagnostics()
    );
    assert!(
        lib.unresolved_references().is_empty(),
        "{:#?}",
        lib.unresolved_references()
    );
    let inputs = BTreeMap::from([
        ("raspberryPassword".to_string(), "r".to_string()),
        ("micaPassword".to_string(), "m".to_string()),
    ]);
    for id in ["ThesisScenario", "MosquittoBroker", "Flex4AppsMonitoring"] {
        let st = lib
            .service_template(&QName::new(
                "http://provisio.dev/tosca/servicetemplates",
                id,
            ))
            .unwrap();
        let diags = provisio_model::validate::validate_service_template(&lib, st, None);
        let errors: Vec<_> = diags
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .collect();
        assert!(errors.is_empty(), "{id}: {errors:#?}");
        let plan = provisio_model::plan::build_deploy_plan(&lib, st, &inputs)
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        assert!(!plan.steps.is_empty(), "{id}");
    }
}

#[test]
fn thesis_scenario_is_exactly_the_spec() {
    let lib = load_path(&dir()).unwrap().library;
    let st = lib
        .service_template(&QName::new(
            "http://provisio.dev/tosca/servicetemplates",
            "ThesisScenario",
        ))
        .unwrap();
    let t = &st.topology;
    assert_eq!(t.node_templates.len(), 7);
    assert_eq!(t.relationship_templates.len(), 6);
    let nodemcu = t.node("NodeMCU").unwrap();
    assert_eq!(
        nodemcu.property("hardwareIds"),
        Some(r#"["1345963","1361877","8797990"]"#)
    );
    assert_eq!(
        t.node("SensorPublisher").unwrap().property("appConfig"),
        Some(r#"{"interval":3000}"#)
    );
    assert_eq!(
        t.node("RaspbianStretchLXC").unwrap().property("userName"),
        Some("pi")
    );
    let rel = |s: &str, g: &str, k: &str| {
        t.relationship_templates
            .iter()
            .any(|r| r.source == s && r.target == g && r.type_ref.local == k)
    };
    assert!(rel("SensorPublisher", "NodeMCU", "HostedOn"));
    assert!(rel("NodeRED", "RaspbianStretchLXC", "HostedOn"));
    assert!(rel("RaspbianStretchLXC", "RaspberryPi3", "HostedOn"));
    assert!(rel("InfluxDB", "MICA", "HostedOn"));
    assert!(rel("SensorPublisher", "NodeRED", "ConnectsTo"));
    assert!(rel("NodeRED", "InfluxDB", "ConnectsTo"));
}

#[test]
fn only_valid_relationship_types_are_offered_for_a_pair() {
    // Winery's test repository has a relationship type with ValidSource/ValidTarget.
    let lib = load_path(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/corpus/winery-test-repository"),
    )
    .unwrap()
    .library;
    let ns = "http://plain.winery.opentosca.org/nodetypes";
    let node = |id: &str, t: &str| {
        provisio_model::tosca::NodeTemplate::new(id, QName::new(ns, t), 0.0, 0.0)
    };
    let restricted = QName::new(
        "http://plain.winery.opentosca.org/relationshiptypes",
        "RelationshlpTypeWithValidSourceAndTarget_w1-wip1",
    );
    let a = node("a", "NodeTypeWithTwoKVProperties");
    let b = node("b", "NodeTypeWithTwoKVProperties");
    let offered = provisio_model::rules::allowed_relationship_types(&lib, &a, &b);
    assert!(!offered.contains(&restricted), "invalid pair offered");
    assert!(offered.iter().any(|q| q.local == "HostedOn"));
    let src = node("s", "NodeTypeWithXmlElementProperty");
    let tgt = node("t", "NodeTypeWithThreeReqCapPairsCoveringAllReqCapVariants");
    assert!(
        provisio_model::rules::allowed_relationship_types(&lib, &src, &tgt).contains(&restricted)
    );
}
