//! Qualified names of TOSCA entities: a namespace URI and a local name, written `{ns}local`.

use std::fmt;

/// A TOSCA qualified name. Namespaces are compared by URI, never by prefix.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct QName {
    pub namespace: String,
    pub local: String,
}

impl QName {
    pub fn new(namespace: impl Into<String>, local: impl Into<String>) -> Self {
        QName {
            namespace: namespace.into(),
            local: local.into(),
        }
    }

    /// Parses `{namespace}local` (or a bare `local` in no namespace).
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if let Some(rest) = s.strip_prefix('{') {
            let (ns, local) = rest
                .split_once('}')
                .ok_or_else(|| format!("'{s}' is not of the form {{namespace}}name"))?;
            if local.is_empty() {
                return Err(format!("'{s}' has no local name"));
            }
            Ok(QName::new(ns, local))
        } else if s.is_empty() {
            Err("empty name".into())
        } else {
            Ok(QName::new("", s))
        }
    }
}

impl fmt::Display for QName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{{}}}{}", self.namespace, self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display_round_trip() {
        let q = QName::parse("{http://a/b}X").unwrap();
        assert_eq!(q, QName::new("http://a/b", "X"));
        assert_eq!(q.to_string(), "{http://a/b}X");
        assert_eq!(QName::parse("Y").unwrap(), QName::new("", "Y"));
        assert!(QName::parse("{ns}").is_err());
        assert!(QName::parse("{ns").is_err());
    }
}
