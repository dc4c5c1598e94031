//! What a container driver's `configure` writes into a container's root file system (the
//! runtime contract of the images): `/etc/provisio/inputs.env` (the step's non-secret inputs as
//! POSIX-sh assignments), `/etc/provisio/connections.json` (the node's ConnectsTo
//! neighbours, the planner's `connections` input verbatim) and, only when the node has secrets
//! of its own, `/etc/provisio/secrets.env` (mode 0600, owner root; removed when there are
//! none). Also the checked local write used by the MICA emulator: only below `/etc/provisio`,
//! never through a symbolic link, atomic.

use provisio_model::plan::{Step, is_secret_name};
use std::path::{Component, Path, PathBuf};

/// Where the inputs go, inside the container.
pub const INPUTS_ENV: &str = "/etc/provisio/inputs.env";
/// Where the connections go, inside the container.
pub const CONNECTIONS_JSON: &str = "/etc/provisio/connections.json";
/// Where the node's own secrets go, inside the container (mode 0600).
pub const SECRETS_ENV: &str = "/etc/provisio/secrets.env";
/// The only directory `configure` may write into.
pub const CONFIG_DIR: &str = "/etc/provisio";

fn is_shell_name(n: &str) -> bool {
    let mut c = n.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}

/// `NAME='value'` lines for the step's inputs that are shell names and not secrets.
pub fn inputs_env(step: &Step) -> String {
    let mut out =
        String::from("# Written by Provisio: the inputs of this container's configure step\n");
    for i in &step.inputs {
        // The connections have their own file.
        if is_shell_name(&i.name)
            && !i.secret
            && !is_secret_name(&i.name)
            && i.name != provisio_model::plan::CONNECTIONS_INPUT
        {
            out.push_str(&format!("{}={}\n", i.name, super::raspberry::sh(&i.value)));
        }
    }
    // The node's own properties (the planner puts them in `connections`): a port or a
    // database name is a property, not an operation input.
    let own = step
        .input(provisio_model::plan::CONNECTIONS_INPUT)
        .and_then(|c| serde_json::from_str::<serde_json::Value>(c).ok());
    if let Some(props) = own
        .as_ref()
        .and_then(|c| c.get("properties"))
        .and_then(|p| p.as_object())
    {
        for (k, v) in props {
            let given = step.inputs.iter().any(|i| &i.name == k);
            if let (false, true, false, Some(v)) =
                (given, is_shell_name(k), is_secret_name(k), v.as_str())
            {
                out.push_str(&format!("{k}={}\n", super::raspberry::sh(v)));
            }
        }
    }
    out
}

/// The `connections` input (checked to be a JSON object), or no neighbours when absent.
pub fn connections_json(step: &Step) -> Result<String, String> {
    match step.input("connections").filter(|c| !c.trim().is_empty()) {
        Some(c) => match serde_json::from_str::<serde_json::Value>(c) {
            Ok(v) if v.is_object() => Ok(c.to_string()),
            _ => Err(format!(
                "{}: input 'connections' is not a JSON object",
                step.node
            )),
        },
        None => {
            Ok(serde_json::json!({"node": step.node, "targets": [], "sources": []}).to_string())
        }
    }
}

/// A `connections` document with the node's and each neighbour's `host` passed through `host`
/// and each property value through `property(name, value)` (`None` keeps it): simulation points the
/// template's addresses (a real Pi's, a real broker's) at the simulated hosts.
pub fn rewrite_connections(
    json: &str,
    host: impl Fn(&str) -> Option<String>,
    property: impl Fn(&str, &str) -> Option<String>,
) -> Result<String, String> {
    let mut v: serde_json::Value =
        serde_json::from_str(json).map_err(|e| format!("connections: {e}"))?;
    let rewrite = |n: &mut serde_json::Value| {
        if let Some(new) = n.get("host").and_then(|h| h.as_str()).and_then(&host) {
            n["host"] = new.into();
        }
        if let Some(props) = n.get_mut("properties").and_then(|p| p.as_object_mut()) {
            for (k, val) in props.iter_mut() {
                if let Some(new) = val.as_str().and_then(|s| property(k, s)) {
                    *val = new.into();
                }
            }
        }
    };
    // The node itself, then its neighbours.
    rewrite(&mut v);
    for side in ["targets", "sources"] {
        if let Some(list) = v.get_mut(side).and_then(|l| l.as_array_mut()) {
            list.iter_mut().for_each(rewrite);
        }
    }
    Ok(v.to_string())
}

/// Secret inputs the drivers use themselves (the login to the host or MICA): never written.
pub const DRIVER_SECRETS: &[&str] = &["userPassword"];

