//! `provisio simnet prune [--dry-run] [--end-processes] [NAME…]`: removes simulated networks
//! (`pvb…` bridges, `pvh…` veths, `pvn…` namespaces) that no owner record claims, e.g. made by
//! an earlier version, and what deploys interrupted during setup left in the data directory.
//! Prints what it removed and what it left, and why.

use crate::deploy::default_data_dir;
use provisio_engines::simnet;

pub fn run_prune(only: &[String], dry_run: bool, end_processes: bool) -> i32 {
    if !dry_run {
        for s in crate::deploy::recover::sweep(&default_data_dir()) {
            outln!("{s}");
        }
    }
    let wanted = |l: &simnet::Leftover| {
        only.is_empty() || only.iter().any(|o| *o == l.tag || *o == l.bridge())
    };
    if dry_run {
        let found: Vec<_> = simnet::leftovers().into_iter().filter(wanted).collect();
        if found.is_empty() {
            outln!("no simulated network without an owner");
        }
        for l in found {
            let busy: Vec<String> = l.busy.iter().map(|(p, c)| format!("{p} ({c})")).collect();
            outln!(
                "would remove {}: {}{}",
                l.bridge(),
                l.names.join(" "),
                if busy.is_empty() {
                    String::new()
                } else {
                    format!(" (in use by process {})", busy.join(", "))
                }
            );
        }
        return 0;
    }
    match simnet::prune(only, end_processes) {
        Err(e) => {
            errln!("error: {e}");
            1
        }
        Ok(p) => {
            if p.removed.is_empty() && p.kept.is_empty() {
                outln!("no simulated network without an owner");
            }
            for l in &p.removed {
                outln!("removed {}: {}", l.bridge(), l.names.join(" "));
            }
            for (l, why) in &p.kept {
                outln!(
                    "kept {}: {why}{}",
                    l.bridge(),
                    if l.busy.is_empty() {
                        ""
                    } else {
                        " (--end-processes ends them and removes it)"
                    }
                );
            }
            // Kept for a reason other than processes the user did not ask to end: a failure.
            if p.kept
                .iter()
                .any(|(l, _)| l.busy.is_empty() || end_processes)
            {
                1
            } else {
                0
            }
        }
    }
}
