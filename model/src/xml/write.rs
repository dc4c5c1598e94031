//! Writing the lossless tree back to text. Prefixes and declarations are kept as read; elements
//! and attributes created in memory get a prefix that is in scope, or a fresh declaration.

use super::dom::{Document, Element, Node, NsDecl};
use std::fmt::Write as _;

/// Serializes a document (declaration, prolog comments, root) to a string.
pub fn write_document(doc: &Document) -> String {
    let mut out = String::with_capacity(4096);
    if let Some(decl) = &doc.declaration {
        out.push_str("<?xml");
        out.push_str(decl);
        out.push_str("?>\n");
    }
    for n in &doc.before_root {
        write_node(&mut out, n, &mut Vec::new());
        out.push('\n');
    }
    let mut scope = Vec::new();
    write_element(&mut out, &doc.root, &mut scope);
    for n in &doc.after_root {
        out.push('\n');
        write_node(&mut out, n, &mut Vec::new());
    }
    out.push('\n');
    out
}

/// Serializes one element as a fragment, declaring every namespace it needs on itself.
pub fn write_fragment(element: &Element) -> String {
    let mut out = String::new();
    write_element(&mut out, element, &mut Vec::new());
    out
}

fn resolve<'a>(scope: &'a [NsDecl], prefix: Option<&str>) -> Option<&'a str> {
    if prefix == Some("xml") {
        return Some(super::dom::XML_URI);
    }
    scope
        .iter()
        .rev()
        .find(|d| d.prefix.as_deref() == prefix)
        .map(|d| d.uri.as_str())
}

fn find_prefix(scope: &[NsDecl], uri: &str, allow_default: bool) -> Option<Option<String>> {
    for d in scope.iter().rev() {
        if d.uri == uri
            && (allow_default || d.prefix.is_some())
            && resolve(scope, d.prefix.as_deref()) == Some(uri)
        {
            return Some(d.prefix.clone());
        }
    }
    None
}

fn fresh_prefix(scope: &[NsDecl]) -> String {
    (0..)
        .map(|i| format!("ns{i}"))
        .find(|p| resolve(scope, Some(p)).is_none())
        .unwrap_or_else(|| "nsx".to_string())
}

fn write_element(out: &mut String, e: &Element, scope: &mut Vec<NsDecl>) {
    let mark = scope.len();
    scope.extend(e.ns_decls.iter().cloned());
    let mut extra: Vec<NsDecl> = Vec::new();

    // Element name.
    let prefix: Option<String> = {
        let declared = resolve(scope, e.prefix.as_deref());
        let ok = match declared {
            Some(uri) => uri == e.ns,
            None => e.prefix.is_none() && e.ns.is_empty(),
        };
        if ok {
            e.prefix.clone()
        } else if let Some(p) = find_prefix(scope, &e.ns, true) {
            p
        } else if e.ns.is_empty() {
            let d = NsDecl {
                prefix: None,
                uri: String::new(),
            };
            scope.push(d.clone());
            extra.push(d);
            None
        } else {
            let p = fresh_prefix(scope);
            let d = NsDecl {
                prefix: Some(p.clone()),
                uri: e.ns.clone(),
            };
            scope.push(d.clone());
            extra.push(d);
            Some(p)
        }
    };
    let name = match &prefix {
        Some(p) => format!("{p}:{}", e.local),
        None => e.local.clone(),
    };
    out.push('<');
    out.push_str(&name);
    for d in e.ns_decls.iter().chain(&extra) {
        match &d.prefix {
            Some(p) => {
                let _ = write!(out, " xmlns:{p}=\"");
            }
            None => out.push_str(" xmlns=\""),
        }
        escape_attr(out, &d.uri);
        out.push('"');
    }
    // Attributes (may add declarations, written right after the existing ones).
    let mut attr_text = String::new();
    for a in &e.attrs {
        let aname = if a.ns.is_empty() {
            a.local.clone()
        } else {
            let p = match a.prefix.as_deref() {
                Some(p) if resolve(scope, Some(p)) == Some(a.ns.as_str()) => p.to_string(),
                _ => match find_prefix(scope, &a.ns, false) {
                    Some(Some(p)) => p,
                    _ => {
                        let p = fresh_prefix(scope);
                        let d = NsDecl {
                            prefix: Some(p.clone()),
                            uri: a.ns.clone(),
                        };
                        scope.push(d.clone());
                        let _ = write!(out, " xmlns:{p}=\"");
                        escape_attr(out, &a.ns);
                        out.push('"');
                        p
                    }
                },
            };
            format!("{p}:{}", a.local)
        };
        let _ = write!(attr_text, " {aname}=\"");
        escape_attr(&mut attr_text, &a.value);
        attr_text.push('"');
    }
    out.push_str(&attr_text);
    if e.children.is_empty() {
        out.push_str("/>");
    } else {
        out.push('>');
        for c in &e.children {
            write_node(out, c, scope);
        }
        out.push_str("</");
        out.push_str(&name);
        out.push('>');
    }
    scope.truncate(mark);
}

fn write_node(out: &mut String, n: &Node, scope: &mut Vec<NsDecl>) {
    match n {
        Node::Element(e) => write_element(out, e, scope),
        Node::Text(t) => escape_text(out, t),
        Node::CData(t) => {
            // "]]>" cannot appear inside CDATA: split it across two sections.
            out.push_str("<![CDATA[");
            out.push_str(&t.replace("]]>", "]]]]><![CDATA[>"));
            out.push_str("]]>");
        }
        Node::Comment(c) => {
            out.push_str("<!--");
            out.push_str(c);
            out.push_str("-->");
        }
        Node::Pi(p) => {
            out.push_str("<?");
            out.push_str(p);
            out.push_str("?>");
        }
    }
}

fn escape_text(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '&' => out.push_str("&amp;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            _ => out.push(c),
        }
    }
}

fn escape_attr(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            _ => out.push(c),
        }
    }
}