/// `NAME='value'` lines for the node's own secrets: the step's secret inputs that are shell
/// names, not the driver's login ([`DRIVER_SECRETS`]) and not taken from a host below it.
/// `None` when there are none (the file is then removed).
pub fn secrets_env(step: &Step) -> Option<String> {
    let lines: String = step
        .inputs
        .iter()
        .filter(|i| {
            (i.secret || is_secret_name(&i.name))
                && is_shell_name(&i.name)
                && !i.is_missing()
                && !DRIVER_SECRETS.contains(&i.name.as_str())
                && !matches!(i.source, provisio_model::plan::InputSource::Host(_))
        })
        .map(|i| format!("{}={}\n", i.name, super::raspberry::sh(&i.value)))
        .collect();
    (!lines.is_empty()).then(|| {
        format!("# Written by Provisio: this container's own secrets (mode 0600)\n{lines}")
    })
}

/// One file `configure` writes (or removes) in a container.
#[derive(Clone, PartialEq, Eq)]
pub struct ContainerFile {
    /// Path inside the container (below [`CONFIG_DIR`]).
    pub path: &'static str,
    /// The content; `None` removes the file.
    pub content: Option<String>,
    /// Readable by root only (mode 0600), e.g. [`SECRETS_ENV`].
    pub private: bool,
}

impl ContainerFile {
    /// The file's mode.
    pub fn mode(&self) -> u32 {
        if self.private { 0o600 } else { 0o644 }
    }
}

impl std::fmt::Debug for ContainerFile {
    // A private file's content is never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let content = match (&self.content, self.private) {
            (None, _) => "(remove)".to_string(),
            (Some(_), true) => "(secret)".to_string(),
            (Some(c), false) => format!("{c:?}"),
        };
        write!(f, "{} {:o} {content}", self.path, self.mode())
    }
}

/// Whether a path inside the container is one only root may read.
pub fn is_private(path: &str) -> bool {
    path == SECRETS_ENV
}

/// Every file: inputs, connections, and the secrets (or their removal when there are none).
pub fn files(step: &Step) -> Result<Vec<ContainerFile>, String> {
    let file = |path, content: Option<String>| ContainerFile {
        path,
        content,
        private: is_private(path),
    };
    Ok(vec![
        file(INPUTS_ENV, Some(inputs_env(step))),
        file(CONNECTIONS_JSON, Some(connections_json(step)?)),
        file(SECRETS_ENV, secrets_env(step)),
    ])
}

/// `path` relative to the root file system, when it is a plain path below [`CONFIG_DIR`].
pub fn checked_path(path: &str) -> Result<PathBuf, String> {
    let p = Path::new(path);
    let rel = p
        .strip_prefix(CONFIG_DIR)
        .map_err(|_| format!("'{path}' is not below {CONFIG_DIR}"))?;
    if rel.as_os_str().is_empty() || !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(format!(
            "'{path}' is not a plain file path below {CONFIG_DIR}"
        ));
    }
    Ok(Path::new("etc/provisio").join(rel))
}

/// Writes `content` to `path` (checked by [`checked_path`]) inside `rootfs`: directories are
/// created, none of them may be a symbolic link (an image could point one at the host), and
/// the file is replaced atomically, mode 0600 for [`is_private`] paths (from its creation on),
/// else 0644.
pub fn write_into_rootfs(rootfs: &Path, path: &str, content: &str) -> Result<(), String> {
    let target = checked_dir(rootfs, path)?;
    let mode = if is_private(path) { 0o600 } else { 0o644 };
    let tmp = target.with_file_name(format!(
        ".{}.provisio-tmp",
        target
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("file")
    ));
    let _ = std::fs::remove_file(&tmp);
    {
        use std::io::Write;
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| format!("{}: {e}", tmp.display()))?;
        f.set_permissions(std::fs::Permissions::from_mode(mode))
            .and_then(|_| f.write_all(content.as_bytes()))
            .and_then(|_| f.sync_all())
            .map_err(|e| format!("{}: {e}", tmp.display()))?;
    }
    std::fs::rename(&tmp, &target).map_err(|e| format!("{}: {e}", target.display()))
}

/// Removes `path` (checked by [`checked_path`]) inside `rootfs`; an absent file is no error.
pub fn remove_from_rootfs(rootfs: &Path, path: &str) -> Result<(), String> {
    let target = checked_dir(rootfs, path)?;
    match std::fs::remove_file(&target) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(format!("{}: {e}", target.display()))
        }
        _ => Ok(()),
    }
}

