//! The type editor's property table: Winery key/value properties (name, type, default,
//! required).

use super::{TypeForm, XSD_TYPES, section};
use provisio_model::tosca::*;

pub(super) fn properties_section(ui: &mut egui::Ui, f: &mut TypeForm) {
    section(ui, "Properties");
    let mut remove = None;
    if !f.properties.is_empty() {
        egui::Grid::new("props")
            .num_columns(5)
            .striped(true)
            .show(ui, |ui| {
                for h in ["Name", "Type", "Default", "Required", ""] {
                    ui.weak(h);
                }
                ui.end_row();
                for (i, p) in f.properties.iter_mut().enumerate() {
                    ui.add_sized([160.0, 20.0], egui::TextEdit::singleline(&mut p.key));
                    egui::ComboBox::from_id_salt(("prop-type", i))
                        .selected_text(p.type_name.clone())
                        .show_ui(ui, |ui| {
                            for t in XSD_TYPES {
                                ui.selectable_value(&mut p.type_name, t.to_string(), *t);
                            }
                        });
                    let mut d = p.default.clone().unwrap_or_default();
                    if ui
                        .add_sized([140.0, 20.0], egui::TextEdit::singleline(&mut d))
                        .changed()
                    {
                        p.default = Some(d);
                    }
                    ui.checkbox(&mut p.required, "");
                    if ui.small_button("Remove").clicked() {
                        remove = Some(i);
                    }
                    ui.end_row();
                }
            });
    }
    if let Some(i) = remove {
        f.properties.remove(i);
    }
    if ui.button("Add property").clicked() {
        let n = f.properties.len() + 1;
        f.properties.push(PropertyDef {
            key: format!("property{n}"),
            type_name: "xsd:string".into(),
            ..Default::default()
        });
    }
}
