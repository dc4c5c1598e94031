//! `provisio validate --json`: the documented object, exit 0 without errors, 1 with errors, 2
//! when the input cannot be read or parsed (with file and line); a zip-bomb CSAR validates
//! under a 200 MiB address-space cap.

use std::io::Write;
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

/// A 1 MiB CSAR whose artifact inflates to 1 GiB of zeros validates under `ulimit -v` of
/// 200 MiB (so its peak memory stays below that): the artifact is never inflated, and a
/// warning names it.
#[test]
fn zip_bomb_csar_validates_under_a_200_mib_cap() {
    let dir = tempfile::tempdir().unwrap();
    let bomb = dir.path().join("bomb.csar");
    let mut z = zip::ZipWriter::new(std::fs::File::create(&bomb).unwrap());
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(9));
    z.start_file("TOSCA-Metadata/TOSCA.meta", opts).unwrap();
    z.write_all(
        b"TOSCA-Meta-Version: 1.0\nCSAR-Version: 1.0\nEntry-Definitions: Definitions/a.tosca\n",
    )
    .unwrap();
    z.start_file("Definitions/a.tosca", opts).unwrap();
    z.write_all(br#"<Definitions xmlns="http://docs.oasis-open.org/tosca/ns/2011/12" id="a" targetNamespace="urn:a"><ServiceTemplate id="S"><TopologyTemplate/></ServiceTemplate></Definitions>"#)
        .unwrap();
    z.start_file("files/zeros.bin", opts).unwrap();
    let chunk = vec![0u8; 1024 * 1024];
    for _ in 0..1024 {
        z.write_all(&chunk).unwrap();
    }
    z.finish().unwrap();
    assert!(std::fs::metadata(&bomb).unwrap().len() < 2 * 1024 * 1024);
    let out = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 204800 && exec \"$0\" validate \"$1\" --json")
        .arg(env!("CARGO_BIN_EXE_provisio"))
        .arg(&bomb)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let d = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "csar-entry-size")
        .unwrap_or_else(|| panic!("{stdout}"));
    assert_eq!(d["element"], "files/zeros.bin");
    assert!(d["message"].as_str().unwrap().contains("1073741824"), "{d}");
}

/// A container whose image is not built yet validates with a warning that says Deploy builds it
/// first (and how to build it ahead), never an error: the deploy works, it only takes longer.
#[test]
fn an_image_not_built_yet_is_a_warning_naming_the_recipe() {
    let cache = tempfile::tempdir().unwrap();
    let lib = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/library");
    let out = Command::new(env!("CARGO_BIN_EXE_provisio"))
        .arg("validate")
        .arg(&lib)
        .env("PROVISIO_IMAGE_CACHE", cache.path())
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let line = text
        .lines()
        .find(|l| l.contains("warning[image-build]: NodeRED:"))
        .unwrap_or_else(|| panic!("no image-build warning for NodeRED:\n{text}"));
    assert!(line.contains("the nodered image"), "{line}");
    assert!(line.contains("scripts/build-images.sh"), "{line}");
    assert!(!text.contains("error[image-build]"), "{text}");
}
