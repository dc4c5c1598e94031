//! The deploy panel's drawing: a control row that wraps, then three columns (steps, devices,
//! log) laid out by egui_extras' StripBuilder, the steps and devices as TableBuilder tables.
//! Every cell clips and elides with the full text on hover, so nothing overlaps at any size.

use super::DeployUi;
use crate::gui::state::{DeviceMarker, EditorState, NodeRun};
use egui::{Color32, Rect, RichText};
use egui_extras::{Column, Size, StripBuilder, TableBuilder};
use provisio_engines::events::{DeviceState, Level};

/// Where the panel drew its three columns last frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PanelRects {
    pub steps: Rect,
    pub devices: Rect,
    pub log: Rect,
    /// Only while simulated devices report readings.
    pub telemetry: Rect,
    /// The plot itself inside `telemetry` (its legend sits above it, never over the lines).
    pub plot: Rect,
}

impl Default for PanelRects {
    fn default() -> Self {
        PanelRects {
            steps: Rect::NOTHING,
            devices: Rect::NOTHING,
            log: Rect::NOTHING,
            telemetry: Rect::NOTHING,
            plot: Rect::NOTHING,
        }
    }
}

const GREEN: Color32 = Color32::from_rgb(60, 170, 90);
const RED: Color32 = Color32::from_rgb(220, 70, 60);
const BLUE: Color32 = Color32::from_rgb(60, 140, 230);
const AMBER: Color32 = Color32::from_rgb(210, 160, 40);
const ROW: f32 = 18.0;
/// Devices named in the telemetry legend; more are summed up as "+N more".
const LEGEND_MAX: usize = 8;

/// The colour of the `i`th of `n` telemetry series (hues spread evenly, readable on dark).
fn series_color(i: usize, n: usize) -> Color32 {
    let h = i as f32 / n.max(1) as f32;
    egui::ecolor::Hsva::new(h, 0.6, 0.9, 1.0).into()
}

/// A label that keeps to one line, elides, and shows the full text on hover.
fn cell(ui: &mut egui::Ui, text: impl Into<egui::WidgetText>) -> egui::Response {
    ui.add(egui::Label::new(text).truncate())
}

impl DeployUi {
    /// The deploy panel (bottom): controls, steps, devices, log.
    pub fn panel(&mut self, ui: &mut egui::Ui, state: &mut EditorState) {
        self.controls(ui, state);
        self.outputs(ui);
        ui.separator();
        let mut rects = PanelRects::default();
        // Telemetry, once readings come, is a column of its own (a plot stacked above the
        // tables would leave them no rows in a small window).
        let plot = !self.telemetry.is_empty();
        let mut strip = StripBuilder::new(ui)
            .clip(true)
            .size(Size::relative(if plot { 0.2 } else { 0.24 }).at_least(150.0))
            .size(Size::remainder().at_least(240.0));
        if plot {
            strip = strip.size(Size::relative(0.22).at_least(160.0));
        }
        strip
            .size(Size::relative(if plot { 0.3 } else { 0.36 }).at_least(200.0))
            .horizontal(|mut strip| {
                strip.cell(|ui| {
                    rects.steps = ui.max_rect();
                    self.steps_table(ui);
                });
                strip.cell(|ui| {
                    rects.devices = ui.max_rect();
                    self.devices_table(ui, state);
                });
                if plot {
                    strip.cell(|ui| {
                        rects.telemetry = ui.max_rect();
                        rects.plot = self.telemetry_plot(ui);
                    });
                }
                strip.cell(|ui| {
                    rects.log = ui.max_rect();
                    self.log_view(ui);
                });
            });
        self.rects = rects;
    }

