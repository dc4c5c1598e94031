//! Every deploy check predicts a real failure: each topology here is reported with its code by
//! validation, and with the validation gate switched off (`skip_checks`, tests only) the very
//! same topology really fails at deploy with simulated devices.

mod common;

use provisio_app::deploy::{DeployError, DeployOptions, DeployOutcome, deploy};
use provisio_engines::events::EventSink;
use std::path::Path;
use tokio_util::sync::CancellationToken;

/// Deploys `st` on the shared runtime; the result and every event it sent, one per line.
fn attempt(
    loaded: &provisio_model::Loaded,
    st: &provisio_model::tosca::ServiceTemplate,
    opts: &DeployOptions,
) -> (Result<DeployOutcome, DeployError>, String) {
    let (sink, mut rx) = EventSink::new();
    let cancel = CancellationToken::new();
    let none = Default::default();
    let result = common::runtime().block_on(deploy(loaded, st, &none, opts, sink, cancel));
    (result, common::events(&mut rx))
}

const TOSCA: &str = "http://docs.oasis-open.org/tosca/ns/2011/12";

fn node(id: &str, ty: &str, props: &[(&str, &str)], da: Option<&str>) -> String {
    let (prefix, local) = ty.split_once(':').unwrap();
    let ns = match prefix {
        "t" => "urn:test",
        _ => "http://provisio.dev/tosca/nodetypes",
    };
    let props = if props.is_empty() {
        String::new()
    } else {
        let kv: String = props
            .iter()
            .map(|(k, v)| format!("<{k}>{v}</{k}>"))
            .collect();
        format!("<Properties><P xmlns=\"urn:props\">{kv}</P></Properties>")
    };
    let da = da
        .map(|r| {
            format!(
                r#"<DeploymentArtifacts><DeploymentArtifact xmlns:at="http://provisio.dev/tosca/artifacttypes" name="Own" artifactType="at:LXCContainerImage" artifactRef="{r}"/></DeploymentArtifacts>"#
            )
        })
        .unwrap_or_default();
    format!(r#"<NodeTemplate xmlns:x="{ns}" id="{id}" type="x:{local}">{props}{da}</NodeTemplate>"#)
}

fn rel(id: &str, kind: &str, s: &str, t: &str) -> String {
    format!(
        r#"<RelationshipTemplate xmlns:b="{TOSCA}/ToscaBaseTypes" id="{id}" type="b:{kind}"><SourceElement ref="{s}"/><TargetElement ref="{t}"/></RelationshipTemplate>"#
    )
}

fn pi_stack(top: &str) -> Vec<String> {
    vec![
        node(
            "Raspbian",
            "p:RaspbianStretchLXC",
            &[
                ("userName", "pi"),
                ("userPassword", "get_input: piPassword"),
                ("addresses", "get_input: piAddresses"),
            ],
            None,
        ),
        node("Pi", "p:RaspberryPi3", &[], None),
        rel("h1", "HostedOn", top, "Raspbian"),
        rel("h2", "HostedOn", "Raspbian", "Pi"),
    ]
}

fn mica(top: &str) -> Vec<String> {
    vec![
        node(
            "Mica",
            "p:MICA",
            &[
                ("userName", "admin"),
                ("userPassword", "get_input: micaPassword"),
                ("addresses", "get_input: micaAddresses"),
                ("certificates", "get_input: micaCertificates"),
            ],
            None,
        ),
        rel("h1", "HostedOn", top, "Mica"),
    ]
}

fn nodemcu(top: &str) -> Vec<String> {
    vec![
        node(
            "Board",
            "p:NodeMCU",
            &[
                ("hardwareIds", r#"["4711"]"#),
                ("pubSubServer", "get_input: broker"),
            ],
            None,
        ),
        rel("h1", "HostedOn", top, "Board"),
    ]
}

/// One case: the check's code, the topology's elements, and what the deploy failure says.
struct Case {
    code: &'static str,
    elements: Vec<String>,
    failure: &'static str,
}

fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    v.push(Case {
        code: "no-driver",
        elements: vec![node("W", "t:Widget", &[], None)],
        failure: "no driver for node type",
    });
    let mut e = vec![node("C", "t:LXContainerRaspberryPi", &[], None)];
    e.extend(pi_stack("C"));
    v.push(Case {
        code: "missing-artifact",
        elements: e,
        failure: "install needs the container deployment artifact",
    });
    let mut e = vec![node(
        "C",
        "t:LXContainerRaspberryPi",
        &[],
        Some("{urn:test}GhostImage"),
    )];
    e.extend(pi_stack("C"));
    v.push(Case {
        code: "artifact-file-missing",
        elements: e,
        failure: "install needs the container deployment artifact",
    });
    let mut e = vec![node(
        "M",
        "t:LXContainerMICA",
        &[],
        Some("{http://provisio.dev/tosca/artifacttemplates}InfluxDBContainer"),
    )];
    e.extend(mica("M"));
    v.push(Case {
        code: "unsupported-operation",
        elements: e,
        failure: "no operation 'create'",
    });
    let mut e = vec![node(
        "App",
        "t:NodeMCU_App",
        &[],
        Some("{http://provisio.dev/tosca/artifacttemplates}SensorPublisherFirmware"),
    )];
    e.extend(nodemcu("App"));
    v.push(Case {
        code: "driver-input",
        elements: e,
        failure: "input 'hardwareIds' is missing",
    });
    let mut e = vec![
        node("A", "p:NodeMCU_App", &[], None),
        node("B", "p:NodeMCU_App", &[], None),
        rel("c1", "ConnectsTo", "A", "B"),
        rel("c2", "ConnectsTo", "B", "A"),
    ];
    e.extend(nodemcu("A"));
    e.push(rel("h9", "HostedOn", "B", "Board"));
    v.push(Case {
        code: "dependency-cycle",
        elements: e,
        failure: "cycle",
    });
    v
}

fn write_case(dir: &Path, case: &Case) -> std::path::PathBuf {
    let types = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/checks/types.tosca"),
    )
    .unwrap();
    // Declarations of `{ns}local` artifact references as prefixed QNames.
    let body = case
        .elements
        .join("\n")
        .replace(
            "artifactRef=\"{urn:test}",
            "xmlns:tt=\"urn:test\" artifactRef=\"tt:",
        )
        .replace(
            "artifactRef=\"{http://provisio.dev/tosca/artifacttemplates}",
            "xmlns:pa=\"http://provisio.dev/tosca/artifacttemplates\" artifactRef=\"pa:",
        );
    let st = format!(
        "<ServiceTemplate id=\"Case\" targetNamespace=\"urn:test\"><TopologyTemplate>{body}</TopologyTemplate></ServiceTemplate>\n</Definitions>"
    );
    let xml = types.replace("</Definitions>", &st);
    let path = dir.join(format!("{}.tosca", case.code));
    std::fs::write(&path, xml).unwrap();
    path
}

