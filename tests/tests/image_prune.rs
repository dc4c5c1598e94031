//! `provisio images list|prune` on a fabricated image cache laid out exactly as
//! `scripts/build-images.sh` writes it (finished `<name>-<arch>-<key>.tar.gz` files, a
//! `.build-*` work folder and a `.recipe-*` folder of a build under way, `base/`, `.lock`) and a
//! data directory with instance records: an image current for this provisio, stale ones, one
//! an instance's deploy recorded, one an undeployed instance recorded, one of a recipe an older
//! record's snapshot holds, one built an hour ago. No image is built.

use clap::Parser;
use provisio_app::cli::images::{list_report, prune_report};
use provisio_app::deploy::image_use::{self, DeployEnv};
use provisio_engines::engine::instance::InstanceState;
use provisio_engines::images;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

const DAY: u64 = 86_400;

use provisio_app::deploy::image_use::builtin_recipes;

/// An image file as the builder leaves it, built `age_secs` ago.
fn image(cache: &Path, file: &str, size: usize, age_secs: u64) -> PathBuf {
    let p = cache.join(file);
    std::fs::write(&p, vec![7u8; size]).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&p)
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(age_secs))
        .unwrap();
    p
}

fn record(instances: &Path, id: &str, phase: &str) {
    InstanceState {
        id: id.into(),
        source: "builtin".into(),
        service_template: "{ns}Test".into(),
        created: 1,
        simulated: true,
        inputs: Default::default(),
        steps: Vec::new(),
        devices: Default::default(),
        phase: phase.into(),
    }
    .save(instances)
    .unwrap();
}

/// The snapshot a deploy of the thesis scenario writes, and the names of its recipes.
fn thesis_snapshot() -> (Vec<u8>, BTreeSet<String>) {
    let loaded = provisio_app::library::builtin_loaded();
    let (_, st) = loaded
        .library
        .service_templates()
        .into_iter()
        .find(|(_, s)| s.id == "ThesisScenario")
        .unwrap();
    let exported = provisio_app::deploy::artifacts::export_csar(&loaded, st).unwrap();
    let names: BTreeSet<String> = exported
        .entries
        .iter()
        .filter(|e| e.ends_with(".recipe"))
        .map(|e| {
            let file = e.rsplit('/').next().unwrap();
            let (_, bytes) = provisio_assets::library_files()
                .iter()
                .find(|(p, _)| p.ends_with(&format!("/{file}")))
                .unwrap();
            images::recipe_field(bytes, "name").unwrap()
        })
        .collect();
    (exported.bytes, names)
}

struct Fixture {
    _dirs: (tempfile::TempDir, tempfile::TempDir),
    cache: PathBuf,
    data: PathBuf,
    env: DeployEnv,
    current: PathBuf,
    current_bundling: PathBuf,
    stale: PathBuf,
    used: PathBuf,
    used_by_undeployed: PathBuf,
    by_snapshot: PathBuf,
    recent: PathBuf,
    unfinished: Vec<PathBuf>,
    base: PathBuf,
}

