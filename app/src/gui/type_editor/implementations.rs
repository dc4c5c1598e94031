//! The type editor's implementation: implementation and deployment artifacts, with the files
//! on disk that saving copies into the repository.

use super::{ArtifactRow, TypeForm, pick_required, section};
use provisio_model::QName;
use provisio_model::tosca::BASE_TYPES_NS;

pub(super) fn artifacts_section(ui: &mut egui::Ui, f: &mut TypeForm, types: &[QName]) {
    section(ui, "Implementation (artifacts)");
    ui.weak("Files are copied into the artifact template's files/ folder when the type is saved.");
    let ops: Vec<String> = f
        .interfaces
        .iter()
        .flat_map(|i| {
            i.operations
                .iter()
                .map(move |o| format!("{}/{}", i.name, o.name))
        })
        .collect();
    let mut remove = None;
    for (k, a) in f.artifacts.iter_mut().enumerate() {
        ui.horizontal_wrapped(|ui| {
            egui::ComboBox::from_id_salt(("art-kind", k))
                .selected_text(if a.deployment {
                    "deployment"
                } else {
                    "implementation"
                })
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut a.deployment, false, "implementation");
                    ui.selectable_value(&mut a.deployment, true, "deployment");
                });
            ui.add(egui::TextEdit::singleline(&mut a.name).desired_width(120.0));
            if !a.deployment {
                egui::ComboBox::from_id_salt(("art-op", k))
                    .selected_text(a.operation.rsplit('/').next().unwrap_or("").to_string())
                    .show_ui(ui, |ui| {
                        for o in &ops {
                            ui.selectable_value(
                                &mut a.operation,
                                o.clone(),
                                o.rsplit('/').next().unwrap_or(""),
                            );
                        }
                    });
            }
            pick_required(ui, ("art-type", k), &mut a.artifact_type, types);
            ui.add(
                egui::TextEdit::singleline(&mut a.file)
                    .hint_text("file to copy")
                    .desired_width(220.0),
            );
            if ui.small_button("Pick file…").clicked()
                && let Some(p) = rfd::FileDialog::new().pick_file()
            {
                a.file = p.display().to_string();
            }
            if ui.small_button("Remove").clicked() {
                remove = Some(k);
            }
        });
    }
    if let Some(k) = remove {
        f.artifacts.remove(k);
    }
    if ui.button("Add artifact").clicked() {
        let script = QName::new(BASE_TYPES_NS, "ScriptArtifact");
        f.artifacts.push(ArtifactRow {
            deployment: false,
            name: format!("artifact{}", f.artifacts.len() + 1),
            operation: ops.first().cloned().unwrap_or_default(),
            artifact_type: if types.contains(&script) {
                script
            } else {
                types.first().cloned().unwrap_or(script)
            },
            file: String::new(),
        });
    }
}
