//! The Logs tab: anomaly scores (template mining, as D3.5's log analysis) for the deployment's
//! log and for device or broker log files the user points at; the rarest lines first.

use provisio_engines::monitoring::logmine::{Analysis, analyze};

/// The Logs tab's state.
#[derive(Default)]
pub struct LogsUi {
    pub path: String,
    pub result: Option<Analysis>,
    pub error: Option<String>,
}

impl LogsUi {
    pub fn panel(
        &mut self,
        ui: &mut egui::Ui,
        deploy_log: &[(provisio_engines::events::Level, String)],
    ) {
        ui.horizontal(|ui| {
            if ui
                .add_enabled(
                    !deploy_log.is_empty(),
                    egui::Button::new("Analyze deploy log"),
                )
                .clicked()
            {
                let text: String = deploy_log.iter().map(|(_, l)| format!("{l}\n")).collect();
                self.result = Some(analyze(&[("deploy".to_string(), text)]));
                self.error = None;
            }
            ui.separator();
            ui.add(
                egui::TextEdit::singleline(&mut self.path)
                    .hint_text("device or broker log file")
                    .desired_width(320.0),
            );
            if ui.button("Analyze file").clicked() {
                match std::fs::read(self.path.trim()) {
                    Ok(b) => {
                        self.result = Some(analyze(&[(
                            self.path.trim().to_string(),
                            String::from_utf8_lossy(&b).into_owned(),
                        )]));
                        self.error = None;
                    }
                    Err(e) => self.error = Some(format!("{}: {e}", self.path.trim())),
                }
            }
        });
        if let Some(e) = &self.error {
            ui.colored_label(egui::Color32::from_rgb(220, 70, 60), e);
        }
        let Some(a) = &self.result else {
            ui.weak("Scores every line by how rare its template is; the most anomalous lines come first.");
            return;
        };
        for (f, mean, max) in &a.files {
            ui.label(format!(
                "{f}: {} templates, mean score {mean:.2}, max {max:.2}",
                a.templates
            ));
        }
        egui::ScrollArea::vertical()
            .id_salt("log-scores")
            .show(ui, |ui| {
                egui::Grid::new("log-scores-grid")
                    .striped(true)
                    .show(ui, |ui| {
                        for l in a.lines.iter().take(50) {
                            ui.monospace(format!("{:5.2}", l.score));
                            ui.monospace(format!("{}:{}", l.file, l.line));
                            ui.label(&l.text).on_hover_text(&l.template);
                            ui.end_row();
                        }
                    });
            });
    }
}
