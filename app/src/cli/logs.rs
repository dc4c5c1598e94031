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
                eprintln!("error: {}: {e}", f.display());
                return 2;
            }
        }
    }
    let mut a = analyze(&inputs);
    a.lines.truncate(top);
    if json {
        println!("{}", serde_json::to_string_pretty(&a).unwrap_or_default());
        return 0;
    }
    println!("{} templates", a.templates);
    for (f, mean, max) in &a.files {
        println!("{f}: mean score {mean:.2}, max {max:.2}");
    }
    println!("most anomalous lines:");
    for l in &a.lines {
        println!("{:6.2}  {}:{}  {}", l.score, l.file, l.line, l.text);
    }
    0
}
