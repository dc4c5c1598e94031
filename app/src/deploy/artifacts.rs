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
    for r in variants(reference) {
        if r.split('/').any(|c| c == "..") || r.starts_with('/') {
            return None;
        }
        if let Some(csar) = &loaded.csar
            && let Some(b) = csar.files.get(&r)
        {
            return Some(b.clone());
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
            if p.is_file()
                && let Ok(b) = std::fs::read(&p)
            {
                return Some(b);
            }
        }
        if let Some((_, b)) = provisio_assets::library_files()
            .iter()
            .find(|(p, _)| *p == r)
        {
            return Some(b.to_vec());
        }
    }
    None
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
