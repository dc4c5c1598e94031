//! The topology canvas: node templates as cards, relationships as arrows, pan (scroll, middle or
//! right drag), zoom (Ctrl+wheel, pinch), box select, drag to move, drag from a node's handle to
//! connect (only valid relationship types are offered), drop palette entries to create nodes,
//! validation markers and deploy overlays.
//!
//! Drawn with egui's painter rather than egui_graphs: TOSCA cards need a type band, validation
//! markers, per-device dots and state badges, and Winery's winery:x/y positions must stay the
//! single source of truth; a plain painter over our own transform keeps all of that in one
//! place and in the editor state (so kittest tests drive it like a user).

use super::commands::Command;
use super::state::{ConnectMenu, EditorState, NodeRun, Selected};
use egui::{Color32, CornerRadius, Pos2, Rect, Sense, Shape, Stroke, StrokeKind, Vec2, pos2, vec2};
use provisio_engines::events::DeviceState;
use provisio_model::QName;
use provisio_model::plan::{RelationKind, relation_kind};
use provisio_model::tosca::NodeTemplate;

pub const NODE_W: f32 = 200.0;
pub const NODE_H: f32 = 74.0;

/// Transient interaction state of the canvas.
#[derive(Debug, Clone)]
pub struct CanvasState {
    /// Dragging a connection from this node.
    pub connecting: Option<String>,
    /// Box selection start (screen).
    pub box_start: Option<Pos2>,
    /// The canvas rect of the last frame (for tests and fit).
    pub rect: Rect,
    /// The view (pan, zoom) the last fit set; while the user leaves it so, a resized window
    /// fits again.
    pub fitted: Option<(Vec2, f32)>,
    /// The window size of the last frame.
    pub window: Vec2,
}

impl Default for CanvasState {
    fn default() -> Self {
        CanvasState {
            connecting: None,
            box_start: None,
            rect: Rect::from_min_size(Pos2::ZERO, vec2(1000.0, 700.0)),
            fitted: None,
            window: Vec2::ZERO,
        }
    }
}

/// A colour per node type: Winery's bordercolor when set, else derived from the name.
pub fn type_color(state: &EditorState, q: &QName) -> Color32 {
    let lib = state.doc.library();
    for t in lib.node_type_chain(q) {
        if let Some((_, c)) = t
            .base
            .winery_attrs
            .iter()
            .find(|(k, _)| k == "bordercolor" || k == "color")
            && let Ok(c) = Color32::from_hex(c.trim())
        {
            return c;
        }
    }
    let h = q
        .local
        .bytes()
        .fold(5381u32, |h, b| h.wrapping_mul(33) ^ u32::from(b));
    let hue = (h % 360) as f32 / 360.0;
    egui::ecolor::Hsva::new(hue, 0.55, 0.75, 1.0).into()
}

fn run_color(run: &NodeRun) -> Color32 {
    match run {
        NodeRun::Pending => Color32::from_gray(140),
        NodeRun::Running(_) => Color32::from_rgb(60, 140, 230),
        NodeRun::Done => Color32::from_rgb(60, 170, 90),
        NodeRun::Failed(_) => Color32::from_rgb(220, 70, 60),
        NodeRun::Skipped(_) => Color32::from_rgb(150, 150, 150),
        NodeRun::Undeployed => Color32::from_rgb(120, 130, 150),
    }
}

pub fn device_color(state: &DeviceState) -> Color32 {
    match state {
        DeviceState::Offline | DeviceState::TimedOut => Color32::from_gray(110),
        DeviceState::Online => Color32::from_rgb(150, 190, 230),
        DeviceState::Downloading { .. } => Color32::from_rgb(60, 140, 230),
        DeviceState::Installed | DeviceState::Configured => Color32::from_rgb(120, 190, 120),
        DeviceState::Running => Color32::from_rgb(40, 170, 80),
        DeviceState::Stopped | DeviceState::Uninstalled => Color32::from_rgb(170, 170, 120),
        DeviceState::Failed { .. } => Color32::from_rgb(220, 70, 60),
    }
}

