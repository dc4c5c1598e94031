//! The typed TOSCA model on the real corpus and on edits: every file reads, an untouched model
//! writes back XML-equivalent to its input, and edits survive write → read.

mod common;
use provisio_model::tosca::{Definitions, NodeTemplate, RelationshipTemplate, TOSCA_NS};
use provisio_model::{QName, xml};

#[test]
fn every_corpus_file_reads_and_untouched_export_is_equivalent() {
    let files = common::files_with_ext(&common::corpus_dir(), &["tosca"]);
    let mut templates = 0;
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        let defs =
            Definitions::from_bytes(&bytes).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        templates += defs
            .service_templates
            .iter()
            .map(|s| s.topology.node_templates.len())
            .sum::<usize>();
        let out = defs.to_xml();
        let original = xml::parse_bytes(&bytes).unwrap();
        let written = xml::parse_str(&out).unwrap();
        xml::equivalent(&original.root, &written.root)
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let again = Definitions::from_str(&out).unwrap();
        assert_eq!(defs.semantic(), again.semantic(), "{}", f.display());
    }
    assert!(templates > 250, "only {templates} node templates read");
}

#[test]
fn node_template_counts_match_the_corpus_index() {
    let dir = common::corpus_dir();
    let index = std::fs::read_to_string(dir.join("INDEX.tsv")).unwrap();
    let mut checked = 0;
    for line in index.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let path = dir.join(cols[0]);
        if path.extension().is_none_or(|e| e != "tosca") {
            continue;
        }
        let defs = Definitions::from_bytes(&std::fs::read(&path).unwrap()).unwrap();
        let st = &defs.service_templates[0];
        assert_eq!(
            st.topology.node_templates.len(),
            cols[1].parse::<usize>().unwrap(),
            "{}",
            cols[0]
        );
        assert_eq!(
            st.topology.relationship_templates.len(),
            cols[2].parse::<usize>().unwrap(),
            "{}",
            cols[0]
        );
        checked += 1;
    }
    assert!(checked > 50, "{checked}");
}

const SMALL: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<tosca:Definitions xmlns:winery="http://www.opentosca.org/winery/extensions/tosca/2013/02/12" xmlns:tosca="http://docs.oasis-open.org/tosca/ns/2011/12" id="d" targetNamespace="http://example.org/st">
    <!-- a comment that must survive -->
    <tosca:ServiceTemplate name="S" id="S">
        <tosca:TopologyTemplate>
            <tosca:NodeTemplate xmlns:ns0="http://example.org/nt" name="A" type="ns0:App" id="A" winery:x="10" winery:y="20" futureAttr="keep">
                <tosca:Properties>
                    <p:Props xmlns:p="http://example.org/props" xmlns="http://example.org/props">
                        <appConfig>{"interval":3000}</appConfig>
                    </p:Props>
                </tosca:Properties>
                <ext:Unknown xmlns:ext="urn:ext">kept</ext:Unknown>
            </tosca:NodeTemplate>
            <tosca:NodeTemplate xmlns:ns0="http://example.org/nt" name="H" type="ns0:Host" id="H" winery:x="10" winery:y="200"/>
            <tosca:RelationshipTemplate xmlns:b="http://docs.oasis-open.org/tosca/ns/2011/12/ToscaBaseTypes" name="r" type="b:HostedOn" id="r">
                <tosca:SourceElement ref="A"/>
                <tosca:TargetElement ref="H"/>
            </tosca:RelationshipTemplate>
        </tosca:TopologyTemplate>
    </tosca:ServiceTemplate>
</tosca:Definitions>
"#;

#[test]
fn untouched_small_document_writes_back_identically() {
    let defs = Definitions::from_str(SMALL).unwrap();
    assert_eq!(defs.to_xml(), SMALL);
}

