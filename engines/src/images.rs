//! Container images from recipes: recognising a recipe, its cache key and cached image, and
//! building it with the embedded `scripts/build-images.sh` (debootstrap + npm, run as root).
//! The key is computed exactly as the script computes it, so either side finds the other's
//! images in the shared cache.

use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The image builder, embedded so an installed binary can build images.
pub const BUILDER: &str = include_str!("../../scripts/build-images.sh");

/// The line separating a recipe's header from its init script.
const INIT_MARKER: &str = "--- init ---";

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Whether `bytes` are a recipe (UTF-8 text with a `--- init ---` line), not a rootfs tarball.
pub fn is_recipe(bytes: &[u8]) -> bool {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        return false;
    }
    std::str::from_utf8(bytes)
        .map(|s| s.lines().any(|l| l.trim_end() == INIT_MARKER))
        .unwrap_or(false)
}

/// A header value of a recipe (`key = value` before the init marker; `#` lines are comments).
pub fn recipe_field(recipe: &[u8], key: &str) -> Option<String> {
    let text = std::str::from_utf8(recipe).ok()?;
    for line in text.lines() {
        if line.trim_end() == INIT_MARKER {
            break;
        }
        if line.trim_start().starts_with('#') {
            continue;
        }
        if let Some((k, v)) = line.split_once('=')
            && k.trim() == key
        {
            return Some(v.trim().to_string());
        }
    }
    None
}

/// Where images are cached: `$PROVISIO_IMAGE_CACHE`, else `/var/cache/provisio/images` when
/// root, else `${XDG_CACHE_HOME:-$HOME/.cache}/provisio/images` (as the builder decides).
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("PROVISIO_IMAGE_CACHE").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    if crate::simnet::is_root() {
        return PathBuf::from("/var/cache/provisio/images");
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into())).join(".cache")
        });
    base.join("provisio").join("images")
}

/// The Debian architecture of this machine (amd64, arm64, armhf).
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "arm" => "armhf",
        "x86" => "i386",
        other => other,
    }
}

/// The recipe's image name (its `name` key), checked like the builder checks it.
pub(crate) fn recipe_name(recipe: &[u8]) -> Result<String, String> {
    if !is_recipe(recipe) {
        return Err("not a recipe (no '--- init ---' line)".into());
    }
    let name = recipe_field(recipe, "name").unwrap_or_default();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err(format!(
            "recipe name {name:?}: use letters, digits, '.', '_' and '-'"
        ));
    }
    Ok(name)
}

/// The cache key of the image of `recipe` for `arch`: the first 16 hex digits of the sha256
/// of the recipe's, the builder's and the bundled binary's hashes and the arch (the builder's
/// formula). `provisio_bin` counts only when the recipe says `bundle = provisio`.
pub fn image_key(recipe: &[u8], arch: &str, provisio_bin: Option<&Path>) -> Result<String, String> {
    let name = recipe_name(recipe)?;
    let bundle = match recipe_field(recipe, "bundle").as_deref() {
        None | Some("") => "-".to_string(),
        Some("provisio") => {
            let bin = provisio_bin.ok_or_else(|| {
                format!("recipe {name} bundles the provisio binary: give its path")
            })?;
            bundle_hash(bin)?
        }
        Some(other) => return Err(format!("recipe {name}: bundle {other:?}: only 'provisio'")),
    };
    let text = format!(
        "provisio-image-key v1\nrecipe {}\nbuilder {}\narch {arch}\nbundle {bundle}\n",
        sha256_hex(recipe),
        sha256_hex(BUILDER.as_bytes())
    );
    Ok(sha256_hex(text.as_bytes())[..16].to_string())
}

/// The sha256 of a bundled binary, remembered per (path, size, modification time): a debug
/// provisio is 100+ MiB, and every deploy and every validation asks for it.
fn bundle_hash(bin: &Path) -> Result<String, String> {
    type Memo = std::collections::HashMap<(PathBuf, u64, std::time::SystemTime), String>;
    static MEMO: std::sync::Mutex<Option<Memo>> = std::sync::Mutex::new(None);
    let meta = std::fs::metadata(bin).map_err(|e| format!("{}: {e}", bin.display()))?;
    let key = (
        bin.to_path_buf(),
        meta.len(),
        meta.modified().unwrap_or(std::time::UNIX_EPOCH),
    );
    if let Some(h) = MEMO
        .lock()
        .ok()
        .and_then(|m| m.as_ref()?.get(&key).cloned())
    {
        return Ok(h);
    }
    let bytes = std::fs::read(bin).map_err(|e| format!("{}: {e}", bin.display()))?;
    let h = sha256_hex(&bytes);
    if let Ok(mut m) = MEMO.lock() {
        m.get_or_insert_with(Default::default)
            .insert(key, h.clone());
    }
    Ok(h)
}

