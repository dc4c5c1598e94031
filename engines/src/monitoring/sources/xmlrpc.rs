//! XML-RPC (the protocol of the HomeMatic CCU's BidCos/HmIP interfaces): a method-call encoder
//! and a response decoder to JSON values. Responses are read with the model's hardened XML
//! reader (no DTDs or entity expansion, size and depth limits); malformed answers are errors
//! naming the line and element.

use super::http::{HttpUrl, request};
use provisio_model::xml::{Element, parse_bytes};
use serde_json::{Map, Number, Value};
use std::time::Duration;

/// An XML-RPC failure: transport, a malformed answer, or a `<fault>` from the server.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum XmlRpcError {
    #[error("{0}")]
    Transport(String),
    #[error("malformed XML-RPC answer: {0}")]
    Malformed(String),
    #[error("fault {code}: {message}")]
    Fault { code: i64, message: String },
    /// HTTP 401/403: the server wants (other) credentials.
    #[error("HTTP status {status} (authentication required or credentials refused)")]
    Unauthorized { status: u16 },
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            // Characters XML 1.0 cannot carry are dropped.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

fn encode_value(v: &Value, out: &mut String) {
    out.push_str("<value>");
    match v {
        Value::Null => out.push_str("<nil/>"),
        Value::Bool(b) => {
            out.push_str(&format!("<boolean>{}</boolean>", u8::from(*b)));
        }
        Value::Number(n) => match n.as_i64() {
            Some(i) if i32::try_from(i).is_ok() => out.push_str(&format!("<i4>{i}</i4>")),
            _ => out.push_str(&format!("<double>{}</double>", n.as_f64().unwrap_or(0.0))),
        },
        Value::String(s) => out.push_str(&format!("<string>{}</string>", escape(s))),
        Value::Array(a) => {
            out.push_str("<array><data>");
            for x in a {
                encode_value(x, out);
            }
            out.push_str("</data></array>");
        }
        Value::Object(m) => {
            out.push_str("<struct>");
            for (k, x) in m {
                out.push_str(&format!("<member><name>{}</name>", escape(k)));
                encode_value(x, out);
                out.push_str("</member>");
            }
            out.push_str("</struct>");
        }
    }
    out.push_str("</value>");
}

/// The `<methodCall>` document of `method(params…)`.
pub fn encode_call(method: &str, params: &[Value]) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\"?>\n<methodCall><methodName>{}</methodName><params>",
        escape(method)
    );
    for p in params {
        out.push_str("<param>");
        encode_value(p, &mut out);
        out.push_str("</param>");
    }
    out.push_str("</params></methodCall>\n");
    out
}

fn bad(e: &Element, what: &str) -> XmlRpcError {
    XmlRpcError::Malformed(format!("line {}: <{}>: {what}", e.line, e.local))
}

fn only_child<'a>(e: &'a Element, name: &str) -> Result<&'a Element, XmlRpcError> {
    let mut it = e.elements();
    match (it.next(), it.next()) {
        (Some(c), None) if c.local == name && c.ns.is_empty() => Ok(c),
        _ => Err(bad(e, &format!("expected exactly one <{name}>"))),
    }
}

