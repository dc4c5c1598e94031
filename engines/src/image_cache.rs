//! What the image cache holds and which of it may go. [`scan`] lists the finished images
//! (`<name>-<arch>-<key>.tar.gz`, which the builder moves into place whole), the builds under
//! way or left by an interrupted one (`.build-*`, `.recipe-*`) and the shared base systems
//! (`base/`); only finished images are ever removed. [`judge`] says why each image is kept
//! (current, the newest of a recipe whose key is unknown here, used by an instance, recent) and
//! [`prune`] removes the others while holding the builder's lock.

use crate::images;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// One finished image in the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedImage {
    pub path: PathBuf,
    /// `<name>-<arch>-<key>.tar.gz`.
    pub file_name: String,
    /// The recipe's name.
    pub name: String,
    pub arch: String,
    pub key: String,
    /// Bytes on disk.
    pub size: u64,
    /// When the builder finished it (the file's modification time).
    pub built: SystemTime,
}

/// Everything under a cache directory.
#[derive(Debug, Clone, Default)]
pub struct Contents {
    /// Finished images, by name, arch and build time.
    pub images: Vec<CachedImage>,
    /// Work folders of builds under way, or left by builds that were killed (never removed
    /// here: a killed build may have left /proc or /dev mounted inside).
    pub unfinished: Vec<PathBuf>,
    /// Debootstrapped base systems shared by every recipe of a release and arch, with sizes.
    pub bases: Vec<(PathBuf, u64)>,
}

/// The recipe name, arch and key of an image file name, `None` for any other file.
pub fn parse_file_name(file: &str) -> Option<(String, String, String)> {
    let stem = file.strip_suffix(".tar.gz")?;
    let (rest, key) = stem.rsplit_once('-')?;
    let (name, arch) = rest.rsplit_once('-')?;
    let key_ok = key.len() == 16 && key.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let arch_ok = !arch.is_empty() && arch.bytes().all(|b| b.is_ascii_alphanumeric());
    let name_ok = !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    (key_ok && arch_ok && name_ok).then(|| (name.to_string(), arch.to_string(), key.to_string()))
}

fn is_work_folder(name: &str) -> bool {
    name.starts_with(".build-") || name.starts_with(".recipe-")
}

/// Reads the cache directory `cache` (a missing one is empty). Errors name the path.
pub fn scan(cache: &Path) -> Result<Contents, String> {
    let mut out = Contents::default();
    let entries = match std::fs::read_dir(cache) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(format!("{}: {e}", cache.display())),
    };
    for entry in entries {
        let entry = entry.map_err(|e| format!("{}: {e}", cache.display()))?;
        let path = entry.path();
        let file = entry.file_name().to_string_lossy().into_owned();
        let meta = entry
            .metadata()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if meta.is_dir() && is_work_folder(&file) {
            out.unfinished.push(path);
        } else if meta.is_dir() && file == "base" {
            scan_bases(&path, &mut out)?;
        } else if meta.is_file()
            && let Some((name, arch, key)) = parse_file_name(&file)
        {
            out.images.push(CachedImage {
                built: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                size: meta.len(),
                path,
                file_name: file,
                name,
                arch,
                key,
            });
        }
    }
    out.images.sort_by(|a, b| {
        (&a.name, &a.arch, a.built, &a.key).cmp(&(&b.name, &b.arch, b.built, &b.key))
    });
    out.unfinished.sort();
    out.bases.sort();
    Ok(out)
}

fn scan_bases(dir: &Path, out: &mut Contents) -> Result<(), String> {
    for entry in std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
        let path = entry.path();
        let file = entry.file_name().to_string_lossy().into_owned();
        let meta = entry
            .metadata()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if meta.is_dir() && is_work_folder(&file) {
            out.unfinished.push(path);
        } else if meta.is_file() && file.ends_with(".tar.gz") {
            out.bases.push((path, meta.len()));
        }
    }
    Ok(())
}