/// Device ids of a device-group node (hardwareIds or addresses JSON lists).
pub fn device_ids(node: &NodeTemplate) -> Vec<String> {
    for key in ["hardwareIds", "addresses"] {
        if let Some(v) = node.property(key)
            && let Ok(list) = serde_json::from_str::<Vec<String>>(v)
        {
            return list;
        }
    }
    Vec::new()
}

struct Xf {
    origin: Pos2,
    pan: Vec2,
    zoom: f32,
}

impl Xf {
    fn to_screen(&self, p: Pos2) -> Pos2 {
        self.origin + self.pan + p.to_vec2() * self.zoom
    }
    fn to_world(&self, p: Pos2) -> Pos2 {
        ((p - self.origin - self.pan) / self.zoom).to_pos2()
    }
}

fn node_world_rect(n: &NodeTemplate) -> Rect {
    Rect::from_min_size(
        pos2(n.x.unwrap_or(0.0) as f32, n.y.unwrap_or(0.0) as f32),
        vec2(NODE_W, NODE_H),
    )
}

/// Fits the view to the nodes (or resets it when there are none).
fn fit(state: &mut EditorState, rect: Rect) {
    let nodes = &state.doc.topology().node_templates;
    let Some(bounds) = nodes.iter().map(node_world_rect).reduce(|a, b| a.union(b)) else {
        state.view = Default::default();
        return;
    };
    let bounds = bounds.expand(40.0);
    let zoom = (rect.width() / bounds.width())
        .min(rect.height() / bounds.height())
        .clamp(0.15, 1.4);
    state.view.zoom = zoom;
    state.view.pan = (rect.size() - bounds.size() * zoom) / 2.0 - bounds.min.to_vec2() * zoom;
}

fn clip_to_rect(from: Pos2, to: Pos2, r: Rect) -> Pos2 {
    // Point where the segment from the centre `from` towards `to` leaves `r`.
    let d = to - from;
    let tx = if d.x.abs() > f32::EPSILON {
        (r.width() / 2.0) / d.x.abs()
    } else {
        f32::INFINITY
    };
    let ty = if d.y.abs() > f32::EPSILON {
        (r.height() / 2.0) / d.y.abs()
    } else {
        f32::INFINITY
    };
    from + d * tx.min(ty).min(1.0)
}

fn dist_to_segment(p: Pos2, a: Pos2, b: Pos2) -> f32 {
    let ab = b - a;
    let t = ((p - a).dot(ab) / ab.length_sq().max(1e-6)).clamp(0.0, 1.0);
    (a + ab * t).distance(p)
}

