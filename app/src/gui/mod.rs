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
pub mod in_view;
pub mod inspector;
pub mod instances;
pub mod layout;
pub mod logs_panel;
pub mod palette;
pub mod quit;
pub mod recovery;
pub mod state;
pub mod type_editor;
pub mod unsaved;
pub mod window_fit;
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
    /// The Instances window (View ▸ Instances).
    pub instances: instances::InstancesUi,
    pub tab: BottomTab,
    /// The "open path" fallback dialog (no native dialog available, or typed by the user).
    pub path_dialog: Option<(PathDialog, String)>,
    /// The recovery copy an earlier session left (offered back first).
    pub recovery: Option<files::Recovery>,
    /// A failed restore could not keep its copy aside: autosave leaves the recovery folder
    /// alone for the rest of the session.
    pub recovery_held: bool,
    /// Confirm before discarding unsaved changes: what to do after.
    pub confirm: Option<Pending>,
    last_autosave: Instant,
    pub error: Option<String>,
    /// The window title last sent (sent again only when it changes).
    pub title: String,
    /// Repository browser, open service template tabs, type editor.
    pub workspace: workspace::Workspace,
    /// Height of the bottom panel the user set by dragging its edge (remembered between
    /// sessions by [`ProvisioApp::new`]); until then 30 % of the window (220 to 360 points:
    /// the deploy panel's tables show several rows even at 1024×640).
    pub bottom_height: Option<f32>,
    /// The bottom panel's height last frame, and whether a drag changed it since the last save.
    last_bottom: f32,
    bottom_unsaved: bool,
    /// Whether window settings are written to the data directory (not in tests).
    persist_ui: bool,
    /// Whether the window's size was checked against the monitor's ([`window_fit`]).
    window_checked: bool,
}