/// The cached image file of `recipe` (`<name>-<arch>-<key>.tar.gz` in [`cache_dir`]), if built.
pub fn cached_image(recipe: &[u8], arch: &str, provisio_bin: Option<&Path>) -> Option<PathBuf> {
    cached_in(&cache_dir(), recipe, arch, provisio_bin)
}

/// The file name of the image of `recipe` for `arch` in the cache: `<name>-<arch>-<key>.tar.gz`
/// (see [`crate::image_cache::parse_file_name`] for the way back).
pub fn image_file_name(
    recipe: &[u8],
    arch: &str,
    provisio_bin: Option<&Path>,
) -> Result<String, String> {
    let name = recipe_name(recipe)?;
    let key = image_key(recipe, arch, provisio_bin)?;
    Ok(format!("{name}-{arch}-{key}.tar.gz"))
}

fn image_file(
    dir: &Path,
    recipe: &[u8],
    arch: &str,
    provisio_bin: Option<&Path>,
) -> Result<PathBuf, String> {
    Ok(dir.join(image_file_name(recipe, arch, provisio_bin)?))
}

/// Whether `recipe` bundles the provisio binary (`bundle = provisio`): its key then depends on
/// that binary, so it changes with every build of provisio.
pub fn bundles_provisio(recipe: &[u8]) -> bool {
    recipe_field(recipe, "bundle").as_deref() == Some("provisio")
}

/// The lock file the builder holds (flock) while it builds into a cache; cached images are
/// read without it. [`crate::image_cache::prune`] takes it too.
pub const LOCK_FILE: &str = ".lock";

fn cached_in(
    dir: &Path,
    recipe: &[u8],
    arch: &str,
    provisio_bin: Option<&Path>,
) -> Option<PathBuf> {
    image_file(dir, recipe, arch, provisio_bin)
        .ok()
        .filter(|p| p.is_file())
}

/// Builds (or finds in the cache) the image of `recipe` for `arch` with the embedded builder,
/// reporting its progress lines; returns the tarball's path. Building needs root, debootstrap
/// and network access to the Debian mirror (and npm's registry for npm packages).
pub fn build_image(
    recipe: &[u8],
    arch: &str,
    provisio_bin: Option<&Path>,
    progress: &dyn Fn(&str),
) -> Result<PathBuf, String> {
    build_in(&cache_dir(), recipe, arch, provisio_bin, progress)
}

fn build_in(
    cache: &Path,
    recipe: &[u8],
    arch: &str,
    provisio_bin: Option<&Path>,
    progress: &dyn Fn(&str),
) -> Result<PathBuf, String> {
    let expected = image_file(cache, recipe, arch, provisio_bin)?;
    if expected.is_file() {
        return Ok(expected);
    }
    let name = recipe_name(recipe)?;
    std::fs::create_dir_all(cache).map_err(|e| format!("{}: {e}", cache.display()))?;
    // The script hashes itself ($0), so it runs from a file with exactly the embedded bytes.
    let tmp = tempdir_in(cache)?;
    let script = tmp.join("build-images.sh");
    let recipe_path = tmp.join(format!("{name}.recipe"));
    let result = (|| {
        std::fs::write(&script, BUILDER).map_err(|e| format!("{}: {e}", script.display()))?;
        std::fs::write(&recipe_path, recipe)
            .map_err(|e| format!("{}: {e}", recipe_path.display()))?;
        let mut cmd = Command::new("sh");
        cmd.arg(&script)
            .arg("--arch")
            .arg(arch)
            .arg("--cache")
            .arg(cache);
        if let Some(bin) = provisio_bin {
            cmd.arg("--provisio-bin").arg(bin);
        }
        cmd.arg(&recipe_path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot run the image builder: {e}"))?;
        let mut stdout = child.stdout.take().ok_or("no stdout")?;
        let out = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stdout.read_to_string(&mut s);
            s
        });
        let mut last = Vec::new();
        if let Some(err) = child.stderr.take() {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                progress(&line);
                last.push(line);
                if last.len() > 40 {
                    last.remove(0);
                }
            }
        }
        let status = child.wait().map_err(|e| e.to_string())?;
        let out = out.join().unwrap_or_default();
        if !status.success() {
            let named: Vec<&str> = last
                .iter()
                .filter_map(|l| l.strip_prefix("build-images: "))
                .collect();
            let why = if named.is_empty() {
                last.join("\n")
            } else {
                named.join("; ")
            };
            return Err(format!("image {name} ({arch}): {why}"));
        }
        let built = out
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .map(|(_, p)| PathBuf::from(p))
            .next_back()
            .ok_or_else(|| format!("image {name}: the builder printed no image"))?;
        if built != expected {
            return Err(format!(
                "image {name}: the builder made {} but {} was expected (different builder?)",
                built.display(),
                expected.display()
            ));
        }
        Ok(built)
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    result
}

