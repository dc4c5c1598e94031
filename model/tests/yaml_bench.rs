//! Parse + validate time of a 10,000-node YAML topology (a figure, not a timed test):
//! `cargo test --release -p provisio-model --test yaml_bench -- --ignored --nocapture`.

#[test]
fn generated_topology_is_valid() {
    let (_, _, errors) = provisio_model::yaml::bench::measure(200).unwrap();
    assert_eq!(errors, 0);
}

#[test]
#[ignore]
fn ten_thousand_nodes() {
    let (parse, validate, errors) = provisio_model::yaml::bench::measure(10_000).unwrap();
    assert_eq!(errors, 0);
    // The XML figure under the same machine load, for comparison (same shape, thesis types).
    let lib = provisio_model::load_path(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/library"),
    )
    .unwrap()
    .library;
    let mut xml = String::from(
        "<?xml version=\"1.0\"?>\n<Definitions xmlns=\"http://docs.oasis-open.org/tosca/ns/2011/12\" xmlns:nt=\"http://provisio.dev/tosca/nodetypes\" xmlns:b=\"http://docs.oasis-open.org/tosca/ns/2011/12/ToscaBaseTypes\" id=\"gen\" targetNamespace=\"urn:gen\"><ServiceTemplate id=\"Generated\"><TopologyTemplate>\n",
    );
    for i in 0..5000 {
        xml.push_str(&format!("<NodeTemplate id=\"app{i}\" type=\"nt:NodeMCU_App\"><Properties><p:Properties xmlns:p=\"urn:p\"><p:appConfig>{{\"interval\":{i}}}</p:appConfig></p:Properties></Properties></NodeTemplate>\n<NodeTemplate id=\"dev{i}\" type=\"nt:NodeMCU\"><Properties><p:Properties xmlns:p=\"urn:p\"><p:hardwareIds>[\"{i}\"]</p:hardwareIds><p:pubSubServer>tcp://10.0.0.1:1883</p:pubSubServer><p:controlTopic>c</p:controlTopic><p:responseTopic>r</p:responseTopic></p:Properties></Properties></NodeTemplate>\n<RelationshipTemplate id=\"h{i}\" type=\"b:HostedOn\"><SourceElement ref=\"app{i}\"/><TargetElement ref=\"dev{i}\"/></RelationshipTemplate>\n"));
    }
    xml.push_str("</TopologyTemplate></ServiceTemplate></Definitions>\n");
    let mut best = std::time::Duration::MAX;
    for _ in 0..3 {
        let mut l = lib.clone();
        let t = std::time::Instant::now();
        let d = provisio_model::tosca::Definitions::from_str(&xml).unwrap();
        let f = l.add("gen.tosca", d, false);
        let st = l.file(f).definitions.service_templates[0].clone();
        let _ = provisio_model::validate::validate_service_template(&l, &st, None);
        best = best.min(t.elapsed());
    }
    println!(
        "10,000-node XML topology (same machine, same moment): parse + validate {:.0} ms",
        best.as_secs_f64() * 1e3
    );
    println!(
        "10,000-node YAML topology: parse {:.0} ms + validate {:.0} ms = {:.0} ms",
        parse.as_secs_f64() * 1e3,
        validate.as_secs_f64() * 1e3,
        (parse + validate).as_secs_f64() * 1e3
    );
}

#[test]
#[ignore]
fn save_after_one_edit() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("g.yaml");
    std::fs::write(&p, provisio_model::yaml::bench::generate(10_000)).unwrap();
    let l = provisio_model::load_path(&p).unwrap();
    let mut d = l.library.file(l.main_file.unwrap()).definitions.clone();
    let t = std::time::Instant::now();
    assert_eq!(
        d.to_yaml().len(),
        std::fs::metadata(&p).unwrap().len() as usize
    );
    let untouched = t.elapsed();
    let n = d.service_templates[0].topology.node_mut("app4999").unwrap();
    n.properties.as_mut().unwrap().set("interval", "500");
    d.service_templates[0]
        .topology
        .node_templates
        .retain(|n| n.id != "app0");
    d.service_templates[0]
        .topology
        .relationship_templates
        .retain(|r| r.source != "app0");
    let t = std::time::Instant::now();
    let out = d.to_yaml();
    let edited = t.elapsed();
    assert!(out.contains("        interval: 500\n"));
    println!(
        "10,000-node YAML save: untouched {:.0} ms, one edit + one node removed {:.0} ms",
        untouched.as_secs_f64() * 1e3,
        edited.as_secs_f64() * 1e3
    );
}

#[test]
#[ignore]
fn phases() {
    let text = provisio_model::yaml::bench::generate(10_000);
    let t = std::time::Instant::now();
    let root = provisio_model::yaml::node::parse(&text).unwrap();
    println!("yaml parse {:?} ({} bytes)", t.elapsed(), text.len());
    let t = std::time::Instant::now();
    let c = root.clone();
    println!("clone {:?}", t.elapsed());
    drop(c);
}
