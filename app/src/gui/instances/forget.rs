//! Forget in the Instances window: the confirmation (what the instance is, what Forget removes,
//! what it leaves), then [`crate::deploy::listing::forget`] on a thread of its own (removing a
//! simulated network takes a moment) and its outcome in the window and the status line.

use super::super::ProvisioApp;
use crate::deploy::listing::{Listed, Status, forget};
use egui::{Color32, RichText};

/// Takes a finished Forget's outcome: the message, the status line, the list read again.
pub(super) fn poll(app: &mut ProvisioApp) {
    let Some((id, rx)) = &app.instances.forgetting else {
        return;
    };
    let outcome = match rx.try_recv() {
        Ok(r) => r,
        Err(std::sync::mpsc::TryRecvError::Empty) => return,
        Err(std::sync::mpsc::TryRecvError::Disconnected) => {
            Err(format!("instance {id}: the forget ended unexpectedly"))
        }
    };
    let id = id.clone();
    let ui = &mut app.instances;
    ui.forgetting = None;
    ui.stale = true;
    match outcome {
        Ok(done) => {
            // The deploy panel no longer offers to undeploy it.
            if app.deploy.instance.as_ref().is_some_and(|i| i.id == id) {
                app.deploy.instance = None;
            }
            let line = match &done.warning {
                Some(w) => format!("{} (warning: {w})", done.message),
                None => done.message,
            };
            app.state.status = line.clone();
            ui.message = Some((done.warning.is_some(), line));
        }
        Err(e) => {
            app.state.status = format!("forget refused: {e}");
            ui.message = Some((true, app.state.status.clone()));
        }
    }
}

/// What Forget does to `row`, for the confirmation: what the instance is, what Forget removes,
/// what it leaves.
pub fn forget_text(row: &Listed) -> Vec<String> {
    let id = &row.id;
    let sim = if row.simulated {
        ", and its simulated hosts and devices"
    } else {
        ""
    };
    let removes = format!(
        "Forget deletes its record and snapshot from this machine{sim} (as `provisio undeploy \
         {id} --force`)."
    );
    let untouched = "Nothing on its devices is touched: what it deployed there stays (remove it \
                     by hand), and it can no longer be undeployed from here."
        .to_string();
    match &row.status {
        Status::SetupInterrupted => vec![
            format!(
                "Instance {id}'s deploy was interrupted during setup, before its plan ran: \
                 nothing on devices was touched."
            ),
            "Forget removes what it left on this machine (its snapshot, simulated network and \
             state)."
                .into(),
        ],
        Status::Unreadable(why) => vec![
            format!("Instance {id}'s record cannot be read ({why})."),
            removes,
            untouched,
        ],
        Status::Settled(p) if p == "undeployed" => vec![
            format!("Instance {id} is undeployed: nothing of it is left on its devices."),
            removes,
        ],
        Status::Interrupted => vec![
            format!(
                "Instance {id}'s deploy or undeploy was interrupted while its plan ran: its \
                 devices may hold parts of it."
            ),
            removes,
            untouched,
            "To remove it from its devices, use Undeploy instead.".into(),
        ],
        _ => vec![
            format!("Instance {id} is {}.", row.state()),
            removes,
            untouched,
            "To remove it from its devices, use Undeploy instead.".into(),
        ],
    }
}

/// The confirmation of Forget (a modal): Forget starts it, Cancel or Escape keeps the instance.
pub fn confirm_dialog(app: &mut ProvisioApp, ctx: &egui::Context) {
    let Some(row) = app.instances.confirm_forget.clone() else {
        return;
    };
    let mut go = false;
    let mut cancel = false;
    super::super::modal(ctx, &format!("Forget instance {}?", row.id), |ui| {
        for p in forget_text(&row) {
            ui.add(egui::Label::new(p).wrap());
            ui.add_space(2.0);
        }
        ui.add_space(6.0);
        ui.horizontal(|ui| {
            let red = Color32::from_rgb(220, 70, 60);
            go = ui
                .button(RichText::new("Forget").color(red))
                .on_hover_text(format!("Forget instance {}", row.id))
                .clicked();
            cancel =
                ui.button("Cancel").clicked() || ui.input(|i| i.key_pressed(egui::Key::Escape));
        });
    });
    if cancel {
        app.instances.confirm_forget = None;
        app.state.status = format!("instance {} kept", row.id);
    } else if go {
        app.instances.confirm_forget = None;
        let data_dir = app.deploy.data_dir.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let id = row.id.clone();
        std::thread::spawn(move || {
            let _ = tx.send(forget(&data_dir, &id));
        });
        app.state.status = format!("forgetting instance {}…", row.id);
        app.instances.forgetting = Some((row.id, rx));
        ctx.request_repaint();
    }
}
