//! The Provisio editor (egui/eframe): palette left, canvas centre, inspector right, diagnostics
//! and deploy at the bottom, menu and toolbar on top. `ProvisioApp::ui` is the whole UI, so
//! egui_kittest tests drive exactly what the window shows.

pub mod browser;
pub mod canvas;
pub mod commands;
pub mod deploy_panel;
pub mod diagnostics;
pub mod files;
pub mod icons;
pub mod inspector;
pub mod layout;
pub mod logs_panel;
pub mod palette;
pub mod state;
pub mod type_editor;
pub mod workspace;

use commands::Command;
use deploy_panel::DeployUi;
use state::{EditorState, Selected};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Which bottom tab is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BottomTab {
    Diagnostics,
    Deploy,
    Logs,
}

/// The application.
pub struct ProvisioApp {
    pub state: EditorState,
    pub deploy: DeployUi,
    pub logs: logs_panel::LogsUi,
    pub tab: BottomTab,
    /// The "open path" fallback dialog (no native dialog available, or typed by the user).
    pub path_dialog: Option<(PathDialog, String)>,
    pub recovery: Option<(PathBuf, files::Recovery)>,
    /// Confirm before discarding unsaved changes: what to do after.
    pub confirm: Option<Pending>,
    last_autosave: Instant,
    pub error: Option<String>,
    /// The window title last sent (sent again only when it changes).
    title: String,
    /// Repository browser, open service template tabs, type editor.
    pub workspace: workspace::Workspace,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathDialog {
    Open,
    SaveAs,
    ExportCsar,
}

/// An action waiting for "discard unsaved changes?".
#[derive(Debug, Clone)]
pub enum Pending {
    Open(PathBuf),
    Example(String),
    New,
    Quit,
}

impl ProvisioApp {
    /// The app with the thesis scenario (first start) or the last file.
    pub fn new() -> Self {
        let doc = files::recent_files()
            .into_iter()
            .find(|p| p.exists())
            .and_then(|p| files::open_path(&p).ok())
            .or_else(|| files::open_example("ThesisScenario").ok())
            .unwrap_or_else(files::new_document);
        let mut app = Self::with_document(doc);
        app.recovery = files::pending_recovery();
        app.deploy.restore(&mut app.state);
        app
    }

    pub fn with_document(doc: state::Document) -> Self {
        let state = EditorState::new(doc);
        ProvisioApp {
            workspace: workspace::Workspace::for_state(&state),
            state,
            deploy: DeployUi::default(),
            logs: Default::default(),
            tab: BottomTab::Diagnostics,
            path_dialog: None,
            recovery: None,
            confirm: None,
            last_autosave: Instant::now(),
            error: None,
            title: String::new(),
        }
    }

    fn replace_document(&mut self, doc: state::Document) {
        self.state = EditorState::new(doc);
        self.workspace = workspace::Workspace::for_state(&self.state);
        self.deploy.instance = None;
        self.deploy.restore(&mut self.state);
    }

    fn do_pending(&mut self, p: Pending, ctx: &egui::Context) {
        match p {
            Pending::Open(path) => match files::open_path(&path) {
                Ok(doc) => {
                    files::remember_recent(&path);
                    self.replace_document(doc);
                }
                Err(e) => self.error = Some(e),
            },
            Pending::Example(id) => match files::open_example(&id) {
                Ok(doc) => self.replace_document(doc),
                Err(e) => self.error = Some(e),
            },
            Pending::New => self.replace_document(files::new_document()),
            Pending::Quit => {
                files::clear_recovery();
                ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            }
        }
    }

    fn guarded(&mut self, p: Pending, ctx: &egui::Context) {
        if self.state.dirty {
            self.confirm = Some(p);
        } else {
            self.do_pending(p, ctx);
        }
    }

    fn save(&mut self) {
        match self.state.doc.save_path.clone() {
            Some(p) => {
                if let Err(e) = self.state.save_to(&p) {
                    self.error = Some(e);
                }
            }
            None => self.save_as(),
        }
    }

