//! Reading XML into the lossless tree: namespaces resolved by URI, line numbers kept, and
//! hostile input refused (DTDs, unknown entities, oversized documents, absurd nesting).

use super::dom::{Attr, Document, Element, Node, NsDecl};
use quick_xml::events::Event;
use quick_xml::{Reader, XmlVersion};

/// Largest document accepted (bytes).
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024 * 1024;
/// Deepest element nesting accepted.
pub const MAX_DEPTH: usize = 512;

/// A parse error with the 1-based line it was found on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct XmlError {
    pub line: u32,
    pub message: String,
}

/// Counts lines incrementally as the reader moves forward.
struct LineCounter<'a> {
    input: &'a str,
    pos: usize,
    line: u32,
}

impl LineCounter<'_> {
    fn line_at(&mut self, pos: usize) -> u32 {
        let pos = pos.min(self.input.len());
        if pos >= self.pos {
            self.line += self.input.as_bytes()[self.pos..pos]
                .iter()
                .filter(|&&b| b == b'\n')
                .count() as u32;
        } else {
            self.line = 1 + self.input.as_bytes()[..pos]
                .iter()
                .filter(|&&b| b == b'\n')
                .count() as u32;
        }
        self.pos = pos;
        self.line
    }
}

/// Parses bytes (UTF-8, optional BOM) into a [`Document`].
pub fn parse_bytes(bytes: &[u8]) -> Result<Document, XmlError> {
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(XmlError {
            line: 0,
            message: format!(
                "document is {} bytes, more than the limit of {MAX_DOCUMENT_BYTES}",
                bytes.len()
            ),
        });
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = 1 + bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count() as u32;
        XmlError {
            line,
            message: format!("not valid UTF-8 (byte {})", e.valid_up_to()),
        }
    })?;
    parse_str(text)
}

fn predefined_entity(name: &str) -> Option<char> {
    Some(match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "apos" => '\'',
        "quot" => '"',
        _ => return None,
    })
}

fn char_ref(name: &str) -> Option<char> {
    let n = name.strip_prefix('#')?;
    let code = if let Some(hex) = n.strip_prefix('x').or_else(|| n.strip_prefix('X')) {
        u32::from_str_radix(hex, 16).ok()?
    } else {
        n.parse::<u32>().ok()?
    };
    char::from_u32(code).filter(|&c| c != '\0')
}

