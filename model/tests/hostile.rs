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

// ---- Zip bombs: opening and validating never inflates an artifact; sizes are counted ----

const META: &[u8] =
    b"TOSCA-Meta-Version: 1.0\nCSAR-Version: 1.0\nEntry-Definitions: Definitions/a.tosca\n";
const DEFS: &[u8] = br#"<Definitions xmlns="http://docs.oasis-open.org/tosca/ns/2011/12" id="a" targetNamespace="urn:a"><ServiceTemplate id="S"/></Definitions>"#;
const GIB: u64 = 1024 * 1024 * 1024;
const BOMB_ENTRY: &str = "files/zeros.bin";

/// Writes a CSAR with TOSCA.meta, a small entry document (unless `bomb` is that document) and
/// `bomb`: `size` zero bytes deflated (1 GiB makes about 1 MiB), streamed in 1 MiB chunks so
/// the test never holds them.
fn write_bomb(path: &std::path::Path, bomb: &str, size: u64) {
    let mut z = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(9));
    z.start_file(csar::META_PATH, opts).unwrap();
    z.write_all(META).unwrap();
    if bomb != "Definitions/a.tosca" {
        z.start_file("Definitions/a.tosca", opts).unwrap();
        z.write_all(DEFS).unwrap();
    }
    z.start_file(bomb, opts).unwrap();
    let chunk = vec![0u8; 1024 * 1024];
    let mut left = size;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        z.write_all(&chunk[..n]).unwrap();
        left -= n as u64;
    }
    z.finish().unwrap();
}

/// Rewrites the uncompressed size of entry `name` in its local header and its central
/// directory record: the header then lies about what the entry inflates to.
fn lie_about_size(bytes: &mut [u8], name: &str, declared: u32) {
    let n = name.as_bytes();
    let mut patched = 0;
    for i in 0..bytes.len().saturating_sub(46 + n.len()) {
        let at = |b: &[u8], o: usize| u16::from_le_bytes([b[i + o], b[i + o + 1]]) as usize;
        // Local file header: size at 22, name length at 26, name at 30.
        if bytes[i..].starts_with(b"PK\x03\x04")
            && at(bytes, 26) == n.len()
            && &bytes[i + 30..i + 30 + n.len()] == n
        {
            bytes[i + 22..i + 26].copy_from_slice(&declared.to_le_bytes());
            patched += 1;
        }
        // Central directory record: size at 24, name length at 28, name at 46.
        if bytes[i..].starts_with(b"PK\x01\x02")
            && at(bytes, 28) == n.len()
            && &bytes[i + 46..i + 46 + n.len()] == n
        {
            bytes[i + 24..i + 28].copy_from_slice(&declared.to_le_bytes());
            patched += 1;
        }
    }
    assert_eq!(patched, 2, "{name}: local header and central record");
}