    fn save_as(&mut self) {
        let picked = rfd::FileDialog::new()
            .add_filter("TOSCA", &["tosca", "xml"])
            .set_file_name(format!("{}.tosca", self.state.doc.st().id))
            .save_file();
        match picked {
            Some(p) => {
                if let Err(e) = self.state.save_to(&p) {
                    self.error = Some(e);
                }
            }
            None => {
                self.path_dialog = Some((
                    PathDialog::SaveAs,
                    format!("{}.tosca", self.state.doc.st().id),
                ))
            }
        }
    }

    /// Exports the open service template (as edited) to a CSAR.
    pub fn export_csar(&mut self, path: &std::path::Path) {
        let st = self.state.doc.st().clone();
        match crate::cli::export_csar::export(&self.state.doc.loaded, &st).and_then(|x| {
            provisio_model::save::write_atomic(path, &x.bytes)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(x)
        }) {
            Ok(x) => {
                self.state.status = format!(
                    "exported {} ({} entries, {} bytes)",
                    path.display(),
                    x.entries.len(),
                    x.bytes.len()
                )
            }
            Err(e) => self.error = Some(e),
        }
    }

    fn open_dialog(&mut self, ctx: &egui::Context, folder: bool) {
        let picked = if folder {
            rfd::FileDialog::new().pick_folder()
        } else {
            rfd::FileDialog::new()
                .add_filter("TOSCA or CSAR", &["tosca", "xml", "csar", "zip"])
                .pick_file()
        };
        match picked {
            Some(p) => self.guarded(Pending::Open(p), ctx),
            None => self.path_dialog = Some((PathDialog::Open, String::new())),
        }
    }

    /// The whole UI (used by eframe and by tests).
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        self.deploy.poll(&mut self.state, &ctx);
        self.keyboard(&ctx);
        egui::Panel::top("menu").show(ui, |ui| self.menu_bar(ui, &ctx));
        // The repository browser takes the whole window; the type editor keeps the palette.
        let centre = self.workspace.centre;
        if centre != workspace::Centre::Browser {
            egui::Panel::left("palette")
                .default_size(220.0)
                .show(ui, |ui| palette::palette(ui, &mut self.state));
        }
        if centre == workspace::Centre::Editor {
            self.editor_panels(ui);
        }
        if !workspace::centre(self, ui) {
            egui::CentralPanel::default().show(ui, |ui| canvas::canvas(ui, &mut self.state));
        }
        self.after_panels(&ctx);
    }

    /// Inspector and the bottom panel (diagnostics, deploy, logs) of the open topology.
    fn editor_panels(&mut self, ui: &mut egui::Ui) {
        egui::Panel::right("inspector")
            .default_size(300.0)
            .show(ui, |ui| inspector::inspector(ui, &mut self.state));
        egui::Panel::bottom("bottom")
            .resizable(true)
            .default_size(170.0)
            .show(ui, |ui| {
                ui.horizontal(|ui| {
                    ui.selectable_value(&mut self.tab, BottomTab::Diagnostics, "Diagnostics");
                    ui.selectable_value(&mut self.tab, BottomTab::Deploy, "Deploy");
                    ui.selectable_value(&mut self.tab, BottomTab::Logs, "Logs");
                });
                ui.separator();
                match self.tab {
                    BottomTab::Diagnostics => diagnostics::panel(ui, &mut self.state),
                    BottomTab::Deploy => self.deploy.panel(ui, &mut self.state),
                    BottomTab::Logs => self.logs.panel(ui, &self.deploy.log),
                }
            });
    }

