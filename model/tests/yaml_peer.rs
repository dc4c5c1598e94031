//! Independent peer: OpenStack tosca-parser (PyPI, installed by scripts/test.sh) and Provisio
//! agree on the YAML corpus (valid and invalid templates, nested imports, a CSAR, the thesis
//! scenario): which are valid, how many node templates, and every requirement's target.
//! Skipped when tosca-parser is not installed, unless PROVISIO_REQUIRE_PEER=1.

use provisio_model::yaml::report::report;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            yaml_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "yaml") {
            out.push(p);
        }
    }
}

/// A CSAR of the nested-imports example with a YAML Entry-Definitions.
fn csar(dir: &Path) -> PathBuf {
    let src = root().join("tests/corpus-yaml/valid/imports");
    let path = dir.join("imports.csar");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let opts = zip::write::SimpleFileOptions::default();
    zip.start_file("TOSCA-Metadata/TOSCA.meta", opts).unwrap();
    zip.write_all(b"TOSCA-Meta-File-Version: 1.1\nCSAR-Version: 1.1\nCreated-By: provisio tests\nEntry-Definitions: service.yaml\n").unwrap();
    let mut files = Vec::new();
    yaml_files(&src, &mut files);
    files.sort();
    for f in files {
        let name = f
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        zip.start_file(name, opts).unwrap();
        zip.write_all(&std::fs::read(&f).unwrap()).unwrap();
    }
    zip.finish().unwrap();
    path
}

fn peer_available() -> bool {
    Command::new("python3")
        .args(["-c", "import toscaparser"])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn tosca_parser_and_provisio_agree_on_the_corpus() {
    if !peer_available() {
        assert!(
            std::env::var("PROVISIO_REQUIRE_PEER").is_err(),
            "tosca-parser is required (pip install tosca-parser)"
        );
        eprintln!("skipped: tosca-parser not installed (pip install tosca-parser)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    yaml_files(&root().join("tests/corpus-yaml"), &mut files);
    files.sort();
    files.push(root().join("assets/library-yaml/ThesisScenario.yaml"));
    files.push(csar(tmp.path()));
    // A CSAR written by Provisio's YAML export (tosca-parser checks that the implementation
    // scripts are inside).
    let src = root().join("tests/corpus-yaml/valid/scripted/collector.yaml");
    let l = provisio_model::load_path(&src).unwrap();
    let main = l.main_file.unwrap();
    let st = l.library.file(main).definitions.service_templates[0].clone();
    let none = |_: &str| None;
    let ex = provisio_model::csar_export::export_csar(&l.library, main, &st, &none, "t").unwrap();
    let exported = tmp.path().join("collector.csar");
    std::fs::write(&exported, &ex.bytes).unwrap();
    files.push(exported);
    let out = Command::new("python3")
        .arg(root().join("scripts/yaml_peer.py"))
        .args(&files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), files.len());
    let (mut valid, mut invalid) = (0, 0);
    let mut disagreements = Vec::new();
    for (f, peer) in files.iter().zip(&lines) {
        let ours = report(f);
        let peer_valid = peer["valid"].as_bool().unwrap();
        if ours.valid != peer_valid {
            disagreements.push(format!(
                "{}: provisio valid={} ({:?}), tosca-parser valid={peer_valid} ({})",
                f.display(),
                ours.valid,
                ours.errors,
                peer["error"]
            ));
            continue;
        }
        if !ours.valid {
            invalid += 1;
            continue;
        }
        valid += 1;
        assert_eq!(
            ours.nodes as u64,
            peer["nodes"].as_u64().unwrap(),
            "{}",
            f.display()
        );
        for (node, reqs) in &ours.requirements {
            let theirs: Vec<(String, String)> = peer["requirements"][node]
                .as_array()
                .unwrap_or_else(|| panic!("{}: tosca-parser has no node {node}", f.display()))
                .iter()
                .map(|p| {
                    (
                        p[0].as_str().unwrap().to_string(),
                        p[1].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            assert_eq!(reqs, &theirs, "{}: requirements of {node}", f.display());
        }
    }
    assert!(disagreements.is_empty(), "{disagreements:#?}");
    assert!(
        valid >= 10 && invalid >= 18,
        "valid {valid}, invalid {invalid}"
    );
    eprintln!(
        "tosca-parser agrees on {} templates ({valid} valid, {invalid} invalid)",
        files.len()
    );
}

#[test]
fn tosca_parser_accepts_what_write_back_produces() {
    use provisio_model::QName;
    use provisio_model::tosca::{NodeTemplate, Properties, RelationshipTemplate};
    if !peer_available() {
        assert!(
            std::env::var("PROVISIO_REQUIRE_PEER").is_err(),
            "tosca-parser is required"
        );
        return;
    }
    let src = root().join("tests/corpus-yaml/valid/webapp_stack.yaml");
    let l = provisio_model::load_path(&src).unwrap();
    let mut d = l.library.file(l.main_file.unwrap()).definitions.clone();
    let topo = &mut d.service_templates[0].topology;
    topo.node_templates.retain(|n| n.id != "app");
    topo.relationship_templates.retain(|r| r.source != "app");
    let mut cache = NodeTemplate::new("cache", QName::new("tosca.nodes", "DBMS"), 0.0, 0.0);
    cache.properties = Some(Properties::new_kv(
        "",
        "Properties",
        &[("port".into(), "6379".into())],
    ));
    topo.node_templates.push(cache);
    topo.relationship_templates.push(RelationshipTemplate::new(
        "r1",
        QName::new("tosca.relationships", "HostedOn"),
        "cache",
        "web_server",
    ));
    topo.node_mut("dbms")
        .unwrap()
        .properties
        .as_mut()
        .unwrap()
        .set("port", "3307");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("edited.yaml");
    std::fs::write(&out, d.to_yaml()).unwrap();
    let ours = report(&out);
    assert!(ours.valid, "{:#?}", ours.errors);
    let o = Command::new("python3")
        .arg(root().join("scripts/yaml_peer.py"))
        .arg(&out)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(v["nodes"].as_u64().unwrap(), ours.nodes as u64);
    assert_eq!(
        v["requirements"]["cache"],
        serde_json::json!([["host", "web_server"]])
    );
}
