//! Auto layout as a person draws a TOSCA topology, Sugiyama-style in three phases:
//! 1. rows by HostedOn: what is hosted sits above its host (tops in row 0, hardware lowest);
//! 2. the order inside each row that crosses least: barycenter sweeps down and up, keeping the
//!    best order seen, where ConnectsTo/DependsOn sources pointing right of their targets and
//!    same-row links jumping over cards count as faults too;
//! 3. x positions: every host centred under what it hosts, stacks straight, cards never closer
//!    than one column.
//!
//! rust-sugiyama (0.4, crates.io) was tried on paper first: it layers every edge, so
//! ConnectsTo would turn vertical as well, while a person draws it left to right inside a row;
//! the phases below fit our two kinds of edges in less code than adapting it.

use super::state::Document;
use provisio_model::plan::{RelationKind, relation_kind};
use std::collections::HashMap;

pub const COLUMN: f64 = 300.0;
pub const ROW: f64 = 190.0;
const MARGIN: f64 = 40.0;

/// The topology as the layout sees it: node indices, each node's host, the other links.
struct Graph {
    ids: Vec<String>,
    host: Vec<Option<usize>>,
    links: Vec<(usize, usize)>,
}

fn graph(doc: &Document) -> Graph {
    let lib = doc.library();
    let topo = doc.topology();
    let ids: Vec<String> = topo.node_templates.iter().map(|n| n.id.clone()).collect();
    let index: HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let mut host = vec![None; ids.len()];
    let mut links = Vec::new();
    for r in &topo.relationship_templates {
        let (Some(s), Some(t)) = (topo.endpoint_node(&r.source), topo.endpoint_node(&r.target))
        else {
            continue;
        };
        let (s, t) = (index[s.id.as_str()], index[t.id.as_str()]);
        if s == t {
            continue;
        }
        match relation_kind(lib, &r.type_ref) {
            RelationKind::HostedOn if host[s].is_none() => host[s] = Some(t),
            _ => links.push((s, t)),
        }
    }
    Graph { ids, host, links }
}

impl Graph {
    /// Every edge (HostedOn and links) as index pairs.
    fn edges(&self) -> Vec<(usize, usize)> {
        self.host
            .iter()
            .enumerate()
            .filter_map(|(s, h)| h.map(|t| (s, t)))
            .chain(self.links.iter().copied())
            .collect()
    }

