//! Finding the bytes of deployment artifact files: in an imported CSAR, next to the opened file
//! or in the opened Winery repository, or in the built-in library shipped in the binary.
//! Winery writes references percent-encoded (sometimes twice); both forms are tried.

use provisio_model::{InputKind, Loaded};
use std::path::{Path, PathBuf};

use provisio_model::csar::percent_decode;

fn decode(s: &str) -> String {
    percent_decode(s)
}

/// Reference variants to try: as written, decoded once, decoded twice.
fn variants(reference: &str) -> Vec<String> {
    let r = reference.trim().trim_start_matches("./").to_string();
    let once = decode(&r);
    let twice = decode(&once);
    let mut v = vec![r, once, twice];
    v.dedup();
    v
}

/// Reads an artifact file by its reference. Refuses references that leave their root.
pub fn read_artifact(loaded: &Loaded, reference: &str) -> Option<Vec<u8>> {
    find_artifact(loaded, reference, true).and_then(|f| f.bytes)
}

/// Whether an artifact file can be read, without reading it.
pub fn artifact_exists(loaded: &Loaded, reference: &str) -> bool {
    find_artifact(loaded, reference, false).is_some()
}

struct Found {
    bytes: Option<Vec<u8>>,
}

fn find_artifact(loaded: &Loaded, reference: &str, read: bool) -> Option<Found> {
    let found = |b: Option<Vec<u8>>| Some(Found { bytes: b });
    for r in variants(reference) {
        if r.split('/').any(|c| c == "..") || r.starts_with('/') {
            return None;
        }
        if let Some(csar) = &loaded.csar
            && let Some(b) = csar.files.get(&r)
        {
            return found(read.then(|| b.clone()));
        }
        let roots: Vec<PathBuf> = match loaded.kind {
            InputKind::WineryRepository => vec![loaded.path.clone()],
            InputKind::File => loaded
                .path
                .parent()
                .map(Path::to_path_buf)
                .into_iter()
                .collect(),
            InputKind::Csar => vec![],
        };
        for root in roots {
            let p = root.join(&r);
            if p.is_file() {
                if !read {
                    return found(None);
                }
                if let Ok(b) = std::fs::read(&p) {
                    return found(Some(b));
                }
            }
        }
        if let Some((_, b)) = provisio_assets::library_files()
            .iter()
            .find(|(p, _)| *p == r)
        {
            return found(read.then(|| b.to_vec()));
        }
    }
    None
}

/// Exports the service template `st_qname` of `loaded` to bytes.
pub fn export_csar(
    loaded: &Loaded,
    st: &provisio_model::tosca::ServiceTemplate,
) -> Result<provisio_model::csar_export::Exported, String> {
    let lib = &loaded.library;
    let file = lib
        .service_templates()
        .into_iter()
        .find(|(_, s)| s.qname() == st.qname())
        .map(|(f, _)| f)
        .ok_or_else(|| format!("{} is not in the loaded files", st.qname()))?;
    // Export what the editor holds: the given template replaces the stored one.
    let source = |r: &str| read_artifact(loaded, r);
    let created_by = format!("Provisio {}", env!("CARGO_PKG_VERSION"));
    let mut lib = lib.clone();
    if let Some(slot) = lib
        .definitions_mut(file)
        .service_templates
        .iter_mut()
        .find(|s| s.qname() == st.qname())
    {
        *slot = st.clone();
    }
    provisio_model::csar_export::export_csar(&lib, file, st, &source, &created_by)
}

#[cfg(test)]
mod tests {
    #[test]
    fn percent_forms() {
        assert_eq!(super::decode("a%253Ab"), "a%3Ab");
        assert_eq!(super::variants("x/a%253Ab")[2], "x/a:b");
        assert_eq!(super::decode("100%"), "100%");
    }
}