/// The images a deploy would use now, as far as this provisio can tell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Current {
    /// File names of the images of the known recipes.
    pub files: BTreeSet<String>,
    /// (recipe name, arch) whose current key is known: the other images of these are stale.
    pub known: BTreeSet<(String, String)>,
    /// Names of the recipes a deploy can build (the built-in ones): an image of any other name
    /// was built by hand (`scripts/build-images.sh`) and a deploy could not build it again.
    pub names: BTreeSet<String>,
}

/// The current images of `recipes` for each of `arches` and `deploy_arch`. The key of a recipe
/// that bundles provisio is known for `deploy_arch` only (with `provisio_bin`, the binary a
/// deploy bundles): the binary of another arch is not here.
pub fn current_images(
    recipes: &[&[u8]],
    arches: &BTreeSet<String>,
    deploy_arch: &str,
    provisio_bin: Option<&Path>,
) -> Current {
    let mut all: BTreeSet<&str> = arches.iter().map(String::as_str).collect();
    all.insert(deploy_arch);
    let mut out = Current::default();
    let mut unknown = BTreeSet::new();
    for arch in all {
        for recipe in recipes {
            let Ok(name) = images::recipe_name(recipe) else {
                continue;
            };
            out.names.insert(name.clone());
            let file = if images::bundles_provisio(recipe) && arch != deploy_arch {
                Err(String::new())
            } else {
                let bin = provisio_bin.filter(|_| arch == deploy_arch);
                images::image_file_name(recipe, arch, bin)
            };
            match file {
                Ok(f) => {
                    out.files.insert(f);
                    out.known.insert((name, arch.to_string()));
                }
                Err(_) => {
                    unknown.insert((name, arch.to_string()));
                }
            }
        }
    }
    // Of two recipes of one name, one with an unknown key makes the name unknown.
    out.known.retain(|k| !unknown.contains(k));
    out
}

/// Which images the recorded instances use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    /// Image file name → instances whose deploy recorded it.
    pub exact: BTreeMap<String, BTreeSet<String>>,
    /// Recipe name → instances recorded before deploys named their images, whose definitions
    /// hold a recipe of that name: any image of it may be theirs.
    pub by_name: BTreeMap<String, BTreeSet<String>>,
    /// Instances that may use any image (neither their images nor their definitions can be
    /// read).
    pub any: BTreeSet<String>,
}

/// Why an image is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Keep {
    /// A deploy of this provisio uses it now.
    Current,
    /// The newest image of its name and arch, whose current key is unknown here (a recipe that
    /// is not built in, or one bundling a provisio binary of another arch).
    Newest,
    /// Deployed by these instances (their deploys recorded it).
    UsedBy(Vec<String>),
    /// These instances were recorded before deploys named their images: they may use it.
    MayBeUsedBy(Vec<String>),
    /// Built less than the protected age ago (at least [`MIN_AGE`]).
    Recent,
    /// Not of a recipe a deploy can build: built by hand, so only removed by hand.
    NotBuiltIn,
}

/// Images younger than this always stay, whatever the protected age: a deploy of another
/// provisio sharing the cache may have just built or found one and not yet recorded it.
pub const MIN_AGE: Duration = Duration::from_secs(15 * 60);

impl std::fmt::Display for Keep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Keep::Current => f.write_str("current"),
            Keep::Newest => f.write_str("newest of its recipe (key unknown here)"),
            Keep::UsedBy(ids) => write!(f, "used by {}", ids.join(", ")),
            Keep::MayBeUsedBy(ids) => write!(
                f,
                "may be used by {} (recorded before deploys named their images)",
                ids.join(", ")
            ),
            Keep::Recent => f.write_str("recent"),
            Keep::NotBuiltIn => {
                f.write_str("not a built-in recipe (a deploy cannot build it again)")
            }
        }
    }
}

/// What decides which images stay.
#[derive(Debug, Clone)]
pub struct Policy {
    pub current: Current,
    pub usage: Usage,
    /// Images built less than this long before `now` stay.
    pub keep_for: Duration,
    pub now: SystemTime,
}

/// One image and why it is kept (nothing: it may be removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub image: CachedImage,
    pub keep: Vec<Keep>,
}