/// Shows the canvas.
pub fn canvas(ui: &mut egui::Ui, state: &mut EditorState) {
    let (rect, bg) = ui.allocate_exact_size(ui.available_size(), Sense::click_and_drag());
    let window = ui.ctx().content_rect().size();
    let resized = state.canvas.window != window;
    state.canvas.window = window;
    state.canvas.rect = rect;
    let untouched = state.canvas.fitted == Some((state.view.pan, state.view.zoom));
    if state.fit_requested || (resized && untouched) {
        fit(state, rect);
        state.fit_requested = false;
        state.canvas.fitted = Some((state.view.pan, state.view.zoom));
    }
    let painter = ui.painter_at(rect);
    let dark = ui.visuals().dark_mode;
    painter.rect_filled(
        rect,
        0.0,
        if dark {
            Color32::from_gray(28)
        } else {
            Color32::from_gray(246)
        },
    );

    // Zoom around the pointer, pan with scroll.
    if bg.hovered() || bg.contains_pointer() {
        let (zoom_delta, scroll, pointer) =
            ui.input(|i| (i.zoom_delta(), i.smooth_scroll_delta, i.pointer.hover_pos()));
        if zoom_delta != 1.0 {
            if let Some(p) = pointer {
                let before = Xf {
                    origin: rect.min,
                    pan: state.view.pan,
                    zoom: state.view.zoom,
                }
                .to_world(p);
                state.view.zoom = (state.view.zoom * zoom_delta).clamp(0.1, 4.0);
                let after = Xf {
                    origin: rect.min,
                    pan: state.view.pan,
                    zoom: state.view.zoom,
                }
                .to_screen(before);
                state.view.pan += p - after;
            }
        } else if scroll != Vec2::ZERO {
            state.view.pan += scroll;
        }
    }
    if bg.dragged_by(egui::PointerButton::Middle) || bg.dragged_by(egui::PointerButton::Secondary) {
        state.view.pan += bg.drag_delta();
    }
    let xf = Xf {
        origin: rect.min,
        pan: state.view.pan,
        zoom: state.view.zoom,
    };

    // Grid.
    let step = 40.0 * xf.zoom;
    if step > 8.0 {
        let grid = if dark {
            Color32::from_gray(36)
        } else {
            Color32::from_gray(232)
        };
        let start = xf.to_screen(xf.to_world(rect.min).floor());
        let mut x = start.x - ((start.x - rect.min.x) / step).floor() * step;
        while x < rect.max.x {
            painter.line_segment(
                [pos2(x, rect.min.y), pos2(x, rect.max.y)],
                Stroke::new(1.0, grid),
            );
            x += step;
        }
        let mut y = start.y - ((start.y - rect.min.y) / step).floor() * step;
        while y < rect.max.y {
            painter.line_segment(
                [pos2(rect.min.x, y), pos2(rect.max.x, y)],
                Stroke::new(1.0, grid),
            );
            y += step;
        }
    }

    if state.center_on_selection {
        state.center_on_selection = false;
        if let Some(Selected::Node(id)) = state.selection.iter().next().cloned()
            && let Some(n) = state.doc.node(&id)
        {
            let c = node_world_rect(n).center();
            state.view.pan = rect.size() / 2.0 - c.to_vec2() * state.view.zoom;
        }
    }
    let xf = Xf {
        origin: rect.min,
        pan: state.view.pan,
        zoom: state.view.zoom,
    };
    let lib = state.doc.library();
    let topo = state.doc.topology().view_copy();
    // Constant-time endpoint lookups (a linear search per edge end cost 10 ms a frame at 1,000
    // nodes).
    let index = provisio_model::tosca::TopologyIndex::new(&topo);

    // Edges.
    let pointer = ui.input(|i| i.pointer.interact_pos());
    let mut edge_hit: Option<String> = None;
    for r in &topo.relationship_templates {
        let (Some(s), Some(t)) = (
            index.endpoint_node(&r.source),
            index.endpoint_node(&r.target),
        ) else {
            continue;
        };
        let sr = Rect::from_min_max(
            xf.to_screen(node_world_rect(s).min),
            xf.to_screen(node_world_rect(s).max),
        );
        let tr = Rect::from_min_max(
            xf.to_screen(node_world_rect(t).min),
            xf.to_screen(node_world_rect(t).max),
        );
        let a = clip_to_rect(sr.center(), tr.center(), sr);
        let b = clip_to_rect(tr.center(), sr.center(), tr);
        let kind = relation_kind(lib, &r.type_ref);
        let selected = state
            .selection
            .contains(&Selected::Relationship(r.id.clone()));
        let has_error = state.diagnostics_for(&r.id).any(|d| d.is_error());
        let (color, width) = match kind {
            RelationKind::HostedOn => (Color32::from_gray(if dark { 170 } else { 110 }), 2.0),
            RelationKind::ConnectsTo => (Color32::from_rgb(70, 140, 220), 1.8),
            RelationKind::DependsOn => (Color32::from_rgb(150, 100, 200), 1.6),
            RelationKind::Other => (Color32::from_gray(150), 1.4),
        };
        let color = if has_error {
            Color32::from_rgb(220, 70, 60)
        } else if selected {
            ui.visuals().selection.stroke.color
        } else {
            color
        };
        let stroke = Stroke::new(
            if selected { width + 1.5 } else { width } * xf.zoom.sqrt(),
            color,
        );
        if kind == RelationKind::ConnectsTo {
            painter.extend(Shape::dashed_line(
                &[a, b],
                stroke,
                8.0 * xf.zoom,
                5.0 * xf.zoom,
            ));
        } else {
            painter.line_segment([a, b], stroke);
        }
        // Arrow head at the target.
        let dir = (b - a).normalized();
        let n = vec2(-dir.y, dir.x);
        let size = 9.0 * xf.zoom.sqrt();
        painter.add(Shape::convex_polygon(
            vec![
                b,
                b - dir * size + n * size * 0.5,
                b - dir * size - n * size * 0.5,
            ],
            color,
            Stroke::NONE,
        ));
        if xf.zoom > 0.45 {
            let mid = a + (b - a) * 0.5;
            let label = painter.layout_no_wrap(
                r.type_ref.local.clone(),
                egui::FontId::proportional(11.0),
                color,
            );
            let lr = Rect::from_center_size(mid, label.size() + vec2(6.0, 2.0));
            painter.rect_filled(
                lr,
                3.0,
                if dark {
                    Color32::from_gray(28)
                } else {
                    Color32::from_gray(246)
                },
            );
            painter.galley(lr.min + vec2(3.0, 1.0), label, color);
        }
        if let Some(p) = pointer
            && dist_to_segment(p, a, b) < 6.0
        {
            edge_hit = Some(r.id.clone());
        }
    }

    // Nodes.
    let shift = ui.input(|i| i.modifiers.shift || i.modifiers.command);
    let mut hovered_node: Option<String> = None;
    for n in &topo.node_templates {
        let wr = node_world_rect(n);
        let sr = Rect::from_min_max(xf.to_screen(wr.min), xf.to_screen(wr.max));
        if !rect.intersects(sr.expand(20.0)) {
            continue;
        }
        let id = ui.id().with(("node", &n.id));
        let resp = ui.interact(sr, id, Sense::click_and_drag());
        if resp.hovered() || resp.contains_pointer() {
            hovered_node = Some(n.id.clone());
        }
        if resp.clicked() {
            let sel = Selected::Node(n.id.clone());
            if shift {
                if !state.selection.remove(&sel) {
                    state.selection.insert(sel);
                }
            } else {
                state.selection.clear();
                state.selection.insert(sel);
            }
        }
        if resp.drag_started_by(egui::PointerButton::Primary) && !state.is_selected_node(&n.id) {
            state.selection.clear();
            state.selection.insert(Selected::Node(n.id.clone()));
        }
        if resp.dragged_by(egui::PointerButton::Primary) && state.canvas.connecting.is_none() {
            let d = resp.drag_delta() / xf.zoom;
            if d != Vec2::ZERO {
                let ids = state.selected_nodes();
                state.apply(Command::MoveNodes {
                    ids,
                    dx: f64::from(d.x),
                    dy: f64::from(d.y),
                    coalesce: true,
                });
            }
        }
        if resp.drag_stopped() {
            state.seal();
        }
        draw_node(&painter, ui, state, n, sr, xf.zoom);
        let node_hovered = resp.hovered();
        // No tooltip while connecting or over the open connect menu.
        if state.canvas.connecting.is_none() && state.connect_menu.is_none() {
            resp.on_hover_ui(|ui| node_tooltip(ui, state, n));
        }

        // Connection handle (right edge).
        let h = pos2(sr.max.x, sr.center().y);
        let hr = Rect::from_center_size(h, Vec2::splat(14.0 * xf.zoom.max(0.6)));
        let hresp = ui.interact(hr, id.with("handle"), Sense::drag());
        let show =
            hresp.hovered() || node_hovered || state.canvas.connecting.as_deref() == Some(&n.id);
        painter.circle(
            h,
            5.0 * xf.zoom.max(0.6),
            if show {
                ui.visuals().selection.bg_fill
            } else {
                Color32::from_gray(150)
            },
            Stroke::new(1.0, Color32::WHITE),
        );
        if hresp.drag_started() {
            state.canvas.connecting = Some(n.id.clone());
        }
        if hresp.drag_stopped() {
            if let Some(p) = ui.input(|i| i.pointer.interact_pos()) {
                finish_connect(state, &topo, &xf, p);
            }
            state.canvas.connecting = None;
        }
    }

    // Rubber band for a connection in progress.
    if let (Some(src), Some(p)) = (
        state.canvas.connecting.clone(),
        ui.input(|i| i.pointer.interact_pos()),
    ) && let Some(s) = topo.node(&src)
    {
        let wr = node_world_rect(s);
        let a = xf.to_screen(pos2(wr.max.x, wr.center().y));
        painter.line_segment([a, p], Stroke::new(2.0, ui.visuals().selection.bg_fill));
    }

    // Background: clicks select edges or clear; primary drag draws a selection box.
    if bg.clicked() {
        state.selection.clear();
        if let Some(e) = &edge_hit {
            state.selection.insert(Selected::Relationship(e.clone()));
        }
        state.connect_menu = None;
    }
    if bg.drag_started_by(egui::PointerButton::Primary) && hovered_node.is_none() {
        state.canvas.box_start = ui.input(|i| i.pointer.press_origin());
    }
    if let (Some(start), Some(now)) = (
        state.canvas.box_start,
        ui.input(|i| i.pointer.interact_pos()),
    ) {
        let br = Rect::from_two_pos(start, now);
        painter.rect(
            br,
            0.0,
            ui.visuals().selection.bg_fill.gamma_multiply(0.15),
            Stroke::new(1.0, ui.visuals().selection.bg_fill),
            StrokeKind::Inside,
        );
        if bg.drag_stopped() || !ui.input(|i| i.pointer.primary_down()) {
            if !shift {
                state.selection.clear();
            }
            for n in &topo.node_templates {
                let wr = node_world_rect(n);
                let sr = Rect::from_min_max(xf.to_screen(wr.min), xf.to_screen(wr.max));
                if br.intersects(sr) {
                    state.selection.insert(Selected::Node(n.id.clone()));
                }
            }
            state.canvas.box_start = None;
        }
    }

    // Drop a palette entry: a new node where it was dropped.
    if let Some(q) = bg.dnd_release_payload::<QName>()
        && let Some(p) = ui.input(|i| i.pointer.interact_pos())
    {
        let w = xf.to_world(p);
        state.apply(Command::AddNode {
            type_ref: (*q).clone(),
            x: f64::from(w.x - NODE_W / 2.0).round(),
            y: f64::from(w.y - NODE_H / 2.0).round(),
        });
    }

    connect_menu(ui, state);
}

