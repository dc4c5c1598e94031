//! A small YAML tree with source positions, built from `saphyr-parser` events under hard limits:
//! no aliases (billion laughs), bounded depth, size and scalar length, no duplicate keys, UTF-8
//! only. Every node knows its line, column and byte range so diagnostics point at it and edits
//! can replace exactly its text.

use saphyr_parser::{Event, Parser, ScalarStyle, Span as PSpan};
use std::fmt;

/// Largest YAML document accepted.
pub const MAX_BYTES: usize = 32 * 1024 * 1024;
/// Deepest nesting of sequences and mappings accepted.
pub const MAX_DEPTH: usize = 64;
/// Longest scalar accepted.
pub const MAX_SCALAR_BYTES: usize = 1024 * 1024;
/// Most nodes in one document.
pub const MAX_NODES: usize = 4_000_000;

/// A position: 1-based line and column, and the byte offset in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
    pub byte: usize,
}

/// What a node holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A scalar as written; `plain` is false for quoted and block scalars (always strings).
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

/// A YAML node with where it starts and ends (`end` is just past its last character).
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub start: Pos,
    pub end: Pos,
    /// Flow style (`[…]`, `{…}`) collection.
    pub flow: bool,
}

/// A YAML text that cannot be read, with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub line: u32,
    pub col: u32,
    pub message: String,
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.col, self.message
        )
    }
}

impl std::error::Error for YamlError {}

/// The kind of a plain scalar under the YAML 1.2 core schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarKind {
    Null,
    Bool,
    Int,
    Float,
    Str,
}

impl Node {
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// The value of `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }

    /// The (key node, value node) pair of `key` in a mapping.
    pub fn entry(&self, key: &str) -> Option<&(Node, Node)> {
        self.as_map()?.iter().find(|(k, _)| k.as_str() == Some(key))
    }