/// Why each of `images` is kept, in their order.
pub fn judge(images: &[CachedImage], policy: &Policy) -> Vec<Verdict> {
    let mut newest: BTreeMap<(&str, &str), &CachedImage> = BTreeMap::new();
    for i in images {
        let slot = newest.entry((&i.name, &i.arch)).or_insert(i);
        if (i.built, &i.file_name) > (slot.built, &slot.file_name) {
            *slot = i;
        }
    }
    images
        .iter()
        .map(|i| {
            let mut keep = Vec::new();
            if policy.current.files.contains(&i.file_name) {
                keep.push(Keep::Current);
            } else if !policy.current.names.contains(&i.name) {
                keep.push(Keep::NotBuiltIn);
            } else if !policy
                .current
                .known
                .contains(&(i.name.clone(), i.arch.clone()))
                && newest
                    .get(&(i.name.as_str(), i.arch.as_str()))
                    .is_some_and(|n| n.file_name == i.file_name)
            {
                keep.push(Keep::Newest);
            }
            if let Some(ids) = policy.usage.exact.get(&i.file_name) {
                keep.push(Keep::UsedBy(ids.iter().cloned().collect()));
            }
            let maybe: BTreeSet<&String> = policy
                .usage
                .by_name
                .get(&i.name)
                .into_iter()
                .flatten()
                .chain(&policy.usage.any)
                .collect();
            if !maybe.is_empty() {
                keep.push(Keep::MayBeUsedBy(maybe.into_iter().cloned().collect()));
            }
            let age = policy.now.duration_since(i.built).unwrap_or_default();
            if age < policy.keep_for.max(MIN_AGE) {
                keep.push(Keep::Recent);
            }
            Verdict {
                image: i.clone(),
                keep,
            }
        })
        .collect()
}

/// How [`prune`] runs.
#[derive(Debug, Clone, Default)]
pub struct PruneOptions {
    /// Decide only; remove nothing (and take no lock).
    pub dry_run: bool,
    /// Only images of this (recipe name, arch).
    pub only: Option<(String, String)>,
    /// Wait while a build holds the cache's lock; else give up (see [`Pruned::busy`]).
    pub wait: bool,
}

/// What [`prune`] did.
#[derive(Debug, Clone, Default)]
pub struct Pruned {
    /// Every image looked at, with why it is kept; those kept for nothing were removed (or
    /// would be, in a dry run) unless they are in `failed`.
    pub verdicts: Vec<Verdict>,
    /// Images that could not be removed, with the error (naming the path).
    pub failed: Vec<(CachedImage, String)>,
    /// Builds under way or left behind (never touched).
    pub unfinished: Vec<PathBuf>,
    /// A build held the lock and `wait` was not set: nothing was looked at.
    pub busy: bool,
}

impl Pruned {
    /// The images removed (or, in a dry run, to be removed).
    pub fn removed(&self) -> impl Iterator<Item = &CachedImage> {
        self.verdicts
            .iter()
            .filter(|v| v.keep.is_empty())
            .map(|v| &v.image)
            .filter(|i| !self.failed.iter().any(|(f, _)| f.path == i.path))
    }

    /// Bytes freed (or to be freed).
    pub fn freed(&self) -> u64 {
        self.removed().map(|i| i.size).sum()
    }
}

