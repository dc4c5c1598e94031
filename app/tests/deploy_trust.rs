//! Valid means deployable, undeploy converges: every built-in palette type on its natural host
//! validates clean and deploys/undeploys with `--simulate`; every built-in example deploys,
//! undeploys and undeploys again; a topology with errors creates no instance; undeploy works
//! after the topology file is gone. Runs the real `provisio` binary (needs root, sshd and LXC
//! for the Raspberry Pi stand-in, like cli_deploy.rs).

mod common;
use common::{instance_id, provisio};

use provisio_model::QName;
use provisio_model::tosca::{
    BASE_TYPES_NS, Definitions, NodeTemplate, Properties, RelationshipTemplate, ServiceTemplate,
};
use std::path::Path;

const NT: &str = "http://provisio.dev/tosca/nodetypes";
const ST_NS: &str = "http://provisio.dev/tosca/servicetemplates";

/// The stack a type is deployed on, as the palette user would draw it (its hosts, nearest
/// first), from the driver that runs it; types without a lifecycle stand alone.
fn natural_stack(lib: &provisio_model::Library, local: &str) -> Vec<&'static str> {
    use provisio_model::drivers::{DriverKind, driver_kind, is_os_node};
    let q = QName::new(NT, local);
    if provisio_model::plan::deploy_operations(lib, &q).is_empty() {
        return vec![];
    }
    match driver_kind(lib, &q) {
        Some(DriverKind::NodeMcu) => vec!["NodeMCU"],
        Some(DriverKind::Mica) => vec!["MICA"],
        Some(DriverKind::Raspberry) if is_os_node(&q) => vec!["RaspberryPi3"],
        Some(DriverKind::Raspberry) => vec!["RaspbianStretchLXC", "RaspberryPi3"],
        None => vec![],
    }
}

/// A template as dropped from the palette: the type's properties with their defaults; only what
/// a deploy asks for anyway (device addresses, ids, credentials) is a `get_input`.
fn palette_template(lib: &provisio_model::Library, id: &str, local: &str) -> NodeTemplate {
    let q = QName::new(NT, local);
    let mut n = NodeTemplate::new(id, q.clone(), 0.0, 0.0);
    if let Some(def) = lib.node_properties_definition(&q) {
        let entries: Vec<(String, String)> = def
            .keys()
            .iter()
            .map(|k| {
                let v = match k.key.as_str() {
                    "hardwareIds" | "addresses" | "certificates" | "pubSubServer" => {
                        format!("get_input: {}_{}", id, k.key)
                    }
                    "userPassword" => format!("get_input: {id}Password"),
                    // What only the user can know (a device's URL, an account) is a deploy input.
                    _ if k.required && k.default.is_none() => {
                        format!("get_input: {}_{}", id, k.key)
                    }
                    _ => k.default.clone().unwrap_or_default(),
                };
                (k.key.clone(), v)
            })
            .collect();
        n.properties = Some(Properties::new_kv(NT, "Properties", &entries));
    }
    n
}

fn write_topology(dir: &Path, local: &str) -> std::path::PathBuf {
    let lib = provisio_app::library::builtin_library();
    let mut st = ServiceTemplate::new(ST_NS, &format!("Palette_{local}"));
    let mut ids = vec![local.to_string()];
    st.topology
        .node_templates
        .push(palette_template(&lib, local, local));
    for (i, host) in natural_stack(&lib, local).into_iter().enumerate() {
        st.topology
            .node_templates
            .push(palette_template(&lib, host, host));
        st.topology
            .relationship_templates
            .push(RelationshipTemplate::new(
                &format!("hostedOn{i}"),
                QName::new(BASE_TYPES_NS, "HostedOn"),
                &ids[i],
                host,
            ));
        ids.push(host.to_string());
    }
    let mut defs = Definitions::new(&format!("palette-{local}"), ST_NS);
    defs.service_templates.push(st);
    let path = dir.join(format!("{local}.tosca"));
    std::fs::write(&path, defs.to_xml()).unwrap();
    path
}

#[test]
fn every_palette_type_validates_clean_and_deploys_and_undeploys_simulated() {
    let lib = provisio_app::library::builtin_library();
    let dir = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let _net = common::SimCleanup(data.path().to_path_buf());
    let mut tried = Vec::new();
    for t in lib.node_types() {
        if t.base.is_abstract || t.base.target_namespace != NT {
            continue;
        }
        let local = t.base.name.clone();
        let path = write_topology(dir.path(), &local);
        let p = path.display().to_string();
        let (code, out) = provisio(data.path(), &["validate", &p]);
        assert_eq!(code, 0, "{local} does not validate clean:\n{out}");
        assert!(out.contains("0 error(s)"), "{local}:\n{out}");
        let (code, out) = provisio(data.path(), &["deploy", &p, "--simulate"]);
        assert_eq!(code, 0, "{local} does not deploy:\n{out}");
        let id = instance_id(&out, "deployed");
        let (code, out) = provisio(data.path(), &["undeploy", &id]);
        assert_eq!(code, 0, "{local} does not undeploy:\n{out}");
        assert!(out.contains(" is undeployed"), "{local}:\n{out}");
        tried.push(local);
    }
    assert!(tried.len() >= 12, "palette types tried: {tried:?}");
}