    /// The string value of `key`, when it is a scalar.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Node::as_str)
    }

    pub fn is_null(&self) -> bool {
        self.scalar_kind() == Some(ScalarKind::Null)
    }

    /// The core-schema kind of a scalar (quoted scalars are strings).
    pub fn scalar_kind(&self) -> Option<ScalarKind> {
        match &self.value {
            Value::Scalar { text, plain: false } => {
                let _ = text;
                Some(ScalarKind::Str)
            }
            Value::Scalar { text, plain: true } => Some(plain_kind(text)),
            _ => None,
        }
    }

    /// A short description of what the node is, for messages.
    pub fn kind_name(&self) -> &'static str {
        match (&self.value, self.scalar_kind()) {
            (Value::Seq(_), _) => "a list",
            (Value::Map(_), _) => "a map",
            (_, Some(ScalarKind::Null)) => "null",
            (_, Some(ScalarKind::Bool)) => "a boolean",
            (_, Some(ScalarKind::Int)) => "an integer",
            (_, Some(ScalarKind::Float)) => "a float",
            _ => "a string",
        }
    }

    /// The node as the model's property string: scalars as written (booleans lower case),
    /// collections as compact JSON, `{get_input: X}` as `get_input: X`.
    pub fn to_model_string(&self) -> String {
        if let Some(m) = self.as_map()
            && m.len() == 1
            && m[0].0.as_str() == Some("get_input")
            && let Some(name) = m[0].1.as_str()
        {
            return format!("{} {name}", crate::tosca::GET_INPUT);
        }
        match &self.value {
            Value::Scalar { text, plain } => match (plain, plain_kind(text)) {
                (true, ScalarKind::Null) => String::new(),
                (true, ScalarKind::Bool) => text.to_ascii_lowercase(),
                _ => text.clone(),
            },
            _ => self.to_json().to_string(),
        }
    }

    /// The node as JSON (plain scalars typed by the core schema).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Scalar { text, plain } => {
                if !plain {
                    return J::String(text.clone());
                }
                match plain_kind(text) {
                    ScalarKind::Null => J::Null,
                    ScalarKind::Bool => J::Bool(text.eq_ignore_ascii_case("true")),
                    ScalarKind::Int => text
                        .parse::<i64>()
                        .map(J::from)
                        .unwrap_or_else(|_| J::String(text.clone())),
                    ScalarKind::Float => text
                        .parse::<f64>()
                        .ok()
                        .and_then(serde_json::Number::from_f64)
                        .map(J::Number)
                        .unwrap_or_else(|| J::String(text.clone())),
                    ScalarKind::Str => J::String(text.clone()),
                }
            }
            Value::Seq(s) => J::Array(s.iter().map(Node::to_json).collect()),
            Value::Map(m) => J::Object(
                m.iter()
                    .map(|(k, v)| (k.as_str().unwrap_or_default().to_string(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

/// The core-schema kind of a plain scalar.
pub fn plain_kind(t: &str) -> ScalarKind {
    match t {
        "" | "~" | "null" | "Null" | "NULL" => return ScalarKind::Null,
        "true" | "True" | "TRUE" | "false" | "False" | "FALSE" => return ScalarKind::Bool,
        ".inf" | "-.inf" | "+.inf" | ".Inf" | ".INF" | ".nan" | ".NaN" | ".NAN" => {
            return ScalarKind::Float;
        }
        _ => {}
    }
    let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return ScalarKind::Int;
    }
    if let Some(h) = t.strip_prefix("0x")
        && !h.is_empty()
        && h.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return ScalarKind::Int;
    }
    if let Some(o) = t.strip_prefix("0o")
        && !o.is_empty()
        && o.bytes().all(|b| (b'0'..=b'7').contains(&b))
    {
        return ScalarKind::Int;
    }
    let looks_float = digits.bytes().all(|b| {
        b.is_ascii_digit() || b == b'.' || b == b'e' || b == b'E' || b == b'-' || b == b'+'
    }) && digits.bytes().any(|b| b.is_ascii_digit())
        && digits.starts_with(|c: char| c.is_ascii_digit() || c == '.');
    if looks_float && t.parse::<f64>().is_ok() {
        return ScalarKind::Float;
    }
    ScalarKind::Str
}

/// Maps character indices (what the parser reports) to byte offsets.
struct Offsets<'a> {
    text: &'a str,
    ascii: bool,
    table: Vec<u32>,
}

impl<'a> Offsets<'a> {
    fn new(text: &'a str) -> Self {
        let ascii = text.is_ascii();
        let table = if ascii {
            Vec::new()
        } else {
            let mut t: Vec<u32> = text.char_indices().map(|(b, _)| b as u32).collect();
            t.push(text.len() as u32);
            t
        };
        Offsets { text, ascii, table }
    }

    fn byte(&self, char_index: usize) -> usize {
        if self.ascii {
            char_index.min(self.text.len())
        } else {
            self.table
                .get(char_index)
                .map(|b| *b as usize)
                .unwrap_or(self.text.len())
        }
    }

    fn pos(&self, m: saphyr_parser::Marker) -> Pos {
        Pos {
            line: m.line() as u32,
            col: m.col() as u32 + 1,
            byte: self.byte(m.index()),
        }
    }
}

/// A block scalar starts at its indicator (`|`, `>`), which the parser's span leaves out.
fn block_start(text: &str, start: Pos, style: ScalarStyle) -> Pos {
    if !matches!(style, ScalarStyle::Literal | ScalarStyle::Folded) {
        return start;
    }
    let b = text.as_bytes();
    let mut i = start.byte.min(b.len());
    while i > 0 && matches!(b[i - 1], b' ' | b'\t' | b'\n' | b'\r') {
        i -= 1;
    }
    while i > 0 && matches!(b[i - 1], b'+' | b'-' | b'0'..=b'9') {
        i -= 1;
    }
    if i > 0 && matches!(b[i - 1], b'|' | b'>') {
        let byte = i - 1;
        let line_start = text[..byte].rfind('\n').map_or(0, |p| p + 1);
        return Pos {
            line: start.line - text[byte..start.byte].matches('\n').count() as u32,
            col: text[line_start..byte].chars().count() as u32 + 1,
            byte,
        };
    }
    start
}

/// The true end of a scalar: the parser's span may run on over spaces and a comment.
fn scalar_end(text: &str, offsets: &Offsets<'_>, start: Pos, end: Pos, style: ScalarStyle) -> Pos {
    let b = text.as_bytes();
    let mut e = match style {
        ScalarStyle::SingleQuoted => {
            let mut i = start.byte + 1;
            while i < b.len() {
                if b[i] == b'\'' {
                    if b.get(i + 1) == Some(&b'\'') {
                        i += 2;
                        continue;
                    }
                    break;
                }
                i += 1;
            }
            (i + 1).min(b.len())
        }
        ScalarStyle::DoubleQuoted => {
            let mut i = start.byte + 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            (i + 1).min(b.len())
        }
        _ => {
            let mut e = end.byte.min(b.len());
            if style == ScalarStyle::Plain {
                // Cut a comment on the last line.
                let line_start = text[start.byte..e]
                    .rfind('\n')
                    .map_or(start.byte, |p| start.byte + p + 1);
                if let Some(c) = text[line_start..e].find(" #") {
                    e = line_start + c;
                }
            }
            while e > start.byte && matches!(b[e - 1], b' ' | b'\t' | b'\n' | b'\r') {
                e -= 1;
            }
            e
        }
    };
    e = e.max(start.byte);
    if e == end.byte {
        return end;
    }
    // Recount line and column up to the new end.
    let seg = &text[start.byte..e];
    let newlines = seg.matches('\n').count() as u32;
    let col = match seg.rfind('\n') {
        Some(p) => seg[p + 1..].chars().count() as u32 + 1,
        None => start.col + seg.chars().count() as u32,
    };
    let _ = offsets;
    Pos {
        line: start.line + newlines,
        col,
        byte: e,
    }
}

/// Checks raw bytes (size, UTF-8, BOM) and returns the text.
pub fn decode(bytes: &[u8]) -> Result<&str, YamlError> {
    if bytes.len() > MAX_BYTES {
        return Err(YamlError {
            line: 0,
            col: 0,
            message: format!(
                "document is {} bytes, larger than the limit of {MAX_BYTES}",
                bytes.len()
            ),
        });
    }
    match std::str::from_utf8(bytes) {
        Ok(t) => Ok(t),
        Err(e) => {
            let good = &bytes[..e.valid_up_to()];
            let line = good.iter().filter(|b| **b == b'\n').count() as u32 + 1;
            let col = good.len() - good.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1);
            Err(YamlError {
                line,
                col: col as u32 + 1,
                message: format!(
                    "not UTF-8 text (invalid byte at offset {}); TOSCA YAML must be UTF-8",
                    e.valid_up_to()
                ),
            })
        }
    }
}

