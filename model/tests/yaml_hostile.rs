//! Hostile TOSCA YAML: alias bombs, deep nesting, huge scalars and documents, duplicate keys,
//! non-UTF-8 and random bytes give clear errors naming file, line and column; never a panic.

use proptest::prelude::*;
use provisio_model::load_path;
use std::path::PathBuf;

fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn err(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "t.yaml", bytes);
    load_path(&p).map(|_| ()).unwrap_err().to_string()
}

const HEAD: &str = "tosca_definitions_version: tosca_simple_yaml_1_3\n";

#[test]
fn billion_laughs_is_refused_at_the_first_alias() {
    let mut s = String::from(HEAD);
    s.push_str("metadata:\n  a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
    for i in 1..10 {
        let prev = (b'a' + i - 1) as char;
        let cur = (b'a' + i) as char;
        s.push_str(&format!("  {cur}: &{cur} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"));
    }
    let e = err(s.as_bytes());
    assert!(
        e.contains("t.yaml:4: column") && e.contains("aliases"),
        "{e}"
    );
}

#[test]
fn deep_nesting_is_refused() {
    let s = format!(
        "{HEAD}metadata: {}{}\n",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let e = err(s.as_bytes());
    assert!(e.contains("nesting deeper than 64"), "{e}");
    let mut s = String::from(HEAD);
    for i in 0..100 {
        s.push_str(&format!("{}k{i}:\n", "  ".repeat(i)));
    }
    assert!(err(s.as_bytes()).contains("nesting"));
}

#[test]
fn huge_scalars_and_documents_are_refused() {
    let s = format!("{HEAD}description: \"{}\"\n", "x".repeat(2 * 1024 * 1024));
    let e = err(s.as_bytes());
    assert!(e.contains("larger than the limit"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("big.yaml");
    let f = std::fs::File::create(&p).unwrap();
    f.set_len(40 * 1024 * 1024).unwrap();
    let e = load_path(&p).map(|_| ()).unwrap_err().to_string();
    assert!(e.contains("larger than the limit"), "{e}");
}

#[test]
fn duplicate_keys_name_both_places() {
    let s = format!(
        "{HEAD}topology_template:\n  node_templates:\n    a:\n      type: Compute\n    a:\n      type: Compute\n"
    );
    let e = err(s.as_bytes());
    assert!(
        e.contains("t.yaml:6: column 5: duplicate key 'a' (first at line 4, column 5)"),
        "{e}"
    );
}

#[test]
fn non_utf8_is_refused_with_its_position() {
    let mut b = HEAD.as_bytes().to_vec();
    b.extend_from_slice(b"description: caf\xe9\n");
    let e = err(&b);
    assert!(e.contains("t.yaml:2: column 17: not UTF-8"), "{e}");
}

#[test]
fn not_tosca_and_broken_yaml_are_clear() {
    assert!(err(b"just: yaml\n").contains("tosca_definitions_version is missing"));
    assert!(err(b"- a\n- b\n").contains("a TOSCA YAML document is a map, not a list"));
    let e = err(format!("{HEAD}a: [1, 2\n").as_bytes());
    assert!(e.contains("t.yaml:"), "{e}");
    assert!(err(format!("{HEAD}---\n{HEAD}").as_bytes()).contains("more than one YAML document"));
}

#[test]
fn import_cycles_terminate() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir,
        "a.yaml",
        format!("{HEAD}imports: [b.yaml]\n").as_bytes(),
    );
    let b = write(
        &dir,
        "b.yaml",
        format!("{HEAD}imports: [a.yaml]\n").as_bytes(),
    );
    let loaded = load_path(&b).unwrap();
    assert_eq!(loaded.library.files().len(), 3); // normative + b + a
    let e = write(
        &dir,
        "e.yaml",
        format!("{HEAD}imports: [../../etc/passwd]\n").as_bytes(),
    );
    let _ = load_path(&e); // outside the folder: read relative to the file, never panics
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn random_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..400)) {
        let mut b = HEAD.as_bytes().to_vec();
        b.extend_from_slice(&body);
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "t.yaml", &b);
        let _ = load_path(&p);
    }

    #[test]
    fn mutated_corpus_never_panics(cut in 0usize..2000, insert in "[ :\\-\\[\\]{}#&*!|>'\"\\n]{0,6}") {
        let src = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/corpus-yaml/valid/webapp_stack.yaml")).unwrap();
        let at = cut.min(src.len());
        let at = (0..=at).rev().find(|i| src.is_char_boundary(*i)).unwrap_or(0);
        let text = format!("{}{insert}{}", &src[..at], &src[at..]);
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "t.yaml", text.as_bytes());
        if let Ok(l) = load_path(&p) {
            for (_, st) in l.library.service_templates() {
                let _ = provisio_model::validate::validate_service_template(&l.library, st, None);
            }
        }
    }
}