/// The modal dialogs, shown one at a time in this order of precedence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Modal {
    Recovery,
    Error,
    /// The type editor's unsaved edits.
    ConfirmType,
    Confirm,
    Path,
    DeployInputs,
    /// "Forget instance …?" of the Instances window.
    ForgetInstance,
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
        Self::started(doc)
    }

    /// The app with `path` (file, Winery repository or CSAR) open, choosing the service
    /// template `wanted` (`{ns}id` or id); an error is shown over the thesis scenario.
    pub fn open_at(path: &std::path::Path, wanted: Option<&str>) -> Self {
        match files::open_path_with(path, wanted) {
            Ok(doc) => {
                files::remember_recent(path);
                let mut app = Self::started(doc);
                let tidied = std::mem::take(&mut app.state.status);
                app.state.status = format!("opened {}", path.display());
                if !tidied.is_empty() {
                    app.state.status += &format!("; {tidied}");
                }
                app
            }
            Err(e) => {
                let mut app = Self::new();
                app.error = Some(format!("cannot open {}: {e}", path.display()));
                app
            }
        }
    }

    /// A started window's app: the recovery prompt queued (else old kept copies tidied),
    /// settings and last deploy restored.
    fn started(doc: state::Document) -> Self {
        let mut app = Self::with_document(doc);
        app.recovery = files::pending_recovery();
        recovery::tidy_kept(&mut app);
        app.deploy.restore(&mut app.state);
        app.persist_ui = true;
        if let Some(h) = crate::data_dir::load_ui_settings().bottom_height {
            app.bottom_height = Some(h.clamp(80.0, 2000.0));
        }
        app
    }

    pub fn with_document(doc: state::Document) -> Self {
        let state = EditorState::new(doc);
        ProvisioApp {
            workspace: workspace::Workspace::for_state(&state),
            state,
            deploy: DeployUi::default(),
            logs: Default::default(),
            instances: Default::default(),
            tab: BottomTab::Diagnostics,
            path_dialog: None,
            recovery: None,
            recovery_held: false,
            confirm: None,
            last_autosave: Instant::now(),
            error: None,
            title: String::new(),
            bottom_height: None,
            last_bottom: 0.0,
            bottom_unsaved: false,
            persist_ui: false,
            window_checked: false,
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
                    self.state.status = format!("opened {}", path.display());
                }
                Err(e) => {
                    self.state.status = format!("cannot open {}: {e}", path.display());
                    self.error = Some(e);
                }
            },
            Pending::Example(id) => match files::open_example(&id) {
                Ok(doc) => self.replace_document(doc),
                Err(e) => self.error = Some(e),
            },
            Pending::New => self.replace_document(files::new_document()),
            Pending::Quit => {
                recovery::clear(self);
                ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            }
        }
    }

    /// Does `p` (which replaces the document), asking first about unsaved edits: the type
    /// editor's, then those of every open service template.
    fn guarded(&mut self, p: Pending, ctx: &egui::Context) {
        if type_editor::ask_before(self, &p) {
            return;
        }
        if unsaved::any(self) {
            self.confirm = Some(p);
        } else {
            self.do_pending(p, ctx);
        }
    }

    fn save(&mut self) {
        match self.state.doc.save_path.clone() {
            Some(p) => self.save_to(&p),
            None => self.save_as(),
        }
    }

    fn save_as(&mut self) {
        let picked = rfd::FileDialog::new()
            .add_filter("TOSCA", &["tosca", "xml"])
            .set_file_name(format!("{}.tosca", self.state.doc.st().id))
            .save_file();
        match picked {
            Some(p) => self.save_to(&p),
            None => {
                let name = format!("{}.tosca", self.state.doc.st().id);
                self.path_dialog = Some((PathDialog::SaveAs, self.suggested_path(&name)))
            }
        }
    }

    /// Where the path prompt suggests writing `file_name`: next to the open file or beside the
    /// open repository (never inside it), else in the working directory; always absolute.
    pub fn suggested_path(&self, file_name: &str) -> String {
        let loaded = &self.state.doc.loaded;
        let beside = if loaded.kind == provisio_model::InputKind::File {
            self.state.doc.save_path.as_deref()
        } else {
            Some(loaded.path.as_path())
        };
        let dir = beside
            .and_then(|p| std::path::absolute(p).ok())
            .as_deref()
            .and_then(|p| p.parent())
            .filter(|d| !d.as_os_str().is_empty())
            .map(std::path::Path::to_path_buf)
            .unwrap_or_else(|| std::env::current_dir().unwrap_or_default());
        absolute(&dir.join(file_name).display().to_string())
            .display()
            .to_string()
    }

    /// Saves to `path`; success or failure goes to the status line (failure also to a dialog).
    pub fn save_to(&mut self, path: &std::path::Path) {
        match self.state.save_to(path) {
            Ok(()) => recovery::after_save(self),
            Err(e) => {
                self.state.status = format!("save failed: {e}");
                self.error = Some(format!("Save failed: {e}"));
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
                    "exported CSAR {} ({} entries, {} bytes)",
                    path.display(),
                    x.entries.len(),
                    x.bytes.len()
                )
            }
            Err(e) => {
                self.state.status = format!("CSAR export to {} failed: {e}", path.display());
                self.error = Some(format!("Export CSAR to {} failed: {e}", path.display()));
            }
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
        if !self.window_checked {
            self.window_checked = window_fit::fit_to_monitor(&ctx);
        }
        quit::on_close_request(self, &ctx);
        let was_running = self.deploy.is_running();
        self.deploy.poll(&mut self.state, &ctx);
        let run_ended = was_running && !self.deploy.is_running();
        self.keyboard(&ctx);
        egui::Panel::top("menu").show(ui, |ui| self.menu_bar(ui, &ctx));
        egui::Panel::bottom("status").show(ui, |ui| status_line(ui, &self.state.status));
        // The repository browser takes the whole window; the type editor keeps the palette; a
        // topology in the centre gets the inspector and the bottom panel.
        let centre = self.workspace.centre;
        if centre == workspace::Centre::Editor {
            self.bottom_panel(ui, &ctx);
        }
        if centre != workspace::Centre::Browser {
            egui::Panel::left("palette")
                .default_size(palette::WIDTH)
                .size_range(palette::MIN_WIDTH..=palette::MAX_WIDTH)
                .show(ui, |ui| palette::palette(ui, &mut self.state));
        }
        if centre == workspace::Centre::Editor {
            egui::Panel::right("inspector")
                .default_size(280.0)
                .size_range(200.0..=420.0)
                .show(ui, |ui| inspector::inspector(ui, &mut self.state));
        }
        if !workspace::centre(self, ui) {
            egui::CentralPanel::default().show(ui, |ui| canvas::canvas(ui, &mut self.state));
        }
        instances::frame(self, &ctx, run_ended);
        self.after_panels(&ctx);
    }

    /// The bottom panel (diagnostics, deploy, logs): it spans the window's width (the deploy
    /// tables need it); the palette, canvas and inspector share what is above it.
    fn bottom_panel(&mut self, ui: &mut egui::Ui, ctx: &egui::Context) {
        let max_bottom = (ui.available_height() - 160.0).max(100.0);
        let bottom = egui::Panel::bottom("bottom")
            .resizable(true)
            .default_size(
                self.bottom_height
                    .unwrap_or((ui.available_height() * 0.3).clamp(220.0, 360.0))
                    .min(max_bottom),
            )
            .size_range(80.0..=max_bottom)
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
        self.remember_bottom_height(bottom.response.rect.height(), ctx);
    }

    fn after_panels(&mut self, ctx: &egui::Context) {
        let ctx = ctx.clone();
        if self.deploy.open {
            self.tab = BottomTab::Deploy;
            self.deploy.open = false;
        }
        self.dialogs(&ctx);
        let title = format!(
            "{}{} — Provisio",
            if self.state.dirty { "* " } else { "" },
            self.state.doc.title()
        );
        if self.title != title {
            ctx.send_viewport_cmd(egui::ViewportCommand::Title(title.clone()));
            self.title = title;
        }
        if unsaved::any(self) {
            let every = Duration::from_secs(20);
            if self.last_autosave.elapsed() >= every {
                recovery::autosave(self);
                self.last_autosave = Instant::now();
            }
            // An idle window draws no frames: wake up for the next copy, or the edits of the
            // last 20 s before the window went idle would never be copied.
            ctx.request_repaint_after(every.saturating_sub(self.last_autosave.elapsed()));
        }
    }

    /// Keeps the bottom panel's height when the user drags its edge; writes it to the data
    /// directory once the pointer is released.
    fn remember_bottom_height(&mut self, h: f32, ctx: &egui::Context) {
        let last = std::mem::replace(&mut self.last_bottom, h);
        let dragging = ctx.input(|i| i.pointer.any_down());
        if dragging && last != 0.0 && (h - last).abs() >= 0.5 {
            self.bottom_height = Some(h);
            self.bottom_unsaved = true;
        }
        if self.bottom_unsaved && !dragging {
            self.bottom_unsaved = false;
            if self.persist_ui {
                crate::data_dir::save_ui_settings(&crate::data_dir::UiSettings {
                    bottom_height: self.bottom_height,
                });
            }
        }
    }

    fn keyboard(&mut self, ctx: &egui::Context) {
        use egui::{Key, KeyboardShortcut, Modifiers};
        let save = KeyboardShortcut::new(Modifiers::COMMAND, Key::S);
        // In the type editor Ctrl+S saves the type, also while its name field has the keyboard.
        if in_view::type_form_shown(self) {
            if self.active_modal().is_none() && ctx.input_mut(|i| i.consume_shortcut(&save)) {
                type_editor::save_shown(self);
            }
            return;
        }
        // The shortcuts edit or save the topology: only while the editor shows it (not the
        // hidden "current" template behind the browser or the type editor).
        if ctx.egui_wants_keyboard_input() || !in_view::topology_shown(self) {
            return;
        }
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
        if ctx.input_mut(|i| i.consume_shortcut(&save)) {
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
                let shown = in_view::topology_shown(self);
                // In the type editor, Save saves the type (as its form's Save type button).
                let type_shown = in_view::type_form_shown(self);
                let label = if type_shown {
                    "Save type     Ctrl+S"
                } else {
                    "Save          Ctrl+S"
                };
                let save = ui.add_enabled(shown || type_shown, egui::Button::new(label));
                if save
                    .on_disabled_hover_text(in_view::open_first(self, "Save"))
                    .clicked()
                {
                    if type_shown {
                        type_editor::save_shown(self);
                    } else {
                        self.save();
                    }
                }
                let save_as = ui.add_enabled(shown, egui::Button::new("Save as…"));
                if save_as
                    .on_disabled_hover_text(in_view::open_first(self, "Save as"))
                    .clicked()
                {
                    self.save_as();
                }
                let export = in_view::export_label(self);
                let r = ui.add_enabled(
                    export.is_some(),
                    egui::Button::new(export.unwrap_or_else(|| "Export CSAR…".into())),
                );
                if r.on_disabled_hover_text(in_view::open_first(self, "Export CSAR"))
                    .clicked()
                {
                    let name = format!("{}.csar", self.state.doc.st().id);
                    match rfd::FileDialog::new()
                        .add_filter("CSAR", &["csar"])
                        .set_file_name(&name)
                        .save_file()
                    {
                        Some(p) => self.export_csar(&p),
                        None => {
                            let path = self.suggested_path(&name);
                            self.path_dialog = Some((PathDialog::ExportCsar, path))
                        }
                    }
                }
                ui.separator();
                if ui.button("Quit").clicked() {
                    quit::quit(self, ctx);
                }
            });
            workspace::menu(self, ui);
            let shown = in_view::topology_shown(self);
            ui.menu_button("Edit", |ui| {
                if ui
                    .add_enabled(
                        shown && self.state.can_undo(),
                        egui::Button::new("Undo   Ctrl+Z"),
                    )
                    .clicked()
                {
                    self.state.undo();
                }
                if ui
                    .add_enabled(
                        shown && self.state.can_redo(),
                        egui::Button::new("Redo   Ctrl+Shift+Z"),
                    )
                    .clicked()
                {
                    self.state.redo();
                }
                if ui
                    .add_enabled(
                        shown && !self.state.selection.is_empty(),
                        egui::Button::new("Delete   Del"),
                    )
                    .clicked()
                {
                    self.state.apply(Command::DeleteSelection);
                }
                if ui
                    .add_enabled(shown, egui::Button::new("Auto layout"))
                    .clicked()
                {
                    self.state.apply(Command::AutoLayout);
                    self.state.fit_requested = true;
                }
            });
            ui.menu_button("View", |ui| {
                if ui
                    .add_enabled(shown, egui::Button::new("Fit to view   F"))
                    .clicked()
                {
                    self.state.fit_requested = true;
                }
                if ui
                    .add_enabled(shown, egui::Button::new("Zoom in"))
                    .clicked()
                {
                    self.state.view.zoom = (self.state.view.zoom * 1.2).min(4.0);
                }
                if ui
                    .add_enabled(shown, egui::Button::new("Zoom out"))
                    .clicked()
                {
                    self.state.view.zoom = (self.state.view.zoom / 1.2).max(0.1);
                }
                ui.separator();
                if ui
                    .button("Instances…")
                    .on_hover_text("Every deployed instance of this machine: undeploy or forget")
                    .clicked()
                {
                    instances::open(self);
                }
            });
            ui.separator();
            if ui
                .add_enabled(shown && self.state.can_undo(), egui::Button::new("Undo"))
                .on_hover_text("Ctrl+Z")
                .clicked()
            {
                self.state.undo();
            }
            if ui
                .add_enabled(shown && self.state.can_redo(), egui::Button::new("Redo"))
                .on_hover_text("Ctrl+Shift+Z")
                .clicked()
            {
                self.state.redo();
            }
            if ui
                .add_enabled(shown, egui::Button::new("⊞ Layout"))
                .on_hover_text("Auto layout: hosts under what they host, connections left to right")
                .on_disabled_hover_text(in_view::open_first(self, "Layout"))
                .clicked()
            {
                self.state.apply(Command::AutoLayout);
                self.state.fit_requested = true;
            }
            if ui.add_enabled(shown, egui::Button::new("⛶ Fit")).clicked() {
                self.state.fit_requested = true;
            }
            diagnostics::toolbar(self, ui);
            ui.separator();
            in_view::deploy_button(self, ui);
            ui.checkbox(&mut self.deploy.simulate, "simulated devices");
        });
    }

    /// The modal shown now: one at a time, the recovery prompt before anything else.
    pub fn active_modal(&self) -> Option<Modal> {
        if self.recovery.is_some() {
            Some(Modal::Recovery)
        } else if self.error.is_some() {
            Some(Modal::Error)
        } else if self.workspace.type_confirm.is_some() {
            Some(Modal::ConfirmType)
        } else if self.confirm.is_some() {
            Some(Modal::Confirm)
        } else if self.path_dialog.is_some() {
            Some(Modal::Path)
        } else if self.deploy.asking.is_some() {
            Some(Modal::DeployInputs)
        } else if self.instances.confirm_forget.is_some() {
            Some(Modal::ForgetInstance)
        } else {
            None
        }
    }

    fn dialogs(&mut self, ctx: &egui::Context) {
        match self.active_modal() {
            Some(Modal::Recovery) => recovery::dialog(self, ctx),
            Some(Modal::Error) => {
                let e = self.error.clone().unwrap_or_default();
                modal(ctx, "Error", |ui| {
                    ui.label(&e);
                    if ui.button("OK").clicked() {
                        self.error = None;
                    }
                });
            }
            Some(Modal::ConfirmType) => type_editor::confirm_dialog(self, ctx),
            Some(Modal::Confirm) => unsaved::confirm_dialog(self, ctx),
            Some(Modal::Path) => self.path_dialog(ctx),
            Some(Modal::DeployInputs) => self.deploy.inputs_dialog(ctx, &mut self.state),
            Some(Modal::ForgetInstance) => instances::confirm_dialog(self, ctx),
            None => {}
        }
    }

    fn path_dialog(&mut self, ctx: &egui::Context) {
        let Some((kind, mut text)) = self.path_dialog.take() else {
            return;
        };
        let mut keep = true;
        let title = match kind {
            PathDialog::Open => "Open path (file, Winery repository folder or CSAR)",
            PathDialog::SaveAs => "Save as",
            PathDialog::ExportCsar => "Export CSAR to",
        };
        let shown_id = egui::Id::new("path-dialog-shown");
        modal(ctx, title, |ui| {
            let r = ui.add(
                egui::TextEdit::singleline(&mut text)
                    .id_salt("path-dialog-field")
                    .desired_width(420.0),
            );
            // Typing goes straight into the field: it takes the keyboard when the prompt opens,
            // with the cursor after the suggested path (not where an earlier prompt left it), so
            // typing extends the path.
            if !ui.data(|d| d.get_temp::<bool>(shown_id).unwrap_or(false)) {
                r.request_focus();
                cursor_at_end(ui.ctx(), r.id, &text);
                ui.data_mut(|d| d.insert_temp(shown_id, true));
            }
            ui.horizontal(|ui| {
                let enter = r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                if ui.button("OK").clicked() || enter {
                    keep = false;
                    let p = absolute(text.trim());
                    match kind {
                        PathDialog::Open => self.guarded(Pending::Open(p), ctx),
                        PathDialog::SaveAs => self.save_to(&p),
                        PathDialog::ExportCsar => self.export_csar(&p),
                    }
                }
                // Escape cancels, as in any dialog.
                if ui.button("Cancel").clicked() || ui.input(|i| i.key_pressed(egui::Key::Escape)) {
                    keep = false;
                }
            });
        });
        if keep {
            self.path_dialog = Some((kind, text));
        } else {
            ctx.data_mut(|d| d.remove::<bool>(shown_id));
        }
    }
}

