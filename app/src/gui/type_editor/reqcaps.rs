//! The type editor's requirement and capability definition tables.

use super::{ReqCapRow, pick_required, section};
use provisio_model::QName;

pub(super) fn reqcap_section(
    ui: &mut egui::Ui,
    title: &str,
    id: &str,
    rows: &mut Vec<ReqCapRow>,
    types: &[QName],
) {
    section(ui, title);
    let mut remove = None;
    if !rows.is_empty() {
        egui::Grid::new(id)
            .num_columns(5)
            .striped(true)
            .show(ui, |ui| {
                for h in ["Name", "Type", "Lower", "Upper", ""] {
                    ui.weak(h);
                }
                ui.end_row();
                for (i, r) in rows.iter_mut().enumerate() {
                    ui.add_sized([140.0, 20.0], egui::TextEdit::singleline(&mut r.name));
                    pick_required(ui, (id, "type", i), &mut r.type_ref, types);
                    ui.add(egui::DragValue::new(&mut r.lower).range(0..=1000));
                    ui.add_sized([80.0, 20.0], egui::TextEdit::singleline(&mut r.upper));
                    if ui.small_button("Remove").clicked() {
                        remove = Some(i);
                    }
                    ui.end_row();
                }
            });
    }
    if let Some(i) = remove {
        rows.remove(i);
    }
    if ui
        .button(format!(
            "Add {}",
            if id == "req" {
                "requirement"
            } else {
                "capability"
            }
        ))
        .clicked()
    {
        rows.push(ReqCapRow {
            name: format!("{id}{}", rows.len() + 1),
            type_ref: types.first().cloned().unwrap_or_default(),
            lower: 1,
            upper: "1".into(),
        });
    }
}
