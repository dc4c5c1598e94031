//! `provisio instances`: every recorded instance with its phase, marking one whose deploy or
//! undeploy was interrupted (its process ended), one another process works on now and an
//! unreadable record (read by [`crate::deploy::listing`], as the GUI's Instances window reads
//! them). On the way it removes what deploys interrupted during setup left (see
//! `deploy::recover`) and, with simulated instances listed, points at simulated networks
//! without an owner (`provisio simnet prune`).

use crate::deploy::default_data_dir;
use crate::deploy::listing::{self, Status};
use crate::deploy::recover;

pub fn run() -> i32 {
    let data_dir = default_data_dir();
    for s in recover::sweep(&data_dir) {
        outln!("{s}");
    }
    let mut any_simulated = false;
    for i in listing::list(&data_dir) {
        any_simulated |= i.simulated;
        let id = &i.id;
        match &i.status {
            Status::SettingUp(_) => outln!("{id}  {}", i.state()),
            Status::SetupInterrupted => outln!(
                "{id}  interrupted during setup (no process recorded: an earlier version's?); \
                 `provisio undeploy {id} --force` removes what it left"
            ),
            Status::Unreadable(why) => outln!(
                "{id}  unreadable record ({why}); `provisio undeploy {id} --force` forgets it"
            ),
            Status::Settled(_) | Status::Running { .. } | Status::Interrupted => {
                outln!(
                    "{id}  {}  {}  from {}{}{}",
                    i.state(),
                    i.service_template,
                    i.source
                        .as_deref()
                        .unwrap_or(std::path::Path::new(""))
                        .display(),
                    if i.snapshot {
                        " (definitions kept)"
                    } else {
                        ""
                    },
                    if i.simulated { "  (simulated)" } else { "" }
                );
                if i.status == Status::Interrupted {
                    outln!(
                        "    its process ended while the plan ran: `provisio undeploy {id}` \
                         removes what it deployed, `provisio undeploy {id} --force` forgets it"
                    );
                }
            }
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
        outln!(
            "note: {} simulated network(s) without an owner ({}), e.g. from an earlier version: \
             `provisio simnet prune` removes them",
            unowned.len(),
            names.join(", ")
        );
    }
    0
}