/// A `<value>` element as JSON (`dateTime.iso8601` and `base64` stay text; non-finite doubles
/// become null).
pub fn decode_value(v: &Element) -> Result<Value, XmlRpcError> {
    if v.local != "value" {
        return Err(bad(v, "expected <value>"));
    }
    let mut kids = v.elements();
    let Some(t) = kids.next() else {
        // An untyped value is a string.
        return Ok(Value::String(v.text()));
    };
    if kids.next().is_some() {
        return Err(bad(v, "more than one type element"));
    }
    let text = t.text();
    let trimmed = text.trim();
    Ok(match t.local.as_str() {
        "i4" | "int" | "i8" => Value::Number(
            trimmed
                .parse::<i64>()
                .map_err(|_| bad(t, &format!("not an integer: {trimmed:?}")))?
                .into(),
        ),
        "boolean" => match trimmed {
            "1" => Value::Bool(true),
            "0" => Value::Bool(false),
            _ => return Err(bad(t, &format!("not 0 or 1: {trimmed:?}"))),
        },
        "double" => {
            let f = trimmed
                .parse::<f64>()
                .map_err(|_| bad(t, &format!("not a number: {trimmed:?}")))?;
            Number::from_f64(f).map_or(Value::Null, Value::Number)
        }
        "string" | "dateTime.iso8601" | "base64" => Value::String(text),
        "nil" => Value::Null,
        "array" => {
            let data = only_child(t, "data")?;
            Value::Array(
                data.elements()
                    .map(decode_value)
                    .collect::<Result<_, _>>()?,
            )
        }
        "struct" => {
            let mut m = Map::new();
            for member in t.elements() {
                if member.local != "member" {
                    return Err(bad(member, "expected <member>"));
                }
                let name = member
                    .elements()
                    .find(|e| e.local == "name")
                    .ok_or_else(|| bad(member, "no <name>"))?;
                let value = member
                    .elements()
                    .find(|e| e.local == "value")
                    .ok_or_else(|| bad(member, "no <value>"))?;
                m.insert(name.text(), decode_value(value)?);
            }
            Value::Object(m)
        }
        other => return Err(bad(t, &format!("unknown type <{other}>"))),
    })
}

/// The CCU's BidCos service answers in ISO-8859-1 (declared in the XML declaration): such
/// documents are transcoded to UTF-8 before parsing; anything else must be UTF-8.
fn to_utf8(bytes: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let head = &bytes[..bytes.len().min(100)];
    let decl_end = head.windows(2).position(|w| w == b"?>").unwrap_or(0);
    let decl = String::from_utf8_lossy(&head[..decl_end]).to_ascii_lowercase();
    let latin1 = bytes.starts_with(b"<?xml")
        && ["iso-8859-1", "latin1", "latin-1", "iso8859-1"]
            .iter()
            .any(|e| {
                decl.contains(&format!("encoding=\"{e}\""))
                    || decl.contains(&format!("encoding='{e}'"))
            });
    if latin1 && std::str::from_utf8(bytes).is_err() {
        let text: String = bytes.iter().map(|&b| b as char).collect();
        std::borrow::Cow::Owned(text.into_bytes())
    } else {
        std::borrow::Cow::Borrowed(bytes)
    }
}

/// Decodes a `<methodResponse>`: its one parameter, or the fault.
pub fn decode_response(bytes: &[u8]) -> Result<Value, XmlRpcError> {
    let bytes = to_utf8(bytes);
    let doc = parse_bytes(&bytes).map_err(|e| XmlRpcError::Malformed(e.to_string()))?;
    let root = &doc.root;
    if root.local != "methodResponse" {
        return Err(bad(root, "expected <methodResponse>"));
    }
    let body = root.elements().next().ok_or_else(|| bad(root, "empty"))?;
    match body.local.as_str() {
        "params" => {
            let Some(param) = body.elements().next() else {
                // No return value (a void method).
                return Ok(Value::Null);
            };
            decode_value(only_child(param, "value")?)
        }
        "fault" => {
            let v = decode_value(only_child(body, "value")?)?;
            Err(XmlRpcError::Fault {
                code: v["faultCode"].as_i64().unwrap_or(0),
                message: v["faultString"].as_str().unwrap_or_default().to_string(),
            })
        }
        _ => Err(bad(body, "expected <params> or <fault>")),
    }
}

