//! `provisio validate --json`: the documented object, exit 0 without errors, 1 with errors, 2
//! when the input cannot be read or parsed (with file and line).

use std::process::Command;

fn validate(path: &std::path::Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_provisio"))
        .arg("validate")
        .arg(path)
        .arg("--json")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn json_shape_and_exit_codes() {
    let lib = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/library");
    let (code, out, _) = validate(&lib);
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let st = v["service_templates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "ThesisScenario")
        .unwrap();
    assert_eq!(
        st["namespace"],
        "http://provisio.dev/tosca/servicetemplates"
    );
    assert_eq!(st["node_templates"], 7);
    assert_eq!(st["relationship_templates"], 6);
    let d = &v["diagnostics"][0];
    assert!(
        d["severity"] == "warning" && d["element"].is_string() && d["message"].is_string(),
        "{d}"
    );

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.tosca");
    std::fs::write(&bad, r#"<Definitions xmlns="http://docs.oasis-open.org/tosca/ns/2011/12" id="d" targetNamespace="urn:x"><ServiceTemplate id="S"><TopologyTemplate><NodeTemplate id="A" type="Nope"/></TopologyTemplate></ServiceTemplate></Definitions>"#).unwrap();
    let (code, out, _) = validate(&bad);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("\"severity\": \"error\""), "{out}");

    let broken = dir.path().join("broken.tosca");
    std::fs::write(
        &broken,
        "<Definitions xmlns=\"http://docs.oasis-open.org/tosca/ns/2011/12\">\n<NodeType>\n",
    )
    .unwrap();
    let (code, _, err) = validate(&broken);
    assert_eq!(code, 2);
    assert!(
        err.contains("broken.tosca:") && err.contains("ends inside"),
        "{err}"
    );
}
