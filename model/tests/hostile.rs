//! Hostile and broken input: mutated corpus files (byte flips, truncation, insertions) and
//! hostile archives (zip-slip, absolute paths, too many entries, corrupt or truncated zips, no
//! TOSCA.meta) give errors that name the problem, never panics.

mod common;
use proptest::prelude::*;
use provisio_model::csar::{self, CsarError};
use provisio_model::tosca::Definitions;
use std::io::Write;

fn sample_files() -> Vec<Vec<u8>> {
    let files = common::files_with_ext(&common::corpus_dir(), &["tosca"]);
    files
        .iter()
        .step_by(23)
        .map(|f| std::fs::read(f).unwrap())
        .collect()
}

fn zip_with(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in entries {
        z.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(bytes).unwrap();
    }
    z.finish().unwrap().into_inner()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn mutated_corpus_xml_never_panics(file in 0usize..30, pos in any::<prop::sample::Index>(), byte in any::<u8>(), cut in any::<bool>()) {
        let files = sample_files();
        let mut bytes = files[file % files.len()].clone();
        let i = pos.index(bytes.len());
        if cut { bytes.truncate(i); } else { bytes[i] = byte; }
        if let Ok(d) = Definitions::from_bytes(&bytes) {
            // Whatever parses writes back and parses again.
            let again = Definitions::from_str(&d.to_xml());
            prop_assert!(again.is_ok());
        }
    }

    #[test]
    fn mutated_archives_never_panic(pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let meta = b"TOSCA-Meta-Version: 1.0\nCSAR-Version: 1.0\nEntry-Definitions: Definitions/a.tosca\n";
        let defs = br#"<Definitions xmlns="http://docs.oasis-open.org/tosca/ns/2011/12" id="a" targetNamespace="urn:a"><ServiceTemplate id="S"/></Definitions>"#;
        let mut z = zip_with(&[("TOSCA-Metadata/TOSCA.meta", meta), ("Definitions/a.tosca", defs)]);
        let i = pos.index(z.len());
        z[i] = byte;
        if let Ok(c) = csar::read_bytes(&z) {
            let _ = csar::to_library(&c, std::path::Path::new("x.csar"));
        }
    }
}

#[test]
fn zip_slip_and_absolute_paths_are_refused() {
    for bad in [
        "../evil.sh",
        "a/../../evil",
        "/etc/passwd",
        "C:\\windows\\x",
        "a\\..\\b",
    ] {
        let z = zip_with(&[
            ("TOSCA-Metadata/TOSCA.meta", b"Entry-Definitions: x\n"),
            (bad, b"x"),
        ]);
        match csar::read_bytes(&z) {
            Err(CsarError::UnsafePath(p)) => assert_eq!(p, bad),
            other => panic!("{bad}: {other:?}"),
        }
    }
}

#[test]
fn corrupt_truncated_and_meta_less_archives_are_clear_errors() {
    let good = zip_with(&[("TOSCA-Metadata/TOSCA.meta", b"Entry-Definitions: x\n")]);
    assert!(matches!(
        csar::read_bytes(&good[..good.len() / 2]),
        Err(CsarError::Zip(_))
    ));
    assert!(matches!(
        csar::read_bytes(b"not a zip at all"),
        Err(CsarError::Zip(_))
    ));
    let no_meta = zip_with(&[("Definitions/a.tosca", b"<x/>")]);
    assert!(matches!(csar::read_bytes(&no_meta), Err(CsarError::NoMeta)));
    let bad_def = zip_with(&[
        (
            "TOSCA-Metadata/TOSCA.meta",
            b"Entry-Definitions: Definitions/a.tosca\n",
        ),
        ("Definitions/a.tosca", b"<Definitions xmlns=\"urn:wrong\"/>"),
    ]);
    let c = csar::read_bytes(&bad_def).unwrap();
    let e = csar::to_library(&c, std::path::Path::new("x.csar")).unwrap_err();
    assert!(
        e.to_string().contains("Definitions/a.tosca") && e.to_string().contains("urn:wrong"),
        "{e}"
    );
}

#[test]
fn too_many_entries_are_refused() {
    let names: Vec<String> = (0..csar::MAX_ENTRIES + 1)
        .map(|i| format!("f{i}"))
        .collect();
    let entries: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b""[..])).collect();
    let z = zip_with(&entries);
    assert!(matches!(csar::read_bytes(&z), Err(CsarError::TooLarge(_))));
}

#[test]
fn wrong_namespace_is_named() {
    let e = Definitions::from_str(
        "<Definitions xmlns=\"http://docs.oasis-open.org/tosca/ns/2011/13\"/>",
    )
    .unwrap_err();
    assert!(e.to_string().contains("2011/13"), "{e}");
}
