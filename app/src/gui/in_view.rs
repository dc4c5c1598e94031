//! What the toolbar and the menus act on. Deploy, Export CSAR, Save, Undo/Redo and Layout act on
//! the service template in view: the tab shown in the editor, or, in the type editor, the tab it
//! was opened over (then named in the button); Save in the type editor saves the type. The repository browser shows no service template
//! (the "current" one behind it may be one the user never opened), so there they are disabled and
//! say to open one first.

use super::ProvisioApp;
use super::workspace::{self, Centre, Tab};

/// The service template the toolbar and menus act on, if the window shows or names one.
pub fn template(app: &ProvisioApp) -> Option<Tab> {
    let current = (app.state.doc.file, app.state.doc.st_index);
    (app.workspace.centre != Centre::Browser && app.workspace.tabs.contains(&current))
        .then_some(current)
}

/// The name buttons use for the service template in view in the type editor ("▶ Deploy Room");
/// `None` in the editor, which shows the template itself.
pub fn named(app: &ProvisioApp) -> Option<String> {
    template(app)?;
    (app.workspace.centre == Centre::TypeEditor).then(|| {
        let st = app.state.doc.st();
        st.name.clone().unwrap_or_else(|| st.id.clone())
    })
}

/// Whether the topology (canvas) is shown: undo, redo, layout and the editing shortcuts apply
/// only then.
pub fn topology_shown(app: &ProvisioApp) -> bool {
    app.workspace.centre == Centre::Editor && template(app).is_some()
}

/// Whether the type editor's form is shown: Save (Ctrl+S, File ▸ Save) saves the type then.
pub fn type_form_shown(app: &ProvisioApp) -> bool {
    app.workspace.centre == Centre::TypeEditor && app.workspace.type_editor.is_some()
}

/// Why an action on a service template is disabled: nothing is open, or which one to open.
pub fn open_first(app: &ProvisioApp, action: &str) -> String {
    match &app.workspace.browser.selected {
        Some(q) if app.workspace.centre == Centre::Browser => format!(
            "{action} acts on the service template shown in the editor: open {} first \
             (Open in editor or double-click it)",
            q.local
        ),
        _ => format!(
            "{action} acts on the service template shown in the editor: open one first \
             (select it in the Browser, then Open in editor)"
        ),
    }
}

/// The toolbar's ▶ Deploy: the template in view (its qualified name on hover); in the type
/// editor named, and a click shows its tab (where the run's progress is drawn) before deploying;
/// disabled in the browser.
pub fn deploy_button(app: &mut ProvisioApp, ui: &mut egui::Ui) {
    let tab = template(app);
    let label = match named(app) {
        Some(n) => format!("▶ Deploy {}", short(&n)),
        None => "▶ Deploy".to_string(),
    };
    let r = ui.add_enabled(
        tab.is_some() && !app.deploy.is_running(),
        egui::Button::new(egui::RichText::new(label).strong()),
    );
    let r = match tab {
        Some(_) => r
            .on_hover_text(format!(
                "Deploy service template {}",
                app.state.doc.st().qname()
            ))
            .on_disabled_hover_text("A deploy is running"),
        None => r.on_disabled_hover_text(open_first(app, "Deploy")),
    };
    if r.clicked()
        && let Some(tab) = tab
    {
        workspace::open_tab(app, tab);
        app.deploy.request_deploy(&mut app.state);
    }
}

/// The File menu's "Export CSAR…" label for the template in view, or `None` when disabled.
pub fn export_label(app: &ProvisioApp) -> Option<String> {
    template(app)?;
    Some(match named(app) {
        Some(n) => format!("Export CSAR of {n}…"),
        None => "Export CSAR…".to_string(),
    })
}

/// At most [`SHORT`] characters of `name` (elided with "…"), so a named button keeps the
/// toolbar within a 1024-point window; the full qualified name is on hover.
pub fn short(name: &str) -> String {
    if name.chars().count() <= SHORT {
        name.to_string()
    } else {
        let mut s: String = name.chars().take(SHORT - 1).collect();
        s.push('…');
        s
    }
}

/// The longest name a toolbar button shows in full.
pub const SHORT: usize = 18;
