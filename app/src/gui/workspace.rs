//! The architect's workspace around the editor: what the centre shows (the repository browser,
//! one of the open service templates as a tab, or the type editor), the tab bar, switching
//! between open service templates (each keeps its view, selection, undo history and dirty
//! flag), and the Repository menu.

use super::ProvisioApp;
use super::state::{EditorState, Selected, View};
use provisio_model::tosca::TopologyTemplate;
use provisio_model::{InputKind, QName};
use std::collections::{BTreeSet, HashMap};

/// What the central area shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Centre {
    Browser,
    Editor,
    TypeEditor,
}

/// What a tab keeps while another one is shown.
#[derive(Clone)]
struct TabState {
    view: View,
    selection: BTreeSet<Selected>,
    undo: Vec<(TopologyTemplate, Option<String>)>,
    redo: Vec<TopologyTemplate>,
    dirty: bool,
}

/// One open service template: library file and index in it.
pub type Tab = (usize, usize);

/// The workspace state.
pub struct Workspace {
    pub centre: Centre,
    /// Open service templates, in tab order.
    pub tabs: Vec<Tab>,
    saved: HashMap<Tab, TabState>,
    /// A repository, CSAR or multi-template file: the tab bar is always shown.
    pub browsable: bool,
    pub browser: super::browser::BrowserUi,
    pub type_editor: Option<super::type_editor::TypeForm>,
    /// Closing the type editor waits for "save its unsaved edits?".
    pub type_confirm: Option<super::type_editor::TypeConfirm>,
}

impl Workspace {
    /// A repository, a CSAR or a file with several service templates starts in the browser;
    /// a single topology in the editor.
    pub fn for_state(state: &EditorState) -> Self {
        let loaded = &state.doc.loaded;
        let user_sts = loaded
            .library
            .service_templates()
            .iter()
            .filter(|(f, _)| !loaded.library.file(*f).builtin)
            .count();
        let builtin = loaded.library.file(state.doc.file).builtin;
        let browse = !builtin
            && (matches!(loaded.kind, InputKind::WineryRepository | InputKind::Csar)
                || user_sts > 1);
        let current = (state.doc.file, state.doc.st_index);
        Workspace {
            centre: if browse {
                Centre::Browser
            } else {
                Centre::Editor
            },
            tabs: if browse { Vec::new() } else { vec![current] },
            saved: HashMap::new(),
            browsable: browse,
            browser: Default::default(),
            type_editor: None,
            type_confirm: None,
        }
    }

    /// Whether the open document is a Winery repository folder (create/rename/delete allowed).
    pub fn repository(state: &EditorState) -> Option<provisio_model::repository::Repository> {
        let l = &state.doc.loaded;
        (l.kind == InputKind::WineryRepository && l.path.is_dir())
            .then(|| provisio_model::repository::Repository::new(&l.path))
    }
}

/// Shows service template `tab` in the editor (opening a tab for it): the current one's view,
/// selection and history are kept for when it is shown again.
pub fn open_tab(app: &mut ProvisioApp, tab: Tab) {
    let ws = &mut app.workspace;
    let s = &mut app.state;
    let current = (s.doc.file, s.doc.st_index);
    if current != tab {
        ws.saved.insert(
            current,
            TabState {
                view: s.view,
                selection: std::mem::take(&mut s.selection),
                undo: std::mem::take(&mut s.undo),
                redo: std::mem::take(&mut s.redo),
                dirty: s.dirty,
            },
        );
        s.doc.file = tab.0;
        s.doc.st_index = tab.1;
        match ws.saved.remove(&tab) {
            Some(t) => {
                s.view = t.view;
                s.selection = t.selection;
                s.undo = t.undo;
                s.redo = t.redo;
                s.dirty = t.dirty;
                s.fit_requested = false;
            }
            None => {
                s.view = View::default();
                s.dirty = false;
                s.fit_requested = true;
            }
        }
        s.connect_menu = None;
        s.overlays.clear();
        s.revalidate();
        app.deploy.instance = None;
        app.deploy.restore(&mut app.state);
    }
    let s = &mut app.state;
    let file = s.doc.loaded.library.file(tab.0);
    if s.doc.loaded.kind == InputKind::WineryRepository && !file.builtin {
        s.doc.save_path = Some(file.path.clone());
    }
    if !app.workspace.tabs.contains(&tab) {
        app.workspace.tabs.push(tab);
    }
    app.workspace.centre = Centre::Editor;
}

