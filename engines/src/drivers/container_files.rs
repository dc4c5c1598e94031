//! What a container driver's `configure` writes into a container's root file system (the
//! runtime contract of the images): `/etc/provisio/inputs.env` (the step's non-secret inputs as
//! POSIX-sh assignments) and `/etc/provisio/connections.json` (the node's ConnectsTo
//! neighbours, the planner's `connections` input verbatim). Also the checked local write used
//! by the MICA emulator: only below `/etc/provisio`, never through a symbolic link, atomic.

use provisio_model::plan::{Step, is_secret_name};
use std::path::{Component, Path, PathBuf};

/// Where the inputs go, inside the container.
pub const INPUTS_ENV: &str = "/etc/provisio/inputs.env";
/// Where the connections go, inside the container.
pub const CONNECTIONS_JSON: &str = "/etc/provisio/connections.json";
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

/// Both files: (path inside the container, content).
pub fn files(step: &Step) -> Result<Vec<(&'static str, String)>, String> {
    Ok(vec![
        (INPUTS_ENV, inputs_env(step)),
        (CONNECTIONS_JSON, connections_json(step)?),
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
/// the file is replaced atomically.
pub fn write_into_rootfs(rootfs: &Path, path: &str, content: &str) -> Result<(), String> {
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
    let target = rootfs.join(&rel);
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
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| format!("{}: {e}", tmp.display()))?;
        f.write_all(content.as_bytes())
            .and_then(|_| f.sync_all())
            .map_err(|e| format!("{}: {e}", tmp.display()))?;
    }
    std::fs::rename(&tmp, &target).map_err(|e| format!("{}: {e}", target.display()))
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
