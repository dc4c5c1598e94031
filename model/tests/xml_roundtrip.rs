//! The XML layer on the real corpus: every file parses, writes back XML-equivalent, and writing
//! is stable (write ∘ parse ∘ write = write). Plus hostile input is refused with a line number.

mod common;
use provisio_model::xml;

#[test]
fn every_corpus_file_round_trips_xml_equivalent() {
    let files = common::files_with_ext(&common::corpus_dir(), &["tosca"]);
    assert!(files.len() > 600, "corpus missing: {} files", files.len());
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        let doc = xml::parse_bytes(&bytes).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let text = xml::write_document(&doc);
        let again =
            xml::parse_str(&text).unwrap_or_else(|e| panic!("{} rewritten: {e}", f.display()));
        xml::equivalent(&doc.root, &again.root).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert_eq!(
            strip_lines(doc.clone()),
            strip_lines(again.clone()),
            "{}: tree changed",
            f.display()
        );
        assert_eq!(
            text,
            xml::write_document(&again),
            "{}: writing is not stable",
            f.display()
        );
    }
}

#[test]
fn doctype_and_entities_are_refused() {
    let e = xml::parse_str("<?xml version=\"1.0\"?>\n<!DOCTYPE x [<!ENTITY a \"b\">]>\n<x>&a;</x>")
        .unwrap_err();
    assert_eq!(e.line, 2, "{e}");
    assert!(e.message.contains("DOCTYPE"), "{e}");
    let e = xml::parse_str("<x>\n&custom;</x>").unwrap_err();
    assert!(e.message.contains("custom"), "{e}");
    assert_eq!(
        xml::parse_str("<x>&lt;&#65;&#x42;</x>")
            .unwrap()
            .root
            .text(),
        "<AB"
    );
}

#[test]
fn malformed_input_names_the_line() {
    let e = xml::parse_str("<a>\n<b>\n</a>").unwrap_err();
    assert_eq!(e.line, 3, "{e}");
    let e = xml::parse_str("<a>\n<p:b/>\n</a>").unwrap_err();
    assert_eq!(e.line, 2, "{e}");
    assert!(e.message.contains("unbound"), "{e}");
    let e = xml::parse_str("<a>\n<b>").unwrap_err();
    assert!(e.message.contains("ends inside"), "{e}");
    assert!(xml::parse_str("").is_err());
    assert!(xml::parse_bytes(&[0x3c, 0x61, 0xff, 0x3e]).is_err());
}

#[test]
fn new_elements_get_a_prefix_in_scope() {
    let mut doc = xml::parse_str(r#"<t:A xmlns:t="urn:t"><t:B/></t:A>"#).unwrap();
    let mut c = xml::Element::new("urn:t", "C");
    c.set_attr_ns("urn:other", "x", "1");
    doc.root.children.push(xml::Node::Element(c));
    let text = xml::write_document(&doc);
    assert!(
        text.contains("<t:C xmlns:ns0=\"urn:other\" ns0:x=\"1\"/>"),
        "{text}"
    );
    let again = xml::parse_str(&text).unwrap();
    xml::equivalent(&doc.root, &again.root).unwrap();
}

fn strip_lines(mut d: xml::Document) -> xml::Document {
    fn walk(e: &mut xml::Element) {
        e.line = 0;
        for c in &mut e.children {
            if let xml::Node::Element(c) = c {
                walk(c);
            }
        }
    }
    walk(&mut d.root);
    d
}