/// Calls `method(params…)` at `url` (POST, `text/xml`), with this `Authorization` header value
/// when given (never part of an error).
pub async fn call(
    url: &HttpUrl,
    method: &str,
    params: &[Value],
    timeout: Duration,
    authorization: Option<&str>,
) -> Result<Value, XmlRpcError> {
    let body = encode_call(method, params).into_bytes();
    let mut headers = vec![("content-type", "text/xml".to_string())];
    if let Some(a) = authorization {
        headers.push(("authorization", a.to_string()));
    }
    let (status, answer) = request(url, "POST", &headers, body, timeout)
        .await
        .map_err(XmlRpcError::Transport)?;
    if status == 401 || status == 403 {
        return Err(XmlRpcError::Unauthorized { status });
    }
    if status != 200 {
        return Err(XmlRpcError::Transport(format!(
            "{method}: HTTP status {status}"
        )));
    }
    decode_response(&answer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn calls_are_encoded_and_escaped() {
        assert_eq!(
            encode_call("getParamset", &[json!("MEQ01:1"), json!("VALUES")]),
            "<?xml version=\"1.0\"?>\n<methodCall><methodName>getParamset</methodName><params><param><value><string>MEQ01:1</string></value></param><param><value><string>VALUES</string></value></param></params></methodCall>\n"
        );
        let x = encode_call("m", &[json!({"a<&>": [1, 2.5, true, null]})]);
        assert!(x.contains("<name>a&lt;&amp;&gt;</name><value><array><data><value><i4>1</i4></value><value><double>2.5</double></value><value><boolean>1</boolean></value><value><nil/></value></data></array></value>"), "{x}");
        // Round trip through the decoder.
        let resp = x
            .replace("<methodCall><methodName>m</methodName>", "<methodResponse>")
            .replace("</methodCall>", "</methodResponse>");
        assert_eq!(
            decode_response(resp.as_bytes()).unwrap(),
            json!({"a<&>": [1, 2.5, true, null]})
        );
    }

    #[test]
    fn responses_and_faults() {
        let r = br#"<?xml version="1.0"?><methodResponse><params><param><value><struct>
            <member><name>ENERGY_COUNTER</name><value><double>1234.5</double></value></member>
            <member><name>LOWBAT</name><value><boolean>0</boolean></value></member>
            <member><name>ADDRESS</name><value>MEQ0123456:1</value></member>
            </struct></value></param></params></methodResponse>"#;
        assert_eq!(
            decode_response(r).unwrap(),
            serde_json::json!({"ENERGY_COUNTER":1234.5,"LOWBAT":false,"ADDRESS":"MEQ0123456:1"})
        );
        let f = br#"<methodResponse><fault><value><struct><member><name>faultCode</name><value><int>-2</int></value></member><member><name>faultString</name><value><string>Unknown instance</string></value></member></struct></value></fault></methodResponse>"#;
        assert_eq!(
            decode_response(f),
            Err(XmlRpcError::Fault {
                code: -2,
                message: "Unknown instance".into()
            })
        );
    }

    #[test]
    fn latin1_answers_of_the_ccu() {
        let mut r = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><methodResponse><params><param><value>K".to_vec();
        r.push(0xFC); // ü in ISO-8859-1
        r.extend_from_slice(b"che</value></param></params></methodResponse>");
        assert_eq!(
            decode_response(&r).unwrap(),
            serde_json::json!("K\u{fc}che")
        );
        // Undeclared, the same bytes are not UTF-8: an error, not a guess.
        let undeclared = &r[r.iter().position(|&b| b == b'>').unwrap() + 1..];
        assert!(decode_response(undeclared).is_err());
    }

    #[test]
    fn hostile_or_malformed_answers_are_clear_errors() {
        let dtd = br#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><methodResponse><params><param><value>&a;</value></param></params></methodResponse>"#;
        assert!(matches!(
            decode_response(dtd),
            Err(XmlRpcError::Malformed(_))
        ));
        let e = decode_response(b"<methodResponse>\n<params><param><value><i4>x</i4></value></param></params></methodResponse>")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 2") && e.contains("<i4>") && e.contains("not an integer"),
            "{e}"
        );
        let e = decode_response(b"<methodResponse><params><param><value><blob/></value></param></params></methodResponse>").unwrap_err().to_string();
        assert!(e.contains("unknown type <blob>"), "{e}");
        assert!(decode_response(b"<html/>").is_err());
        assert!(decode_response(b"not xml").is_err());
        let deep = format!(
            "<methodResponse><params><param>{}{}</param></params></methodResponse>",
            "<value><array><data>".repeat(400),
            "</data></array></value>".repeat(400)
        );
        assert!(
            decode_response(deep.as_bytes()).is_err(),
            "nesting beyond the reader's limit"
        );
    }
}
