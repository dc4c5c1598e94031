//! The palette: every node type of the loaded libraries grouped by namespace, with search.
//! Drag an entry onto the canvas (or double-click it) to create a node template.

use super::commands::Command;
use super::state::EditorState;
use provisio_model::QName;
use std::collections::BTreeMap;

/// The palette's width: wide enough for most type names, never wider than `MAX_WIDTH` (long
/// names and namespaces are elided, with the full name on hover).
pub const WIDTH: f32 = 230.0;
pub const MIN_WIDTH: f32 = 150.0;
pub const MAX_WIDTH: f32 = 320.0;

pub fn palette(ui: &mut egui::Ui, state: &mut EditorState) {
    ui.heading("Node types");
    ui.add(
        egui::TextEdit::singleline(&mut state.palette_filter)
            .hint_text("🔍 search types")
            .desired_width(f32::INFINITY),
    );
    ui.add_space(4.0);
    let filter = state.palette_filter.to_lowercase();
    let mut groups: BTreeMap<String, Vec<(QName, bool, Option<String>)>> = BTreeMap::new();
    for t in state.doc.library().node_types() {
        let q = t.base.qname();
        if !filter.is_empty()
            && !q.local.to_lowercase().contains(&filter)
            && !q.namespace.to_lowercase().contains(&filter)
        {
            continue;
        }
        groups.entry(q.namespace.clone()).or_default().push((
            q,
            t.base.is_abstract,
            t.base.documentation.clone(),
        ));
    }
    let mut add: Option<QName> = None;
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            if groups.is_empty() {
                ui.weak("No node type matches.");
            }
            // Our own namespace first: the IoT types an architect reaches for.
            let mut keys: Vec<&String> = groups.keys().collect();
            keys.sort_by_key(|k| (!k.starts_with("http://provisio.dev"), k.to_string()));
            for ns in keys {
                let entries = &groups[ns];
                let label = elide_front(ui, &short_ns(ns), ui.available_width() - 24.0);
                egui::CollapsingHeader::new(egui::RichText::new(label).strong())
                    .id_salt(ns)
                    .default_open(ns.starts_with("http://provisio.dev"))
                    // While searching every matching group is open: a match is never hidden
                    // under a header the user closed earlier.
                    .open((!filter.is_empty()).then_some(true))
                    .show(ui, |ui| {
                        ui.set_max_width(ui.available_width());
                        for (q, is_abstract, doc) in entries {
                            let color = super::canvas::type_color(state, q);
                            let id = ui.id().with(("palette", q));
                            if *is_abstract {
                                ui.horizontal(|ui| {
                                    swatch(ui, color);
                                    ui.add(
                                        egui::Label::new(
                                            egui::RichText::new(format!("{} (abstract)", q.local))
                                                .weak(),
                                        )
                                        .truncate(),
                                    )
                                    .on_hover_text(q.to_string());
                                });
                                continue;
                            }
                            let r = ui
                                .dnd_drag_source(id, q.clone(), |ui| {
                                    ui.horizontal(|ui| {
                                        super::icons::icon_or_swatch(ui, state, q, color);
                                        ui.add(
                                            egui::Label::new(&q.local)
                                                .truncate()
                                                .selectable(false)
                                                .sense(egui::Sense::click()),
                                        );
                                    })
                                    .response
                                })
                                .response;
                            let r = r.on_hover_text(match doc {
                                Some(d) => format!("{q}\n{d}"),
                                None => q.to_string(),
                            });
                            if r.double_clicked() {
                                add = Some(q.clone());
                            }
                        }
                    })
                    .header_response
                    .on_hover_text(ns.as_str());
            }
        });
    if let Some(q) = add {
        // Place it in the middle of the visible canvas.
        let rect = state.canvas.rect;
        let c = (rect.center() - rect.min - state.view.pan) / state.view.zoom;
        state.apply(Command::AddNode {
            type_ref: q,
            x: f64::from(c.x - 100.0).round(),
            y: f64::from(c.y - 37.0).round(),
        });
    }
}

fn swatch(ui: &mut egui::Ui, color: egui::Color32) {
    let (r, _) = ui.allocate_exact_size(egui::vec2(10.0, 14.0), egui::Sense::hover());
    ui.painter().rect_filled(r, 2.0, color);
}

/// `text` cut from the front to fit `width` points ("…org/nodetypes"): a namespace's tail is
/// the part that tells namespaces apart. Measured with the heading font.
pub fn elide_front(ui: &egui::Ui, text: &str, width: f32) -> String {
    let font = egui::TextStyle::Body.resolve(ui.style());
    let full = ui.ctx().fonts_mut(|f| {
        f.layout_no_wrap(text.to_string(), font, egui::Color32::WHITE)
            .size()
            .x
    });
    let n = text.chars().count();
    if full <= width || n == 0 {
        return text.to_string();
    }
    let keep = ((width / (full / n as f32)) as usize).clamp(4, n) - 1;
    let tail: String = text.chars().skip(n - keep).collect();
    format!("…{tail}")
}

/// A readable namespace label (`opentosca.org/nodetypes`).
pub fn short_ns(ns: &str) -> String {
    ns.trim_start_matches("http://")
        .trim_start_matches("https://")
        .to_string()
}
