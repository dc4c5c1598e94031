//! The thesis scenario written in TOSCA YAML (assets/library-yaml) loads without errors,
//! validates, and plans exactly the steps of the XML ThesisScenario (assets/library).

use provisio_model::plan::{Plan, build_deploy_plan, build_undeploy_plan};
use provisio_model::tosca::ServiceTemplate;
use provisio_model::{Library, QName, Severity, load_path};
use std::collections::BTreeMap;
use std::path::Path;

fn yaml() -> (Library, ServiceTemplate, std::path::PathBuf) {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/library-yaml/ThesisScenario.yaml");
    let loaded = load_path(&path).unwrap_or_else(|e| panic!("{e}"));
    let main = loaded.main_file.unwrap();
    let st = loaded.library.file(main).definitions.service_templates[0].clone();
    (loaded.library, st, path)
}

fn xml() -> (Library, ServiceTemplate) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/library");
    let lib = load_path(&dir).unwrap().library;
    let st = lib
        .service_template(&QName::new(
            "http://provisio.dev/tosca/servicetemplates",
            "ThesisScenario",
        ))
        .unwrap()
        .clone();
    (lib, st)
}

fn inputs() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("raspberryPassword".to_string(), "raspberry".to_string()),
        ("micaPassword".to_string(), "mica".to_string()),
    ])
}

/// What must be equal between the two plans: steps (node, operation, inputs with values and
/// sources, outputs, artifact names and type names, dependencies, stage), stages, node order.
/// A `connections` input compared by its neighbours, hosts and properties: YAML names its
/// artifacts differently and its types derive from `tosca.nodes.Root`.
fn connections_shape(name: &str, value: &str) -> String {
    if name != "connections" {
        return value.to_string();
    }
    let v: serde_json::Value = serde_json::from_str(value).unwrap();
    let side = |k: &str| -> Vec<String> {
        v[k].as_array()
            .unwrap()
            .iter()
            .map(|n| format!("{} {} {}", n["node"], n["host"], n["properties"]))
            .collect()
    };
    format!(
        "{} targets={:?} sources={:?}",
        v["node"],
        side("targets"),
        side("sources")
    )
}

fn shape(p: &Plan) -> Vec<String> {
    let mut v: Vec<String> = p
        .steps
        .iter()
        .map(|s| {
            let inputs: Vec<String> = s.inputs.iter().map(|i| format!("{}={}<{:?}>{}", i.name, connections_shape(&i.name, &i.value), i.source, i.secret)).collect();
            let arts: Vec<String> = s.artifacts.iter().map(|a| format!("{}:{}", a.name, a.artifact_type.local)).collect();
            let deps: Vec<&str> = s.deps.iter().map(|d| p.steps[*d].id.as_str()).collect();
            format!(
                "{} op={} stage={} deps={deps:?} inputs={inputs:?} outputs={:?} artifacts={arts:?} type={}",
                s.id, s.operation, s.stage, s.outputs, s.node_type.local
            )
        })
        .collect();
    v.push(format!("order={:?}", p.node_order));
    v.push(format!("stages={:?}", p.stages));
    v
}

#[test]
fn yaml_thesis_loads_and_validates_without_errors() {
    let (lib, st, path) = yaml();
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
    let diags = provisio_model::validate::validate_service_template(&lib, &st, Some(path));
    let errors: Vec<_> = diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(st.id, "ThesisScenario");
    assert_eq!(st.topology.node_templates.len(), 7);
    assert_eq!(st.topology.relationship_templates.len(), 6);
    let mcu = st.topology.node("NodeMCU").unwrap();
    assert_eq!(
        mcu.property("hardwareIds"),
        Some(r#"["1345963","1361877","8797990"]"#)
    );
    let (xlib, xst) = xml();
    let _ = xlib;
    // Every property value is the XML one.
    for n in &xst.topology.node_templates {
        let y = st.topology.node(&n.id).unwrap();
        for (k, v) in n.properties.as_ref().and_then(|p| p.kv()).unwrap_or(&[]) {
            assert_eq!(y.property(k).unwrap_or(""), v.as_str(), "{}.{k}", n.id);
        }
    }
}

#[test]
fn yaml_thesis_plans_the_same_steps_as_the_xml_one() {
    let (lib, st, _) = yaml();
    let (xlib, xst) = xml();
    let a = build_deploy_plan(&lib, &st, &inputs()).unwrap_or_else(|e| panic!("{e}"));
    let b = build_deploy_plan(&xlib, &xst, &inputs()).unwrap();
    assert_eq!(shape(&a), shape(&b));
    assert_eq!(a.steps.len(), b.steps.len());
    let a = build_undeploy_plan(&lib, &st, &inputs()).unwrap();
    let b = build_undeploy_plan(&xlib, &xst, &inputs()).unwrap();
    assert_eq!(shape(&a), shape(&b));
    // The firmware file is found next to the YAML file.
    let step = a
        .steps
        .iter()
        .chain(
            build_deploy_plan(&lib, &st, &inputs())
                .unwrap()
                .steps
                .iter(),
        )
        .find(|s| s.id == "SensorPublisher.install")
        .cloned()
        .unwrap();
    assert_eq!(
        step.artifacts[0].files,
        vec!["files/SensorPublisher.ino.bin".to_string()]
    );
}
