//! Deployment plans on the thesis scenario: stage order, parallel stages, inputs resolved down
//! the HostedOn stack, deploy inputs, undeploy order, missing inputs and cycles.

use provisio_model::plan::{
    InputSource, PlanError, PlanKind, build_deploy_plan, build_undeploy_plan,
};
use provisio_model::{Library, QName};
use std::collections::BTreeMap;

fn thesis() -> Library {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/thesis.tosca");
    provisio_model::load_path(&path).unwrap().library
}

fn st(lib: &Library) -> provisio_model::tosca::ServiceTemplate {
    lib.service_template(&QName::new(
        "http://provisio.dev/tosca/servicetemplates",
        "ThesisScenario",
    ))
    .unwrap()
    .clone()
}

fn inputs() -> BTreeMap<String, String> {
    BTreeMap::from([("raspberryPassword".to_string(), "raspberry".to_string())])
}

#[test]
fn thesis_deploy_order_hosts_and_connection_targets_first() {
    let lib = thesis();
    let plan = build_deploy_plan(&lib, &st(&lib), &inputs()).unwrap();
    let pos = |id: &str| {
        plan.steps
            .iter()
            .position(|s| s.id == id)
            .unwrap_or_else(|| panic!("no step {id}: {plan}"))
    };
    // Host stacks before what they host; ConnectsTo targets before sources.
    assert!(pos("RaspbianStretchLXC.install") < pos("NodeRED.install"));
    assert!(pos("InfluxDB.start") < pos("NodeRED.install"));
    assert!(pos("NodeRED.start") < pos("SensorPublisher.install"));
    // Lifecycle order within a node.
    assert!(pos("SensorPublisher.install") < pos("SensorPublisher.configure"));
    assert!(pos("SensorPublisher.configure") < pos("SensorPublisher.start"));
    // MICA's configure (its /etc/provisio files) runs between install and start.
    assert!(pos("InfluxDB.install") < pos("InfluxDB.configure"));
    assert!(pos("InfluxDB.configure") < pos("InfluxDB.start"));
    // Hardware nodes have no steps.
    assert!(
        !plan
            .steps
            .iter()
            .any(|s| s.node == "RaspberryPi3" || s.node == "NodeMCU" || s.node == "MICA")
    );
    // Dependencies point backwards and stages respect them.
    for s in &plan.steps {
        for &d in &s.deps {
            assert!(plan.steps[d].stage < s.stage);
        }
    }
}

#[test]
fn independent_stacks_share_the_first_stage() {
    let lib = thesis();
    let plan = build_deploy_plan(&lib, &st(&lib), &inputs()).unwrap();
    let first: Vec<&str> = plan.stages[0]
        .iter()
        .map(|&i| plan.steps[i].id.as_str())
        .collect();
    assert!(first.contains(&"RaspbianStretchLXC.install"), "{first:?}");
    assert!(first.contains(&"InfluxDB.install"), "{first:?}");
}

