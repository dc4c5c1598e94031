//! Leftover simulated networks: provisio-named bridges, host-side veths and namespaces
//! (`pvb<tag>`, `pvh<tag>` + 4 or 7 hex, `pvn<tag>-…`) whose tag no owner record in
//! `/run/provisio/simnet` claims, e.g. made by a version before owner records. [`leftovers`]
//! lists them; [`prune`] removes them, claiming each tag first so nothing claimed meanwhile is
//! touched, and leaving a network alone while processes run in its namespaces unless asked to
//! end them.

use super::{LOCK, OWNERS, ip, links_with_prefix, netns_with_prefix, owner_of, owner_path};

/// One unowned network, by tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftover {
    /// The 5 hex digits its names share.
    pub tag: String,
    /// Every name of it found: bridge, host-side veths, namespaces.
    pub names: Vec<String>,
    /// Processes running in its namespaces: pid and command name.
    pub busy: Vec<(u32, String)>,
}

impl Leftover {
    /// The bridge's name (`pvb<tag>`), whether or not the bridge is still there.
    pub fn bridge(&self) -> String {
        format!("pvb{}", self.tag)
    }
}

/// What [`prune`] did.
#[derive(Debug, Default)]
pub struct Pruned {
    pub removed: Vec<Leftover>,
    /// Left as they are, with the reason.
    pub kept: Vec<(Leftover, String)>,
}

fn hex5(s: &str) -> bool {
    s.len() == 5
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The tag of a provisio-made name: `pvb` + 5 hex, `pvh` + 5 + 4 or 7 hex, `pvn` + 5 hex + `-…`.
pub(super) fn tag_from(name: &str) -> Option<&str> {
    let tag = name.get(3..8)?;
    if !hex5(tag) {
        return None;
    }
    let rest = &name[8..];
    let ok = match &name[..3] {
        "pvb" => rest.is_empty(),
        // 4 hex before several hosts per network, 7 since.
        "pvh" => {
            (rest.len() == 4 || rest.len() == 7) && rest.bytes().all(|b| b.is_ascii_hexdigit())
        }
        "pvn" => rest.len() > 1 && rest.starts_with('-'),
        _ => false,
    };
    ok.then_some(tag)
}

/// Processes in the namespaces `netns`: pid and command name.
fn pids_in(netns: &[String]) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    for ns in netns {
        for pid in ip(&["netns", "pids", ns])
            .unwrap_or_default()
            .split_whitespace()
        {
            if let Ok(pid) = pid.parse::<u32>() {
                let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
                out.push((pid, comm.trim().to_string()));
            }
        }
    }
    out
}

/// The unowned network of `tag` as it is now (`None` when nothing of it exists).
fn leftover_of(tag: &str) -> Option<Leftover> {
    let mut names = links_with_prefix(&format!("pvb{tag}"));
    names.retain(|n| tag_from(n) == Some(tag));
    let mut veths = links_with_prefix(&format!("pvh{tag}"));
    veths.retain(|n| tag_from(n) == Some(tag));
    let netns = netns_with_prefix(&format!("pvn{tag}-"));
    names.extend(veths);
    names.extend(netns.iter().cloned());
    (!names.is_empty()).then(|| Leftover {
        tag: tag.to_string(),
        names,
        busy: pids_in(&netns),
    })
}

/// Every provisio-named network no owner record claims, by tag.
pub fn leftovers() -> Vec<Leftover> {
    let mut tags: Vec<String> = links_with_prefix("pv")
        .into_iter()
        .chain(netns_with_prefix("pvn"))
        .filter_map(|n| tag_from(&n).map(str::to_string))
        .collect();
    tags.sort();
    tags.dedup();
    tags.into_iter()
        .filter(|t| !owner_path(t).exists())
        .filter_map(|t| leftover_of(&t))
        .collect()
}

/// Removes the unowned networks (all, or those whose tag or bridge name is in `only`): their
/// namespaces, veths and bridge. One with processes in its namespaces is kept unless
/// `end_processes`, which ends them first. Networks with an owner record are never touched.
pub fn prune(only: &[String], end_processes: bool) -> Result<Pruned, String> {
    if !super::is_root() {
        return Err("removing simulated networks needs root".into());
    }
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    std::fs::create_dir_all(OWNERS).map_err(|e| format!("{OWNERS}: {e}"))?;
    let mut out = Pruned::default();
    let wanted =
        |l: &Leftover| only.is_empty() || only.iter().any(|o| *o == l.tag || *o == l.bridge());
    for l in leftovers().into_iter().filter(wanted) {
        // Claimed for the removal: an `ensure` of another process now picks another tag.
        let path = owner_path(&l.tag);
        let claim = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path);
        let Ok(mut claim) = claim else {
            let why = match owner_of(&l.tag) {
                Some(o) => format!("claimed by {o} meanwhile"),
                None => format!("{}: cannot claim it", path.display()),
            };
            out.kept.push((l, why));
            continue;
        };
        // Through the handle that created it (never reopened by name).
        let _ = std::io::Write::write_all(
            &mut claim,
            format!("provisio simnet prune {}", std::process::id()).as_bytes(),
        );
        drop(claim);
        // As it is now that nobody else can claim it.
        let Some(now) = leftover_of(&l.tag) else {
            let _ = std::fs::remove_file(&path);
            continue;
        };
        if !now.busy.is_empty() && !end_processes {
            let pids: Vec<String> = now.busy.iter().map(|(p, c)| format!("{p} ({c})")).collect();
            let _ = std::fs::remove_file(&path);
            out.kept
                .push((now, format!("in use by process {}", pids.join(", "))));
            continue;
        }
        // Ends what still runs there, deletes it all, then the claim.
        match super::remove_tag(&now.tag) {
            Ok(()) => out.removed.push(now),
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                out.kept.push((now, e));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::tag_from;

    #[test]
    fn only_provisio_names_have_a_tag() {
        assert_eq!(tag_from("pvb0a1f3"), Some("0a1f3"));
        assert_eq!(tag_from("pvh0a1f3beef"), Some("0a1f3"));
        assert_eq!(tag_from("pvh0a1f3beef123"), Some("0a1f3"));
        assert_eq!(tag_from("pvn0a1f3-pi"), Some("0a1f3"));
        for other in [
            "pvb0a1f",
            "pvb0a1f3x",
            "pvbABCDE",
            "pvh0a1f3be",
            "pvh0a1f3beef12",
            "pvn0a1f3",
            "pvn0a1f3-",
            "eth0",
            "pvx0a1f3",
            "pv",
            "",
        ] {
            assert_eq!(tag_from(other), None, "{other}");
        }
    }
}