/// Closes a tab (its unsaved edits stay in memory until the repository is reopened).
pub fn close_tab(app: &mut ProvisioApp, tab: Tab) {
    app.workspace.tabs.retain(|t| *t != tab);
    let current = (app.state.doc.file, app.state.doc.st_index);
    if current == tab {
        match app.workspace.tabs.last().copied() {
            Some(t) => open_tab(app, t),
            None => app.workspace.centre = Centre::Browser,
        }
    }
}

/// Whether tab `tab` has unsaved changes.
pub fn tab_dirty(app: &ProvisioApp, tab: Tab) -> bool {
    if (app.state.doc.file, app.state.doc.st_index) == tab {
        app.state.dirty
    } else {
        app.workspace.saved.get(&tab).is_some_and(|t| t.dirty)
    }
}

/// Forgets tabs of a file whose service templates changed under them (rename, delete).
pub fn forget_file(app: &mut ProvisioApp, file: usize) {
    app.workspace.tabs.retain(|t| t.0 != file);
    app.workspace.saved.retain(|t, _| t.0 != file);
}

/// The tab bar above the centre, then the browser or type editor if one is shown. Returns
/// true when the centre is taken (the caller draws the canvas otherwise).
pub fn centre(app: &mut ProvisioApp, ui: &mut egui::Ui) -> bool {
    let ws = &app.workspace;
    if ws.browsable || ws.tabs.len() > 1 || ws.centre != Centre::Editor || ws.type_editor.is_some()
    {
        egui::Panel::top("workspace-tabs").show(ui, |ui| tab_bar(app, ui));
    }
    match app.workspace.centre {
        Centre::Editor => false,
        Centre::Browser => {
            egui::CentralPanel::default().show(ui, |ui| super::browser::browser(app, ui));
            true
        }
        Centre::TypeEditor => {
            egui::CentralPanel::default().show(ui, |ui| super::type_editor::editor(app, ui));
            true
        }
    }
}

/// The narrowest a tab's name is cut to (longer names elide, with the full name on hover).
pub const TAB_LABEL_WIDTH: f32 = 160.0;

fn tab_bar(app: &mut ProvisioApp, ui: &mut egui::Ui) {
    let mut open: Option<Tab> = None;
    let mut close: Option<Tab> = None;
    let mut close_type = false;
    // Tab names get an equal share of the bar (never less than TAB_LABEL_WIDTH, never more
    // than twice that); longer names elide.
    let share = (ui.available_width() - 100.0) / app.workspace.tabs.len().max(1) as f32 - 50.0;
    let label_width = share.clamp(TAB_LABEL_WIDTH, 2.0 * TAB_LABEL_WIDTH);
    egui::ScrollArea::horizontal().show(ui, |ui| {
        ui.horizontal(|ui| {
            // In a group like the tabs, so all labels share one baseline.
            ui.group(|ui| {
                if ui
                    .selectable_label(app.workspace.centre == Centre::Browser, "Browser")
                    .on_hover_text("Service templates and types of what is open")
                    .clicked()
                {
                    app.workspace.centre = Centre::Browser;
                }
            });
            let current = (app.state.doc.file, app.state.doc.st_index);
            for tab in app.workspace.tabs.clone() {
                let lib = app.state.doc.library();
                let Some(st) = lib.file(tab.0).definitions.service_templates.get(tab.1) else {
                    continue;
                };
                let name = st.name.clone().unwrap_or_else(|| st.id.clone());
                let q: QName = st.qname();
                let label = if tab_dirty(app, tab) {
                    format!("* {name}")
                } else {
                    name
                };
                ui.group(|ui| {
                    let shown = app.workspace.centre == Centre::Editor && current == tab;
                    // Long names elide (full name on hover), so several tabs fit a small
                    // window.
                    let r = ui.scope(|ui| {
                        ui.set_max_width(label_width);
                        ui.add(egui::Button::selectable(shown, label).truncate())
                            .on_hover_text(q.to_string())
                    });
                    if r.inner.clicked() {
                        open = Some(tab);
                    }
                    if ui.small_button("x").on_hover_text("Close tab").clicked() {
                        close = Some(tab);
                    }
                });
            }
            if let Some(f) = &app.workspace.type_editor {
                let dirty = if f.is_dirty() { "* " } else { "" };
                let title = format!("{dirty}Type: {}", f.title());
                ui.group(|ui| {
                    let shown = app.workspace.centre == Centre::TypeEditor;
                    let r = ui.scope(|ui| {
                        ui.set_max_width(label_width);
                        ui.add(egui::Button::selectable(shown, title).truncate())
                    });
                    if r.inner.clicked() {
                        app.workspace.centre = Centre::TypeEditor;
                    }
                    if ui.small_button("x").on_hover_text("Close tab").clicked() {
                        close_type = true;
                    }
                });
            }
        });
    });
    if close_type {
        super::type_editor::request_close(app);
    }
    if let Some(t) = open {
        open_tab(app, t);
    }
    if let Some(t) = close {
        close_tab(app, t);
    }
}