fn finish_connect(
    state: &mut EditorState,
    topo: &provisio_model::tosca::TopologyTemplate,
    xf: &Xf,
    p: Pos2,
) {
    let Some(src) = state.canvas.connecting.clone() else {
        return;
    };
    let w = xf.to_world(p);
    let Some(target) = topo
        .node_templates
        .iter()
        .find(|n| node_world_rect(n).contains(w))
        .map(|n| n.id.clone())
    else {
        return;
    };
    if target == src {
        return;
    }
    let (Some(s), Some(t)) = (topo.node(&src), topo.node(&target)) else {
        return;
    };
    let types = provisio_model::rules::allowed_relationship_types(state.doc.library(), s, t);
    if types.is_empty() {
        state.status = format!("no relationship type allows {src} ➡ {target}");
        return;
    }
    state.connect_menu = Some(ConnectMenu {
        source: src,
        target,
        types,
        at: p,
    });
}

fn connect_menu(ui: &mut egui::Ui, state: &mut EditorState) {
    let Some(menu) = state.connect_menu.clone() else {
        return;
    };
    let mut chosen: Option<QName> = None;
    let mut close = false;
    egui::Area::new(ui.id().with("connect_menu"))
        .fixed_pos(menu.at)
        .order(egui::Order::Foreground)
        .show(ui.ctx(), |ui| {
            egui::Frame::popup(ui.style()).show(ui, |ui| {
                ui.label(
                    egui::RichText::new(format!("{} ➡ {}", menu.source, menu.target)).strong(),
                );
                ui.separator();
                egui::ScrollArea::vertical()
                    .max_height(260.0)
                    .show(ui, |ui| {
                        for t in &menu.types {
                            if ui.button(&t.local).on_hover_text(t.to_string()).clicked() {
                                chosen = Some(t.clone());
                            }
                        }
                    });
                if ui.button("Cancel").clicked() {
                    close = true;
                }
            });
        });
    if ui.input(|i| i.key_pressed(egui::Key::Escape)) {
        close = true;
    }
    if let Some(type_ref) = chosen {
        state.apply(Command::Connect {
            source: menu.source,
            target: menu.target,
            type_ref,
        });
        close = true;
    }
    if close {
        state.connect_menu = None;
    }
}