#[test]
fn every_example_deploys_undeploys_and_undeploys_again_leaving_no_container() {
    let data = tempfile::tempdir().unwrap();
    let _net = common::SimCleanup(data.path().to_path_buf());
    let lib = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../assets/library")
        .display()
        .to_string();
    for example in ["ThesisScenario", "MosquittoBroker", "Flex4AppsMonitoring"] {
        let (code, out) = provisio(
            data.path(),
            &["deploy", &lib, "--service-template", example, "--simulate"],
        );
        assert_eq!(code, 0, "{example}:\n{out}");
        let id = instance_id(&out, "deployed");
        let (code, out) = provisio(data.path(), &["undeploy", &id]);
        assert_eq!(code, 0, "{example}:\n{out}");
        let state = data.path().join("instances").join(format!("{id}.json"));
        let before = std::fs::read(&state).unwrap();
        let (code, out) = provisio(data.path(), &["undeploy", &id]);
        assert_eq!(code, 0, "{example}, second undeploy:\n{out}");
        assert!(out.contains("already undeployed"), "{out}");
        assert_eq!(
            std::fs::read(&state).unwrap(),
            before,
            "state unchanged by the second undeploy"
        );
        let left = common::containers_left(data.path(), &id);
        assert!(left.is_empty(), "{example}: containers left: {left:?}");
    }
}

#[test]
fn a_topology_with_errors_is_refused_before_anything_runs() {
    let data = tempfile::tempdir().unwrap();
    let _net = common::SimCleanup(data.path().to_path_buf());
    let dir = tempfile::tempdir().unwrap();
    let base = std::fs::read_to_string(write_topology(dir.path(), "Mosquitto")).unwrap();
    let cases = [
        (
            "unknown-type",
            base.replacen("type=\"ns0:Mosquitto\"", "type=\"ns0:NoSuchType\"", 1),
        ),
        (
            "duplicate-id",
            base.replacen("id=\"RaspberryPi3\"", "id=\"Mosquitto\"", 1),
        ),
        (
            "dangling-relationship",
            base.replacen(
                "<TargetElement ref=\"RaspberryPi3\"",
                "<TargetElement ref=\"Nowhere\"",
                1,
            ),
        ),
    ];
    for (code_name, xml) in cases {
        assert_ne!(xml, base, "{code_name}: the mutation applied");
        let path = dir.path().join(format!("{code_name}.tosca"));
        std::fs::write(&path, xml).unwrap();
        let (code, out) = provisio(
            data.path(),
            &["deploy", &path.display().to_string(), "--simulate"],
        );
        assert_eq!(code, 1, "{code_name}:\n{out}");
        assert!(out.contains(code_name), "{code_name}:\n{out}");
        assert!(out.contains("nothing was deployed"), "{out}");
    }
    let (_, list) = provisio(data.path(), &["instances"]);
    assert!(list.trim().is_empty(), "no instance was created: {list}");
}

#[test]
fn undeploy_works_after_the_topology_file_is_deleted() {
    let data = tempfile::tempdir().unwrap();
    let _net = common::SimCleanup(data.path().to_path_buf());
    let dir = tempfile::tempdir().unwrap();
    let path = write_topology(dir.path(), "NodeMCU_App");
    let (code, out) = provisio(
        data.path(),
        &["deploy", &path.display().to_string(), "--simulate"],
    );
    assert_eq!(code, 0, "{out}");
    let id = instance_id(&out, "deployed");
    std::fs::remove_file(&path).unwrap();
    let (code, list) = provisio(data.path(), &["instances"]);
    assert_eq!(code, 0);
    assert!(
        list.contains(&path.display().to_string()) && list.contains("definitions kept"),
        "{list}"
    );
    let (code, out) = provisio(data.path(), &["undeploy", &id]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("uninstalledDevicesCount=3"), "{out}");
    // --force forgets an instance without touching devices.
    let (code, out) = provisio(data.path(), &["undeploy", &id, "--force"]);
    assert_eq!(code, 0, "{out}");
    let (_, list) = provisio(data.path(), &["instances"]);
    assert!(!list.contains(&id), "{list}");
}

#[test]
fn the_yaml_thesis_scenario_deploys_with_the_same_steps_as_the_xml_one() {
    let data = tempfile::tempdir().unwrap();
    let _net = common::SimCleanup(data.path().to_path_buf());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let steps = |out: &str| {
        let mut v: Vec<String> = out
            .lines()
            .filter_map(|l| l.strip_prefix("✓ "))
            .map(|l| l.split_whitespace().next().unwrap_or("").to_string())
            .collect();
        v.sort();
        v
    };
    let yaml = root.join("assets/library-yaml/ThesisScenario.yaml");
    let (code, y) = provisio(
        data.path(),
        &["deploy", &yaml.display().to_string(), "--simulate"],
    );
    assert_eq!(code, 0, "{y}");
    let xml = root.join("assets/library").display().to_string();
    let (code, x) = provisio(
        data.path(),
        &[
            "deploy",
            &xml,
            "--service-template",
            "ThesisScenario",
            "--simulate",
        ],
    );
    assert_eq!(code, 0, "{x}");
    assert_eq!(steps(&y), steps(&x));
    assert_eq!(steps(&y).len(), 10, "{y}");
    for out in [&y, &x] {
        let id = instance_id(out, "deployed");
        let (code, o) = provisio(data.path(), &["undeploy", &id]);
        assert_eq!(code, 0, "{o}");
    }
}