#[test]
fn edits_are_patched_in_and_unknown_content_survives() {
    let mut defs = Definitions::from_str(SMALL).unwrap();
    let st = &mut defs.service_templates[0];
    let a = st.topology.node_mut("A").unwrap();
    a.x = Some(42.0);
    a.properties
        .as_mut()
        .unwrap()
        .set("appConfig", "{\"interval\":1000}");
    a.properties.as_mut().unwrap().set("extra", "1");
    let mut n = NodeTemplate::new(
        "N",
        QName::new("http://example.org/other", "Sensor"),
        5.0,
        6.0,
    );
    n.name = Some("New node".into());
    st.topology.node_templates.push(n);
    st.topology
        .relationship_templates
        .push(RelationshipTemplate::new(
            "c",
            QName::new(
                "http://docs.oasis-open.org/tosca/ns/2011/12/ToscaBaseTypes",
                "ConnectsTo",
            ),
            "N",
            "A",
        ));
    st.topology.node_templates.retain(|n| n.id != "H");
    let out = defs.to_xml();
    assert!(
        out.contains("<!-- a comment that must survive -->"),
        "{out}"
    );
    assert!(
        out.contains(r#"<ext:Unknown xmlns:ext="urn:ext">kept</ext:Unknown>"#),
        "{out}"
    );
    assert!(out.contains(r#"futureAttr="keep""#), "{out}");
    assert!(out.contains(r#"winery:x="42""#), "{out}");
    assert!(!out.contains(r#"id="H""#), "{out}");
    let again = Definitions::from_str(&out).unwrap();
    let st2 = &again.service_templates[0];
    assert_eq!(
        st2.topology.node("A").unwrap().property("appConfig"),
        Some("{\"interval\":1000}")
    );
    assert_eq!(st2.topology.node("A").unwrap().property("extra"), Some("1"));
    let n = st2.topology.node("N").unwrap();
    assert_eq!(n.type_ref, QName::new("http://example.org/other", "Sensor"));
    assert_eq!((n.x, n.y), (Some(5.0), Some(6.0)));
    assert_eq!(st2.topology.relationship_templates.len(), 2);
    assert_eq!(st2.topology.relationship_templates[1].source, "N");
    assert_eq!(defs.semantic(), again.semantic());
    // New elements are indented like their siblings.
    assert!(
        out.contains(
            "\n            <tosca:NodeTemplate xmlns:ns0=\"http://example.org/other\" id=\"N\""
        ),
        "{out}"
    );
    assert!(
        out.contains("\n                <tosca:SourceElement ref=\"N\"/>"),
        "{out}"
    );
}

#[test]
fn templates_keep_their_elements_whole_wherever_they_go() {
    // Read templates keep their elements (moved out of the document, shared by copies): a
    // copy, a second write and a service template moved into new definitions all write the
    // same elements, and removed properties really go.
    let defs = Definitions::from_str(SMALL).unwrap();
    assert_eq!(defs.clone().to_xml(), SMALL);
    assert_eq!(defs.to_xml(), SMALL);
    let mut other = Definitions::new("d2", "http://example.org/st");
    other
        .service_templates
        .push(defs.service_templates[0].clone());
    let out = other.to_xml();
    let moved = Definitions::from_str(&out).unwrap();
    xml::equivalent(
        &xml::parse_str(SMALL)
            .unwrap()
            .root
            .elements()
            .next()
            .unwrap()
            .clone(),
        moved.to_document().root.elements().next().unwrap(),
    )
    .unwrap_or_else(|e| panic!("{e}\n{out}"));
    let mut edited = defs.clone();
    let a = edited.service_templates[0].topology.node_mut("A").unwrap();
    a.properties = None;
    let out = edited.to_xml();
    assert!(
        !out.contains("Properties") && !out.contains("appConfig"),
        "{out}"
    );
    assert!(out.contains("kept</ext:Unknown>"), "{out}");
    // The original is untouched by the edit of its copy.
    assert_eq!(defs.to_xml(), SMALL);
}

#[test]
fn new_definitions_write_a_valid_document() {
    let mut defs = Definitions::new("d", "http://example.org/st");
    let mut st = provisio_model::tosca::ServiceTemplate::new("http://example.org/st", "S");
    st.topology.node_templates.push(NodeTemplate::new(
        "A",
        QName::new("http://example.org/nt", "App"),
        1.0,
        2.0,
    ));
    defs.service_templates.push(st);
    let out = defs.to_xml();
    let again = Definitions::from_str(&out).unwrap_or_else(|e| panic!("{e}\n{out}"));
    assert_eq!(
        again.service_templates[0].topology.node_templates[0]
            .type_ref
            .local,
        "App"
    );
    assert_eq!(again.semantic(), defs.semantic());
    assert!(
        xml::parse_str(&out)
            .unwrap()
            .root
            .is(TOSCA_NS, "Definitions")
    );
}

#[test]
fn wrong_root_is_refused_with_its_line() {
    let e =
        Definitions::from_str("<?xml version=\"1.0\"?>\n<Definitions xmlns=\"urn:not-tosca\"/>")
            .unwrap_err();
    assert_eq!(e.line(), 2);
    assert!(e.to_string().contains("urn:not-tosca"), "{e}");
}
