//! The repository browser (Winery's start page on the desktop): service templates, node types,
//! relationship types and artifact templates of what is open, grouped by namespace, with search
//! and counts. Service templates open in the editor as tabs; in a Winery repository folder they
//! can be created, renamed (id and namespace), duplicated and deleted, each written back in
//! Winery's layout.

use super::ProvisioApp;
use super::state::EditorState;
use super::workspace::{self, Tab};
use provisio_model::tosca::{Definitions, TypeKind};
use provisio_model::{Library, QName};
use std::collections::BTreeMap;

/// The four lists of the browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Category {
    #[default]
    ServiceTemplates,
    NodeTypes,
    RelationshipTypes,
    ArtifactTemplates,
}

/// New, rename or duplicate: the name dialog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameAction {
    New,
    Rename,
    Duplicate,
}

#[derive(Debug, Clone)]
pub struct NameDialog {
    pub action: NameAction,
    /// The service template renamed or duplicated.
    pub of: Option<QName>,
    pub namespace: String,
    pub id: String,
    pub error: Option<String>,
}

/// Browser state.
#[derive(Debug, Clone, Default)]
pub struct BrowserUi {
    pub search: String,
    pub category: Category,
    pub selected: Option<QName>,
    pub dialog: Option<NameDialog>,
    pub confirm_delete: Option<QName>,
}

impl BrowserUi {
    /// Opens the "new service template" dialog.
    pub fn start_new(&mut self, state: &EditorState) {
        let ns = service_template_rows(state.doc.library(), "")
            .into_keys()
            .next()
            .unwrap_or_else(|| "http://example.org/servicetemplates".into());
        self.dialog = Some(NameDialog {
            action: NameAction::New,
            of: None,
            namespace: ns,
            id: "NewServiceTemplate".into(),
            error: None,
        });
    }
}

/// One service template row.
#[derive(Debug, Clone, PartialEq)]
pub struct StRow {
    pub tab: Tab,
    pub qname: QName,
    pub name: Option<String>,
    pub nodes: usize,
}

fn matches(filter: &str, q: &QName, name: Option<&str>) -> bool {
    filter.is_empty()
        || q.local.to_lowercase().contains(filter)
        || q.namespace.to_lowercase().contains(filter)
        || name.is_some_and(|n| n.to_lowercase().contains(filter))
}

/// Whether the library holds user files (else the browser shows the built-in library).
fn has_user_files(lib: &Library) -> bool {
    lib.files()
        .iter()
        .any(|f| !f.builtin && !f.definitions.is_empty())
}

/// The service templates of the user's files (the built-in library when there are none)
/// matching `filter`, by namespace then id: the browser's order.
pub fn service_template_rows(lib: &Library, filter: &str) -> BTreeMap<String, Vec<StRow>> {
    let filter = filter.trim().to_lowercase();
    let user = has_user_files(lib);
    let mut out: BTreeMap<String, Vec<StRow>> = BTreeMap::new();
    for (f, file) in lib.files().iter().enumerate() {
        if file.builtin && user {
            continue;
        }
        for (i, st) in file.definitions.service_templates.iter().enumerate() {
            let q = st.qname();
            if !matches(&filter, &q, st.name.as_deref()) {
                continue;
            }
            out.entry(q.namespace.clone()).or_default().push(StRow {
                tab: (f, i),
                qname: q,
                name: st.name.clone(),
                nodes: st.topology.node_templates.len(),
            });
        }
    }
    for v in out.values_mut() {
        v.sort_by(|a, b| a.qname.local.cmp(&b.qname.local));
    }
    out
}

/// The service templates in browser order.
pub fn service_templates_in_order(lib: &Library) -> Vec<StRow> {
    service_template_rows(lib, "")
        .into_values()
        .flatten()
        .collect()
}