fn fixture() -> Fixture {
    let (c, d) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (cache, data) = (c.path().to_path_buf(), d.path().to_path_buf());
    let bins = data.join("bins");
    std::fs::create_dir_all(&bins).unwrap();
    let bin = |v: &str| {
        let p = bins.join(format!("provisio-{v}"));
        std::fs::write(&p, format!("provisio {v}")).unwrap();
        p
    };
    let (now_bin, old_bin, older_bin) = (bin("3"), bin("2"), bin("1"));
    let env = DeployEnv {
        arch: "amd64".into(),
        provisio_bin: Some(now_bin.clone()),
    };
    // The older record's snapshot names some recipes; the others' images are judged alone.
    let (snapshot, snapshot_recipes) = thesis_snapshot();
    let in_snapshot = snapshot_recipes
        .first()
        .expect("the thesis scenario has recipes");
    let outside = |bundling: bool| -> &'static [u8] {
        builtin_recipes()
            .into_iter()
            .find(|r| {
                images::bundles_provisio(r) == bundling
                    && !snapshot_recipes.contains(&images::recipe_field(r, "name").unwrap())
            })
            .unwrap_or_else(|| panic!("every recipe is in {snapshot_recipes:?}"))
    };
    let (broker, plain) = (outside(true), outside(false));
    let file = |r: &[u8], b: &Path| images::image_file_name(r, "amd64", Some(b)).unwrap();
    let current = image(&cache, &file(plain, &now_bin), 3000, 30 * DAY);
    let current_bundling = image(&cache, &file(broker, &now_bin), 5000, 2 * DAY);
    let stale = image(&cache, &file(broker, &old_bin), 7000, 10 * DAY);
    let used = image(&cache, &file(broker, &older_bin), 11_000, 20 * DAY);
    let mut other = plain.to_vec();
    other.extend_from_slice(b"# an earlier version of the recipe\n");
    let used_by_undeployed = image(&cache, &file(&other, &now_bin), 13_000, 9 * DAY);
    let by_snapshot = image(
        &cache,
        &format!("{in_snapshot}-amd64-00000000000000aa.tar.gz"),
        17_000,
        40 * DAY,
    );
    let mut newer = broker.to_vec();
    newer.extend_from_slice(b"# edited an hour ago\n");
    let recent = image(&cache, &file(&newer, &now_bin), 19_000, 3600);
    // A build under way, as the builder and build_image leave it before the rename.
    let work = cache.join(".build-demo-Ab12Cd");
    std::fs::create_dir_all(work.join("root/etc")).unwrap();
    std::fs::write(work.join("image.tar.gz.part"), b"half").unwrap();
    let recipe_dir = cache.join(".recipe-4242-0");
    std::fs::create_dir_all(&recipe_dir).unwrap();
    std::fs::write(recipe_dir.join("build-images.sh"), images::BUILDER).unwrap();
    let base_work = cache.join("base/.build-Q1w2E3");
    std::fs::create_dir_all(&base_work).unwrap();
    let base = image(
        &cache.join("base"),
        "debian-bookworm-amd64-v1.tar.gz",
        23_000,
        90 * DAY,
    );
    std::fs::write(cache.join(images::LOCK_FILE), b"").unwrap();
    // Instances: a deployed one naming its image, an undeployed one naming another, an older
    // deployed one that names none but has a snapshot.
    let instances = data.join("instances");
    record(&instances, "Used-1-000", "deployed");
    let name = |p: &Path| p.file_name().unwrap().to_string_lossy().into_owned();
    image_use::record(&instances, "Used-1-000", &[name(&used)].into()).unwrap();
    record(&instances, "Gone-1-000", "undeployed");
    image_use::record(
        &instances,
        "Gone-1-000",
        &[name(&used_by_undeployed)].into(),
    )
    .unwrap();
    record(&instances, "Old-1-000", "failed");
    std::fs::write(
        InstanceState::snapshot_in(&instances, "Old-1-000"),
        snapshot,
    )
    .unwrap();
    Fixture {
        _dirs: (c, d),
        cache,
        data,
        env,
        current,
        current_bundling,
        stale,
        used,
        used_by_undeployed,
        by_snapshot,
        recent,
        unfinished: vec![work, recipe_dir, base_work],
        base,
    }
}

fn never_wait(p: &Path) {
    panic!("waited for {}", p.display())
}

fn line_of<'a>(text: &'a str, image: &Path) -> &'a str {
    let f = image.file_name().unwrap().to_string_lossy();
    let (name, _, key) = provisio_engines::image_cache::parse_file_name(&f).unwrap();
    text.lines()
        .find(|l| l.starts_with(&format!("{name} ")) && l.contains(&key))
        .unwrap_or_else(|| panic!("no line of {f} in:\n{text}"))
}

fn everything_there(f: &Fixture) -> bool {
    [
        &f.current,
        &f.current_bundling,
        &f.stale,
        &f.used,
        &f.used_by_undeployed,
        &f.by_snapshot,
        &f.recent,
        &f.base,
    ]
    .iter()
    .all(|p| p.is_file())
        && f.unfinished.iter().all(|p| p.is_dir())
}