/// Parses a string into a [`Document`].
pub fn parse_str(input: &str) -> Result<Document, XmlError> {
    if input.len() > MAX_DOCUMENT_BYTES {
        return Err(XmlError {
            line: 0,
            message: format!("document is larger than the limit of {MAX_DOCUMENT_BYTES} bytes"),
        });
    }
    let mut reader = Reader::from_str(input);
    {
        let cfg = reader.config_mut();
        cfg.check_end_names = true;
        cfg.check_comments = true;
        cfg.expand_empty_elements = false;
        cfg.trim_text_start = false;
        cfg.trim_text_end = false;
    }
    let mut lines = LineCounter {
        input,
        pos: 0,
        line: 1,
    };
    let mut declaration = None;
    let mut before_root = Vec::new();
    let mut after_root = Vec::new();
    let mut root: Option<Element> = None;
    let mut stack: Vec<Element> = Vec::new();
    let err = |line: u32, message: String| XmlError { line, message };

    loop {
        let start = reader.buffer_position() as usize;
        let event = match reader.read_event() {
            Ok(e) => e,
            Err(e) => {
                let line = lines.line_at(reader.error_position() as usize);
                return Err(err(line, e.to_string()));
            }
        };
        let line = lines.line_at(start);
        match event {
            Event::Decl(d) => {
                if !stack.is_empty() || root.is_some() || !before_root.is_empty() {
                    return Err(err(line, "XML declaration not at the start".into()));
                }
                let raw: &str = &d;
                declaration = Some(raw.trim_start_matches("xml").to_string());
            }
            Event::DocType(_) => {
                return Err(err(
                    line,
                    "DOCTYPE declarations are not accepted (no DTDs, no entity expansion)".into(),
                ));
            }
            Event::Start(ref s) | Event::Empty(ref s) => {
                let is_empty = matches!(event, Event::Empty(_));
                if root.is_some() && stack.is_empty() {
                    return Err(err(line, "content after the root element".into()));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(err(
                        line,
                        format!("elements nested deeper than {MAX_DEPTH}"),
                    ));
                }
                let mut ns_decls = Vec::new();
                let mut raw_attrs = Vec::new();
                for a in s.attributes().with_checks(true) {
                    let a = a.map_err(|e| err(line, format!("bad attribute: {e}")))?;
                    // Names borrow from the event: no copy until the attribute is built.
                    let key: &str = a.key.0;
                    let value = a
                        .normalized_value(XmlVersion::Implicit1_0)
                        .map_err(|e| err(line, format!("bad value of attribute '{key}': {e}")))?
                        .into_owned();
                    if key == "xmlns" {
                        ns_decls.push(NsDecl {
                            prefix: None,
                            uri: value,
                        });
                    } else if let Some(p) = key.strip_prefix("xmlns:") {
                        if value.is_empty() {
                            return Err(err(
                                line,
                                format!("prefix '{p}' bound to an empty namespace"),
                            ));
                        }
                        ns_decls.push(NsDecl {
                            prefix: Some(p.to_string()),
                            uri: value,
                        });
                    } else {
                        raw_attrs.push((key, value));
                    }
                }
                let name: &str = s.name().0;
                let (prefix, local) = split_name(name);
                let mut element = Element {
                    prefix: prefix.map(str::to_string),
                    local: local.to_string(),
                    ns: String::new(),
                    ns_decls,
                    attrs: Vec::new(),
                    children: Vec::new(),
                    line,
                };
                // Resolve names against the scope chain of open elements plus this one.
                let ns = resolve_in(&stack, &element, prefix, true)
                    .ok_or_else(|| err(line, format!("unbound namespace prefix in <{name}>")))?;
                element.ns = ns;
                for (key, value) in raw_attrs {
                    let (p, l) = split_name(key);
                    let ns = match p {
                        None => String::new(),
                        Some(_) => resolve_in(&stack, &element, p, false).ok_or_else(|| {
                            err(
                                line,
                                format!("unbound namespace prefix in attribute '{key}'"),
                            )
                        })?,
                    };
                    if element.attrs.iter().any(|a| a.ns == ns && a.local == l) {
                        return Err(err(line, format!("duplicate attribute '{key}'")));
                    }
                    element.attrs.push(Attr {
                        prefix: p.map(str::to_string),
                        local: l.to_string(),
                        ns,
                        value,
                    });
                }
                if is_empty {
                    attach(&mut stack, &mut root, element);
                } else {
                    stack.push(element);
                }
            }
            Event::End(_) => {
                let Some(element) = stack.pop() else {
                    return Err(err(line, "closing tag without an opening tag".into()));
                };
                attach(&mut stack, &mut root, element);
            }
            Event::Text(t) => {
                let text = t.xml10_content().into_owned();
                push_text(
                    &mut stack,
                    &mut before_root,
                    &mut after_root,
                    &root,
                    text,
                    line,
                )?;
            }
            Event::GeneralRef(r) => {
                let name: &str = &r.into_inner();
                let c = predefined_entity(name)
                    .or_else(|| char_ref(name))
                    .ok_or_else(|| {
                        err(
                            line,
                            format!("entity '&{name};' is not allowed (no entity expansion)"),
                        )
                    })?;
                push_text(
                    &mut stack,
                    &mut before_root,
                    &mut after_root,
                    &root,
                    c.to_string(),
                    line,
                )?;
            }
            Event::CData(c) => {
                let Some(top) = stack.last_mut() else {
                    return Err(err(line, "CDATA outside the root element".into()));
                };
                top.children.push(Node::CData(c.into_inner().into_owned()));
            }
            Event::Comment(c) => {
                let node = Node::Comment(c.into_inner().into_owned());
                place(&mut stack, &mut before_root, &mut after_root, &root, node);
            }
            Event::PI(p) => {
                let node = Node::Pi(format!("{}{}", p.target(), p.content()));
                place(&mut stack, &mut before_root, &mut after_root, &root, node);
            }
            Event::Eof => break,
        }
    }
    if let Some(open) = stack.last() {
        return Err(err(
            lines.line_at(input.len()),
            format!(
                "document ends inside <{}> opened on line {}",
                open.local, open.line
            ),
        ));
    }
    let root = root.ok_or_else(|| err(lines.line_at(input.len()), "no root element".into()))?;
    Ok(Document {
        declaration,
        before_root,
        root,
        after_root,
    })
}

fn split_name(name: &str) -> (Option<&str>, &str) {
    match name.split_once(':') {
        Some((p, l)) => (Some(p), l),
        None => (None, name),
    }
}

fn resolve_in(
    stack: &[Element],
    element: &Element,
    prefix: Option<&str>,
    use_default: bool,
) -> Option<String> {
    if prefix.is_none() && !use_default {
        return Some(String::new());
    }
    let lookup = |decls: &[NsDecl]| {
        decls
            .iter()
            .rev()
            .find(|d| d.prefix.as_deref() == prefix)
            .map(|d| d.uri.clone())
    };
    if prefix == Some("xml") {
        return Some(super::dom::XML_URI.to_string());
    }
    if let Some(uri) = lookup(&element.ns_decls) {
        return Some(uri);
    }
    for e in stack.iter().rev() {
        if let Some(uri) = lookup(&e.ns_decls) {
            return Some(uri);
        }
    }
    // Unprefixed names without a default namespace are in no namespace.
    if prefix.is_none() {
        Some(String::new())
    } else {
        None
    }
}

fn attach(stack: &mut [Element], root: &mut Option<Element>, element: Element) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(Node::Element(element)),
        None => *root = Some(element),
    }
}

fn place(
    stack: &mut [Element],
    before: &mut Vec<Node>,
    after: &mut Vec<Node>,
    root: &Option<Element>,
    node: Node,
) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(node),
        None if root.is_none() => before.push(node),
        None => after.push(node),
    }
}

fn push_text(
    stack: &mut [Element],
    before: &mut Vec<Node>,
    after: &mut Vec<Node>,
    root: &Option<Element>,
    text: String,
    line: u32,
) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(parent) => {
            if let Some(Node::Text(prev)) = parent.children.last_mut() {
                prev.push_str(&text);
            } else {
                parent.children.push(Node::Text(text));
            }
            Ok(())
        }
        None => {
            if !text.trim().is_empty() {
                return Err(XmlError {
                    line,
                    message: "text outside the root element".into(),
                });
            }
            // Whitespace between prolog nodes is not kept; the writer adds newlines.
            let _ = (before, after, root);
            Ok(())
        }
    }
}