#[test]
fn lying_header_on_a_definitions_entry_is_refused_while_inflating() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lie.csar");
    write_bomb(&path, "Definitions/big.tosca", 8 * 1024 * 1024);
    let mut bytes = std::fs::read(&path).unwrap();
    let limits = csar::Limits {
        definitions_entry_bytes: 1024 * 1024,
        ..csar::Limits::default()
    };
    // Told the truth, the declared size alone refuses the entry.
    match csar::read_bytes_with(&bytes, limits) {
        Err(CsarError::EntryTooLarge { entry, .. }) => assert_eq!(entry, "Definitions/big.tosca"),
        other => panic!("{other:?}"),
    }
    // The same holds for the total of all Definitions documents.
    let total = csar::Limits {
        definitions_bytes: 1024 * 1024,
        ..csar::Limits::default()
    };
    match csar::read_bytes_with(&bytes, total) {
        Err(e @ CsarError::TooLarge(_)) => {
            assert!(e.to_string().contains("Definitions/big.tosca"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    // Lied to (100 bytes declared), inflating stops after the declared size.
    lie_about_size(&mut bytes, "Definitions/big.tosca", 100);
    let c = zip::ZipArchive::new(std::io::Cursor::new(&bytes)).unwrap();
    assert_eq!(c.by_index_data(2).unwrap().size(), 100);
    for limits in [limits, csar::Limits::default()] {
        match csar::read_bytes_with(&bytes, limits) {
            Err(e @ CsarError::SizeMismatch { .. }) => {
                let msg = e.to_string();
                assert!(
                    msg.contains("'Definitions/big.tosca'") && msg.contains("100 bytes"),
                    "{msg}"
                );
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn artifacts_are_read_on_demand_under_a_limit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.csar");
    write_bomb(&path, "files/blob.bin", 3 * 1024 * 1024);
    let mut bytes = std::fs::read(&path).unwrap();
    let limits = csar::Limits {
        artifact_bytes: 1024 * 1024,
        ..csar::Limits::default()
    };
    let c = csar::read_file_with(&path, limits).unwrap();
    assert!(c.contains("files/blob.bin") && !c.contains("files/other.bin"));
    assert_eq!(c.declared_size("files/blob.bin"), Some(3 * 1024 * 1024));
    assert!(!c.definitions().contains_key("files/blob.bin"));
    assert!(matches!(
        c.read_entry("files/nope"),
        Err(CsarError::NoEntry(_))
    ));
    assert!(matches!(
        c.read_entry("files/blob.bin"),
        Err(CsarError::EntryTooLarge { .. })
    ));
    // Within the limit it streams out whole.
    let c = csar::read_file(&path).unwrap();
    let mut n = 0u64;
    let mut sink = std::io::sink();
    n += c.copy_entry("files/blob.bin", &mut sink).unwrap();
    assert_eq!(n, 3 * 1024 * 1024);
    assert_eq!(c.read_entry("Definitions/a.tosca").unwrap(), DEFS);
    // A lying artifact header is caught by counting.
    lie_about_size(&mut bytes, "files/blob.bin", 10);
    let c = csar::read_bytes_with(&bytes, limits).unwrap();
    match c.read_entry("files/blob.bin") {
        Err(CsarError::SizeMismatch { entry, declared }) => {
            assert_eq!((entry.as_str(), declared), ("files/blob.bin", 10))
        }
        other => panic!("{other:?}"),
    }
}

/// Set in the child process the zip-bomb test runs itself as.
const CHILD_ENV: &str = "PROVISIO_ZIP_BOMB_CHILD";
/// The address-space cap of the child (like `ulimit -v`): inflating the bomb would abort it.
const CHILD_AS_LIMIT: u64 = 400 * 1024 * 1024;

/// The peak resident set of this process (VmHWM), in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// The child: opens both bombs under the address-space cap and prints what happened.
fn zip_bomb_child(dir: &str) {
    rlimit::setrlimit(rlimit::Resource::AS, CHILD_AS_LIMIT, CHILD_AS_LIMIT).unwrap();
    // The harness has printed the test name without a newline.
    println!();
    let dir = std::path::Path::new(dir);
    // 1 GiB artifact: the archive opens and loads; the artifact is noted, never inflated, and
    // refused when asked for.
    let loaded = provisio_model::load::load_path(&dir.join("bomb.csar")).unwrap();
    for d in loaded.library.load_diagnostics() {
        println!("DIAG {d}");
    }
    let c = loaded.csar.as_ref().unwrap();
    println!("READ {:?}", c.read_entry(BOMB_ENTRY).map(|b| b.len()));
    println!("COPY {:?}", c.copy_entry(BOMB_ENTRY, &mut std::io::sink()));
    // An entry document declaring 100 bytes: refused once it inflates past 100 bytes.
    match provisio_model::load::load_path(&dir.join("lie.csar")) {
        Ok(_) => println!("LIE loaded"),
        Err(e) => println!("LIE {e}"),
    }
    println!("VmHWM {}", peak_rss_kib());
}

#[test]
fn zip_bomb_csar_stays_under_200_mib() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        zip_bomb_child(&dir);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let bomb = dir.path().join("bomb.csar");
    write_bomb(&bomb, BOMB_ENTRY, GIB);
    let size = std::fs::metadata(&bomb).unwrap().len();
    assert!(size < 8 * 1024 * 1024, "the bomb is small: {size} bytes");
    let lie = dir.path().join("lie.csar");
    write_bomb(&lie, "Definitions/a.tosca", 1024 * 1024);
    let mut bytes = std::fs::read(&lie).unwrap();
    lie_about_size(&mut bytes, "Definitions/a.tosca", 100);
    std::fs::write(&lie, bytes).unwrap();

    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "zip_bomb_csar_stays_under_200_mib",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed: {stdout}\n{stderr}");
    let line = |p: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(p))
            .unwrap_or_else(|| panic!("no {p} in {stdout}"))
            .to_string()
    };
    let diag = line("DIAG");
    assert!(
        diag.contains(BOMB_ENTRY) && diag.contains("1073741824"),
        "{diag}"
    );
    for p in ["READ", "COPY"] {
        let l = line(p);
        assert!(l.contains("EntryTooLarge") && l.contains(BOMB_ENTRY), "{l}");
    }
    let l = line("LIE");
    assert!(
        l.contains("'Definitions/a.tosca' inflates to more than the 100 bytes"),
        "{l}"
    );
    let kib: u64 = line("VmHWM")[6..].trim().parse().unwrap();
    eprintln!("zip bomb: archive {size} bytes, child peak RSS {kib} KiB");
    assert!(kib < 200 * 1024, "peak RSS {kib} KiB");
}