/// QNames of `kind` defined by the user's files (the built-in library when there are none),
/// grouped by namespace, matching `filter`.
pub fn type_rows(lib: &Library, kind: TypeKind, filter: &str) -> BTreeMap<String, Vec<QName>> {
    let filter = filter.trim().to_lowercase();
    let names: Vec<QName> = match kind {
        TypeKind::NodeType => lib.node_types().iter().map(|t| t.base.qname()).collect(),
        TypeKind::RelationshipType => lib
            .relationship_types()
            .iter()
            .map(|t| t.base.qname())
            .collect(),
        TypeKind::ArtifactTemplate => lib.artifact_templates().iter().map(|t| t.qname()).collect(),
        _ => Vec::new(),
    };
    let user_files = has_user_files(lib);
    let mut out: BTreeMap<String, Vec<QName>> = BTreeMap::new();
    for q in names {
        let shown = !user_files
            || lib
                .locate(kind, &q)
                .is_some_and(|l| !lib.file(l.file).builtin);
        if shown && matches(&filter, &q, None) {
            out.entry(q.namespace.clone()).or_default().push(q);
        }
    }
    out
}

fn count<T>(m: &BTreeMap<String, Vec<T>>) -> usize {
    m.values().map(Vec::len).sum()
}

/// The browser in the central area.
pub fn browser(app: &mut ProvisioApp, ui: &mut egui::Ui) {
    let lib = app.state.doc.library();
    let loaded = &app.state.doc.loaded;
    let b = &mut app.workspace.browser;
    let sts = service_template_rows(lib, &b.search);
    let nts = type_rows(lib, TypeKind::NodeType, &b.search);
    let rts = type_rows(lib, TypeKind::RelationshipType, &b.search);
    let ats = type_rows(lib, TypeKind::ArtifactTemplate, &b.search);
    let is_repo = workspace::Workspace::repository(&app.state).is_some();
    ui.horizontal(|ui| {
        ui.heading("Repository");
        ui.label(loaded.path.display().to_string());
    });
    ui.horizontal(|ui| {
        let l = ui.label("Search");
        ui.add(
            egui::TextEdit::singleline(&mut b.search)
                .hint_text("names and namespaces")
                .desired_width(280.0),
        )
        .labelled_by(l.id);
        if !b.search.is_empty() && ui.button("Clear").clicked() {
            b.search.clear();
        }
    });
    ui.horizontal_wrapped(|ui| {
        for (c, label, n) in [
            (Category::ServiceTemplates, "Service templates", count(&sts)),
            (Category::NodeTypes, "Node types", count(&nts)),
            (
                Category::RelationshipTypes,
                "Relationship types",
                count(&rts),
            ),
            (
                Category::ArtifactTemplates,
                "Artifact templates",
                count(&ats),
            ),
        ] {
            ui.selectable_value(&mut b.category, c, format!("{label} ({n})"));
        }
    });
    ui.separator();
    let mut action: Option<Action> = None;
    match b.category {
        Category::ServiceTemplates => {
            ui.horizontal(|ui| {
                let sel = b.selected.clone();
                let sel_row = sel
                    .as_ref()
                    .and_then(|q| sts.values().flatten().find(|r| r.qname == *q).cloned());
                if ui
                    .add_enabled(sel_row.is_some(), egui::Button::new("Open in editor"))
                    .clicked()
                    && let Some(r) = &sel_row
                {
                    action = Some(Action::Open(r.tab));
                }
                let hint = "needs a Winery repository folder (File > Open Winery repository)";
                let new = ui.add_enabled(is_repo, egui::Button::new("New service template…"));
                if new.on_disabled_hover_text(hint).clicked() {
                    action = Some(Action::StartNew);
                }
                for (label, a) in [
                    ("Rename…", NameAction::Rename),
                    ("Duplicate…", NameAction::Duplicate),
                ] {
                    let r = ui.add_enabled(is_repo && sel_row.is_some(), egui::Button::new(label));
                    if r.on_disabled_hover_text(hint).clicked()
                        && let Some(q) = &sel
                    {
                        action = Some(Action::StartName(a, q.clone()));
                    }
                }
                let r = ui.add_enabled(is_repo && sel_row.is_some(), egui::Button::new("Delete…"));
                if r.on_disabled_hover_text(hint).clicked() {
                    b.confirm_delete = sel.clone();
                }
            });
            egui::ScrollArea::vertical()
                .auto_shrink([false, false])
                .show(ui, |ui| {
                    if sts.is_empty() {
                        ui.weak("No service template matches.");
                    }
                    for (ns, rows) in &sts {
                        egui::CollapsingHeader::new(
                            egui::RichText::new(format!("{ns}  ({})", rows.len())).strong(),
                        )
                        .id_salt(("st-ns", ns))
                        .default_open(true)
                        .show(ui, |ui| {
                            for r in rows {
                                ui.horizontal(|ui| {
                                    let selected = b.selected.as_ref() == Some(&r.qname);
                                    let resp = ui.selectable_label(selected, &r.qname.local);
                                    if resp.clicked() {
                                        b.selected = Some(r.qname.clone());
                                    }
                                    if resp.double_clicked() {
                                        action = Some(Action::Open(r.tab));
                                    }
                                    let mut info = format!("{} nodes", r.nodes);
                                    if let Some(n) =
                                        r.name.as_ref().filter(|n| **n != r.qname.local)
                                    {
                                        info = format!("{n} · {info}");
                                    }
                                    ui.weak(info);
                                });
                            }
                        });
                    }
                });
        }
        Category::NodeTypes | Category::RelationshipTypes | Category::ArtifactTemplates => {
            let (rows, kind) = match b.category {
                Category::NodeTypes => (&nts, TypeKind::NodeType),
                Category::RelationshipTypes => (&rts, TypeKind::RelationshipType),
                _ => (&ats, TypeKind::ArtifactTemplate),
            };
            ui.horizontal(|ui| match kind {
                TypeKind::NodeType => {
                    if ui.button("New node type…").clicked() {
                        action = Some(Action::NewType(kind));
                    }
                }
                TypeKind::RelationshipType => {
                    if ui.button("New relationship type…").clicked() {
                        action = Some(Action::NewType(kind));
                    }
                }
                _ => {
                    ui.weak("Artifact templates are created with a node type's implementation.");
                }
            });
            egui::ScrollArea::vertical()
                .auto_shrink([false, false])
                .show(ui, |ui| {
                    if rows.is_empty() {
                        ui.weak("Nothing matches.");
                    }
                    for (ns, names) in rows {
                        egui::CollapsingHeader::new(
                            egui::RichText::new(format!("{ns}  ({})", names.len())).strong(),
                        )
                        .id_salt(("type-ns", kind, ns))
                        .default_open(rows.len() <= 12 || !b.search.is_empty())
                        .show(ui, |ui| {
                            for q in names {
                                ui.horizontal(|ui| {
                                    if kind == TypeKind::NodeType {
                                        let c = super::canvas::type_color(&app.state, q);
                                        super::icons::icon_or_swatch(ui, &app.state, q, c);
                                    }
                                    let r = ui.selectable_label(false, &q.local);
                                    if kind != TypeKind::ArtifactTemplate {
                                        let r = r.on_hover_text("Double-click to edit");
                                        if r.double_clicked() {
                                            action = Some(Action::EditType(kind, q.clone()));
                                        }
                                    }
                                });
                            }
                        });
                    }
                });
        }
    }
    dialogs(app, ui.ctx(), &mut action);
    if let Some(a) = action {
        run(app, a);
    }
}