fn tempdir_in(dir: &Path) -> Result<PathBuf, String> {
    for i in 0..100u32 {
        let p = dir.join(format!(".recipe-{}-{i}", std::process::id()));
        match std::fs::create_dir(&p) {
            Ok(()) => return Ok(p),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(format!("{}: {e}", p.display())),
        }
    }
    Err(format!(
        "cannot create a temporary folder in {}",
        dir.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECIPE: &[u8] = b"# comment = no\nname = demo\nrelease = bookworm\npackages = a b\n--- init ---\n#!/bin/sh\nname = not-a-header\n";

    #[test]
    fn recognises_recipes_and_reads_fields() {
        assert!(is_recipe(RECIPE));
        assert!(!is_recipe(&[0x1f, 0x8b, 8, 0]));
        assert!(!is_recipe(b"name = x\n"));
        assert!(!is_recipe(&[0xff, 0xfe, b'\n']));
        assert_eq!(recipe_field(RECIPE, "name").as_deref(), Some("demo"));
        assert_eq!(recipe_field(RECIPE, "packages").as_deref(), Some("a b"));
        assert_eq!(recipe_field(RECIPE, "comment"), None);
        assert_eq!(recipe_field(RECIPE, "npm"), None);
    }

    #[test]
    fn key_depends_on_recipe_arch_and_bundled_binary() {
        let k = image_key(RECIPE, "amd64", None).unwrap();
        assert_eq!(k.len(), 16);
        assert!(k.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(k, image_key(RECIPE, "amd64", None).unwrap());
        assert_ne!(k, image_key(RECIPE, "arm64", None).unwrap());
        let mut other = RECIPE.to_vec();
        other.extend_from_slice(b"echo hi\n");
        assert_ne!(k, image_key(&other, "amd64", None).unwrap());
        // A binary given for a recipe that bundles nothing does not change the key.
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("provisio");
        std::fs::write(&bin, b"one").unwrap();
        assert_eq!(k, image_key(RECIPE, "amd64", Some(&bin)).unwrap());
        let bundling = b"name = b\nbundle = provisio\n--- init ---\n";
        let err = image_key(bundling, "amd64", None).unwrap_err();
        assert!(err.contains("provisio binary"), "{err}");
        let k1 = image_key(bundling, "amd64", Some(&bin)).unwrap();
        std::fs::write(&bin, b"two").unwrap();
        assert_ne!(k1, image_key(bundling, "amd64", Some(&bin)).unwrap());
        assert!(image_key(b"name = a/b\n--- init ---\n", "amd64", None).is_err());
        assert!(image_key(b"name = x\nbundle = zsh\n--- init ---\n", "amd64", None).is_err());
    }

    #[test]
    fn key_matches_the_builder_script() {
        // The shell side, as build-images.sh computes it (sha256sum over the files).
        let dir = tempfile::tempdir().unwrap();
        let (r, b) = (dir.path().join("r"), dir.path().join("b"));
        std::fs::write(&r, RECIPE).unwrap();
        std::fs::write(&b, BUILDER).unwrap();
        let out = Command::new("sh")
            .arg("-c")
            .arg("printf 'provisio-image-key v1\\nrecipe %s\\nbuilder %s\\narch %s\\nbundle %s\\n' \"$(sha256sum \"$1\" | cut -c1-64)\" \"$(sha256sum \"$2\" | cut -c1-64)\" amd64 - | sha256sum | cut -c1-16")
            .arg("sh")
            .arg(&r)
            .arg(&b)
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            image_key(RECIPE, "amd64", None).unwrap()
        );
    }

    #[test]
    fn cache_lookup_finds_only_the_keyed_file() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(cached_in(dir.path(), RECIPE, "amd64", None), None);
        let key = image_key(RECIPE, "amd64", None).unwrap();
        // An image of another key (an older recipe) is not taken.
        std::fs::write(dir.path().join("demo-amd64-0000000000000000.tar.gz"), b"x").unwrap();
        assert_eq!(cached_in(dir.path(), RECIPE, "amd64", None), None);
        let file = dir.path().join(format!("demo-amd64-{key}.tar.gz"));
        std::fs::write(&file, b"x").unwrap();
        assert_eq!(
            cached_in(dir.path(), RECIPE, "amd64", None),
            Some(file.clone())
        );
        assert_eq!(cached_in(dir.path(), RECIPE, "arm64", None), None);
        // build_in returns a cached image without running anything.
        let got = build_in(dir.path(), RECIPE, "amd64", None, &|l| panic!("ran: {l}"));
        assert_eq!(got, Ok(file));
    }

    #[test]
    fn builder_refuses_a_bad_recipe_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let bad = b"name = bad\ndistribution = fedora\n--- init ---\n";
        let err = build_in(dir.path(), bad, "amd64", None, &|_| {}).unwrap_err();
        assert!(err.contains("bad") && err.contains("fedora"), "{err}");
    }
}