    fn after_panels(&mut self, ctx: &egui::Context) {
        let ctx = ctx.clone();
        self.deploy.inputs_dialog(&ctx, &mut self.state);
        if self.deploy.open {
            self.tab = BottomTab::Deploy;
            self.deploy.open = false;
        }
        self.dialogs(&ctx);
        let title = format!(
            "{}{} — Provisio",
            if self.state.dirty { "● " } else { "" },
            self.state.doc.title()
        );
        if self.title != title {
            ctx.send_viewport_cmd(egui::ViewportCommand::Title(title.clone()));
            self.title = title;
        }
        if self.state.dirty && self.last_autosave.elapsed() > Duration::from_secs(20) {
            files::autosave(&self.state);
            self.last_autosave = Instant::now();
        }
    }

    fn keyboard(&mut self, ctx: &egui::Context) {
        if ctx.egui_wants_keyboard_input() {
            return;
        }
        use egui::{Key, KeyboardShortcut, Modifiers};
        let redo = ctx.input_mut(|i| {
            i.consume_shortcut(&KeyboardShortcut::new(
                Modifiers::COMMAND | Modifiers::SHIFT,
                Key::Z,
            )) || i.consume_shortcut(&KeyboardShortcut::new(Modifiers::COMMAND, Key::Y))
        });
        if redo {
            self.state.redo();
        }
        if ctx.input_mut(|i| i.consume_shortcut(&KeyboardShortcut::new(Modifiers::COMMAND, Key::Z)))
        {
            self.state.undo();
        }
        if ctx.input_mut(|i| i.consume_shortcut(&KeyboardShortcut::new(Modifiers::COMMAND, Key::S)))
        {
            self.save();
        }
        if ctx.input_mut(|i| i.consume_shortcut(&KeyboardShortcut::new(Modifiers::COMMAND, Key::A)))
        {
            let ids: Vec<String> = self
                .state
                .doc
                .topology()
                .node_templates
                .iter()
                .map(|n| n.id.clone())
                .collect();
            self.state.selection = ids.into_iter().map(Selected::Node).collect();
        }
        if ctx.input_mut(|i| i.consume_shortcut(&KeyboardShortcut::new(Modifiers::COMMAND, Key::C)))
        {
            let sel = self.state.selected_nodes();
            self.state.clipboard = self
                .state
                .doc
                .topology()
                .node_templates
                .iter()
                .filter(|n| sel.contains(&n.id))
                .cloned()
                .collect();
        }
        if ctx.input_mut(|i| i.consume_shortcut(&KeyboardShortcut::new(Modifiers::COMMAND, Key::V)))
            && !self.state.clipboard.is_empty()
        {
            let nodes = self.state.clipboard.clone();
            self.state.apply(Command::Paste {
                nodes,
                dx: 40.0,
                dy: 40.0,
            });
        }
        let delete = ctx.input(|i| i.key_pressed(Key::Delete) || i.key_pressed(Key::Backspace));
        if delete && !self.state.selection.is_empty() {
            self.state.apply(Command::DeleteSelection);
        }
        if ctx.input(|i| i.key_pressed(Key::F) && i.modifiers.is_none()) {
            self.state.fit_requested = true;
        }
    }

