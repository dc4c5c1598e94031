//! Finding the bytes of deployment artifact files: in an imported CSAR, next to the opened file
//! or in the opened Winery repository, or in the built-in library shipped in the binary.
//! Winery writes references percent-encoded (sometimes twice); both forms are tried.

use provisio_model::{InputKind, Loaded};
use std::path::{Path, PathBuf};

use provisio_model::csar::{MAX_ARTIFACT_BYTES, percent_decode};

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

/// Reads an artifact file by its reference; `None` when it is missing or refused (see
/// [`load_artifact`] for the reason).
pub fn read_artifact(loaded: &Loaded, reference: &str) -> Option<Vec<u8>> {
    load_artifact(loaded, reference).ok()
}

/// Where an artifact file is found: an archive entry, a file on disk, or a built-in file.
enum Found {
    Entry(String),
    File(PathBuf),
    Builtin(&'static [u8]),
}

/// Finds an artifact file by its reference without reading it (an archive entry is looked up
/// in the central directory, nothing is inflated). Refuses references that leave their root.
fn find(loaded: &Loaded, reference: &str) -> Option<Found> {
    for r in variants(reference) {
        if r.split('/').any(|c| c == "..") || r.starts_with('/') {
            return None;
        }
        if let Some(csar) = &loaded.csar
            && csar.contains(&r)
        {
            return Some(Found::Entry(r));
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
                return Some(Found::File(p));
            }
        }
        if let Some((_, b)) = provisio_assets::library_files()
            .iter()
            .find(|(p, _)| *p == r)
        {
            return Some(Found::Builtin(b));
        }
    }
    None
}

/// Whether an artifact file exists, decided without reading or inflating it.
pub fn artifact_exists(loaded: &Loaded, reference: &str) -> bool {
    find(loaded, reference).is_some()
}

/// Reads an artifact file by its reference, at most [`MAX_ARTIFACT_BYTES`]: an archive entry
/// is inflated only now, counting bytes, so a zip bomb is refused, not held in memory.
pub fn load_artifact(loaded: &Loaded, reference: &str) -> Result<Vec<u8>, String> {
    match find(loaded, reference) {
        None => Err(format!("artifact file '{reference}' not found")),
        Some(Found::Builtin(b)) => Ok(b.to_vec()),
        Some(Found::Entry(name)) => match &loaded.csar {
            Some(csar) => csar.read_entry(&name).map_err(|e| e.to_string()),
            None => Err(format!("artifact file '{reference}' not found")),
        },
        Some(Found::File(p)) => read_capped(&p),
    }
}

/// A file's bytes, refused above the artifact limit.
fn read_capped(p: &std::path::Path) -> Result<Vec<u8>, String> {
    let len = std::fs::metadata(p)
        .map_err(|e| format!("{}: {e}", p.display()))?
        .len();
    if len > MAX_ARTIFACT_BYTES {
        return Err(format!(
            "{}: {len} bytes, more than the artifact limit of {MAX_ARTIFACT_BYTES}",
            p.display()
        ));
    }
    std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))
}

/// The bytes of an artifact file as a deploy sends them: a container recipe (`*.recipe`, see
/// `provisio_engines::images`) becomes its image, from the cache or built now (progress as log
/// events of `node`), for this machine's architecture or `PROVISIO_IMAGE_ARCH`; any other file
/// as it is. The CSAR export keeps the recipe.
pub async fn load_for_deploy(
    loaded: &Loaded,
    reference: &str,
    events: &provisio_engines::events::EventSink,
    node: &str,
) -> Result<Vec<u8>, String> {
    Ok(load_for_deploy_image(loaded, reference, events, node)
        .await?
        .bytes)
}

/// An artifact file as a deploy sends it, and the image it is when it was a recipe.
#[derive(Debug)]
pub struct ForDeploy {
    pub bytes: Vec<u8>,
    /// The cached image file the recipe became.
    pub image: Option<PathBuf>,
    /// The image was built now (not found in the cache).
    pub built: bool,
}

/// [`load_for_deploy`], also telling which image a recipe became and whether it was built now.
pub async fn load_for_deploy_image(
    loaded: &Loaded,
    reference: &str,
    events: &provisio_engines::events::EventSink,
    node: &str,
) -> Result<ForDeploy, String> {
    use provisio_engines::events::Level;
    use provisio_engines::images;
    let bytes = load_artifact(loaded, reference)?;
    if !reference.ends_with(".recipe") || !images::is_recipe(&bytes) {
        return Ok(ForDeploy {
            bytes,
            image: None,
            built: false,
        });
    }
    let arch = image_arch();
    let bin = provisio_binary();
    let mut built = false;
    let path = match images::cached_image(&bytes, &arch, bin.as_deref()) {
        Some(p) => p,
        None => {
            built = true;
            trusted_recipe(&bytes, reference)?;
            if arch != images::host_arch() && std::env::var_os("PROVISIO_BIN").is_none() {
                return Err(format!(
                    "{reference}: an {arch} image bundles an {arch} provisio binary: set PROVISIO_BIN to one (this one is {})",
                    images::host_arch()
                ));
            }
            events.log(
                Level::Info,
                Some(node),
                format!("building the container image of {reference} ({arch}); this takes minutes once, then it is cached"),
            );
            let (events, node) = (events.clone(), node.to_string());
            tokio::task::spawn_blocking(move || {
                images::build_image(&bytes, &arch, bin.as_deref(), &|line| {
                    events.log(Level::Info, Some(&node), line.trim().to_string())
                })
            })
            .await
            .map_err(|e| format!("image build: {e}"))??
        }
    };
    Ok(ForDeploy {
        bytes: read_capped(&path)?,
        image: Some(path),
        built,
    })
}

