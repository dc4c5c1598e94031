//! The Instances window (View ▸ Instances): every instance recorded in the data directory, read
//! by the same [`crate::deploy::listing`] as `provisio instances`, with its service template,
//! when it was deployed and its state (deployed, failed, interrupted, running in another
//! process…). Per instance: Undeploy (the engine's undeploy, its progress in the deploy panel
//! and the status line) and Forget (`undeploy --force`, after a confirmation saying what it
//! does). Nothing a live process works on is touched: its buttons are disabled and say why.
//! The list is read when the window opens, after an action, and every few seconds while it is
//! open (changed records only), never per frame.

mod forget;

pub use forget::{confirm_dialog, forget_text};

use super::ProvisioApp;
use crate::deploy::listing::{Forgotten, Listed, Listing, Status};
use egui::{Color32, RichText};
use egui_extras::{Column, TableBuilder};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

/// How often the open window reads the list again on its own.
pub const REFRESH: Duration = Duration::from_secs(3);

const ROW: f32 = 24.0;

/// The Instances window's state.
#[derive(Default)]
pub struct InstancesUi {
    pub open: bool,
    /// The list as last read.
    pub rows: Vec<Listed>,
    listing: Option<Listing>,
    read_at: Option<Instant>,
    /// How many times the list was read (tests check it is not read every frame).
    pub reads: usize,
    /// Read again next frame (after an action).
    pub stale: bool,
    /// The instance whose Forget waits for the confirmation.
    pub confirm_forget: Option<Listed>,
    /// A Forget under way (on a thread: removing a simulated network takes a moment).
    forgetting: Option<(String, Receiver<Result<Forgotten, String>>)>,
    /// The last action's outcome, shown above the list (true when it failed or was refused).
    pub message: Option<(bool, String)>,
    /// The instance whose undeploy the window started (its outcome becomes the message).
    undeploying: Option<String>,
}

impl InstancesUi {
    /// Whether a Forget runs.
    pub fn is_forgetting(&self) -> bool {
        self.forgetting.is_some()
    }
}

/// Opens the window (or brings it back) and reads the list.
pub fn open(app: &mut ProvisioApp) {
    app.instances.open = true;
    app.instances.stale = true;
}

/// Reads the list when it is due: stale, or [`REFRESH`] passed.
fn refresh(app: &mut ProvisioApp) {
    let ui = &mut app.instances;
    let due = ui.stale || ui.read_at.is_none_or(|t| t.elapsed() >= REFRESH);
    if !due {
        return;
    }
    let data_dir = &app.deploy.data_dir;
    if ui.listing.as_ref().is_none_or(|l| l.data_dir() != data_dir) {
        ui.listing = Some(Listing::new(data_dir));
    }
    if let Some(l) = ui.listing.as_mut() {
        ui.rows = l.read();
    }
    ui.reads += 1;
    ui.read_at = Some(Instant::now());
    ui.stale = false;
}

/// Called every frame: takes a finished Forget's outcome, marks the list stale after a run of
/// this window ended (`run_ended`), and shows the window when it is open.
pub fn frame(app: &mut ProvisioApp, ctx: &egui::Context, run_ended: bool) {
    if run_ended {
        app.instances.stale = true;
        if app.instances.undeploying.take().is_some() {
            let s = app.state.status.clone();
            app.instances.message = Some((s.contains("failed"), s));
        }
    }
    forget::poll(app);
    if app.instances.forgetting.is_some() {
        ctx.request_repaint_after(Duration::from_millis(100));
    }
    if !app.instances.open {
        return;
    }
    refresh(app);
    ctx.request_repaint_after(REFRESH);
    window(app, ctx);
}

fn state_color(s: &Status) -> Color32 {
    match s {
        Status::Settled(p) if p == "deployed" => Color32::from_rgb(60, 170, 90),
        Status::Settled(p) if p == "failed" => Color32::from_rgb(220, 70, 60),
        Status::Settled(_) => Color32::GRAY,
        Status::Running { .. } | Status::SettingUp(_) => Color32::from_rgb(60, 140, 230),
        Status::Interrupted | Status::SetupInterrupted | Status::Unreadable(_) => {
            Color32::from_rgb(210, 160, 40)
        }
    }
}