#[test]
fn inputs_resolve_down_the_hosted_on_stack_and_from_deploy_inputs() {
    let lib = thesis();
    let plan = build_deploy_plan(&lib, &st(&lib), &inputs()).unwrap();
    let install = plan
        .steps
        .iter()
        .find(|s| s.id == "SensorPublisher.install")
        .unwrap();
    assert_eq!(
        install.input("hardwareIds"),
        Some(r#"["1345963","1361877","8797990"]"#)
    );
    assert_eq!(
        install.input("pubSubServer"),
        Some("tcp://192.168.0.27:1883")
    );
    let hw = install
        .inputs
        .iter()
        .find(|i| i.name == "hardwareIds")
        .unwrap();
    assert_eq!(hw.source, InputSource::Host("NodeMCU".into()));
    let configure = plan
        .steps
        .iter()
        .find(|s| s.id == "SensorPublisher.configure")
        .unwrap();
    assert_eq!(configure.input("appConfig"), Some(r#"{"interval":3000}"#));
    let nodered = plan
        .steps
        .iter()
        .find(|s| s.id == "NodeRED.install")
        .unwrap();
    let pw = nodered
        .inputs
        .iter()
        .find(|i| i.name == "userPassword")
        .unwrap();
    assert_eq!(pw.value, "raspberry");
    assert!(pw.secret);
    assert_eq!(
        pw.source,
        InputSource::DeployInput("raspberryPassword".into())
    );
    assert!(
        !plan.to_string().contains("raspberry\n"),
        "secrets are masked in the display"
    );
    assert!(
        install
            .outputs
            .contains(&"installedDevicesCount".to_string())
    );
}

#[test]
fn missing_deploy_input_is_an_error_before_anything_runs() {
    let lib = thesis();
    let err = build_deploy_plan(&lib, &st(&lib), &BTreeMap::new()).unwrap_err();
    let PlanError::MissingInputs(m) = &err else {
        panic!("{err}")
    };
    assert!(
        m.iter().any(|m| m.node == "NodeRED"
            && m.input == "userPassword"
            && m.deploy_input.as_deref() == Some("raspberryPassword")),
        "{err}"
    );
    assert!(err.to_string().contains("raspberryPassword"));
}

#[test]
fn undeploy_stops_apps_before_hosts() {
    let lib = thesis();
    let plan = build_undeploy_plan(&lib, &st(&lib), &inputs()).unwrap();
    assert_eq!(plan.kind, PlanKind::Undeploy);
    let pos = |id: &str| {
        plan.steps
            .iter()
            .position(|s| s.id == id)
            .unwrap_or_else(|| panic!("no step {id}: {plan}"))
    };
    assert!(pos("SensorPublisher.stop") < pos("SensorPublisher.uninstall"));
    assert!(pos("SensorPublisher.uninstall") < pos("NodeRED.stop"));
    assert!(pos("NodeRED.uninstall") < pos("InfluxDB.stop"));
    assert!(!plan.steps.iter().any(|s| s.operation == "install"));
}

#[test]
fn relationship_cycles_are_refused() {
    let mut lib = thesis();
    let mut st = st(&lib);
    st.topology
        .relationship_templates
        .push(provisio_model::tosca::RelationshipTemplate::new(
            "back",
            QName::new(
                "http://docs.oasis-open.org/tosca/ns/2011/12/ToscaBaseTypes",
                "ConnectsTo",
            ),
            "InfluxDB",
            "SensorPublisher",
        ));
    let err = build_deploy_plan(&lib, &st, &inputs()).unwrap_err();
    assert!(
        matches!(err, PlanError::Cycle(ref c) if c.len() >= 3),
        "{err}"
    );
    let _ = &mut lib;
}

#[test]
fn get_property_values_resolve_from_self_host_or_a_named_node() {
    let lib = thesis();
    let mut st = st(&lib);
    // The NodeMCU's broker address comes from another node's property; its response topic
    // from its own control topic (SELF); both as TOSCA YAML's get_property arrives.
    st.topology
        .node_mut("RaspbianStretchLXC")
        .unwrap()
        .properties
        .as_mut()
        .unwrap()
        .set("userName", "tcp://10.9.9.9:1883");
    let mcu = st
        .topology
        .node_mut("NodeMCU")
        .unwrap()
        .properties
        .as_mut()
        .unwrap();
    mcu.set(
        "pubSubServer",
        r#"{"get_property":["RaspbianStretchLXC","userName"]}"#,
    );
    mcu.set(
        "responseTopic",
        r#"{"get_property":["SELF","controlTopic"]}"#,
    );
    let plan = build_deploy_plan(&lib, &st, &inputs()).unwrap();
    let step = plan
        .steps
        .iter()
        .find(|s| s.id == "SensorPublisher.install")
        .unwrap();
    assert_eq!(step.input("pubSubServer"), Some("tcp://10.9.9.9:1883"));
    assert_eq!(step.input("responseTopic"), step.input("controlTopic"));
}

#[test]
fn containers_receive_their_connects_to_neighbours() {
    let lib = thesis();
    let plan = build_deploy_plan(&lib, &st(&lib), &inputs()).unwrap();
    let conn = |step: &str| -> serde_json::Value {
        let s = plan.steps.iter().find(|s| s.id == step).unwrap();
        serde_json::from_str(s.input("connections").expect("connections input")).unwrap()
    };
    // Node-RED (Pi configure): its InfluxDB target on the MICA, its sensor sources' broker.
    let nr = conn("NodeRED.configure");
    assert_eq!(nr["node"], "NodeRED");
    // Its own host and properties (down its stack: the Raspbian's user, no password).
    assert_eq!(nr["host"], "192.168.0.19", "{nr}");
    assert_eq!(nr["properties"]["userName"], "pi");
    assert!(nr["properties"].get("userPassword").is_none());
    let t = &nr["targets"][0];
    assert_eq!(t["node"], "InfluxDB");
    assert_eq!(t["host"], "192.168.0.20");
    assert!(
        t["types"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x == "LXContainerMICA")
    );
    let s = &nr["sources"][0];
    assert_eq!(s["node"], "SensorPublisher");
    assert_eq!(s["host"], serde_json::Value::Null);
    // Found down the source's HostedOn stack (NodeMCU), not on the app itself.
    assert_eq!(s["properties"]["pubSubServer"], "tcp://192.168.0.27:1883");
    // Secrets never travel: the MICA password is a deploy input of a secret name.
    let influx = conn("InfluxDB.configure");
    let src = &influx["sources"][0];
    assert_eq!(src["node"], "NodeRED");
    assert_eq!(src["host"], "192.168.0.19");
    assert!(src["properties"].get("userPassword").is_none());
    assert!(
        !plan
            .steps
            .iter()
            .any(|s| s.id == "NodeRED.install" && s.input("connections").is_some())
    );
}

/// A secret given at deploy time never travels in a `connections` document, whatever the name
/// of the property that asks for it.
#[test]
fn connections_leave_out_secret_deploy_inputs_under_any_property_name() {
    let lib = thesis();
    let mut st = st(&lib);
    let nr = st
        .topology
        .node_templates
        .iter_mut()
        .find(|n| n.id == "NodeRED")
        .unwrap();
    nr.properties
        .as_mut()
        .unwrap()
        .set("credentials", "get_input: dbPassword");
    let mut inputs = inputs();
    inputs.insert("dbPassword".into(), "s3cret-value".into());
    let plan = build_deploy_plan(&lib, &st, &inputs).unwrap();
    for s in &plan.steps {
        for i in &s.inputs {
            if i.name == "connections" {
                assert!(!i.value.contains("s3cret-value"), "{}: {}", s.id, i.value);
            }
        }
    }
}

/// A container's configure step carries its own secrets (for `/etc/provisio/secrets.env`),
/// masked: a secret-named property, a property taking a secret deploy input; never a
/// neighbour's secret, never in other operations, never a `get_input:` nobody gave.
#[test]
fn a_containers_own_secrets_come_with_its_configure_step_only() {
    let lib = thesis();
    let mut st = st(&lib);
    for n in st.topology.node_templates.iter_mut() {
        let props = n.properties.get_or_insert_with(|| {
            provisio_model::tosca::Properties::new_kv("urn:x", "Properties", &[])
        });
        match n.id.as_str() {
            "NodeRED" => {
                props.set("credentials", "get_input: dbPassword");
                props.set("apiToken", "tok-plain-1");
                props.set("flowSecret", "get_input: notGiven");
            }
            "InfluxDB" => {
                props.set("adminPassword", "neighbour-pw-2");
            }
            _ => {}
        }
    }
    let mut inputs = inputs();
    inputs.insert("dbPassword".into(), "s3cret-value".into());
    let plan = build_deploy_plan(&lib, &st, &inputs).unwrap();
    let step = |id: &str| plan.steps.iter().find(|s| s.id == id).unwrap();
    let cfg = step("NodeRED.configure");
    let got = |name: &str| cfg.inputs.iter().find(|i| i.name == name);
    let cred = got("credentials").expect("credentials input");
    assert_eq!(cred.value, "s3cret-value");
    assert!(cred.secret);
    assert_eq!(cred.shown(), "***");
    assert_eq!(cred.source, InputSource::DeployInput("dbPassword".into()));
    let tok = got("apiToken").expect("apiToken input");
    assert_eq!((tok.value.as_str(), tok.secret), ("tok-plain-1", true));
    assert!(got("flowSecret").is_none());
    assert!(got("adminPassword").is_none(), "a neighbour's secret");
    // The declared login input keeps its value from the host stack.
    assert_eq!(got("userPassword").unwrap().value, "raspberry");
    assert!(step("NodeRED.install").input("apiToken").is_none());
    // InfluxDB (a MICA container) gets its own, and not Node-RED's.
    let influx = step("InfluxDB.configure");
    assert_eq!(influx.input("adminPassword"), Some("neighbour-pw-2"));
    assert!(influx.input("apiToken").is_none() && influx.input("credentials").is_none());
    for s in &plan.steps {
        let conn = s.input("connections").unwrap_or("");
        for v in ["s3cret-value", "tok-plain-1", "neighbour-pw-2"] {
            assert!(!conn.contains(v), "{}: {conn}", s.id);
        }
    }
}