fn draw_node(
    painter: &egui::Painter,
    ui: &egui::Ui,
    state: &EditorState,
    n: &NodeTemplate,
    sr: Rect,
    zoom: f32,
) {
    let dark = ui.visuals().dark_mode;
    let color = type_color(state, &n.type_ref);
    let selected = state.is_selected_node(&n.id);
    let overlay = state.overlays.get(&n.id);
    let radius = CornerRadius::same((6.0 * zoom).clamp(1.0, 255.0) as u8);
    let fill = if dark {
        Color32::from_gray(48)
    } else {
        Color32::WHITE
    };
    painter.rect_filled(
        sr.translate(vec2(2.0, 3.0) * zoom),
        radius,
        Color32::from_black_alpha(if dark { 90 } else { 30 }),
    );
    painter.rect_filled(sr, radius, fill);
    let band = Rect::from_min_size(sr.min, vec2(sr.width(), 7.0 * zoom));
    painter.rect_filled(
        band,
        CornerRadius {
            nw: radius.nw,
            ne: radius.ne,
            sw: 0,
            se: 0,
        },
        color,
    );
    let border = match overlay.and_then(|o| o.run.as_ref()) {
        Some(run) => Stroke::new(2.5 * zoom.max(0.5), run_color(run)),
        None if selected => Stroke::new(2.5, ui.visuals().selection.stroke.color),
        None => Stroke::new(1.0, color.gamma_multiply(0.8)),
    };
    painter.rect_stroke(sr, radius, border, StrokeKind::Inside);
    if selected && overlay.is_some_and(|o| o.run.is_some()) {
        painter.rect_stroke(
            sr.expand(3.0),
            radius,
            Stroke::new(1.5, ui.visuals().selection.stroke.color),
            StrokeKind::Outside,
        );
    }
    if zoom < 0.3 {
        return;
    }
    let text = if dark {
        Color32::from_gray(230)
    } else {
        Color32::from_gray(25)
    };
    let weak = if dark {
        Color32::from_gray(160)
    } else {
        Color32::from_gray(110)
    };
    let pad = 10.0 * zoom;
    painter.text(
        sr.min + vec2(pad, 12.0 * zoom),
        egui::Align2::LEFT_TOP,
        n.label(),
        egui::FontId::proportional(15.0 * zoom),
        text,
    );
    // Bottom right: the top right corner carries the diagnostics marker.
    let icon = Rect::from_min_size(
        egui::pos2(sr.max.x - pad - 18.0 * zoom, sr.max.y - 24.0 * zoom),
        vec2(18.0, 18.0) * zoom,
    );
    super::icons::paint(painter, ui.ctx(), state, &n.type_ref, icon);
    let ty = if state.doc.library().node_type(&n.type_ref).is_some() {
        n.type_ref.local.clone()
    } else {
        format!("{} (unknown type)", n.type_ref.local)
    };
    painter.text(
        sr.min + vec2(pad, 32.0 * zoom),
        egui::Align2::LEFT_TOP,
        ty,
        egui::FontId::proportional(11.5 * zoom),
        weak,
    );

    // Device markers for device groups.
    let ids = device_ids(n);
    if !ids.is_empty() {
        let r = 4.5 * zoom;
        let y = sr.max.y - 11.0 * zoom;
        let max = 16usize;
        for (i, dev) in ids.iter().take(max).enumerate() {
            let x = sr.min.x + pad + r + i as f32 * (r * 2.0 + 3.0 * zoom);
            let st = overlay
                .and_then(|o| o.devices.iter().find(|d| d.id == *dev))
                .map(|d| &d.state);
            let c = st
                .map(device_color)
                .unwrap_or(Color32::from_gray(if dark { 90 } else { 200 }));
            painter.circle(pos2(x, y), r, c, Stroke::new(1.0, Color32::from_gray(120)));
            if let Some(DeviceState::Downloading { written, total }) = st
                && *total > 0
            {
                let frac = (*written as f32 / *total as f32).clamp(0.0, 1.0);
                let angle = frac * std::f32::consts::TAU;
                let pts: Vec<Pos2> = (0..=16)
                    .map(|k| {
                        let a = -std::f32::consts::FRAC_PI_2 + angle * k as f32 / 16.0;
                        pos2(x, y) + vec2(a.cos(), a.sin()) * (r + 2.0 * zoom)
                    })
                    .collect();
                painter.add(Shape::line(
                    pts,
                    Stroke::new(1.5 * zoom, Color32::from_rgb(60, 140, 230)),
                ));
            }
        }
        if ids.len() > max {
            painter.text(
                pos2(sr.min.x + pad + max as f32 * (r * 2.0 + 3.0 * zoom) + r, y),
                egui::Align2::LEFT_CENTER,
                format!("+{}", ids.len() - max),
                egui::FontId::proportional(10.0 * zoom),
                weak,
            );
        }
    }

    // Validation marker.
    let errors = state
        .diagnostics_for(&n.id)
        .filter(|d| d.is_error())
        .count();
    let warnings = state
        .diagnostics_for(&n.id)
        .filter(|d| !d.is_error())
        .count();
    if errors + warnings > 0 {
        let c = if errors > 0 {
            Color32::from_rgb(220, 70, 60)
        } else {
            Color32::from_rgb(225, 170, 40)
        };
        let p = pos2(sr.max.x - 12.0 * zoom, sr.min.y + 18.0 * zoom);
        painter.circle_filled(p, 8.0 * zoom, c);
        painter.text(
            p,
            egui::Align2::CENTER_CENTER,
            "!",
            egui::FontId::proportional(12.0 * zoom),
            Color32::WHITE,
        );
    }
    // Deploy badge.
    if let Some(run) = overlay.and_then(|o| o.run.as_ref()) {
        let label = match run {
            NodeRun::Pending => "pending".to_string(),
            NodeRun::Running(op) => format!("{op}…"),
            NodeRun::Done => "done".to_string(),
            NodeRun::Failed(_) => "failed".to_string(),
            NodeRun::Skipped(_) => "skipped".to_string(),
            NodeRun::Undeployed => "undeployed".to_string(),
        };
        let c = run_color(run);
        let g = painter.layout_no_wrap(
            label,
            egui::FontId::proportional(10.5 * zoom),
            Color32::WHITE,
        );
        let br = Rect::from_min_size(
            pos2(
                sr.max.x - g.size().x - 14.0 * zoom,
                sr.max.y - g.size().y - 8.0 * zoom,
            ),
            g.size() + vec2(8.0, 3.0) * zoom,
        );
        painter.rect_filled(br, 4.0 * zoom, c);
        painter.galley(br.min + vec2(4.0, 1.5) * zoom, g, Color32::WHITE);
    }
}

fn node_tooltip(ui: &mut egui::Ui, state: &EditorState, n: &NodeTemplate) {
    ui.strong(n.label());
    ui.label(n.type_ref.to_string());
    for d in state.diagnostics_for(&n.id) {
        ui.colored_label(
            if d.is_error() {
                Color32::from_rgb(220, 70, 60)
            } else {
                Color32::from_rgb(210, 160, 40)
            },
            &d.message,
        );
    }
    if let Some(o) = state.overlays.get(&n.id) {
        if let Some(NodeRun::Failed(r) | NodeRun::Skipped(r)) = &o.run {
            ui.colored_label(Color32::from_rgb(220, 70, 60), r);
        }
        for d in &o.devices {
            let detail = match &d.state {
                DeviceState::Failed { reason } => format!("failed: {reason}"),
                DeviceState::Downloading { written, total } => {
                    format!("downloading {}%", written * 100 / (*total).max(1))
                }
                s => s.name().to_string(),
            };
            ui.label(format!("{}: {detail}", d.id));
        }
    }
}