/// The state column's text: whose process works on it (this window's or another's). A live
/// process holding an instance whose recorded phase is final has not recorded what it does yet.
fn state_text(row: &Listed, undeploying_here: Option<&str>) -> String {
    let Some(pid) = row.live_pid() else {
        return row.state();
    };
    let here = pid == std::process::id();
    if here && undeploying_here == Some(row.id.as_str()) {
        return "undeploying (this window)".into();
    }
    let who = if here {
        "this window".to_string()
    } else {
        format!("process {pid}")
    };
    match &row.status {
        Status::Running { phase, .. }
            if matches!(
                phase.as_str(),
                "deployed" | "failed" | "cancelled" | "undeployed"
            ) =>
        {
            format!("{phase}, busy in {who}")
        }
        Status::Running { phase, .. } => format!("{phase} in {who}"),
        _ => format!("setting up in {who}"),
    }
}

/// Why a live instance's buttons are disabled.
fn busy(row: &Listed, pid: u32) -> String {
    if pid == std::process::id() {
        format!(
            "instance {} is being deployed or undeployed by this window: wait for it or cancel \
             it in the deploy panel",
            row.id
        )
    } else {
        format!(
            "instance {} is being deployed or undeployed by process {pid}: wait for it or stop \
             it first",
            row.id
        )
    }
}

enum Action {
    Undeploy(Listed),
    Forget(Listed),
}

fn window(app: &mut ProvisioApp, ctx: &egui::Context) {
    let screen = ctx.content_rect();
    let mut open = true;
    let mut action = None;
    let mut refresh_clicked = false;
    let busy_here = app.deploy.is_running();
    let forgetting = app.instances.forgetting.as_ref().map(|(id, _)| id.clone());
    egui::Window::new("Instances")
        .id(egui::Id::new("instances-window"))
        .open(&mut open)
        .collapsible(false)
        .resizable(true)
        // Below the toolbar, clear of the bottom panel where an undeploy's progress shows.
        .pivot(egui::Align2::CENTER_TOP)
        .default_pos(egui::pos2(screen.center().x, screen.top() + 56.0))
        .default_size(egui::vec2(
            (screen.width() - 80.0).clamp(300.0, 860.0),
            (screen.height() * 0.5).clamp(160.0, 420.0),
        ))
        .max_width(screen.width() - 20.0)
        .max_height(screen.height() - 40.0)
        .show(ctx, |ui| {
            let ui_state = &app.instances;
            ui.horizontal(|ui| {
                let dir = app.deploy.data_dir.join("instances");
                ui.label(format!("{} instance(s)", ui_state.rows.len()))
                    .on_hover_text(format!("recorded in {}", dir.display()));
                refresh_clicked = ui.button("⟳ Refresh").clicked();
                if let Some(id) = &forgetting {
                    ui.spinner();
                    ui.label(format!("forgetting {id}…"));
                } else if let Some((failed, m)) = &ui_state.message {
                    // On the same line (elided, in full on hover): the window keeps its size.
                    let text = RichText::new(m);
                    let text = if *failed {
                        text.color(Color32::from_rgb(220, 70, 60))
                    } else {
                        text.weak()
                    };
                    ui.add(egui::Label::new(text).truncate()).on_hover_text(m);
                }
            });
            ui.separator();
            if ui_state.rows.is_empty() {
                ui.weak("No instances recorded yet: Deploy a service template first.");
                return;
            }
            let undeploying = ui_state.undeploying.as_deref();
            action = table(
                ui,
                &ui_state.rows,
                undeploying,
                busy_here,
                forgetting.is_some(),
            );
        });
    app.instances.open = open;
    if refresh_clicked {
        app.instances.stale = true;
    }
    match action {
        Some(Action::Undeploy(row)) => {
            app.deploy
                .undeploy_instance(&mut app.state, &row.id, &row.service_template);
            if app.deploy.is_running() {
                app.instances.message = Some((
                    false,
                    format!("undeploying {}: progress in the Deploy panel", row.id),
                ));
                app.instances.undeploying = Some(row.id);
            }
            app.instances.stale = true;
        }
        Some(Action::Forget(row)) => app.instances.confirm_forget = Some(row),
        None => {}
    }
}