/// What the user asked for this frame.
enum Action {
    Open(Tab),
    StartNew,
    StartName(NameAction, QName),
    Name(NameDialog),
    Delete(QName),
    NewType(TypeKind),
    EditType(TypeKind, QName),
}

fn dialogs(app: &mut ProvisioApp, ctx: &egui::Context, action: &mut Option<Action>) {
    let b = &mut app.workspace.browser;
    if let Some(d) = &mut b.dialog {
        let title = match d.action {
            NameAction::New => "New service template",
            NameAction::Rename => "Rename service template",
            NameAction::Duplicate => "Duplicate service template",
        };
        let mut close = false;
        egui::Window::new(title)
            .collapsible(false)
            .anchor(egui::Align2::CENTER_CENTER, [0.0, 0.0])
            .show(ctx, |ui| {
                egui::Grid::new("name-dialog")
                    .num_columns(2)
                    .show(ui, |ui| {
                        let l = ui.label("Namespace");
                        ui.add(egui::TextEdit::singleline(&mut d.namespace).desired_width(380.0))
                            .labelled_by(l.id);
                        ui.end_row();
                        let l = ui.label("Id");
                        ui.add(egui::TextEdit::singleline(&mut d.id).desired_width(380.0))
                            .labelled_by(l.id);
                        ui.end_row();
                    });
                if let Some(e) = &d.error {
                    ui.colored_label(egui::Color32::from_rgb(220, 70, 60), e);
                }
                ui.horizontal(|ui| {
                    if ui.button("OK").clicked() {
                        *action = Some(Action::Name(d.clone()));
                    }
                    if ui.button("Cancel").clicked() {
                        close = true;
                    }
                });
            });
        if close {
            b.dialog = None;
        }
    }
    if let Some(q) = b.confirm_delete.clone() {
        egui::Window::new("Delete service template")
            .collapsible(false)
            .anchor(egui::Align2::CENTER_CENTER, [0.0, 0.0])
            .show(ctx, |ui| {
                ui.label(format!(
                    "Delete {q} and its folder from the repository? This cannot be undone."
                ));
                ui.horizontal(|ui| {
                    if ui.button("Delete").clicked() {
                        *action = Some(Action::Delete(q.clone()));
                    }
                    if ui.button("Cancel").clicked() {
                        b.confirm_delete = None;
                    }
                });
            });
    }
}

