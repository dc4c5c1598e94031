//! `provisio bench repository [--path DIR]`: opening a Winery repository to a drawn browser
//! (load + index + first frames) and switching between two open service templates (switch +
//! one frame), each as a median in milliseconds.

use crate::gui::{ProvisioApp, browser, files, workspace};
use std::path::Path;
use std::time::{Duration, Instant};

fn frame(ctx: &egui::Context, app: &mut ProvisioApp) {
    let input = egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(
            egui::Pos2::ZERO,
            egui::vec2(1400.0, 860.0),
        )),
        ..Default::default()
    };
    let mut out = ctx.run_ui(input, |ui| app.ui(ui));
    out.textures_delta.clear();
    let _ = ctx.tessellate(out.shapes, out.pixels_per_point);
}

fn median(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1000.0
}

pub fn run(path: &Path) -> i32 {
    let mut open_times = Vec::new();
    let mut last = None;
    for _ in 0..5 {
        let t = Instant::now();
        let doc = match files::open_path(path) {
            Ok(d) => d,
            Err(e) => {
                errln!("error: {e}");
                return 2;
            }
        };
        let mut app = ProvisioApp::with_document(doc);
        let ctx = egui::Context::default();
        // Two frames: egui lays out on the first and draws settled on the second.
        frame(&ctx, &mut app);
        frame(&ctx, &mut app);
        open_times.push(t.elapsed());
        last = Some((app, ctx));
    }
    let Some((mut app, ctx)) = last else { return 2 };
    let rows = browser::service_templates_in_order(app.state.doc.library());
    if rows.len() < 2 {
        errln!(
            "error: {} holds fewer than two service templates",
            path.display()
        );
        return 2;
    }
    // The two largest topologies.
    let mut by_size = rows.clone();
    by_size.sort_by_key(|r| std::cmp::Reverse(r.nodes));
    let (a, b) = (by_size[0].tab, by_size[1].tab);
    workspace::open_tab(&mut app, a);
    frame(&ctx, &mut app);
    workspace::open_tab(&mut app, b);
    frame(&ctx, &mut app);
    let mut switch_times = Vec::new();
    for i in 0..40 {
        let t = Instant::now();
        workspace::open_tab(&mut app, if i % 2 == 0 { a } else { b });
        frame(&ctx, &mut app);
        switch_times.push(t.elapsed());
    }
    outln!(
        "repository {}: {} service templates, {} files",
        path.display(),
        rows.len(),
        app.state.doc.library().files().len()
    );
    outln!(
        "open to a drawn browser: median {:.1} ms (5 runs)",
        median(open_times)
    );
    outln!(
        "switch between {} and {} ({} and {} nodes) incl. one frame: median {:.2} ms (40 switches)",
        by_size[0].qname.local,
        by_size[1].qname.local,
        by_size[0].nodes,
        by_size[1].nodes,
        median(switch_times)
    );
    0
}