/// The Repository menu (in the menu bar).
pub fn menu(app: &mut ProvisioApp, ui: &mut egui::Ui) {
    ui.menu_button("Repository", |ui| {
        if ui.button("Browse").clicked() {
            app.workspace.centre = Centre::Browser;
        }
        if ui.button("New service template…").clicked() {
            app.workspace.centre = Centre::Browser;
            app.workspace.browser.start_new(&app.state);
        }
        if ui.button("New node type…").clicked() {
            super::type_editor::start_new_node_type(app);
        }
        if ui.button("New relationship type…").clicked() {
            super::type_editor::start_new_relationship_type(app);
        }
    });
}

/// Open service templates with unsaved edits: the one in view first, then the others in tab
/// order, then closed tabs whose edits are still in memory.
pub fn dirty_tabs(app: &ProvisioApp) -> Vec<Tab> {
    let current = (app.state.doc.file, app.state.doc.st_index);
    let mut out: Vec<Tab> = Vec::new();
    if app.state.dirty {
        out.push(current);
    }
    out.extend(
        app.workspace
            .tabs
            .iter()
            .filter(|t| **t != current && tab_dirty(app, **t)),
    );
    let mut closed: Vec<Tab> = app
        .workspace
        .saved
        .iter()
        .filter(|(t, s)| s.dirty && **t != current && !app.workspace.tabs.contains(t))
        .map(|(t, _)| *t)
        .collect();
    closed.sort();
    out.extend(closed);
    out
}

/// Marks `tab` saved (or its edits discarded).
pub fn set_clean(app: &mut ProvisioApp, tab: Tab) {
    if (app.state.doc.file, app.state.doc.st_index) == tab {
        app.state.dirty = false;
    } else if let Some(t) = app.workspace.saved.get_mut(&tab) {
        t.dirty = false;
    }
}

/// The name a tab shows (the service template's name, else its id).
pub fn tab_name(app: &ProvisioApp, tab: Tab) -> String {
    app.state
        .doc
        .library()
        .file(tab.0)
        .definitions
        .service_templates
        .get(tab.1)
        .map(|st| st.name.clone().unwrap_or_else(|| st.id.clone()))
        .unwrap_or_default()
}

/// Where Save writes `tab`: the document's file for the file in view, a repository's file for
/// its service templates; `None` when it has none yet (Save as).
pub fn save_path(app: &ProvisioApp, tab: Tab) -> Option<std::path::PathBuf> {
    let doc = &app.state.doc;
    if tab.0 == doc.file {
        return doc.save_path.clone();
    }
    let file = doc.library().file(tab.0);
    (doc.loaded.kind == InputKind::WineryRepository && !file.builtin).then(|| file.path.clone())
}