    fn controls(&mut self, ui: &mut egui::Ui, state: &mut EditorState) {
        ui.horizontal_wrapped(|ui| {
            ui.strong("Deploy");
            ui.add_enabled(
                !self.is_running(),
                egui::Checkbox::new(&mut self.simulate, "simulated devices"),
            );
            if self.is_running() {
                if ui.button("⏹ Cancel").clicked() {
                    self.cancel();
                }
                ui.spinner();
            } else {
                if ui.button("▶ Deploy").clicked() {
                    self.request_deploy(state);
                }
                let can_undeploy = self
                    .instance
                    .as_ref()
                    .is_some_and(|i| i.phase != "undeployed");
                if ui
                    .add_enabled(can_undeploy, egui::Button::new("⏏ Undeploy"))
                    .clicked()
                {
                    self.start(state, true);
                }
            }
            if let Some(e) = self.elapsed {
                ui.label(format!("{:.1} s", e.as_secs_f32()));
            }
            let done = self
                .steps
                .iter()
                .filter(|s| s.state == NodeRun::Done)
                .count();
            if !self.steps.is_empty() {
                ui.add(
                    egui::ProgressBar::new(done as f32 / self.steps.len() as f32)
                        .desired_width(140.0)
                        .text(format!("{done}/{} steps", self.steps.len())),
                );
            }
            let current = state.doc.st().qname().to_string();
            if let Some(of) = self.run_of.as_ref().filter(|of| **of != current) {
                let name = of.rsplit('}').next().unwrap_or(of);
                ui.add(
                    egui::Label::new(
                        RichText::new(format!("steps and log of {name}")).color(AMBER),
                    )
                    .truncate(),
                )
                .on_hover_text(format!(
                    "The steps, log and telemetry below are of the last run, of {of}; \
                     open its tab to see it on the canvas."
                ));
            }
            if let Some(i) = &self.instance {
                let full = format!("instance {} ({})", i.id, i.phase);
                ui.add(egui::Label::new(RichText::new(&full).weak()).truncate())
                    .on_hover_text(&full);
            }
            if !self.simulate {
                ui.checkbox(&mut self.accept_new_host_keys, "accept new SSH host keys")
                    .on_hover_text(
                        "Unknown host keys are refused and their fingerprint is shown in the \
                         log; tick this only after checking it.",
                    );
            }
        });
    }

    fn outputs(&mut self, ui: &mut egui::Ui) {
        let Some(i) = &self.instance else { return };
        let outputs: Vec<String> = i
            .steps
            .iter()
            .filter(|s| !s.outputs.is_empty())
            .map(|s| {
                let kv: Vec<String> = s.outputs.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("{}: {}", s.id, kv.join(", "))
            })
            .collect();
        if !outputs.is_empty() {
            ui.collapsing("Outputs", |ui| {
                egui::ScrollArea::vertical()
                    .id_salt("outputs")
                    .max_height(80.0)
                    .show(ui, |ui| {
                        for o in outputs {
                            cell(ui, o);
                        }
                    });
            });
        }
    }

    /// The telemetry column: title, a legend row above the plot (inside a narrow plot a
    /// legend would cover the lines), the plot. Returns the plot's rect.
    fn telemetry_plot(&mut self, ui: &mut egui::Ui) -> Rect {
        ui.strong(format!("Telemetry (°C, {} devices)", self.telemetry.len()));
        let n = self.telemetry.len();
        ui.horizontal_wrapped(|ui| {
            ui.spacing_mut().item_spacing.x = 8.0;
            for (i, device) in self.telemetry.keys().take(LEGEND_MAX).enumerate() {
                ui.horizontal(|ui| {
                    ui.spacing_mut().item_spacing.x = 3.0;
                    let (r, _) = ui.allocate_exact_size(egui::vec2(8.0, 8.0), egui::Sense::hover());
                    ui.painter().rect_filled(r, 1.0, series_color(i, n));
                    ui.label(RichText::new(device).small().color(series_color(i, n)));
                });
            }
            if n > LEGEND_MAX {
                ui.label(
                    RichText::new(format!("+{} more", n - LEGEND_MAX))
                        .small()
                        .weak(),
                )
                .on_hover_text("hover a line in the plot for its device");
            }
        });
        egui_plot::Plot::new("telemetry")
            .height(ui.available_height().max(40.0))
            .show(ui, |plot| {
                for (i, (device, series)) in self.telemetry.iter().enumerate() {
                    let points: Vec<[f64; 2]> = series.iter().copied().collect();
                    plot.line(
                        egui_plot::Line::new(device.clone(), egui_plot::PlotPoints::from(points))
                            .color(series_color(i, n)),
                    );
                }
            })
            .response
            .rect
    }

    fn steps_table(&mut self, ui: &mut egui::Ui) {
        ui.strong(format!("Steps ({})", self.steps.len()));
        TableBuilder::new(ui)
            .id_salt("steps-table")
            .striped(true)
            .auto_shrink(false)
            .column(Column::exact(16.0))
            .column(Column::remainder().clip(true))
            .body(|body| {
                body.rows(ROW, self.steps.len(), |mut row| {
                    let s = &self.steps[row.index()];
                    let (icon, c) = match &s.state {
                        NodeRun::Pending => ("○", Color32::GRAY),
                        NodeRun::Running(_) => ("◑", BLUE),
                        NodeRun::Done => ("✔", GREEN),
                        NodeRun::Failed(_) => ("✖", RED),
                        NodeRun::Skipped(_) => ("–", Color32::GRAY),
                        NodeRun::Undeployed => ("○", Color32::GRAY),
                    };
                    row.col(|ui| {
                        ui.colored_label(c, icon);
                    });
                    row.col(|ui| {
                        let r = cell(ui, RichText::new(&s.id).color(c));
                        match &s.state {
                            NodeRun::Failed(why) | NodeRun::Skipped(why) => {
                                r.on_hover_text(format!("{}: {why}", s.id));
                            }
                            NodeRun::Running(op) => {
                                r.on_hover_text(format!("{}: running {op}", s.id));
                            }
                            _ => {}
                        }
                    });
                });
            });
    }

