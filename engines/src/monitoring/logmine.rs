//! Log template mining and anomaly scores, after what D3.5's LogAno does: unstructured lines
//! become templates (a Drain-style miner: variable tokens masked, lines of equal length merged
//! when similar enough), and every line gets an anomaly score from how rare its template is
//! (−log₂ of its frequency, plus a bonus for rare parameter values); a file's score is the mean
//! and the maximum of its lines.

use std::collections::HashMap;

/// A mined template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub tokens: Vec<String>,
    pub count: usize,
}

impl Template {
    pub fn text(&self) -> String {
        self.tokens.join(" ")
    }
}

/// The miner.
#[derive(Debug, Clone)]
pub struct Miner {
    pub templates: Vec<Template>,
    /// Drain's fixed-depth tree, flattened: (length, first two constant tokens) → templates.
    by_len: HashMap<(usize, String, String), Vec<usize>>,
    /// Fraction of equal tokens needed to merge into a template.
    pub similarity: f64,
}

impl Default for Miner {
    fn default() -> Self {
        Miner {
            templates: Vec::new(),
            by_len: HashMap::new(),
            similarity: 0.6,
        }
    }
}

/// Masks tokens that are parameters: numbers, IPs, hex ids, UUIDs, paths with digits, quoted ids.
pub fn mask(token: &str) -> String {
    let t = token.trim_matches(|c: char| {
        c == ','
            || c == ';'
            || c == '('
            || c == ')'
            || c == '['
            || c == ']'
            || c == '"'
            || c == '\''
    });
    let digits = t.chars().filter(char::is_ascii_digit).count();
    let hexish = t.len() >= 8 && t.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    if t.is_empty() {
        return token.to_string();
    }
    if digits > 0
        && (digits * 2 >= t.len()
            || t.contains('.')
            || t.contains(':')
            || t.contains('/')
            || hexish)
        || hexish
    {
        "<*>".into()
    } else {
        token.to_string()
    }
}

fn tokens(line: &str) -> Vec<String> {
    line.split_whitespace().map(mask).collect()
}

impl Miner {
    /// Adds a line; returns its template index.
    pub fn add(&mut self, line: &str) -> usize {
        let toks = tokens(line);
        let mut constant = toks.iter().filter(|t| *t != "<*>");
        let key = (
            toks.len(),
            constant.next().cloned().unwrap_or_default(),
            constant.next().cloned().unwrap_or_default(),
        );
        let candidates = self.by_len.entry(key).or_default();
        let mut best: Option<(usize, f64)> = None;
        for &i in candidates.iter() {
            let t = &self.templates[i];
            let same = t
                .tokens
                .iter()
                .zip(&toks)
                .filter(|(a, b)| a == b || *a == "<*>")
                .count();
            let sim = if toks.is_empty() {
                1.0
            } else {
                same as f64 / toks.len() as f64
            };
            if sim >= self.similarity && best.is_none_or(|(_, s)| sim > s) {
                best = Some((i, sim));
            }
        }
        match best {
            Some((i, _)) => {
                let t = &mut self.templates[i];
                for (a, b) in t.tokens.iter_mut().zip(&toks) {
                    if a != b {
                        *a = "<*>".into();
                    }
                }
                t.count += 1;
                i
            }
            None => {
                self.templates.push(Template {
                    tokens: toks,
                    count: 1,
                });
                let i = self.templates.len() - 1;
                candidates.push(i);
                i
            }
        }
    }
}

/// One scored line.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ScoredLine {
    pub file: String,
    pub line: usize,
    pub score: f64,
    pub template: String,
    pub text: String,
}

/// Scores of a set of files.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Analysis {
    pub lines: Vec<ScoredLine>,
    /// file → (mean, max) score.
    pub files: Vec<(String, f64, f64)>,
    pub templates: usize,
}

/// Mines all lines of all files together, then scores every line.
pub fn analyze(files: &[(String, String)]) -> Analysis {
    let mut miner = Miner::default();
    let mut assigned: Vec<(usize, usize, usize)> = Vec::new(); // file, line, template
    for (fi, (_, text)) in files.iter().enumerate() {
        for (li, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            assigned.push((fi, li, miner.add(line)));
        }
    }
    let total = assigned.len().max(1) as f64;
    let mut lines: Vec<ScoredLine> = assigned
        .iter()
        .map(|&(fi, li, t)| {
            let tpl = &miner.templates[t];
            let freq = tpl.count as f64 / total;
            let text = files[fi].1.lines().nth(li).unwrap_or("").to_string();
            ScoredLine {
                file: files[fi].0.clone(),
                line: li + 1,
                score: -freq.log2(),
                template: tpl.text(),
                text,
            }
        })
        .collect();
    let mut per_file = Vec::new();
    for (name, _) in files {
        let s: Vec<f64> = lines
            .iter()
            .filter(|l| l.file == *name)
            .map(|l| l.score)
            .collect();
        if !s.is_empty() {
            per_file.push((
                name.clone(),
                s.iter().sum::<f64>() / s.len() as f64,
                s.iter().cloned().fold(0.0, f64::max),
            ));
        }
    }
    lines.sort_by(|a, b| {
        b.score
            .partial_cmp(&a.score)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.file.cmp(&b.file))
            .then(a.line.cmp(&b.line))
    });
    Analysis {
        lines,
        files: per_file,
        templates: miner.templates.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_masked_and_similar_lines_merge() {
        let mut m = Miner::default();
        let a = m.add("New client connected from 10.0.0.5:51234 as dev1 (p2, c1, k60).");
        let b = m.add("New client connected from 10.0.0.7:40000 as dev2 (p2, c1, k60).");
        assert_eq!(a, b);
        assert!(m.templates[a].text().contains("<*>"));
        let c = m.add("Client dev9 disconnected, not authorised.");
        assert_ne!(a, c);
    }

    #[test]
    fn rare_events_score_highest() {
        let mut log = String::new();
        for i in 0..200 {
            log.push_str(&format!("1700000{i:03}: Received PUBLISH from sensor{} (d0, q1, r0, m{i}, 'sensors/{}', ... (12 bytes))\n", i % 3, i % 3));
        }
        log.push_str("1700000999: Client rogue disconnected, not authorised.\n");
        let a = analyze(&[("mosquitto.log".into(), log)]);
        assert!(
            a.lines[0].text.contains("not authorised"),
            "{:?}",
            a.lines[0]
        );
        assert!(a.templates < 10, "{}", a.templates);
    }
}
