//! `provisio logs analyze FILE… [--top K] [--json]`: mines templates from log lines and prints
//! the most anomalous lines and a score per file (D3.5's log analysis, reimplemented).

use provisio_engines::monitoring::logmine::analyze;
use std::path::PathBuf;

pub fn run(files: &[PathBuf], top: usize, json: bool) -> i32 {
    let mut inputs = Vec::new();
    for f in files {
        match std::fs::read(f) {
            Ok(b) => inputs.push((
                f.display().to_string(),
                String::from_utf8_lossy(&b).into_owned(),
            )),
            Err(e) => {
                errln!("error: {}: {e}", f.display());
                return 2;
            }
        }
    }
    let mut a = analyze(&inputs);
    a.lines.truncate(top);
    if json {
        outln!("{}", serde_json::to_string_pretty(&a).unwrap_or_default());
        return 0;
    }
    outln!("{} templates", a.templates);
    for (f, mean, max) in &a.files {
        outln!("{f}: mean score {mean:.2}, max {max:.2}");
    }
    outln!("most anomalous lines:");
    for l in &a.lines {
        outln!("{:6.2}  {}:{}  {}", l.score, l.file, l.line, l.text);
    }
    0
}