#[test]
fn each_deploy_check_predicts_a_real_deploy_failure() {
    let dir = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let _net = common::SimCleanup(data.path().to_path_buf());
    for case in cases() {
        let path = write_case(dir.path(), &case);
        let loaded = provisio_app::library::open_with_builtin(&path).unwrap();
        let st = loaded
            .library
            .service_templates()
            .into_iter()
            .find(|(_, s)| s.id == "Case")
            .map(|(_, s)| s.clone())
            .unwrap();
        let diags = provisio_app::validation::validate_all(&loaded, &st, None);
        assert!(
            diags.iter().any(|d| d.is_error() && d.code == case.code),
            "{}: not reported: {diags:#?}",
            case.code
        );
        // The gate refuses it...
        let mut opts = DeployOptions::new(data.path().to_path_buf(), true);
        opts.nodemcu.other_timeout = std::time::Duration::from_secs(3);
        let (gated, _) = attempt(&loaded, &st, &opts);
        assert!(
            matches!(&gated, Err(DeployError::Invalid(d)) if d.iter().any(|d| d.code == case.code)),
            "{}: the gate let it through",
            case.code
        );
        // ...and without the gate the deploy really fails, for the predicted reason.
        opts.skip_checks = true;
        let (result, mut said) = attempt(&loaded, &st, &opts);
        match result {
            Err(e) => said.push_str(&e.to_string()),
            Ok(o) => {
                for f in o.fleets {
                    common::runtime().block_on(f.shutdown());
                }
                assert_ne!(
                    o.instance.phase, "deployed",
                    "{}: deployed after all",
                    case.code
                );
            }
        }
        assert!(
            said.contains(case.failure),
            "{}: expected '{}' in:\n{said}",
            case.code,
            case.failure
        );
    }
}

/// An `mqtts://` broker nobody said how to trust is an error before Deploy (the NodeMCU driver
/// refuses it); a CA for it clears the error.
#[test]
fn a_tls_broker_without_ca_or_pins_is_an_error() {
    let loaded = provisio_app::library::builtin_loaded();
    let q = provisio_model::QName::new(provisio_assets::SERVICE_TEMPLATES_NS, "ThesisScenario");
    let mut st = loaded.library.service_template(&q).cloned().unwrap();
    let props = st
        .topology
        .node_mut("NodeMCU")
        .unwrap()
        .properties
        .as_mut()
        .unwrap();
    props.set("pubSubServer", "mqtts://broker.example:8883");
    let codes = |st: &provisio_model::tosca::ServiceTemplate| {
        provisio_app::validation::validate_all(&loaded, st, None)
            .into_iter()
            .filter(|d| d.is_error())
            .map(|d| d.code)
            .collect::<Vec<_>>()
    };
    assert_eq!(codes(&st), vec!["broker-tls"]);
    st.topology
        .node_mut("NodeMCU")
        .unwrap()
        .properties
        .as_mut()
        .unwrap()
        .set("brokerCaCertificate", "get_input: brokerCa");
    assert!(codes(&st).is_empty(), "{:?}", codes(&st));
}