    /// Phase 1: row of each node; a host is one row below the lowest node it hosts.
    fn rows(&self) -> Vec<usize> {
        let n = self.ids.len();
        let mut row = vec![0usize; n];
        // Relaxation; a HostedOn cycle stops growing at n rows.
        for _ in 0..n {
            let mut changed = false;
            for (s, h) in self.host.iter().enumerate() {
                if let Some(t) = *h
                    && row[t] < row[s] + 1
                    && row[s] < n
                {
                    row[t] = row[s] + 1;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        // No empty rows.
        let mut used: Vec<usize> = row.clone();
        used.sort_unstable();
        used.dedup();
        row.iter()
            .map(|r| used.binary_search(r).unwrap_or(0))
            .collect()
    }

    /// Rank along links (sources first), the initial left-to-right order.
    fn link_rank(&self) -> Vec<usize> {
        let n = self.ids.len();
        let mut rank = vec![0usize; n];
        for _ in 0..n {
            let mut changed = false;
            for &(s, t) in &self.links {
                if rank[t] < rank[s] + 1 && rank[s] < n {
                    rank[t] = rank[s] + 1;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        rank
    }
}

/// Faults of an order: crossings (weighted), links pointing left, same-row links over cards.
fn cost(edges: &[(usize, usize)], links: &[(usize, usize)], at: &[(f64, f64)]) -> usize {
    let segs: Vec<((f64, f64), (f64, f64))> = edges.iter().map(|&(s, t)| (at[s], at[t])).collect();
    let mut c = 0;
    for (i, a) in segs.iter().enumerate() {
        for b in &segs[i + 1..] {
            if segments_cross(*a, *b) {
                c += 4;
            }
        }
    }
    for &(s, t) in links {
        if at[s].0 > at[t].0 {
            c += 1;
        }
        if at[s].1 == at[t].1 {
            let (lo, hi) = (at[s].0.min(at[t].0), at[s].0.max(at[t].0));
            c += 2 * at
                .iter()
                .filter(|p| p.1 == at[s].1 && p.0 > lo && p.0 < hi)
                .count();
        }
    }
    c
}

/// Phase 2: the order of each row.
fn order_rows(g: &Graph, row: &[usize]) -> Vec<Vec<usize>> {
    let n = g.ids.len();
    let rows = row.iter().max().map_or(0, |m| m + 1);
    let rank = g.link_rank();
    let mut order: Vec<Vec<usize>> = vec![Vec::new(); rows];
    for i in 0..n {
        order[row[i]].push(i);
    }
    order[0].sort_by_key(|&i| (rank[i], i));
    let edges = g.edges();
    let neighbours: Vec<Vec<usize>> = (0..n)
        .map(|i| {
            edges
                .iter()
                .filter_map(|&(s, t)| {
                    if s == i {
                        Some(t)
                    } else if t == i {
                        Some(s)
                    } else {
                        None
                    }
                })
                .collect()
        })
        .collect();
    let at = |order: &[Vec<usize>]| -> Vec<(f64, f64)> {
        let mut p = vec![(0.0, 0.0); n];
        for (r, nodes) in order.iter().enumerate() {
            for (k, &i) in nodes.iter().enumerate() {
                p[i] = (k as f64, r as f64);
            }
        }
        p
    };
    // Sort a row by the mean position of its neighbours in the rows `from` selects.
    let sweep = |order: &mut Vec<Vec<usize>>, r: usize, from: &dyn Fn(usize) -> bool| {
        let p = at(order);
        let mut keyed: Vec<(f64, usize, usize)> = order[r]
            .iter()
            .enumerate()
            .map(|(k, &i)| {
                let ns: Vec<f64> = neighbours[i]
                    .iter()
                    .filter(|&&j| from(row[j]))
                    .map(|&j| p[j].0)
                    .collect();
                let key = if ns.is_empty() {
                    k as f64
                } else {
                    ns.iter().sum::<f64>() / ns.len() as f64
                };
                (key, rank[i], i)
            })
            .collect();
        keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        order[r] = keyed.into_iter().map(|k| k.2).collect();
    };
    let mut best = order.clone();
    let mut best_cost = cost(&edges, &g.links, &at(&order));
    for _ in 0..8 {
        for r in 1..rows {
            sweep(&mut order, r, &|x| x < r);
        }
        for r in (0..rows.saturating_sub(1)).rev() {
            sweep(&mut order, r, &|x| x > r);
        }
        let c = cost(&edges, &g.links, &at(&order));
        if c < best_cost {
            best_cost = c;
            best = order.clone();
        }
        if best_cost == 0 {
            break;
        }
    }
    // Adjacent swaps as a last polish (small rows: cheap).
    let mut improved = true;
    while improved && best_cost > 0 {
        improved = false;
        for r in 0..rows {
            for k in 1..best[r].len() {
                best[r].swap(k - 1, k);
                let c = cost(&edges, &g.links, &at(&best));
                if c < best_cost {
                    best_cost = c;
                    improved = true;
                } else {
                    best[r].swap(k - 1, k);
                }
            }
        }
    }
    best
}

/// Places cards of a row left to right at their wished x, at least a column apart.
fn pack(nodes: &[usize], wish: &[Option<f64>], x: &mut [f64]) {
    let mut prev: Option<f64> = None;
    for &i in nodes {
        x[i] = match (wish[i], prev) {
            (Some(w), Some(p)) => w.max(p + COLUMN),
            (Some(w), None) => w,
            (None, Some(p)) => p + COLUMN,
            (None, None) => 0.0,
        };
        prev = Some(x[i]);
    }
}

/// Phase 3: x of every node; hosts under what they host, stacks straight.
fn coordinates(g: &Graph, order: &[Vec<usize>]) -> Vec<f64> {
    let n = g.ids.len();
    let mut x = vec![0.0; n];
    let hosted_on = |h: usize| -> Vec<usize> { (0..n).filter(|&s| g.host[s] == Some(h)).collect() };
    let none = vec![None; n];
    if let Some(first) = order.first() {
        pack(first, &none, &mut x);
    }
    for _ in 0..3 {
        // Down: a host under the middle of what it hosts.
        for nodes in order.iter().skip(1) {
            let mut wish = none.clone();
            for &i in nodes {
                let up = hosted_on(i);
                if !up.is_empty() {
                    wish[i] = Some(up.iter().map(|&j| x[j]).sum::<f64>() / up.len() as f64);
                }
            }
            pack(nodes, &wish, &mut x);
        }
        // Up: a node alone on its host straight above it.
        for nodes in order.iter().rev().skip(1) {
            let mut wish: Vec<Option<f64>> = nodes.iter().map(|&i| Some(x[i])).collect();
            let mut full = none.clone();
            for (k, &i) in nodes.iter().enumerate() {
                if let Some(h) = g.host[i]
                    && hosted_on(h).len() == 1
                {
                    wish[k] = Some(x[h]);
                }
                full[i] = wish[k];
            }
            pack(nodes, &full, &mut x);
        }
    }
    let min = x.iter().copied().fold(f64::INFINITY, f64::min);
    x.iter().map(|v| v - min + MARGIN).collect()
}

/// Lays out the open topology (positions written as winery:x/y).
pub fn auto_layout(doc: &mut Document) {
    let g = graph(doc);
    if g.ids.is_empty() {
        return;
    }
    let row = g.rows();
    let order = order_rows(&g, &row);
    let x = coordinates(&g, &order);
    let pos: HashMap<&str, (f64, f64)> = g
        .ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), (x[i], MARGIN + row[i] as f64 * ROW)))
        .collect();
    for n in &mut doc.st_mut().topology.node_templates {
        if let Some((x, y)) = pos.get(n.id.as_str()) {
            n.x = Some(*x);
            n.y = Some(*y);
        }
    }
}

/// How many pairs of relationship arrows cross as drawn (straight lines between card
/// centres): the figure the layout keeps low.
pub fn crossings(doc: &Document) -> usize {
    let g = graph(doc);
    let topo = doc.topology();
    let centre = |i: usize| {
        let n = &topo.node_templates[i];
        (n.x.unwrap_or(0.0) + 100.0, n.y.unwrap_or(0.0) + 37.0)
    };
    let segs: Vec<_> = g
        .edges()
        .into_iter()
        .map(|(s, t)| (centre(s), centre(t)))
        .collect();
    let mut c = 0;
    for (i, a) in segs.iter().enumerate() {
        for b in &segs[i + 1..] {
            if segments_cross(*a, *b) {
                c += 1;
            }
        }
    }
    c
}

type Seg = ((f64, f64), (f64, f64));

/// Proper crossing of two segments (sharing an end point is not a crossing).
fn segments_cross(a: Seg, b: Seg) -> bool {
    if a.0 == b.0 || a.0 == b.1 || a.1 == b.0 || a.1 == b.1 {
        return false;
    }
    let orient = |p: (f64, f64), q: (f64, f64), r: (f64, f64)| {
        let v = (q.0 - p.0) * (r.1 - p.1) - (q.1 - p.1) * (r.0 - p.0);
        if v.abs() < 1e-9 { 0 } else { v.signum() as i32 }
    };
    let (o1, o2) = (orient(a.0, a.1, b.0), orient(a.0, a.1, b.1));
    let (o3, o4) = (orient(b.0, b.1, a.0), orient(b.0, b.1, a.1));
    o1 * o2 < 0 && o3 * o4 < 0
}