/// Puts the text cursor of field `id` after the last character of `text`, with a fresh edit
/// history (undo must not bring back an earlier prompt's text).
fn cursor_at_end(ctx: &egui::Context, id: egui::Id, text: &str) {
    use egui::text::{CCursor, CCursorRange};
    let mut state = egui::text_edit::TextEditState::default();
    let end = CCursor::new(text.chars().count());
    state.cursor.set_char_range(Some(CCursorRange::one(end)));
    state.store(ctx, id);
}

/// `text` as an absolute path (relative to the working directory), so status lines say where a
/// file went.
fn absolute(text: &str) -> PathBuf {
    let p = PathBuf::from(text);
    let abs = std::path::absolute(&p).unwrap_or(p);
    // "a/../b" resolved through the file system (symlinks included) where the folder exists.
    match (abs.parent(), abs.file_name()) {
        (Some(dir), Some(name)) => match std::fs::canonicalize(dir) {
            Ok(dir) => dir.join(name),
            Err(_) => abs,
        },
        _ => abs,
    }
}

/// One modal dialog with a title (egui's Modal: the rest of the window waits behind it).
fn modal(ctx: &egui::Context, title: &str, add: impl FnOnce(&mut egui::Ui)) {
    egui::Modal::new(egui::Id::new("provisio-modal")).show(ctx, |ui| {
        ui.set_max_width(560.0);
        ui.heading(title);
        ui.add_space(4.0);
        add(ui);
    });
}

/// The status line at the bottom of the window: the last action's outcome (with its path).
fn status_line(ui: &mut egui::Ui, status: &str) {
    let failed = ["failed", "cannot", "refused", "error"]
        .iter()
        .any(|w| status.contains(w));
    let color = if failed {
        egui::Color32::from_rgb(220, 70, 60)
    } else {
        ui.visuals().weak_text_color()
    };
    ui.add(egui::Label::new(egui::RichText::new(status).color(color)).truncate());
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
        // Clears the copy when nothing is unsaved, but never an earlier session's copy that is
        // still offered (the window closed before the prompt was answered).
        recovery::autosave(self);
    }
}

/// Opens the window, with `path` open when given (else the last file or the thesis scenario).
pub fn run(path: Option<PathBuf>, service_template: Option<String>) -> Result<(), String> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_inner_size(window_fit::WANTED)
            .with_title("Provisio"),
        ..Default::default()
    };
    eframe::run_native(
        "Provisio",
        options,
        Box::new(move |_cc| {
            Ok(Box::new(match &path {
                Some(p) => ProvisioApp::open_at(p, service_template.as_deref()),
                None => ProvisioApp::new(),
            }))
        }),
    )
    .map_err(|e| e.to_string())
}
