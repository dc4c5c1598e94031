//! Quitting: the File menu's Quit and the window manager's close request (the title bar's ×,
//! Alt+F4) ask the same questions about unsaved edits (the type editor's form, then every open
//! service template's, in view or not) and close the window only after Save (successful) or
//! Discard.

use super::{Pending, ProvisioApp, type_editor, unsaved};

/// Whether quitting asks first: the type form or any open service template has unsaved edits.
pub fn asks(app: &ProvisioApp) -> bool {
    type_editor::unsaved(app) || unsaved::any(app)
}

/// The File menu's Quit: asks about unsaved edits, then closes the window.
pub fn quit(app: &mut ProvisioApp, ctx: &egui::Context) {
    app.guarded(Pending::Quit, ctx);
}

/// The window manager asks to close the window. With unsaved edits the close is cancelled and
/// Quit asks instead (its answer closes the window, or Cancel keeps it); without, it closes.
/// Quit's own close command comes back here as a request, with nothing left to ask.
pub fn on_close_request(app: &mut ProvisioApp, ctx: &egui::Context) {
    if !ctx.input(|i| i.viewport().close_requested()) {
        return;
    }
    if asks(app) {
        ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
        quit(app, ctx);
    }
}
