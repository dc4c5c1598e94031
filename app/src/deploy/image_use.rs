//! Which cached container images the recorded instances use, and what `provisio images
//! prune` keeps. A deploy writes `instances/<id>.images` (the image files it sent, one a line)
//! when its plan starts; [`usage`] reads it for every instance not undeployed. An instance
//! recorded before (no such file) may use any image of a recipe in its snapshot, and one with
//! neither any image at all. [`policy`] adds the images a deploy of this provisio would use
//! now (the built-in recipes' keys) and an age below which images stay.

use super::listing::{self, Status};
use provisio_engines::engine::instance::InstanceState;
use provisio_engines::image_cache::{self, CachedImage, Policy, Usage};
use provisio_engines::images;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The list of image files instance `id` deployed.
pub fn images_path(instances: &Path, id: &str) -> PathBuf {
    instances.join(format!("{id}.images"))
}

/// Records that instance `id` deployed the image files `files` (file names in the cache).
pub fn record(instances: &Path, id: &str, files: &BTreeSet<String>) -> Result<(), String> {
    let path = images_path(instances, id);
    let mut text = String::from("# container images this instance deployed (provisio images)\n");
    for f in files {
        text.push_str(f);
        text.push('\n');
    }
    provisio_model::save::write_atomic(&path, text.as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// The image files recorded for instance `id`, `None` when none were recorded (an older
/// deploy) or the list cannot be read.
fn recorded(instances: &Path, id: &str) -> Option<BTreeSet<String>> {
    let text = std::fs::read_to_string(images_path(instances, id)).ok()?;
    Some(
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_string)
            .collect(),
    )
}

/// The names of the recipes in instance `id`'s snapshot, `None` when it has none or it cannot
/// be read.
fn snapshot_recipes(instances: &Path, id: &str) -> Option<BTreeSet<String>> {
    let csar = provisio_model::csar::read_file(&InstanceState::snapshot_in(instances, id)).ok()?;
    let mut names = BTreeSet::new();
    for entry in csar.entry_names().filter(|n| n.ends_with(".recipe")) {
        let bytes = csar.read_entry(entry).ok()?;
        if let Some(name) =
            images::recipe_field(&bytes, "name").filter(|_| images::is_recipe(&bytes))
        {
            names.insert(name);
        }
    }
    Some(names)
}

/// Which images the instances under `data_dir` that are not undeployed use (deploys in setup,
/// failed, cancelled and interrupted ones and unreadable records count).
pub fn usage(data_dir: &Path) -> Usage {
    let instances = data_dir.join("instances");
    let mut usage = Usage::default();
    for i in listing::list(data_dir) {
        if matches!(&i.status, Status::Settled(phase) if phase == "undeployed") {
            continue;
        }
        if let Some(files) = recorded(&instances, &i.id) {
            for f in files {
                usage.exact.entry(f).or_default().insert(i.id.clone());
            }
        } else if let Some(names) = snapshot_recipes(&instances, &i.id) {
            for n in names {
                usage.by_name.entry(n).or_default().insert(i.id.clone());
            }
        } else {
            usage.any.insert(i.id.clone());
        }
    }
    usage
}

/// What a deploy of this provisio uses: the arch it builds for and the provisio binary it
/// bundles (for that arch).
#[derive(Debug, Clone)]
pub struct DeployEnv {
    pub arch: String,
    pub provisio_bin: Option<PathBuf>,
}

impl DeployEnv {
    /// As a deploy decides: `PROVISIO_IMAGE_ARCH`, and for another arch than this machine's
    /// only `PROVISIO_BIN` (a deploy refuses to build without it).
    pub fn from_env() -> DeployEnv {
        let arch = super::artifacts::image_arch();
        let provisio_bin = if arch == images::host_arch() {
            super::artifacts::provisio_binary()
        } else {
            std::env::var_os("PROVISIO_BIN")
                .filter(|p| !p.is_empty())
                .map(PathBuf::from)
        };
        DeployEnv { arch, provisio_bin }
    }
}

/// The built-in library's recipes.
pub fn builtin_recipes() -> Vec<&'static [u8]> {
    provisio_assets::library_files()
        .iter()
        .filter(|(p, b)| p.ends_with(".recipe") && images::is_recipe(b))
        .map(|(_, b)| *b)
        .collect()
}

/// The policy that keeps the current images of the built-in recipes (for every arch in
/// `images`), those the instances under `data_dir` use and those built less than `keep_days`
/// days ago.
pub fn policy(images: &[CachedImage], data_dir: &Path, env: &DeployEnv, keep_days: u64) -> Policy {
    let arches: BTreeSet<String> = images.iter().map(|i| i.arch.clone()).collect();
    Policy {
        current: image_cache::current_images(
            &builtin_recipes(),
            &arches,
            &env.arch,
            env.provisio_bin.as_deref(),
        ),
        usage: usage(data_dir),
        keep_for: Duration::from_secs(keep_days.saturating_mul(86_400)),
        now: SystemTime::now(),
    }
}

/// Days an image stays after it was built unless `--keep-days` says otherwise: another
/// provisio sharing the cache (another version, another user's data directory) may deploy an
/// image this one neither uses nor sees used.
pub const DEFAULT_KEEP_DAYS: u64 = 1;

/// After a deploy built the images `built` (paths in one cache): removes the other images of
/// their recipes and arches that nothing keeps (see [`policy`], with [`DEFAULT_KEEP_DAYS`]),
/// unless a build holds the cache's lock. Returns one line per removed image, or why one could
/// not be removed.
pub fn prune_superseded(built: &[PathBuf], data_dir: &Path) -> Vec<String> {
    let Some(cache) = built.first().and_then(|b| b.parent()) else {
        return Vec::new();
    };
    let images = match image_cache::scan(cache) {
        Ok(c) => c.images,
        Err(e) => return vec![e],
    };
    let mut policy = policy(&images, data_dir, &DeployEnv::from_env(), DEFAULT_KEEP_DAYS);
    let mut out = Vec::new();
    for b in built {
        let file = b
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let Some((name, arch, _)) = image_cache::parse_file_name(&file) else {
            continue;
        };
        // The image just built is current whatever this provisio computes.
        policy.current.files.insert(file);
        let opts = image_cache::PruneOptions {
            only: Some((name, arch)),
            ..Default::default()
        };
        match image_cache::prune(cache, &policy, &opts, &mut |_| {}) {
            Err(e) => out.push(e),
            Ok(p) => {
                out.extend(p.removed().map(|i| {
                    format!(
                        "removed the superseded image {} ({})",
                        i.path.display(),
                        size(i.size)
                    )
                }));
                out.extend(p.failed.into_iter().map(|(_, e)| e));
            }
        }
    }
    out
}

/// Bytes for people: `812 KiB`, `45.3 MiB`, `1.20 GiB`.
pub fn size(bytes: u64) -> String {
    const KIB: f64 = 1024.0;
    let b = bytes as f64;
    if b < KIB * KIB {
        format!("{:.0} KiB", (b / KIB).ceil())
    } else if b < KIB * KIB * KIB {
        format!("{:.1} MiB", b / KIB / KIB)
    } else {
        format!("{:.2} GiB", b / KIB / KIB / KIB)
    }
}
