//! `provisio images list|prune`: the container images cached from recipes (see
//! `provisio_engines::image_cache`), each with its recipe, arch, size, build time and whether a
//! deploy of this provisio uses it now or a recorded instance does; `prune` removes those
//! nothing keeps (see `deploy::image_use`), never a build under way.

use crate::data_dir::utc_date_time;
use crate::deploy::image_use::{self, DeployEnv, size};
use provisio_engines::image_cache::{self, Keep, PruneOptions, Verdict};
use std::path::Path;
use std::time::UNIX_EPOCH;

pub fn run_list() -> i32 {
    let cache = provisio_engines::images::cache_dir();
    let data_dir = crate::deploy::default_data_dir();
    match list_report(&cache, &data_dir, &DeployEnv::from_env()) {
        Ok(text) => {
            out!("{text}");
            0
        }
        Err(e) => {
            errln!("error: {e}");
            1
        }
    }
}

pub fn run_prune(dry_run: bool, keep_days: u64) -> i32 {
    let cache = provisio_engines::images::cache_dir();
    let data_dir = crate::deploy::default_data_dir();
    let (text, code) = prune_report(
        &cache,
        &data_dir,
        &DeployEnv::from_env(),
        dry_run,
        keep_days,
        &mut |lock| {
            errln!(
                "waiting for the image build that holds {} to finish",
                lock.display()
            )
        },
    );
    out!("{text}");
    code
}

/// Secs since the epoch of an image's build.
fn built_secs(v: &Verdict) -> u64 {
    v.image
        .built
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// What `provisio images list` prints for the cache `cache` and the instances of `data_dir`.
pub fn list_report(cache: &Path, data_dir: &Path, env: &DeployEnv) -> Result<String, String> {
    let contents = image_cache::scan(cache)?;
    let policy = image_use::policy(&contents.images, data_dir, env, 0);
    let verdicts = image_cache::judge(&contents.images, &policy);
    let mut out = format!("images in {}\n", cache.display());
    if verdicts.is_empty() {
        out.push_str("no images\n");
    } else {
        let w = verdicts
            .iter()
            .map(|v| v.image.name.len())
            .max()
            .unwrap_or(0)
            .max("RECIPE".len());
        out.push_str(&format!(
            "{:w$}  {:5}  {:16}  {:>10}  {:19}  STATE\n",
            "RECIPE", "ARCH", "KEY", "SIZE", "BUILT (UTC)"
        ));
        for v in &verdicts {
            let state = if v.keep.is_empty() {
                "stale".to_string()
            } else {
                let why: Vec<String> = v.keep.iter().map(Keep::to_string).collect();
                why.join("; ")
            };
            out.push_str(&format!(
                "{:w$}  {:5}  {:16}  {:>10}  {:19}  {state}\n",
                v.image.name,
                v.image.arch,
                v.image.key,
                size(v.image.size),
                utc_date_time(built_secs(v)),
            ));
        }
        let total: u64 = verdicts.iter().map(|v| v.image.size).sum();
        let stale: Vec<&Verdict> = verdicts.iter().filter(|v| v.keep.is_empty()).collect();
        out.push_str(&format!(
            "{} image(s), {}; {} stale ({}): `provisio images prune` removes stale images built \
             more than {} day(s) ago\n",
            verdicts.len(),
            size(total),
            stale.len(),
            size(stale.iter().map(|v| v.image.size).sum()),
            image_use::DEFAULT_KEEP_DAYS
        ));
    }
    out.push_str(&blocking_note(&policy));
    for u in &contents.unfinished {
        out.push_str(&format!(
            "build under way, or left by an interrupted one (never pruned): {}\n",
            u.display()
        ));
    }
    for (b, bytes) in &contents.bases {
        out.push_str(&format!(
            "base system shared by the recipes of its release and arch (never pruned): {} ({})\n",
            b.display(),
            size(*bytes)
        ));
    }
    Ok(out)
}

/// What `provisio images prune` does and prints, and its exit code (1 when an image could not
/// be removed or the cache cannot be read). `on_wait` is told when a build holds the cache.
pub fn prune_report(
    cache: &Path,
    data_dir: &Path,
    env: &DeployEnv,
    dry_run: bool,
    keep_days: u64,
    on_wait: &mut dyn FnMut(&Path),
) -> (String, i32) {
    let contents = match image_cache::scan(cache) {
        Ok(c) => c,
        Err(e) => return (format!("error: {e}\n"), 1),
    };
    let policy = image_use::policy(&contents.images, data_dir, env, keep_days);
    let opts = PruneOptions {
        dry_run,
        only: None,
        wait: true,
    };
    let pruned = match image_cache::prune(cache, &policy, &opts, on_wait) {
        Ok(p) => p,
        Err(e) => return (format!("error: {e}\n"), 1),
    };
    let verb = if dry_run { "would remove" } else { "removed" };
    let mut out = String::new();
    for i in pruned.removed() {
        out.push_str(&format!("{verb} {} ({})\n", i.path.display(), size(i.size)));
    }
    for (_, e) in &pruned.failed {
        out.push_str(&format!("error: {e}\n"));
    }
    let removed = pruned.removed().count();
    out.push_str(&format!(
        "{} {} ({} image(s))",
        if dry_run { "would free" } else { "freed" },
        size(pruned.freed()),
        removed
    ));
    let kept: Vec<&Verdict> = pruned
        .verdicts
        .iter()
        .filter(|v| !v.keep.is_empty())
        .collect();
    let count = |f: fn(&Keep) -> bool| kept.iter().filter(|v| v.keep.iter().any(f)).count();
    let why: Vec<String> = [
        (count(|k| *k == Keep::Current), "current".to_string()),
        (
            count(|k| matches!(k, Keep::UsedBy(_) | Keep::MayBeUsedBy(_))),
            "used by instances".to_string(),
        ),
        (
            count(|k| *k == Keep::Recent),
            if keep_days == 0 {
                format!(
                    "built less than {} minutes ago",
                    image_cache::MIN_AGE.as_secs() / 60
                )
            } else {
                format!("built less than {keep_days} day(s) ago")
            },
        ),
        (
            count(|k| *k == Keep::Newest),
            "newest of a recipe whose key is unknown here".to_string(),
        ),
        (
            count(|k| *k == Keep::NotBuiltIn),
            "not of a built-in recipe (remove those by hand)".to_string(),
        ),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}"))
    .collect();
    out.push_str(&format!(
        "; kept {} image(s) ({}){}{}\n",
        kept.len(),
        size(kept.iter().map(|v| v.image.size).sum()),
        if why.is_empty() { "" } else { ": " },
        why.join(", ")
    ));
    out.push_str(&blocking_note(&policy));
    for u in &pruned.unfinished {
        out.push_str(&format!(
            "left alone: build under way or interrupted: {}\n",
            u.display()
        ));
    }
    (out, i32::from(!pruned.failed.is_empty()))
}

/// Says which instances keep every image (recorded before deploys named their images, and
/// without a readable snapshot), if any.
fn blocking_note(policy: &image_cache::Policy) -> String {
    if policy.usage.any.is_empty() {
        return String::new();
    }
    let ids: Vec<&str> = policy.usage.any.iter().map(String::as_str).collect();
    format!(
        "note: {} recorded before deploys named their images and without a readable snapshot: \
         every image is kept until undeployed (or forgotten with `provisio undeploy ID --force`)\n",
        ids.join(", ")
    )
}