/// The architecture images are built for: `PROVISIO_IMAGE_ARCH`, else this machine's.
pub fn image_arch() -> String {
    std::env::var("PROVISIO_IMAGE_ARCH")
        .ok()
        .filter(|a| !a.trim().is_empty())
        .unwrap_or_else(|| provisio_engines::images::host_arch().to_string())
}

/// Building a recipe runs its packages' install scripts as root on this machine: only the
/// built-in library's recipes are built at Deploy, or any when `PROVISIO_TRUST_RECIPES=1`. A
/// recipe from elsewhere is built ahead by someone who read it (`scripts/build-images.sh`),
/// after which its cached image deploys like any other.
fn trusted_recipe(bytes: &[u8], reference: &str) -> Result<(), String> {
    let builtin = provisio_assets::library_files()
        .iter()
        .any(|(path, b)| path.ends_with(".recipe") && *b == bytes);
    if builtin || std::env::var("PROVISIO_TRUST_RECIPES").as_deref() == Ok("1") {
        return Ok(());
    }
    Err(format!(
        "{reference} is not a built-in recipe and its image is not built: building it runs its \
         packages' install scripts as root here; read it, then build it with \
         scripts/build-images.sh (or set PROVISIO_TRUST_RECIPES=1)"
    ))
}

/// The provisio binary images bundle: `$PROVISIO_BIN`, else this program when it is provisio,
/// else a `provisio` next to it or one folder up (tests run from target/<profile>/deps).
pub fn provisio_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PROVISIO_BIN").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let exe = std::env::current_exe().ok()?;
    if exe.file_name().is_some_and(|n| n == "provisio") {
        return Some(exe);
    }
    let dir = exe.parent()?;
    [dir.join("provisio"), dir.parent()?.join("provisio")]
        .into_iter()
        .find(|p| p.is_file())
}

/// Exports the service template `st` of `loaded` as a CSAR (what the editor holds: the given
/// template replaces the stored one).
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
    /// A recipe deploys as its image (when the image is in the cache: scripts/test.sh builds
    /// them first); other files as they are.
    #[tokio::test]
    async fn a_recipe_deploys_as_its_cached_image() {
        use provisio_engines::images;
        let loaded = crate::library::builtin_loaded();
        let (events, _rx) = provisio_engines::events::EventSink::new();
        let (fw, bytes) = provisio_assets::library_files()
            .iter()
            .find(|(p, _)| p.ends_with(".ino.bin"))
            .unwrap();
        let got = super::load_for_deploy(&loaded, fw, &events, "n").await;
        assert_eq!(got.as_deref(), Ok(*bytes));
        let (recipe_path, recipe) = provisio_assets::library_files()
            .iter()
            .find(|(p, _)| p.ends_with("/mosquitto.recipe"))
            .unwrap();
        assert!(images::is_recipe(recipe));
        let Some(image) = images::cached_image(recipe, images::host_arch(), None) else {
            eprintln!("skipped: the mosquitto image is not built (scripts/build-images.sh)");
            return;
        };
        let got = super::load_for_deploy(&loaded, recipe_path, &events, "n")
            .await
            .unwrap();
        assert_eq!(got, std::fs::read(image).unwrap());
        assert_eq!(got[..2], [0x1f, 0x8b]);
        // The CSAR export and validation read the recipe itself.
        assert_eq!(
            super::load_artifact(&loaded, recipe_path).as_deref(),
            Ok(*recipe)
        );
    }

    #[test]
    fn percent_forms() {
        assert_eq!(super::decode("a%253Ab"), "a%3Ab");
        assert_eq!(super::variants("x/a%253Ab")[2], "x/a:b");
        assert_eq!(super::decode("100%"), "100%");
    }
}

#[cfg(test)]
mod trust_tests {
    /// Only the built-in library's recipes are built at Deploy without asking.
    #[test]
    fn builtin_recipes_are_trusted_others_are_not() {
        let (_, builtin) = provisio_assets::library_files()
            .iter()
            .find(|(p, _)| p.ends_with("nodered.recipe"))
            .unwrap();
        assert!(super::trusted_recipe(builtin, "nodered.recipe").is_ok());
        let mut other = builtin.to_vec();
        other.extend_from_slice(b"\necho changed\n");
        if std::env::var_os("PROVISIO_TRUST_RECIPES").is_none() {
            let e = super::trusted_recipe(&other, "x.recipe").unwrap_err();
            assert!(e.contains("not a built-in recipe"), "{e}");
            assert!(e.contains("scripts/build-images.sh"), "{e}");
        }
    }
}
