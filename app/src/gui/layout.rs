//! Auto layout: every HostedOn stack becomes a column with the hosted node on top and its hosts
//! below (as Winery draws stacks); columns follow ConnectsTo order left to right.

use super::state::Document;
use provisio_model::plan::{RelationKind, relation_kind};
use std::collections::{BTreeMap, HashMap};

pub const COLUMN: f64 = 300.0;
pub const ROW: f64 = 190.0;

pub fn auto_layout(doc: &mut Document) {
    let lib = doc.library();
    let topo = doc.topology();
    let mut host: HashMap<String, String> = HashMap::new();
    let mut connects: Vec<(String, String)> = Vec::new();
    for r in &topo.relationship_templates {
        let (Some(s), Some(t)) = (topo.endpoint_node(&r.source), topo.endpoint_node(&r.target))
        else {
            continue;
        };
        match relation_kind(lib, &r.type_ref) {
            RelationKind::HostedOn => {
                host.entry(s.id.clone()).or_insert_with(|| t.id.clone());
            }
            _ => connects.push((s.id.clone(), t.id.clone())),
        }
    }
    let order: Vec<String> = topo.node_templates.iter().map(|n| n.id.clone()).collect();
    let hosted: std::collections::HashSet<&String> = host.values().collect();
    // Tops: nodes nothing is hosted on.
    let mut tops: Vec<String> = order
        .iter()
        .filter(|n| !hosted.contains(n))
        .cloned()
        .collect();
    // ConnectsTo sources left of their targets (stable for the rest).
    let rank = |id: &String| -> usize {
        let mut depth = 0;
        let mut cur = id.clone();
        for _ in 0..order.len() {
            match connects.iter().find(|(s, _)| *s == cur) {
                Some((_, t)) => {
                    depth += 1;
                    cur = t.clone();
                }
                None => break,
            }
        }
        order.len() - depth.min(order.len())
    };
    tops.sort_by_key(|t| (rank(t), order.iter().position(|o| o == t)));
    let mut pos: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    let mut col = 0.0;
    for top in &tops {
        let mut cur = top.clone();
        let mut row = 0.0;
        let mut placed_any = false;
        loop {
            if pos.contains_key(&cur) {
                break;
            }
            pos.insert(cur.clone(), (40.0 + col * COLUMN, 40.0 + row * ROW));
            placed_any = true;
            row += 1.0;
            match host.get(&cur) {
                Some(h) => cur = h.clone(),
                None => break,
            }
        }
        if placed_any {
            col += 1.0;
        }
    }
    // Anything left (cycles): a row at the bottom.
    let max_row = pos.values().map(|p| p.1).fold(40.0, f64::max);
    let mut x = 40.0;
    for id in &order {
        if !pos.contains_key(id) {
            pos.insert(id.clone(), (x, max_row + ROW));
            x += COLUMN;
        }
    }
    for n in &mut doc.st_mut().topology.node_templates {
        if let Some((x, y)) = pos.get(&n.id) {
            n.x = Some(*x);
            n.y = Some(*y);
        }
    }
}