/// Removes the images of `cache` that `policy` keeps for nothing. Holds the builder's lock
/// (`.lock`, flock) meanwhile, so no build runs and no half-built image is seen; when a build
/// holds it, `on_wait` is told (with the lock's path) and it waits, or gives up without `wait`.
/// Removing a file a deploy reads right now is harmless (the reader keeps its open file).
pub fn prune(
    cache: &Path,
    policy: &Policy,
    opts: &PruneOptions,
    on_wait: &mut dyn FnMut(&Path),
) -> Result<Pruned, String> {
    let _lock = if opts.dry_run || !cache.is_dir() {
        None
    } else {
        let path = cache.join(images::LOCK_FILE);
        let file = File::options()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) if !opts.wait => {
                return Ok(Pruned {
                    busy: true,
                    ..Pruned::default()
                });
            }
            Err(TryLockError::WouldBlock) => {
                on_wait(&path);
                file.lock()
                    .map_err(|e| format!("{}: {e}", path.display()))?;
            }
            Err(TryLockError::Error(e)) => return Err(format!("{}: {e}", path.display())),
        }
        Some(file)
    };
    let contents = scan(cache)?;
    let images: Vec<CachedImage> = contents
        .images
        .into_iter()
        .filter(|i| {
            opts.only
                .as_ref()
                .is_none_or(|(n, a)| *n == i.name && *a == i.arch)
        })
        .collect();
    let mut out = Pruned {
        verdicts: judge(&images, policy),
        unfinished: contents.unfinished,
        ..Pruned::default()
    };
    if !opts.dry_run {
        for v in out.verdicts.iter().filter(|v| v.keep.is_empty()) {
            if let Err(e) = std::fs::remove_file(&v.image.path) {
                out.failed
                    .push((v.image.clone(), format!("{}: {e}", v.image.path.display())));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_A: &str = "0123456789abcdef";
    const KEY_B: &str = "fedcba9876543210";

    fn put(dir: &Path, file: &str, size: usize, age_secs: u64) -> PathBuf {
        let p = dir.join(file);
        std::fs::write(&p, vec![0u8; size]).unwrap();
        let t = SystemTime::now() - Duration::from_secs(age_secs);
        File::options()
            .write(true)
            .open(&p)
            .unwrap()
            .set_modified(t)
            .unwrap();
        p
    }

    /// The policy of a cache whose only built-in recipe is `x` (amd64), current in `files`,
    /// used by no instance, with no age that keeps an image.
    fn policy_for_x<const N: usize>(files: [String; N]) -> Policy {
        Policy {
            current: Current {
                files: files.into(),
                known: [("x".to_string(), "amd64".to_string())].into(),
                names: ["x".into()].into(),
            },
            usage: Usage::default(),
            keep_for: Duration::ZERO,
            now: SystemTime::now(),
        }
    }

    #[test]
    fn file_names_parse_back_and_others_are_refused() {
        assert_eq!(
            parse_file_name(&format!("node-red.x-amd64-{KEY_A}.tar.gz")),
            Some(("node-red.x".into(), "amd64".into(), KEY_A.into()))
        );
        for bad in [
            format!("mosquitto-amd64-{KEY_A}.tar.gz.part"),
            format!("mosquitto-amd64-{}.tar.gz", KEY_A.to_uppercase()),
            "mosquitto-amd64-0123.tar.gz".to_string(),
            format!("amd64-{KEY_A}.tar.gz"),
            format!(".x-amd64-{KEY_A}.tar.gz"),
            format!("a b-amd64-{KEY_A}.tar.gz"),
            "debian-bookworm-amd64-v1.tar.gz".to_string(),
        ] {
            assert_eq!(parse_file_name(&bad), None, "{bad}");
        }
        // The builder's own names parse back.
        let recipe = b"name = demo\n--- init ---\n";
        let f = images::image_file_name(recipe, "armhf", None).unwrap();
        let (n, a, k) = parse_file_name(&f).unwrap();
        assert_eq!((n.as_str(), a.as_str()), ("demo", "armhf"));
        assert_eq!(k, images::image_key(recipe, "armhf", None).unwrap());
    }

    #[test]
    fn scan_sorts_images_work_folders_and_bases() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        put(d, &format!("b-amd64-{KEY_A}.tar.gz"), 3, 10);
        put(d, &format!("a-amd64-{KEY_B}.tar.gz"), 5, 10);
        put(d, &format!("a-amd64-{KEY_A}.tar.gz"), 7, 100);
        put(d, ".lock", 0, 0);
        put(d, "notes.txt", 1, 0);
        std::fs::create_dir(d.join(".build-a-XyZ123")).unwrap();
        std::fs::create_dir(d.join(".recipe-42-0")).unwrap();
        std::fs::create_dir_all(d.join("base/.build-Q1")).unwrap();
        put(&d.join("base"), "debian-bookworm-amd64-v1.tar.gz", 9, 0);
        let c = scan(d).unwrap();
        let names: Vec<(&str, &str, u64)> = c
            .images
            .iter()
            .map(|i| (i.name.as_str(), i.key.as_str(), i.size))
            .collect();
        assert_eq!(names, [("a", KEY_A, 7), ("a", KEY_B, 5), ("b", KEY_A, 3)]);
        assert_eq!(
            c.unfinished,
            [
                d.join(".build-a-XyZ123"),
                d.join(".recipe-42-0"),
                d.join("base/.build-Q1")
            ]
        );
        assert_eq!(
            c.bases,
            [(d.join("base/debian-bookworm-amd64-v1.tar.gz"), 9)]
        );
        assert!(scan(&d.join("missing")).unwrap().images.is_empty());
        let err = scan(&d.join("notes.txt")).unwrap_err();
        assert!(err.contains("notes.txt"), "{err}");
    }

    #[test]
    fn current_keys_are_known_except_bundled_binaries_of_other_arches() {
        let plain: &[u8] = b"name = plain\n--- init ---\n";
        let bundling: &[u8] = b"name = bundling\nbundle = provisio\n--- init ---\n";
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("provisio");
        std::fs::write(&bin, b"binary").unwrap();
        let arches: BTreeSet<String> = ["arm64".to_string()].into();
        let c = current_images(&[plain, bundling], &arches, "amd64", Some(&bin));
        let want_files: BTreeSet<String> = [
            images::image_file_name(plain, "amd64", None).unwrap(),
            images::image_file_name(plain, "arm64", None).unwrap(),
            images::image_file_name(bundling, "amd64", Some(&bin)).unwrap(),
        ]
        .into();
        assert_eq!(c.files, want_files);
        let k = |n: &str, a: &str| (n.to_string(), a.to_string());
        assert_eq!(
            c.known,
            [
                k("bundling", "amd64"),
                k("plain", "amd64"),
                k("plain", "arm64")
            ]
            .into()
        );
        // Without the binary the bundling recipe's key is unknown.
        let c = current_images(&[bundling], &BTreeSet::new(), "amd64", None);
        assert!(c.files.is_empty() && c.known.is_empty());
    }

    #[test]
    fn judge_keeps_current_newest_unknown_used_and_recent() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let day = 86_400;
        put(d, &format!("known-amd64-{KEY_A}.tar.gz"), 1, 5 * day);
        put(d, &format!("known-amd64-{KEY_B}.tar.gz"), 1, 4 * day);
        put(d, &format!("custom-amd64-{KEY_A}.tar.gz"), 1, 5 * day);
        put(d, &format!("custom-amd64-{KEY_B}.tar.gz"), 1, 4 * day);
        put(d, &format!("other-amd64-{KEY_A}.tar.gz"), 1, 3 * day);
        put(d, &format!("other-amd64-{KEY_B}.tar.gz"), 1, 60);
        let images = scan(d).unwrap().images;
        let mut policy = Policy {
            current: Current {
                files: [format!("known-amd64-{KEY_B}.tar.gz")].into(),
                known: [
                    ("known".to_string(), "amd64".to_string()),
                    ("other".to_string(), "amd64".to_string()),
                ]
                .into(),
                names: ["known".into(), "other".into(), "custom".into()].into(),
            },
            usage: Usage::default(),
            keep_for: Duration::from_secs(day),
            now: SystemTime::now(),
        };
        let kept = |policy: &Policy| -> Vec<(String, Vec<Keep>)> {
            judge(&images, policy)
                .into_iter()
                .map(|v| (format!("{}-{}", v.image.name, &v.image.key[..1]), v.keep))
                .collect()
        };
        assert_eq!(
            kept(&policy),
            [
                ("custom-0".to_string(), vec![]),
                ("custom-f".to_string(), vec![Keep::Newest]),
                ("known-0".to_string(), vec![]),
                ("known-f".to_string(), vec![Keep::Current]),
                ("other-0".to_string(), vec![]),
                ("other-f".to_string(), vec![Keep::Recent]),
            ]
        );
        policy
            .usage
            .exact
            .insert(format!("known-amd64-{KEY_A}.tar.gz"), ["i1".into()].into());
        policy
            .usage
            .by_name
            .insert("custom".into(), ["old".into()].into());
        let v = kept(&policy);
        assert_eq!(v[0].1, [Keep::MayBeUsedBy(vec!["old".into()])]);
        assert_eq!(v[2].1, [Keep::UsedBy(vec!["i1".into()])]);
        assert_eq!(v[4].1, []);
        policy.usage.any.insert("unknown".into());
        assert!(kept(&policy).iter().all(|(_, k)| !k.is_empty()));
    }

    #[test]
    fn hand_built_and_just_built_images_stay_whatever_the_age() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let day = 86_400;
        put(d, &format!("mine-amd64-{KEY_A}.tar.gz"), 1, 9 * day);
        put(d, &format!("mine-amd64-{KEY_B}.tar.gz"), 1, 8 * day);
        put(d, &format!("x-amd64-{KEY_A}.tar.gz"), 1, 9 * day);
        put(d, &format!("x-amd64-{KEY_B}.tar.gz"), 1, 60);
        let images = scan(d).unwrap().images;
        let policy = policy_for_x([]);
        let kept: Vec<Vec<Keep>> = judge(&images, &policy)
            .into_iter()
            .map(|v| v.keep)
            .collect();
        assert_eq!(
            kept,
            [
                vec![Keep::NotBuiltIn],
                vec![Keep::NotBuiltIn],
                vec![],
                vec![Keep::Recent],
            ]
        );
    }

    #[test]
    fn prune_removes_unkept_images_only_and_waits_for_or_skips_a_build() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let stale = put(d, &format!("x-amd64-{KEY_A}.tar.gz"), 1000, 3600);
        let current = put(d, &format!("x-amd64-{KEY_B}.tar.gz"), 10, 3600);
        std::fs::create_dir(d.join(".build-x-abcdef")).unwrap();
        let policy = policy_for_x([format!("x-amd64-{KEY_B}.tar.gz")]);
        let never = &mut |p: &Path| panic!("waited for {}", p.display());
        let dry = PruneOptions {
            dry_run: true,
            ..Default::default()
        };
        let p = prune(d, &policy, &dry, never).unwrap();
        assert_eq!(p.freed(), 1000);
        assert!(stale.exists());
        // A build holds the lock: without waiting nothing happens.
        let held = File::create(d.join(".lock")).unwrap();
        held.lock().unwrap();
        let p = prune(d, &policy, &PruneOptions::default(), never).unwrap();
        assert!(p.busy && p.verdicts.is_empty());
        assert!(stale.exists());
        // Waiting: it goes on once the build lets go.
        let released = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            drop(held);
        });
        let mut waited = None;
        let opts = PruneOptions {
            wait: true,
            ..Default::default()
        };
        let p = prune(d, &policy, &opts, &mut |p| waited = Some(p.to_path_buf())).unwrap();
        released.join().unwrap();
        assert_eq!(waited, Some(d.join(".lock")));
        assert_eq!(p.removed().count(), 1);
        assert_eq!(p.freed(), 1000);
        assert!(!stale.exists() && current.exists());
        assert!(d.join(".build-x-abcdef").is_dir());
        assert_eq!(p.unfinished, [d.join(".build-x-abcdef")]);
    }

    #[test]
    fn the_builders_flock_keeps_prune_out() {
        // build-images.sh holds `.lock` with flock(1) while it builds.
        if std::process::Command::new("flock")
            .arg("--version")
            .output()
            .is_err()
        {
            eprintln!("skipped: no flock(1)");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let stale = put(d, &format!("x-amd64-{KEY_A}.tar.gz"), 10, 3600);
        let policy = policy_for_x([]);
        let ready = d.join("locked");
        let mut builder = std::process::Command::new("sh")
            .arg("-c")
            .arg("exec 9>\"$1/.lock\"; flock 9; touch \"$1/locked\"; exec sleep 30")
            .arg("sh")
            .arg(d)
            .spawn()
            .unwrap();
        let start = std::time::Instant::now();
        while !ready.exists() && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let p = prune(d, &policy, &PruneOptions::default(), &mut |_| {}).unwrap();
        let _ = builder.kill();
        let _ = builder.wait();
        assert!(p.busy, "the builder's lock was not seen");
        assert!(stale.exists());
        let p = prune(d, &policy, &PruneOptions::default(), &mut |_| {}).unwrap();
        assert!(!p.busy && !stale.exists());
    }
}