fn run(app: &mut ProvisioApp, a: Action) {
    match a {
        Action::Open(tab) => workspace::open_tab(app, tab),
        Action::StartNew => app.workspace.browser.start_new(&app.state),
        Action::StartName(action, q) => {
            let suffix = if action == NameAction::Duplicate {
                "_copy"
            } else {
                ""
            };
            app.workspace.browser.dialog = Some(NameDialog {
                action,
                namespace: q.namespace.clone(),
                id: format!("{}{suffix}", q.local),
                of: Some(q),
                error: None,
            });
        }
        Action::Name(d) => {
            let q = QName::new(d.namespace.trim(), d.id.trim());
            let result = match d.action {
                NameAction::New => create(app, &q),
                NameAction::Rename => rename(app, d.of.as_ref(), &q),
                NameAction::Duplicate => duplicate(app, d.of.as_ref(), &q),
            };
            match result {
                Ok(msg) => {
                    app.workspace.browser.dialog = None;
                    app.workspace.browser.selected = Some(q);
                    app.state.status = msg;
                }
                Err(e) => {
                    if let Some(dd) = &mut app.workspace.browser.dialog {
                        dd.error = Some(e);
                    }
                }
            }
        }
        Action::Delete(q) => {
            app.workspace.browser.confirm_delete = None;
            match delete(app, &q) {
                Ok(msg) => app.state.status = msg,
                Err(e) => app.error = Some(e),
            }
        }
        Action::NewType(TypeKind::RelationshipType) => {
            super::type_editor::start_new_relationship_type(app)
        }
        Action::NewType(_) => super::type_editor::start_new_node_type(app),
        Action::EditType(kind, q) => super::type_editor::start_edit(app, kind, &q),
    }
}