/// `path`'s place in `rootfs`, its directories created and none of them a symbolic link.
fn checked_dir(rootfs: &Path, path: &str) -> Result<PathBuf, String> {
    let rel = checked_path(path)?;
    let mut dir = rootfs.to_path_buf();
    let parents: Vec<Component> = rel
        .parent()
        .map(|p| p.components().collect())
        .unwrap_or_default();
    for c in parents {
        dir.push(c);
        match std::fs::symlink_metadata(&dir) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(format!(
                    "{path}: {} is a symbolic link in the image",
                    dir.display()
                ));
            }
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(format!("{path}: {} is not a directory", dir.display())),
            Err(_) => std::fs::create_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?,
        }
    }
    Ok(rootfs.join(&rel))
}

#[cfg(test)]
mod tests {
    use super::*;
    use provisio_model::QName;
    use provisio_model::plan::{InputSource, ResolvedInput};

    fn step(inputs: &[(&str, &str)]) -> Step {
        Step {
            id: "N.configure".into(),
            node: "NodeRED".into(),
            node_type: QName::new("x", "LXContainer"),
            interface: "i".into(),
            operation: "configure".into(),
            inputs: inputs
                .iter()
                .map(|(n, v)| ResolvedInput {
                    name: n.to_string(),
                    value: v.to_string(),
                    source: InputSource::Own,
                    secret: false,
                })
                .collect(),
            outputs: vec![],
            artifacts: vec![],
            deps: vec![],
            stage: 0,
        }
    }

    #[test]
    fn env_quotes_and_leaves_out_secrets_and_bad_names() {
        let s = step(&[
            ("port", "1880"),
            ("title", "it's"),
            ("userPassword", "hunter2"),
            ("apiToken", "t0k"),
            ("bad-name", "x"),
        ]);
        let env = inputs_env(&s);
        assert!(env.contains("port='1880'\n"), "{env}");
        assert!(env.contains("title='it'\\''s'\n"), "{env}");
        assert!(!env.contains("hunter2") && !env.contains("t0k") && !env.contains("bad-name"));
    }

    #[test]
    fn env_has_the_nodes_own_properties_after_its_inputs() {
        let c = r#"{"node":"Db","properties":{"database":"flex4apps","httpPort":"8086","port":"9","adminPassword":"pw"},"targets":[],"sources":[]}"#;
        let env = inputs_env(&step(&[("port", "1880"), ("connections", c)]));
        assert!(env.contains("database='flex4apps'\n"), "{env}");
        assert!(env.contains("httpPort='8086'\n"), "{env}");
        // An input wins over the property of the same name; secrets and the document stay out.
        assert!(
            env.contains("port='1880'\n") && !env.contains("port='9'"),
            "{env}"
        );
        assert!(
            !env.contains("pw") && !env.contains("connections="),
            "{env}"
        );
    }

    #[test]
    fn secrets_are_the_nodes_own_and_only_in_their_file() {
        let mut s = step(&[
            ("port", "1880"),
            ("userPassword", "ssh-login-pw"),
            ("powerfoxPassword", "it's-pf"),
            ("credentials", "db-pw"),
            ("hostToken", "from-the-host"),
            ("bad-secret", "x"),
        ]);
        for i in &mut s.inputs {
            // As the planner marks them: by name, or by the deploy input they take.
            i.secret = is_secret_name(&i.name) || i.name == "credentials";
            if i.name == "hostToken" {
                i.source = InputSource::Host("Raspbian".into());
            }
        }
        let env = secrets_env(&s).expect("secrets");
        assert_eq!(
            env.lines().skip(1).collect::<Vec<_>>(),
            ["powerfoxPassword='it'\\''s-pf'", "credentials='db-pw'"],
            "{env}"
        );
        let inputs = inputs_env(&s);
        for v in ["ssh-login-pw", "it's-pf", "pf'", "db-pw", "from-the-host"] {
            assert!(!inputs.contains(v), "{inputs}");
        }
        let files = files(&s).unwrap();
        let secret = files.iter().find(|f| f.path == SECRETS_ENV).unwrap();
        assert!(secret.private && secret.mode() == 0o600);
        assert_eq!(secret.content.as_deref(), Some(env.as_str()));
        assert!(
            files
                .iter()
                .all(|f| f.path == SECRETS_ENV || f.mode() == 0o644)
        );
        let shown = format!("{files:?}");
        assert!(
            !shown.contains("db-pw") && shown.contains("(secret)") && shown.contains("port="),
            "{shown}"
        );
        // No secrets of its own (the login only): no file, and a stale one is removed.
        let none = step(&[("port", "1"), ("userPassword", "ssh-login-pw")]);
        assert_eq!(secrets_env(&none), None);
        let f = super::files(&none).unwrap();
        let secret = f.iter().find(|f| f.path == SECRETS_ENV).unwrap();
        assert_eq!(secret.content, None);
        assert_eq!(
            format!("{secret:?}"),
            "/etc/provisio/secrets.env 600 (remove)"
        );
    }

