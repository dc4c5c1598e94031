//! XML equivalence: same resolved names, attributes (as a set), namespace-independent of
//! prefixes, and the same text, comments and element order. Used by round-trip tests and tools.

use super::dom::{Element, Node};

/// Returns `Ok(())` when the two elements are equivalent, or a path to the first difference.
pub fn equivalent(a: &Element, b: &Element) -> Result<(), String> {
    compare(a, b, &mut String::new())
}

fn compare(a: &Element, b: &Element, path: &mut String) -> Result<(), String> {
    let mark = path.len();
    path.push('/');
    path.push_str(&a.local);
    if a.ns != b.ns || a.local != b.local {
        return Err(format!(
            "{path}: element {{{}}}{} vs {{{}}}{}",
            a.ns, a.local, b.ns, b.local
        ));
    }
    let mut aa: Vec<_> = a
        .attrs
        .iter()
        .map(|x| (&x.ns, &x.local, &x.value))
        .collect();
    let mut ba: Vec<_> = b
        .attrs
        .iter()
        .map(|x| (&x.ns, &x.local, &x.value))
        .collect();
    aa.sort();
    ba.sort();
    if aa != ba {
        return Err(format!("{path}: attributes {aa:?} vs {ba:?}"));
    }
    let ac = significant(&a.children);
    let bc = significant(&b.children);
    if ac.len() != bc.len() {
        return Err(format!("{path}: {} children vs {}", ac.len(), bc.len()));
    }
    for (x, y) in ac.iter().zip(&bc) {
        match (x, y) {
            (Node::Element(x), Node::Element(y)) => compare(x, y, path)?,
            (Node::Text(x) | Node::CData(x), Node::Text(y) | Node::CData(y)) => {
                if x != y {
                    return Err(format!("{path}: text {x:?} vs {y:?}"));
                }
            }
            (Node::Comment(x), Node::Comment(y)) | (Node::Pi(x), Node::Pi(y)) if x == y => {}
            _ => return Err(format!("{path}: {x:?} vs {y:?}")),
        }
    }
    path.truncate(mark);
    Ok(())
}

/// Children without whitespace-only text between elements (adjacent text merged).
fn significant(children: &[Node]) -> Vec<Node> {
    let mut out: Vec<Node> = Vec::new();
    let has_elements = children.iter().any(|c| matches!(c, Node::Element(_)));
    for c in children {
        match c {
            Node::Text(t) | Node::CData(t) => {
                if has_elements && t.trim().is_empty() {
                    continue;
                }
                if let Some(Node::Text(prev)) = out.last_mut() {
                    prev.push_str(t);
                } else {
                    out.push(Node::Text(t.clone()));
                }
            }
            other => out.push(other.clone()),
        }
    }
    out
}