/// Parses one YAML document. An empty document is an empty mapping.
pub fn parse(text: &str) -> Result<Node, YamlError> {
    if text.len() > MAX_BYTES {
        return Err(YamlError {
            line: 0,
            col: 0,
            message: format!("document is larger than the limit of {MAX_BYTES} bytes"),
        });
    }
    let offsets = Offsets::new(text);
    let src_text = text;
    let mut parser = Parser::new_from_str(text);
    // Open collections: (node so far, pending key for maps, keys seen).
    struct Open {
        node: Node,
        key: Option<Node>,
        seen: Option<super::FastSet<String>>,
    }
    let mut stack: Vec<Open> = Vec::new();
    let mut root: Option<Node> = None;
    let mut documents = 0usize;
    let mut count = 0usize;
    let err = |p: Pos, m: String| YamlError {
        line: p.line,
        col: p.col,
        message: m,
    };
    loop {
        let (ev, span): (Event, PSpan) = match parser.next_event() {
            None => break,
            Some(Ok(e)) => e,
            Some(Err(e)) => {
                let m = e.marker();
                let info = e.info();
                return Err(YamlError {
                    line: m.line() as u32,
                    col: m.col() as u32 + 1,
                    message: if info.contains("recursion limit") {
                        format!("nesting deeper than {MAX_DEPTH} levels is not accepted ({info})")
                    } else {
                        info.to_string()
                    },
                });
            }
        };
        let start = offsets.pos(span.start);
        let end = offsets.pos(span.end);
        let finished: Option<Node> = match ev {
            Event::StreamStart | Event::Nothing | Event::DocumentEnd => None,
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(err(
                        start,
                        "more than one YAML document (---); a TOSCA file holds one".into(),
                    ));
                }
                None
            }
            Event::Alias(_) => {
                return Err(err(
                    start,
                    "YAML aliases (*name) are not accepted: they can expand exponentially (billion laughs); write the value out".into(),
                ));
            }
            Event::Scalar(text, style, _, _) => {
                if text.len() > MAX_SCALAR_BYTES {
                    return Err(err(
                        start,
                        format!(
                            "scalar of {} bytes is larger than the limit of {MAX_SCALAR_BYTES}",
                            text.len()
                        ),
                    ));
                }
                let start = block_start(src_text, start, style);
                let end = scalar_end(src_text, &offsets, start, end, style);
                Some(Node {
                    value: Value::Scalar {
                        text: text.into_owned(),
                        plain: style == ScalarStyle::Plain,
                    },
                    start,
                    end,
                    flow: false,
                })
            }
            Event::SequenceStart(_, _) | Event::MappingStart(_, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(err(
                        start,
                        format!("nesting deeper than {MAX_DEPTH} levels is not accepted"),
                    ));
                }
                let is_map = matches!(ev, Event::MappingStart(..));
                let flow = text
                    .as_bytes()
                    .get(start.byte)
                    .is_some_and(|b| *b == b'[' || *b == b'{');
                stack.push(Open {
                    node: Node {
                        value: if is_map {
                            Value::Map(Vec::new())
                        } else {
                            Value::Seq(Vec::new())
                        },
                        start,
                        end: start,
                        flow,
                    },
                    key: None,
                    seen: None,
                });
                None
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let mut open = stack.pop().ok_or_else(|| err(start, "unbalanced".into()))?;
                // A flow collection ends at its closing bracket; a block one at its last child.
                open.node.end = if open.node.flow {
                    end
                } else {
                    match &open.node.value {
                        Value::Seq(s) => s.last().map(|n| n.end).unwrap_or(open.node.start),
                        Value::Map(m) => m.last().map(|(_, v)| v.end).unwrap_or(open.node.start),
                        Value::Scalar { .. } => open.node.start,
                    }
                };
                Some(open.node)
            }
        };
        let Some(node) = finished else { continue };
        count += 1;
        if count > MAX_NODES {
            return Err(err(node.start, format!("more than {MAX_NODES} YAML nodes")));
        }
        match stack.last_mut() {
            None => {
                root = Some(node);
            }
            Some(open) => match &mut open.node.value {
                Value::Seq(s) => s.push(node),
                Value::Map(m) => match open.key.take() {
                    None => {
                        if !matches!(node.value, Value::Scalar { .. }) {
                            return Err(err(
                                node.start,
                                format!("a mapping key must be a scalar, not {}", node.kind_name()),
                            ));
                        }
                        open.key = Some(node);
                    }
                    Some(k) => {
                        let name = k.as_str().unwrap_or_default().to_string();
                        let dup = if m.len() < 16 {
                            m.iter()
                                .find(|(o, _)| o.as_str() == Some(&name))
                                .map(|(o, _)| o.start)
                        } else {
                            let seen = open.seen.get_or_insert_with(|| {
                                m.iter()
                                    .filter_map(|(o, _)| o.as_str().map(str::to_string))
                                    .collect()
                            });
                            if seen.insert(name.clone()) {
                                None
                            } else {
                                m.iter()
                                    .find(|(o, _)| o.as_str() == Some(&name))
                                    .map(|(o, _)| o.start)
                            }
                        };
                        if let Some(first) = dup {
                            return Err(err(
                                k.start,
                                format!(
                                    "duplicate key '{name}' (first at line {}, column {})",
                                    first.line, first.col
                                ),
                            ));
                        }
                        m.push((k, node));
                    }
                },
                Value::Scalar { .. } => {}
            },
        }
    }
    Ok(root.unwrap_or(Node {
        value: Value::Map(Vec::new()),
        start: Pos {
            line: 1,
            col: 1,
            byte: 0,
        },
        end: Pos {
            line: 1,
            col: 1,
            byte: 0,
        },
        flow: false,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_cover_scalars_exactly() {
        let t = "a: 1\nb:\n  c: 'x y'  # c\n  d: [1, 2]\ne: é\n";
        let n = parse(t).unwrap();
        let c = n.get("b").unwrap().get("c").unwrap();
        assert_eq!(&t[c.start.byte..c.end.byte], "'x y'");
        assert_eq!((c.start.line, c.start.col), (3, 6));
        let d = n.get("b").unwrap().get("d").unwrap();
        assert_eq!(&t[d.start.byte..d.end.byte], "[1, 2]");
        let e = n.get("e").unwrap();
        assert_eq!(&t[e.start.byte..e.end.byte], "é");
        let b = n.get("b").unwrap();
        assert_eq!(&t[b.start.byte..b.end.byte], "c: 'x y'  # c\n  d: [1, 2]");
    }

    #[test]
    fn hostile_inputs_are_refused() {
        assert!(
            parse("a: &x [1]\nb: *x\n")
                .unwrap_err()
                .message
                .contains("alias")
        );
        assert!(
            parse("a: 1\na: 2\n")
                .unwrap_err()
                .message
                .contains("duplicate key 'a'")
        );
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(parse(&deep).unwrap_err().message.contains("nesting"));
        assert!(decode(b"a: \xff\n").unwrap_err().message.contains("UTF-8"));
    }
}

#[cfg(test)]
mod span_tests {
    use super::*;

    #[test]
    fn scalar_spans_stop_before_comments_and_spaces() {
        let t =
            "a: plain value   # note\nb: \"dq \\\" x\"  # n\nc: |\n  block\n  text\n\nd: last\n";
        let n = parse(t).unwrap();
        let s = |k: &str| {
            let v = n.get(k).unwrap();
            &t[v.start.byte..v.end.byte]
        };
        assert_eq!(s("a"), "plain value");
        assert_eq!(s("b"), "\"dq \\\" x\"");
        assert_eq!(s("c"), "|\n  block\n  text");
        assert_eq!(s("d"), "last");
    }
}