#[test]
fn list_flags_each_image() {
    let f = fixture();
    let text = list_report(&f.cache, &f.data, &f.env).unwrap();
    assert!(line_of(&text, &f.current).ends_with("  current"), "{text}");
    assert!(line_of(&text, &f.current).contains("amd64"), "{text}");
    assert!(
        line_of(&text, &f.current_bundling).ends_with("  current"),
        "{text}"
    );
    assert!(line_of(&text, &f.stale).ends_with("  stale"), "{text}");
    assert!(
        line_of(&text, &f.used).ends_with("  used by Used-1-000"),
        "{text}"
    );
    assert!(
        line_of(&text, &f.used_by_undeployed).ends_with("  stale"),
        "{text}"
    );
    assert!(
        line_of(&text, &f.by_snapshot).contains("may be used by Old-1-000"),
        "{text}"
    );
    // Stale in the list; prune keeps it for its age.
    assert!(line_of(&text, &f.recent).ends_with("  stale"), "{text}");
    // Size and build time (UTC) as the file says.
    assert!(line_of(&text, &f.used).contains(" 11 KiB "), "{text}");
    let built = f.stale.metadata().unwrap().modified().unwrap();
    let secs = built
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        line_of(&text, &f.stale).contains(&provisio_app::data_dir::utc_date_time(secs)),
        "{text}"
    );
    assert!(text.contains("7 image(s)"), "{text}");
    assert!(text.contains(".build-demo-Ab12Cd"), "{text}");
    assert!(text.contains(".recipe-4242-0"), "{text}");
    assert!(
        text.contains("debian-bookworm-amd64-v1.tar.gz (23 KiB)"),
        "{text}"
    );
    assert!(everything_there(&f));
}

#[test]
fn prune_removes_exactly_the_stale_unused_images() {
    let f = fixture();
    let (text, code) = prune_report(&f.cache, &f.data, &f.env, true, 1, &mut never_wait);
    assert_eq!(code, 0, "{text}");
    assert!(everything_there(&f), "a dry run removed something:\n{text}");
    let removable = [&f.stale, &f.used_by_undeployed];
    for p in removable {
        assert!(
            text.contains(&format!("would remove {}", p.display())),
            "{text}"
        );
    }
    assert_eq!(text.matches("would remove").count(), 2, "{text}");
    assert!(text.contains("would free 20 KiB (2 image(s))"), "{text}");

    let (text, code) = prune_report(&f.cache, &f.data, &f.env, false, 1, &mut never_wait);
    assert_eq!(code, 0, "{text}");
    assert!(
        !f.stale.exists() && !f.used_by_undeployed.exists(),
        "{text}"
    );
    assert!(
        text.contains(&format!("removed {} (7 KiB)", f.stale.display())),
        "{text}"
    );
    assert!(text.contains("freed 20 KiB (2 image(s))"), "{text}");
    for kept in [
        &f.current,
        &f.current_bundling,
        &f.used,
        &f.by_snapshot,
        &f.recent,
        &f.base,
    ] {
        assert!(kept.is_file(), "{} removed:\n{text}", kept.display());
    }
    assert!(f.unfinished.iter().all(|p| p.is_dir()));
    assert!(f.cache.join(images::LOCK_FILE).is_file());

    // Without age protection the image built an hour ago goes too; nothing else.
    let (text, _) = prune_report(&f.cache, &f.data, &f.env, false, 0, &mut never_wait);
    assert!(!f.recent.exists(), "{text}");
    assert_eq!(text.matches("removed").count(), 1, "{text}");
    // The older record is undeployed: the image of its snapshot's recipe is stale now.
    let instances = f.data.join("instances");
    record(&instances, "Old-1-000", "undeployed");
    let (text, _) = prune_report(&f.cache, &f.data, &f.env, false, 0, &mut never_wait);
    assert!(!f.by_snapshot.exists(), "{text}");
    assert!(f.used.exists() && f.current.exists() && f.current_bundling.exists());
}

#[test]
fn a_record_without_snapshot_or_image_list_keeps_everything() {
    let f = fixture();
    record(&f.data.join("instances"), "Bare-1-000", "deployed");
    let (text, code) = prune_report(&f.cache, &f.data, &f.env, false, 0, &mut never_wait);
    assert_eq!(code, 0, "{text}");
    assert!(everything_there(&f), "{text}");
    assert!(text.contains("freed 0 KiB (0 image(s))"), "{text}");
    assert!(text.contains("note: Bare-1-000 recorded before"), "{text}");
}

#[test]
fn errors_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-folder");
    std::fs::write(&file, b"x").unwrap();
    let env = DeployEnv {
        arch: "amd64".into(),
        provisio_bin: None,
    };
    let (text, code) = prune_report(&file, dir.path(), &env, false, 0, &mut never_wait);
    assert_eq!(code, 1);
    assert!(
        text.starts_with("error: ") && text.contains("not-a-folder"),
        "{text}"
    );
    let err = list_report(&file, dir.path(), &env).unwrap_err();
    assert!(err.contains("not-a-folder"), "{err}");
}

