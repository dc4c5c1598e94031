//! `provisio instances`: every recorded instance with its phase, marking one whose deploy or
//! undeploy was interrupted (its process ended) and one another process works on now. On the
//! way it removes what deploys interrupted during setup left (see `deploy::recover`) and, with
//! simulated instances listed, points at simulated networks without an owner (`provisio simnet
//! prune`).

use crate::deploy::recover::{self, Progress};
use crate::deploy::{DeployOptions, default_data_dir};
use provisio_engines::engine::instance::InstanceState;

pub fn run() -> i32 {
    let data_dir = default_data_dir();
    let dir = DeployOptions::new(data_dir.clone(), false).instances_dir();
    for s in recover::sweep(&data_dir) {
        println!("{s}");
    }
    for (id, live) in recover::unrecorded(&dir) {
        match live {
            Some(pid) => println!("{id}  setting up (process {pid})"),
            None => println!(
                "{id}  interrupted during setup (no process recorded: an earlier version's?); \
                 `provisio undeploy {id} --force` removes what it left"
            ),
        }
    }
    let mut any_simulated = false;
    for i in InstanceState::list(&dir) {
        any_simulated |= i.simulated;
        let snapshot = InstanceState::snapshot_in(&dir, &i.id).is_file();
        let phase = match recover::progress(&dir, &i) {
            Progress::Settled => i.phase.clone(),
            Progress::Running(pid) => format!("{} (process {pid})", i.phase),
            Progress::Interrupted => "interrupted".to_string(),
        };
        println!(
            "{}  {}  {}  from {}{}{}",
            i.id,
            phase,
            i.service_template,
            i.source.display(),
            if snapshot { " (definitions kept)" } else { "" },
            if i.simulated { "  (simulated)" } else { "" }
        );
        if phase == "interrupted" {
            println!(
                "    its process ended while the plan ran: `provisio undeploy {0}` removes what it \
                 deployed, `provisio undeploy {0} --force` forgets it",
                i.id
            );
        }
    }
    // Shown to users of `--simulate` only (listing links takes a moment).
    let unowned = if any_simulated {
        provisio_engines::simnet::leftovers()
    } else {
        Vec::new()
    };
    if !unowned.is_empty() {
        let names: Vec<String> = unowned.iter().map(|l| l.bridge()).collect();
        println!(
            "note: {} simulated network(s) without an owner ({}), e.g. from an earlier version: \
             `provisio simnet prune` removes them",
            unowned.len(),
            names.join(", ")
        );
    }
    0
}