    fn menu_bar(&mut self, ui: &mut egui::Ui, ctx: &egui::Context) {
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| {
                if ui.button("New topology").clicked() {
                    self.guarded(Pending::New, ctx);
                }
                if ui.button("Open file or CSAR…").clicked() {
                    self.open_dialog(ctx, false);
                }
                if ui.button("Open Winery repository…").clicked() {
                    self.open_dialog(ctx, true);
                }
                if ui.button("Open path…").clicked() {
                    self.path_dialog = Some((PathDialog::Open, String::new()));
                }
                ui.menu_button("Examples", |ui| {
                    for (_, id) in provisio_assets::example_service_templates() {
                        if ui.button(id).clicked() {
                            self.guarded(Pending::Example(id.to_string()), ctx);
                        }
                    }
                });
                ui.menu_button("Recent", |ui| {
                    let recent = files::recent_files();
                    if recent.is_empty() {
                        ui.weak("nothing yet");
                    }
                    for p in recent {
                        if ui.button(p.display().to_string()).clicked() {
                            self.guarded(Pending::Open(p), ctx);
                        }
                    }
                });
                ui.separator();
                if ui.button("Save          Ctrl+S").clicked() {
                    self.save();
                }
                if ui.button("Save as…").clicked() {
                    self.save_as();
                }
                if ui.button("Export CSAR…").clicked() {
                    let name = format!("{}.csar", self.state.doc.st().id);
                    match rfd::FileDialog::new()
                        .add_filter("CSAR", &["csar"])
                        .set_file_name(&name)
                        .save_file()
                    {
                        Some(p) => self.export_csar(&p),
                        None => self.path_dialog = Some((PathDialog::ExportCsar, name)),
                    }
                }
                ui.separator();
                if ui.button("Quit").clicked() {
                    self.guarded(Pending::Quit, ctx);
                }
            });
            workspace::menu(self, ui);
            ui.menu_button("Edit", |ui| {
                if ui
                    .add_enabled(self.state.can_undo(), egui::Button::new("Undo   Ctrl+Z"))
                    .clicked()
                {
                    self.state.undo();
                }
                if ui
                    .add_enabled(
                        self.state.can_redo(),
                        egui::Button::new("Redo   Ctrl+Shift+Z"),
                    )
                    .clicked()
                {
                    self.state.redo();
                }
                if ui
                    .add_enabled(
                        !self.state.selection.is_empty(),
                        egui::Button::new("Delete   Del"),
                    )
                    .clicked()
                {
                    self.state.apply(Command::DeleteSelection);
                }
                if ui.button("Auto layout").clicked() {
                    self.state.apply(Command::AutoLayout);
                    self.state.fit_requested = true;
                }
            });
            ui.menu_button("View", |ui| {
                if ui.button("Fit to view   F").clicked() {
                    self.state.fit_requested = true;
                }
                if ui.button("Zoom in").clicked() {
                    self.state.view.zoom = (self.state.view.zoom * 1.2).min(4.0);
                }
                if ui.button("Zoom out").clicked() {
                    self.state.view.zoom = (self.state.view.zoom / 1.2).max(0.1);
                }
            });
            ui.separator();
            if ui
                .add_enabled(self.state.can_undo(), egui::Button::new("Undo"))
                .on_hover_text("Ctrl+Z")
                .clicked()
            {
                self.state.undo();
            }
            if ui
                .add_enabled(self.state.can_redo(), egui::Button::new("Redo"))
                .on_hover_text("Ctrl+Shift+Z")
                .clicked()
            {
                self.state.redo();
            }
            if ui
                .button("⊞ Layout")
                .on_hover_text("Stack hosts under what they host")
                .clicked()
            {
                self.state.apply(Command::AutoLayout);
                self.state.fit_requested = true;
            }
            if ui.button("⛶ Fit").clicked() {
                self.state.fit_requested = true;
            }
            ui.separator();
            let errors = self
                .state
                .diagnostics
                .iter()
                .filter(|d| d.is_error())
                .count();
            let (text, color) = if errors > 0 {
                (
                    format!("⛔ {errors} error(s)"),
                    egui::Color32::from_rgb(220, 70, 60),
                )
            } else {
                ("✔ valid".to_string(), egui::Color32::from_rgb(60, 170, 90))
            };
            if ui
                .add(egui::Button::new(egui::RichText::new(text).color(color)).frame(false))
                .clicked()
            {
                self.tab = BottomTab::Diagnostics;
            }
            ui.separator();
            let deploy = ui.add_enabled(
                !self.deploy.is_running(),
                egui::Button::new(egui::RichText::new("▶ Deploy").strong()),
            );
            if deploy.clicked() {
                self.deploy.request_deploy(&mut self.state);
            }
            ui.checkbox(&mut self.deploy.simulate, "simulated devices");
        });
    }

    fn dialogs(&mut self, ctx: &egui::Context) {
        if let Some((kind, mut text)) = self.path_dialog.take() {
            let mut keep = true;
            let title = match kind {
                PathDialog::Open => "Open path (file, Winery repository folder or CSAR)",
                PathDialog::SaveAs => "Save as",
                PathDialog::ExportCsar => "Export CSAR to",
            };
            egui::Window::new(title)
                .collapsible(false)
                .anchor(egui::Align2::CENTER_CENTER, [0.0, 0.0])
                .show(ctx, |ui| {
                    let r = ui.add(egui::TextEdit::singleline(&mut text).desired_width(420.0));
                    ui.horizontal(|ui| {
                        let enter = r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                        if ui.button("OK").clicked() || enter {
                            keep = false;
                            let p = PathBuf::from(text.trim());
                            match kind {
                                PathDialog::Open => self.guarded(Pending::Open(p), ctx),
                                PathDialog::SaveAs => {
                                    if let Err(e) = self.state.save_to(&p) {
                                        self.error = Some(e);
                                    }
                                }
                                PathDialog::ExportCsar => self.export_csar(&p),
                            }
                        }
                        if ui.button("Cancel").clicked() {
                            keep = false;
                        }
                    });
                });
            if keep {
                self.path_dialog = Some((kind, text));
            }
        }
        if let Some(p) = self.confirm.clone() {
            egui::Window::new("Unsaved changes")
                .collapsible(false)
                .anchor(egui::Align2::CENTER_CENTER, [0.0, 0.0])
                .show(ctx, |ui| {
                    ui.label("The topology has unsaved changes. Discard them?");
                    ui.horizontal(|ui| {
                        if ui.button("Save").clicked() {
                            self.save();
                            self.confirm = None;
                            if !self.state.dirty {
                                self.do_pending(p.clone(), ctx);
                            }
                        }
                        if ui.button("Discard").clicked() {
                            self.confirm = None;
                            self.state.dirty = false;
                            self.do_pending(p.clone(), ctx);
                        }
                        if ui.button("Cancel").clicked() {
                            self.confirm = None;
                        }
                    });
                });
        }
        if let Some((xml, meta)) = self.recovery.clone() {
            egui::Window::new("Recover unsaved work?")
                .collapsible(false)
                .anchor(egui::Align2::CENTER_CENTER, [0.0, 0.0])
                .show(ctx, |ui| {
                    ui.label(format!(
                        "Provisio found unsaved changes of {} from an earlier session.",
                        meta.service_template
                    ));
                    ui.horizontal(|ui| {
                        if ui.button("Recover").clicked() {
                            match files::open_recovery(&xml, &meta) {
                                Ok(doc) => {
                                    self.replace_document(doc);
                                    self.state.dirty = true;
                                }
                                Err(e) => self.error = Some(e),
                            }
                            self.recovery = None;
                        }
                        if ui.button("Discard").clicked() {
                            files::clear_recovery();
                            self.recovery = None;
                        }
                    });
                });
        }
        if let Some(e) = self.error.clone() {
            egui::Window::new("Error")
                .collapsible(false)
                .anchor(egui::Align2::CENTER_CENTER, [0.0, 0.0])
                .show(ctx, |ui| {
                    ui.label(&e);
                    if ui.button("OK").clicked() {
                        self.error = None;
                    }
                });
        }
    }
}

impl Default for ProvisioApp {
    fn default() -> Self {
        Self::new()
    }
}

impl eframe::App for ProvisioApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        ProvisioApp::ui(self, ui);
    }

    fn on_exit(&mut self, _gl: Option<&eframe::glow::Context>) {
        if !self.state.dirty {
            files::clear_recovery();
        } else {
            files::autosave(&self.state);
        }
    }
}

/// Opens the window.
pub fn run() -> Result<(), String> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_inner_size([1400.0, 860.0])
            .with_title("Provisio"),
        ..Default::default()
    };
    eframe::run_native(
        "Provisio",
        options,
        Box::new(|_cc| Ok(Box::new(ProvisioApp::new()))),
    )
    .map_err(|e| e.to_string())
}
