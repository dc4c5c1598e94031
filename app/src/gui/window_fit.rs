//! The window's first size: it asks for 1400×860; on a smaller monitor (e.g. 1024×640) the
//! window manager would put part of it (the status line) off-screen, so on the first frame that
//! knows the monitor's size the window is shrunk to fit and maximized.

/// The size the window asks for at start (points).
pub const WANTED: [f32; 2] = [1400.0, 860.0];

/// Room left for the window manager's title bar and borders (points).
const DECORATIONS: egui::Vec2 = egui::vec2(16.0, 48.0);

/// Checks once, on the first frame that knows the monitor's size, whether the window fits;
/// if not, shrinks it to the monitor and maximizes it. Returns true once checked.
pub fn fit_to_monitor(ctx: &egui::Context) -> bool {
    let (monitor, inner, outer) = ctx.input(|i| {
        let v = i.viewport();
        (v.monitor_size, v.inner_rect, v.outer_rect)
    });
    let Some(monitor) = monitor.filter(|m| m.x > 0.0 && m.y > 0.0) else {
        return false;
    };
    // Before the window manager framed the window (the first frames under X11) the outer
    // size is the inner one: the title bar is still to come.
    let inner_size = inner.map_or(egui::Vec2::from(WANTED), |r| r.size());
    let size = match outer.map(|r| r.size()) {
        Some(o) if o != inner_size => o,
        _ => inner_size + DECORATIONS,
    };
    if size.x > monitor.x || size.y > monitor.y {
        let fit = (monitor - DECORATIONS).max(egui::vec2(320.0, 240.0));
        ctx.send_viewport_cmd(egui::ViewportCommand::InnerSize(inner_size.min(fit)));
        ctx.send_viewport_cmd(egui::ViewportCommand::OuterPosition(egui::pos2(0.0, 0.0)));
        ctx.send_viewport_cmd(egui::ViewportCommand::Maximized(true));
    }
    true
}