fn repo(app: &ProvisioApp) -> Result<provisio_model::repository::Repository, String> {
    workspace::Workspace::repository(&app.state)
        .ok_or_else(|| "open a Winery repository folder to change its service templates".into())
}

fn file_of(app: &ProvisioApp, q: &QName) -> Result<usize, String> {
    let lib = app.state.doc.library();
    lib.locate(TypeKind::ServiceTemplate, q)
        .map(|l| l.file)
        .filter(|f| !lib.file(*f).builtin)
        .ok_or_else(|| format!("{q} is not in the repository"))
}

/// Creates service template `q` in the repository and opens it.
pub fn create(app: &mut ProvisioApp, q: &QName) -> Result<String, String> {
    let repo = repo(app)?;
    let (path, defs) = repo.create_service_template(q).map_err(|e| e.to_string())?;
    let file = app.state.doc.loaded.library.add(path.clone(), defs, false);
    workspace::open_tab(app, (file, 0));
    Ok(format!("created {}", path.display()))
}

/// Renames service template `old` to `new` (folder moved, file rewritten).
pub fn rename(app: &mut ProvisioApp, old: Option<&QName>, new: &QName) -> Result<String, String> {
    let old = old.ok_or("nothing selected")?;
    let repo = repo(app)?;
    let file = file_of(app, old)?;
    let defs = app.state.doc.library().file(file).definitions.clone();
    let (path, renamed) = repo
        .rename_service_template(&defs, old, new)
        .map_err(|e| e.to_string())?;
    app.state
        .doc
        .loaded
        .library
        .set_definitions(file, path.clone(), renamed);
    if app.state.doc.file == file {
        app.state.doc.save_path = Some(path.clone());
        app.state.dirty = false;
        app.state.revalidate();
    }
    Ok(format!("renamed to {}", path.display()))
}

/// Copies service template `old` to `new`.
pub fn duplicate(
    app: &mut ProvisioApp,
    old: Option<&QName>,
    new: &QName,
) -> Result<String, String> {
    let old = old.ok_or("nothing selected")?;
    let repo = repo(app)?;
    let file = file_of(app, old)?;
    let defs = app.state.doc.library().file(file).definitions.clone();
    let (path, copy) = repo
        .duplicate_service_template(&defs, old, new)
        .map_err(|e| e.to_string())?;
    app.state.doc.loaded.library.add(path.clone(), copy, false);
    Ok(format!("duplicated to {}", path.display()))
}

/// Deletes service template `q` (its folder) from the repository.
pub fn delete(app: &mut ProvisioApp, q: &QName) -> Result<String, String> {
    let repo = repo(app)?;
    let file = file_of(app, q)?;
    if app.state.doc.file == file {
        // The editor must show another service template first.
        let other = service_templates_in_order(app.state.doc.library())
            .into_iter()
            .find(|r| r.tab.0 != file)
            .ok_or("the last service template cannot be deleted")?;
        let was_tab = app.workspace.tabs.contains(&other.tab);
        let centre = app.workspace.centre;
        workspace::open_tab(app, other.tab);
        if !was_tab {
            app.workspace.tabs.retain(|t| *t != other.tab);
        }
        app.workspace.centre = centre;
    }
    repo.delete(TypeKind::ServiceTemplate, q)
        .map_err(|e| e.to_string())?;
    let path = app.state.doc.library().file(file).path.clone();
    app.state
        .doc
        .loaded
        .library
        .set_definitions(file, path.clone(), Definitions::new("", ""));
    workspace::forget_file(app, file);
    if app.workspace.browser.selected.as_ref() == Some(q) {
        app.workspace.browser.selected = None;
    }
    if app.workspace.centre == workspace::Centre::Editor && app.workspace.tabs.is_empty() {
        app.workspace.centre = workspace::Centre::Browser;
    }
    Ok(format!("deleted {q}"))
}