#[test]
fn the_command_line_parses() {
    use provisio_app::cli::{Cli, Command, ImagesCommand};
    let parse = |args: &[&str]| Cli::try_parse_from([&["provisio"], args].concat());
    match parse(&["images", "prune", "--dry-run", "--keep-days", "3"])
        .unwrap()
        .command
    {
        Some(Command::Images(ImagesCommand::Prune { dry_run, keep_days })) => {
            assert!(dry_run);
            assert_eq!(keep_days, 3);
        }
        other => panic!("{other:?}"),
    }
    match parse(&["images", "prune"]).unwrap().command {
        Some(Command::Images(ImagesCommand::Prune { dry_run, keep_days })) => {
            assert!(!dry_run);
            assert_eq!(keep_days, image_use::DEFAULT_KEEP_DAYS);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        parse(&["images", "list"]).unwrap().command,
        Some(Command::Images(ImagesCommand::List))
    ));
    assert!(parse(&["images", "prune", "--keep-days", "-1"]).is_err());
}

/// A deploy records the images it sent before its plan runs (none for a NodeMCU fleet): its
/// instance then keeps no image, where an older record's snapshot would keep its recipes'.
/// That a Pi deploy records its container image is checked in `app/tests/simulated_hosts.rs`.
#[tokio::test(flavor = "multi_thread")]
async fn a_deploy_records_the_images_it_sent() {
    use provisio_app::deploy::{DeployOptions, deploy};
    let data = tempfile::tempdir().unwrap();
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../app/tests/fixtures/constrained.tosca");
    let loaded = provisio_app::library::open_with_builtin(&fixture).unwrap();
    let st = loaded.library.service_templates()[0].1.clone();
    let opts = DeployOptions::new(data.path().to_path_buf(), true);
    let (events, _rx) = provisio_engines::events::EventSink::new();
    let out = deploy(
        &loaded,
        &st,
        &Default::default(),
        &opts,
        events,
        tokio_util::sync::CancellationToken::new(),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    for f in out.fleets {
        f.shutdown().await;
    }
    let id = out.instance.id;
    let list = image_use::images_path(&opts.instances_dir(), &id);
    let text = std::fs::read_to_string(&list).unwrap_or_else(|e| panic!("{}: {e}", list.display()));
    assert!(text.lines().all(|l| l.starts_with('#')), "{text}");
    let usage = image_use::usage(data.path());
    assert!(
        usage.exact.is_empty() && usage.by_name.is_empty() && usage.any.is_empty(),
        "{usage:?}"
    );
    // Forgetting the instance takes its list along.
    provisio_app::deploy::listing::forget(data.path(), &id).unwrap();
    assert!(!list.exists());
}

/// After a deploy built an image, the older images of that recipe and arch that nothing keeps
/// go (not those an instance uses or built within a day, nor other recipes' stale ones).
#[test]
fn a_build_prunes_only_superseded_images_of_its_recipe() {
    let (c, d) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (cache, data) = (c.path(), d.path());
    let arch = images::host_arch();
    let plain: Vec<&[u8]> = builtin_recipes()
        .into_iter()
        .filter(|r| !images::bundles_provisio(r))
        .take(2)
        .collect();
    let variant = |r: &[u8], n: u32| {
        let mut v = r.to_vec();
        v.extend_from_slice(format!("# variant {n}\n").as_bytes());
        images::image_file_name(&v, arch, None).unwrap()
    };
    let built = image(cache, &variant(plain[0], 0), 100, 0);
    let superseded = image(cache, &variant(plain[0], 1), 200, 3 * DAY);
    let used = image(cache, &variant(plain[0], 2), 300, 3 * DAY);
    let young = image(cache, &variant(plain[0], 3), 400, 3600);
    let other_recipe = image(cache, &variant(plain[1], 1), 500, 3 * DAY);
    let current = image(
        cache,
        &images::image_file_name(plain[0], arch, None).unwrap(),
        600,
        3 * DAY,
    );
    let instances = data.join("instances");
    record(&instances, "Uses-1-000", "deployed");
    let name = used.file_name().unwrap().to_string_lossy().into_owned();
    image_use::record(&instances, "Uses-1-000", &[name].into()).unwrap();
    let lines = image_use::prune_superseded(std::slice::from_ref(&built), data);
    assert_eq!(
        lines,
        [format!(
            "removed the superseded image {} (1 KiB)",
            superseded.display()
        )]
    );
    assert!(!superseded.exists());
    for kept in [&built, &used, &young, &other_recipe, &current] {
        assert!(kept.is_file(), "{} removed", kept.display());
    }
}