/// The list as a table; returns the clicked action.
fn table(
    ui: &mut egui::Ui,
    rows: &[Listed],
    undeploying: Option<&str>,
    busy_here: bool,
    forgetting: bool,
) -> Option<Action> {
    let mut action = None;
    let head = |ui: &mut egui::Ui, t: &str| {
        ui.strong(t);
    };
    TableBuilder::new(ui)
        .id_salt("instances-table")
        .striped(true)
        // Fixed widths (resizable ones would keep those of the window's first, narrow frame);
        // the id takes what is left.
        .auto_shrink(false)
        .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
        .column(Column::remainder().at_least(120.0).clip(true))
        .column(Column::exact(125.0).clip(true))
        .column(Column::exact(118.0).clip(true))
        .column(Column::exact(185.0).clip(true))
        .column(Column::exact(150.0))
        .header(ROW, |mut h| {
            h.col(|ui| head(ui, "instance"));
            h.col(|ui| head(ui, "service template"));
            h.col(|ui| head(ui, "deployed (UTC)"));
            h.col(|ui| head(ui, "state"));
            h.col(|ui| head(ui, ""));
        })
        .body(|body| {
            body.rows(ROW, rows.len(), |mut r| {
                let row = &rows[r.index()];
                r.col(|ui| {
                    let mut hover = row.id.clone();
                    if let Some(src) = &row.source {
                        hover.push_str(&format!("\nfrom {}", src.display()));
                    }
                    if row.simulated {
                        hover.push_str("\nsimulated devices");
                    }
                    ui.add(egui::Label::new(&row.id).truncate())
                        .on_hover_text(hover);
                });
                r.col(|ui| {
                    let name = if row.service_template.is_empty() {
                        "—"
                    } else {
                        row.template_name()
                    };
                    let l = ui.add(egui::Label::new(name).truncate());
                    if !row.service_template.is_empty() {
                        l.on_hover_text(&row.service_template);
                    }
                });
                r.col(|ui| {
                    let when = row
                        .created
                        .map(crate::data_dir::utc_date_time)
                        .unwrap_or_else(|| "—".into());
                    ui.add(egui::Label::new(when.get(..16).unwrap_or(&when)).truncate())
                        .on_hover_text(format!("{when} UTC"));
                });
                r.col(|ui| {
                    let text = state_text(row, undeploying);
                    let l = ui.add(
                        egui::Label::new(RichText::new(&text).color(state_color(&row.status)))
                            .truncate(),
                    );
                    l.on_hover_text(state_hover(row, &text));
                });
                r.col(|ui| {
                    if let Some(a) = buttons(ui, row, busy_here, forgetting) {
                        action = Some(a);
                    }
                });
            });
        });
    action
}

fn state_hover(row: &Listed, text: &str) -> String {
    let id = &row.id;
    match &row.status {
        Status::Interrupted => format!(
            "The process that ran instance {id}'s deploy or undeploy ended while its plan ran: \
             its devices may hold parts of it. Undeploy removes what it deployed; Forget forgets \
             it without touching its devices."
        ),
        Status::SetupInterrupted => format!(
            "Instance {id}'s deploy was interrupted during setup, before its plan ran: nothing \
             on devices was touched. Forget removes what it left on this machine."
        ),
        Status::Unreadable(why) => format!("Instance {id}'s record cannot be read: {why}"),
        _ => format!("instance {id}: {text}"),
    }
}

/// Undeploy and Forget… of one row.
fn buttons(ui: &mut egui::Ui, row: &Listed, busy_here: bool, forgetting: bool) -> Option<Action> {
    let mut action = None;
    if let Some(pid) = row.live_pid() {
        let why = busy(row, pid);
        ui.add_enabled(false, egui::Button::new("Undeploy"))
            .on_disabled_hover_text(&why);
        ui.add_enabled(false, egui::Button::new("Forget…"))
            .on_disabled_hover_text(&why);
        return None;
    }
    let undeploy_why = if busy_here {
        Some("A deploy or undeploy of this window runs: wait for it to finish.".to_string())
    } else if !row.can_undeploy() {
        Some(match &row.status {
            Status::Settled(p) if p == "undeployed" => {
                format!("Instance {} is undeployed already.", row.id)
            }
            Status::Unreadable(_) => format!(
                "Instance {}'s record cannot be read: Forget it (its devices are not touched).",
                row.id
            ),
            _ => format!(
                "Instance {}'s deploy never ran its plan: nothing to undeploy; Forget removes \
                 what it left.",
                row.id
            ),
        })
    } else {
        None
    };
    let undeploy = ui
        .add_enabled(undeploy_why.is_none(), egui::Button::new("Undeploy"))
        .on_hover_text(format!(
            "Undeploy instance {}: run its undeploy plan on its devices (progress in the \
             Deploy panel).",
            row.id
        ))
        .on_disabled_hover_text(undeploy_why.unwrap_or_default());
    if undeploy.clicked() {
        action = Some(Action::Undeploy(row.clone()));
    }
    let forget = ui
        .add_enabled(!forgetting, egui::Button::new("Forget…"))
        .on_hover_text(format!(
            "Forget instance {} without touching its devices (asks first).",
            row.id
        ))
        .on_disabled_hover_text("Another Forget runs: wait for it.");
    if forget.clicked() {
        action = Some(Action::Forget(row.clone()));
    }
    action
}