    #[test]
    fn secrets_file_is_0600_from_the_start_and_removable() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("rootfs");
        std::fs::create_dir_all(&root).unwrap();
        write_into_rootfs(&root, SECRETS_ENV, "a='1'\n").unwrap();
        write_into_rootfs(&root, INPUTS_ENV, "b='2'\n").unwrap();
        let mode = |p: &str| {
            std::fs::metadata(root.join(p))
                .unwrap()
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode("etc/provisio/secrets.env"), 0o600);
        assert_eq!(mode("etc/provisio/inputs.env"), 0o644);
        // Replaced atomically, still private.
        write_into_rootfs(&root, SECRETS_ENV, "a='3'\n").unwrap();
        assert_eq!(mode("etc/provisio/secrets.env"), 0o600);
        assert_eq!(
            std::fs::read_to_string(root.join("etc/provisio/secrets.env")).unwrap(),
            "a='3'\n"
        );
        remove_from_rootfs(&root, SECRETS_ENV).unwrap();
        assert!(!root.join("etc/provisio/secrets.env").exists());
        remove_from_rootfs(&root, SECRETS_ENV).unwrap();
        assert!(remove_from_rootfs(&root, "/etc/shadow").is_err());
        let names: Vec<_> = std::fs::read_dir(root.join("etc/provisio"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["inputs.env"], "no staging file left");
    }

    #[test]
    fn connections_default_verbatim_and_invalid() {
        let v: serde_json::Value =
            serde_json::from_str(&connections_json(&step(&[])).unwrap()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"node":"NodeRED","targets":[],"sources":[]})
        );
        let c = r#"{"node":"NodeRED","targets":[{"node":"I","host":"10.1.2.3"}],"sources":[]}"#;
        assert_eq!(connections_json(&step(&[("connections", c)])).unwrap(), c);
        let err = connections_json(&step(&[("connections", "[1]")])).unwrap_err();
        assert!(
            err.contains("NodeRED") && err.contains("connections"),
            "{err}"
        );
    }

    #[test]
    fn rewriting_hosts_and_properties() {
        let c = r#"{"node":"N","targets":[{"node":"I","host":"192.168.1.5","properties":{"port":"8086"}},{"node":"X","host":null}],"sources":[{"node":"S","host":null,"properties":{"pubSubServer":"tcp://broker.example:1883"}}]}"#;
        let out = rewrite_connections(
            c,
            |h| (h == "192.168.1.5").then(|| "10.100.0.3".to_string()),
            |k, _| (k == "pubSubServer").then(|| "tcp://10.100.0.1:1883".to_string()),
        )
        .unwrap();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["targets"][0]["host"], "10.100.0.3");
        assert_eq!(v["targets"][0]["properties"]["port"], "8086");
        assert!(v["targets"][1]["host"].is_null());
        assert_eq!(
            v["sources"][0]["properties"]["pubSubServer"],
            "tcp://10.100.0.1:1883"
        );
        assert!(rewrite_connections("nope", |_| None, |_, _| None).is_err());
    }

    #[test]
    fn paths_outside_etc_provisio_and_symlinks_are_refused() {
        assert!(checked_path("/etc/provisio/inputs.env").is_ok());
        for bad in [
            "/etc/passwd",
            "/etc/provisio/../shadow",
            "/etc/provisio",
            "etc/provisio/x",
        ] {
            assert!(checked_path(bad).is_err(), "{bad}");
        }
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("rootfs");
        std::fs::create_dir_all(&root).unwrap();
        write_into_rootfs(&root, INPUTS_ENV, "a='1'\n").unwrap();
        write_into_rootfs(&root, INPUTS_ENV, "a='2'\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(root.join("etc/provisio/inputs.env")).unwrap(),
            "a='2'\n"
        );
        let evil = dir.path().join("evil");
        std::fs::create_dir_all(evil.join("rootfs")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("outside"), evil.join("rootfs/etc")).unwrap();
        let err = write_into_rootfs(&evil.join("rootfs"), INPUTS_ENV, "x").unwrap_err();
        assert!(err.contains("symbolic link"), "{err}");
        assert!(!dir.path().join("outside").exists());
    }
}