    /// The rows of the devices table after filter and sort.
    fn device_rows<'a>(&self, state: &'a EditorState) -> Vec<(&'a String, &'a DeviceMarker)> {
        let filter = self.filter.to_lowercase();
        let mut rows: Vec<(&String, &DeviceMarker)> = state
            .overlays
            .iter()
            .flat_map(|(n, o)| o.devices.iter().map(move |d| (n, d)))
            .filter(|(n, d)| {
                filter.is_empty()
                    || format!("{n} {} {} {}", d.id, d.state.name(), detail(&d.state))
                        .to_lowercase()
                        .contains(&filter)
            })
            .collect();
        match self.sort {
            1 => rows.sort_by(|a, b| a.1.id.cmp(&b.1.id)),
            2 => rows.sort_by(|a, b| {
                a.1.state
                    .name()
                    .cmp(b.1.state.name())
                    .then(a.1.id.cmp(&b.1.id))
            }),
            _ => {}
        }
        rows
    }

    fn devices_table(&mut self, ui: &mut egui::Ui, state: &EditorState) {
        ui.horizontal(|ui| {
            ui.strong("Devices");
            ui.add(
                egui::TextEdit::singleline(&mut self.filter)
                    .hint_text("filter")
                    .desired_width(110.0),
            );
        });
        let rows = self.device_rows(state);
        let mut sort = self.sort;
        let header = |ui: &mut egui::Ui, sort: &mut usize, i: usize, name: &str| {
            let text = if *sort == i {
                format!("{name} ⏷")
            } else {
                name.to_string()
            };
            if ui
                .add(egui::Button::new(RichText::new(text).strong()).frame(false))
                .on_hover_text(format!("sort by {name}"))
                .clicked()
            {
                *sort = i;
            }
        };
        TableBuilder::new(ui)
            .id_salt("devices-table")
            .striped(true)
            .resizable(true)
            .auto_shrink(false)
            .column(Column::initial(110.0).at_least(50.0).clip(true))
            .column(Column::initial(80.0).at_least(50.0).clip(true))
            .column(Column::initial(80.0).at_least(50.0).clip(true))
            .column(Column::remainder().at_least(40.0).clip(true))
            .header(ROW + 2.0, |mut h| {
                h.col(|ui| header(ui, &mut sort, 0, "node"));
                h.col(|ui| header(ui, &mut sort, 1, "device"));
                h.col(|ui| header(ui, &mut sort, 2, "state"));
                h.col(|ui| {
                    ui.strong("detail");
                });
            })
            .body(|body| {
                body.rows(ROW, rows.len(), |mut row| {
                    let (node, d) = rows[row.index()];
                    row.col(|ui| {
                        cell(ui, node.as_str());
                    });
                    row.col(|ui| {
                        cell(ui, d.id.as_str());
                    });
                    row.col(|ui| {
                        cell(
                            ui,
                            RichText::new(d.state.name())
                                .color(crate::gui::canvas::device_color(&d.state)),
                        );
                    });
                    row.col(|ui| {
                        cell(ui, detail(&d.state));
                    });
                });
            });
        self.sort = sort;
    }

    fn log_view(&mut self, ui: &mut egui::Ui) {
        ui.strong(format!("Log ({} lines)", self.log.len()));
        TableBuilder::new(ui)
            .id_salt("log-table")
            .striped(false)
            .auto_shrink(false)
            .stick_to_bottom(true)
            .column(Column::remainder().clip(true))
            .body(|body| {
                body.rows(ROW, self.log.len(), |mut row| {
                    let (level, line) = &self.log[row.index()];
                    row.col(|ui| {
                        let c = match level {
                            Level::Info => ui.visuals().text_color(),
                            Level::Warn => AMBER,
                            Level::Error => RED,
                        };
                        cell(ui, RichText::new(line).color(c));
                    });
                });
            });
    }
}

/// The detail column: a failure's reason or the download progress.
fn detail(s: &DeviceState) -> String {
    match s {
        DeviceState::Failed { reason } => reason.clone(),
        DeviceState::Downloading { written, total } => {
            format!("{}%", written * 100 / (*total).max(1))
        }
        _ => String::new(),
    }
}
