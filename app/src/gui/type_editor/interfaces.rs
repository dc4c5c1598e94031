//! The type editor's interfaces: operations with their input and output parameters.

use super::{TypeForm, XSD_TYPES, section};
use provisio_model::tosca::*;

fn params(ui: &mut egui::Ui, id: (usize, usize, &str), ps: &mut Vec<Parameter>) {
    let mut remove = None;
    for (k, p) in ps.iter_mut().enumerate() {
        ui.horizontal(|ui| {
            ui.add_space(24.0);
            let kind = if id.2 == "in" { "input" } else { "output" };
            ui.add_sized(
                [44.0, 18.0],
                egui::Label::new(egui::RichText::new(kind).weak()),
            );
            ui.add(egui::TextEdit::singleline(&mut p.name).desired_width(140.0));
            egui::ComboBox::from_id_salt((id, k))
                .selected_text(p.type_name.clone())
                .show_ui(ui, |ui| {
                    for t in XSD_TYPES {
                        ui.selectable_value(&mut p.type_name, t.to_string(), *t);
                    }
                });
            ui.checkbox(&mut p.required, "required");
            if ui.small_button("Remove").clicked() {
                remove = Some(k);
            }
        });
    }
    if let Some(k) = remove {
        ps.remove(k);
    }
}

pub(super) fn interfaces_section(ui: &mut egui::Ui, f: &mut TypeForm) {
    section(ui, "Interfaces");
    let mut remove_iface = None;
    for (i, iface) in f.interfaces.iter_mut().enumerate() {
        ui.group(|ui| {
            ui.horizontal(|ui| {
                ui.label("Interface");
                ui.add(egui::TextEdit::singleline(&mut iface.name).desired_width(360.0));
                if ui.small_button("Remove interface").clicked() {
                    remove_iface = Some(i);
                }
            });
            let mut remove_op = None;
            for (j, op) in iface.operations.iter_mut().enumerate() {
                ui.horizontal(|ui| {
                    ui.add_space(12.0);
                    ui.label("Operation");
                    ui.add(egui::TextEdit::singleline(&mut op.name).desired_width(160.0));
                    if ui.small_button("Add input").clicked() {
                        op.inputs.push(Parameter {
                            name: format!("input{}", op.inputs.len() + 1),
                            type_name: "xsd:string".into(),
                            required: true,
                        });
                    }
                    if ui.small_button("Add output").clicked() {
                        op.outputs.push(Parameter {
                            name: format!("output{}", op.outputs.len() + 1),
                            type_name: "xsd:string".into(),
                            required: false,
                        });
                    }
                    if ui.small_button("Remove").clicked() {
                        remove_op = Some(j);
                    }
                });
                params(ui, (i, j, "in"), &mut op.inputs);
                params(ui, (i, j, "out"), &mut op.outputs);
            }
            if let Some(j) = remove_op {
                iface.operations.remove(j);
            }
            if ui.button("Add operation").clicked() {
                let names = ["install", "configure", "start", "stop", "uninstall"];
                let name = names
                    .iter()
                    .find(|n| !iface.operations.iter().any(|o| o.name == **n))
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| format!("operation{}", iface.operations.len() + 1));
                iface.operations.push(Operation {
                    name,
                    ..Default::default()
                });
            }
        });
    }
    if let Some(i) = remove_iface {
        f.interfaces.remove(i);
    }
    if ui.button("Add interface").clicked() {
        f.interfaces.push(Interface {
            name: format!(
                "http://example.org/interfaces/interface{}",
                f.interfaces.len() + 1
            ),
            operations: Vec::new(),
        });
    }
}
