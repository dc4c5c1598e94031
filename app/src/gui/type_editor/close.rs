//! Closing the type editor's form (its tab's close button, "Close type editor", opening another
//! type, or a new/opened document replacing the workspace): a form with unsaved edits asks
//! first (save the type, discard the edits, or cancel), so nothing typed is lost silently.

use super::super::workspace::Centre;
use super::super::{Pending, ProvisioApp, modal};
use super::{TypeForm, save_shown};

/// What waits for the answer to "the type has unsaved edits".
#[derive(Debug, Clone)]
pub enum TypeConfirm {
    /// Close the form.
    Close,
    /// Show this form instead.
    Replace(Box<TypeForm>),
    /// Close the form, then do this (open, new, example, quit).
    Then(Pending),
}

/// Whether the open form has edits that are not saved.
pub fn unsaved(app: &ProvisioApp) -> bool {
    app.workspace
        .type_editor
        .as_ref()
        .is_some_and(TypeForm::is_dirty)
}

/// Closes the form, asking first if it has unsaved edits.
pub fn request_close(app: &mut ProvisioApp) {
    ask_or(app, TypeConfirm::Close);
}

/// Asks about the form's unsaved edits before `p` (which replaces the workspace); false when
/// there are none to ask about.
pub fn ask_before(app: &mut ProvisioApp, p: &Pending) -> bool {
    let ask = unsaved(app);
    if ask {
        ask_or(app, TypeConfirm::Then(p.clone()));
    }
    ask
}

/// Shows `f` in the type editor (the type already open stays as edited), asking first if the
/// open form has unsaved edits.
pub fn open_form(app: &mut ProvisioApp, mut f: TypeForm) {
    if let Some(cur) = &app.workspace.type_editor
        && cur.original.is_some()
        && (cur.kind, &cur.original) == (f.kind, &f.original)
    {
        app.workspace.centre = Centre::TypeEditor;
        return;
    }
    f.mark_clean();
    ask_or(app, TypeConfirm::Replace(Box::new(f)));
}

fn ask_or(app: &mut ProvisioApp, what: TypeConfirm) {
    if unsaved(app) {
        app.workspace.type_confirm = Some(what);
        // The form whose edits are at stake is in view behind the question.
        app.workspace.centre = Centre::TypeEditor;
    } else {
        finish(app, what, None);
    }
}

/// Does what waited (the form has no unsaved edits any more, or the user discarded them).
fn finish(app: &mut ProvisioApp, what: TypeConfirm, ctx: Option<&egui::Context>) {
    match what {
        TypeConfirm::Close => close_now(app),
        TypeConfirm::Replace(f) => {
            app.workspace.type_editor = Some(*f);
            app.workspace.centre = Centre::TypeEditor;
        }
        TypeConfirm::Then(p) => {
            close_now(app);
            if let Some(ctx) = ctx {
                app.guarded(p, ctx);
            }
        }
    }
}

fn close_now(app: &mut ProvisioApp) {
    app.workspace.type_editor = None;
    if app.workspace.centre == Centre::TypeEditor {
        app.workspace.centre = if app.workspace.tabs.is_empty() {
            Centre::Browser
        } else {
            Centre::Editor
        };
    }
}

/// The "unsaved type" question (a modal).
pub fn confirm_dialog(app: &mut ProvisioApp, ctx: &egui::Context) {
    let Some(what) = app.workspace.type_confirm.clone() else {
        return;
    };
    let name = app
        .workspace
        .type_editor
        .as_ref()
        .map(TypeForm::title)
        .unwrap_or_default();
    #[derive(PartialEq)]
    enum Answer {
        Save,
        Discard,
        Cancel,
    }
    let mut answer = None;
    modal(ctx, "Unsaved type", |ui| {
        ui.label(format!("The type {name} has unsaved edits. Save them?"));
        ui.horizontal(|ui| {
            if ui.button("Save").clicked() {
                answer = Some(Answer::Save);
            }
            if ui.button("Discard").clicked() {
                answer = Some(Answer::Discard);
            }
            if ui.button("Cancel").clicked() || ui.input(|i| i.key_pressed(egui::Key::Escape)) {
                answer = Some(Answer::Cancel);
            }
        });
    });
    let Some(answer) = answer else {
        return;
    };
    app.workspace.type_confirm = None;
    match answer {
        Answer::Cancel => {}
        Answer::Discard => finish(app, what, Some(ctx)),
        Answer::Save => {
            // A refused save keeps the form open with its message.
            if save_shown(app) {
                finish(app, what, Some(ctx));
            }
        }
    }
}
