//! Type appearance: Winery's `appearance/smallIcon.png` next to a node type's definition file,
//! decoded once and kept as a texture (cached per file in egui's memory), for the palette and
//! the node cards.

use super::state::EditorState;
use provisio_model::QName;
use provisio_model::tosca::TypeKind;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(Clone, Default)]
struct Cache(HashMap<PathBuf, Option<egui::TextureHandle>>);

/// The icon file Winery keeps for the node type `q`, if its definition lives in a repository.
pub fn icon_path(state: &EditorState, q: &QName) -> Option<PathBuf> {
    let lib = state.doc.library();
    let loc = lib.locate(TypeKind::NodeType, q)?;
    let file = lib.file(loc.file);
    if file.builtin {
        return None;
    }
    Some(file.path.parent()?.join("appearance").join("smallIcon.png"))
}

/// Decodes a PNG into an egui image (8-bit RGB/RGBA/grey; anything else is refused).
pub fn decode_png(bytes: &[u8]) -> Option<egui::ColorImage> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().ok()?;
    let mut buf = vec![0; reader.output_buffer_size()?];
    let info = reader.next_frame(&mut buf).ok()?;
    let (w, h) = (info.width as usize, info.height as usize);
    if w == 0 || h == 0 || w > 1024 || h > 1024 {
        return None;
    }
    let data = &buf[..info.buffer_size()];
    let rgba: Vec<u8> = match info.color_type {
        png::ColorType::Rgba => data.to_vec(),
        png::ColorType::Rgb => data
            .chunks_exact(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect(),
        png::ColorType::GrayscaleAlpha => data
            .chunks_exact(2)
            .flat_map(|p| [p[0], p[0], p[0], p[1]])
            .collect(),
        png::ColorType::Grayscale => data.iter().flat_map(|g| [*g, *g, *g, 255]).collect(),
        png::ColorType::Indexed => return None,
    };
    Some(egui::ColorImage::from_rgba_unmultiplied([w, h], &rgba))
}

fn load(ctx: &egui::Context, path: &Path) -> Option<egui::TextureHandle> {
    let id = egui::Id::new("provisio-type-icons");
    if let Some(hit) = ctx.data(|d| d.get_temp::<Cache>(id).and_then(|c| c.0.get(path).cloned())) {
        return hit;
    }
    let tex = std::fs::read(path)
        .ok()
        .and_then(|b| decode_png(&b))
        .map(|img| {
            ctx.load_texture(
                path.display().to_string(),
                img,
                egui::TextureOptions::LINEAR,
            )
        });
    ctx.data_mut(|d| {
        d.get_temp_mut_or_default::<Cache>(id)
            .0
            .insert(path.to_path_buf(), tex.clone())
    });
    tex
}

/// The small icon of node type `q`, if the repository has one.
pub fn small_icon(
    ctx: &egui::Context,
    state: &EditorState,
    q: &QName,
) -> Option<egui::TextureHandle> {
    load(ctx, &icon_path(state, q)?)
}

/// The icon of `q` (16 px), or a colour swatch when it has none.
pub fn icon_or_swatch(ui: &mut egui::Ui, state: &EditorState, q: &QName, color: egui::Color32) {
    match small_icon(ui.ctx(), state, q) {
        Some(tex) => {
            ui.add(egui::Image::new(&tex).fit_to_exact_size(egui::vec2(16.0, 16.0)));
        }
        None => {
            let (r, _) = ui.allocate_exact_size(egui::vec2(10.0, 14.0), egui::Sense::hover());
            ui.painter().rect_filled(r, 2.0, color);
        }
    }
}

/// Paints the icon of `q` into `rect` of a node card, if it has one.
pub fn paint(
    painter: &egui::Painter,
    ctx: &egui::Context,
    state: &EditorState,
    q: &QName,
    rect: egui::Rect,
) {
    if let Some(tex) = small_icon(ctx, state, q) {
        painter.image(
            tex.id(),
            rect,
            egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)),
            egui::Color32::WHITE,
        );
    }
}
