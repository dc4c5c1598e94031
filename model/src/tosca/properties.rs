//! Properties of templates and their definitions in types.
//!
//! A properties element that is one flat wrapper of simple children (whatever its namespace or
//! prefix) is seen as key/value pairs; anything else stays raw XML. Edits patch the wrapper in
//! place so unknown content survives.

use super::{GET_INPUT, WINERY_NS};
use crate::QName;
use crate::xml::{Element, Node};

/// One key of a Winery key/value properties definition.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct PropertyDef {
    pub key: String,
    /// The declared type, e.g. `xsd:string`, `xsd:integer`, `xsd:boolean`.
    pub type_name: String,
    pub required: bool,
    pub default: Option<String>,
    pub description: Option<String>,
}

/// How a type declares its properties.
#[derive(Debug, Clone, PartialEq)]
pub enum PropertiesDefinition {
    /// `winery:PropertiesDefinition`: a wrapper element name, its namespace and the keys.
    KeyValue {
        element_name: String,
        namespace: String,
        properties: Vec<PropertyDef>,
    },
    /// TOSCA `PropertiesDefinition element="…"` (an XML Schema element).
    Element(QName),
    /// TOSCA `PropertiesDefinition type="…"` (an XML Schema type).
    Type(QName),
}

impl PropertiesDefinition {
    /// The key/value definitions, if this is a key/value definition.
    pub fn keys(&self) -> &[PropertyDef] {
        match self {
            PropertiesDefinition::KeyValue { properties, .. } => properties,
            _ => &[],
        }
    }
}

/// The content of a template's `Properties` element.
#[derive(Debug, Clone)]
pub struct Properties {
    /// The single element inside `<Properties>` (the wrapper), as read or as edited.
    wrapper: Element,
    /// Key/value view when the wrapper is flat.
    kv: Option<Vec<(String, String)>>,
}

impl Properties {
    /// Reads the wrapper element; decides whether it is key/value.
    pub fn from_wrapper(wrapper: Element) -> Self {
        let kv = flat_kv(&wrapper);
        Properties { wrapper, kv }
    }

    /// New key/value properties in a wrapper `{namespace}element_name`.
    pub fn new_kv(namespace: &str, element_name: &str, entries: &[(String, String)]) -> Self {
        let mut wrapper = Element::new(namespace, element_name);
        wrapper.declare(None, namespace);
        let mut p = Properties {
            wrapper,
            kv: Some(Vec::new()),
        };
        for (k, v) in entries {
            p.set(k, v);
        }
        p
    }

    /// Key/value pairs in document order, or `None` for raw XML properties.
    pub fn kv(&self) -> Option<&[(String, String)]> {
        self.kv.as_deref()
    }

    /// The value of `key` (key/value properties only).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.kv
            .as_ref()?
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Sets `key` to `value`, adding the key if missing. Returns false for raw XML properties.
    pub fn set(&mut self, key: &str, value: &str) -> bool {
        let Some(kv) = self.kv.as_mut() else {
            return false;
        };
        match kv.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value.to_string(),
            None => kv.push((key.to_string(), value.to_string())),
        }
        sync_wrapper(&mut self.wrapper, kv);
        true
    }

    /// Removes `key`. Returns whether it was there.
    pub fn remove(&mut self, key: &str) -> bool {
        let Some(kv) = self.kv.as_mut() else {
            return false;
        };
        let before = kv.len();
        kv.retain(|(k, _)| k != key);
        let removed = kv.len() != before;
        sync_wrapper(&mut self.wrapper, kv);
        removed
    }

    /// The wrapper element as it should be written.
    pub fn wrapper(&self) -> &Element {
        &self.wrapper
    }

    /// Replaces the content by a raw XML element (e.g. edited in the inspector's XML view).
    pub fn set_raw(&mut self, wrapper: Element) {
        *self = Properties::from_wrapper(wrapper);
    }

    /// The raw XML of the wrapper.
    pub fn raw_xml(&self) -> String {
        crate::xml::write_fragment(&self.wrapper)
    }

    /// Deploy-time inputs: `(key, input name)` for every value `get_input: NAME`.
    pub fn inputs(&self) -> Vec<(String, String)> {
        self.kv
            .iter()
            .flatten()
            .filter_map(|(k, v)| input_name(v).map(|n| (k.clone(), n.to_string())))
            .collect()
    }
}

impl PartialEq for Properties {
    /// Equal when they mean the same: same wrapper name and key/value pairs, or equivalent XML.
    fn eq(&self, other: &Self) -> bool {
        match (&self.kv, &other.kv) {
            (Some(a), Some(b)) => {
                a == b
                    && self.wrapper.ns == other.wrapper.ns
                    && self.wrapper.local == other.wrapper.local
            }
            (None, None) => crate::xml::equivalent(&self.wrapper, &other.wrapper).is_ok(),
            _ => false,
        }
    }
}

/// The input name of a `get_input: NAME` value.
pub fn input_name(value: &str) -> Option<&str> {
    value
        .trim()
        .strip_prefix(GET_INPUT)
        .map(str::trim)
        .filter(|n| !n.is_empty())
}

fn flat_kv(wrapper: &Element) -> Option<Vec<(String, String)>> {
    let mut kv: Vec<(String, String)> = Vec::new();
    for child in &wrapper.children {
        match child {
            Node::Element(e) => {
                if e.has_element_children() || !e.attrs.is_empty() {
                    return None;
                }
                if kv.iter().any(|(k, _)| *k == e.local) {
                    return None;
                }
                kv.push((e.local.clone(), e.text()));
            }
            Node::Text(t) if t.trim().is_empty() => {}
            Node::Comment(_) => {}
            _ => return None,
        }
    }
    Some(kv)
}

/// Makes the wrapper's children match `kv`: existing elements updated in place, removed keys
/// dropped, new keys appended with the indentation of their siblings.
fn sync_wrapper(wrapper: &mut Element, kv: &[(String, String)]) {
    // Drop children whose key is gone (with the whitespace before them).
    let mut i = 0;
    while i < wrapper.children.len() {
        let gone = matches!(&wrapper.children[i], Node::Element(e) if !kv.iter().any(|(k, _)| *k == e.local));
        if gone {
            wrapper.children.remove(i);
            if i > 0 && matches!(&wrapper.children[i - 1], Node::Text(t) if t.trim().is_empty()) {
                wrapper.children.remove(i - 1);
                i -= 1;
            }
        } else {
            i += 1;
        }
    }
    let child_ns = wrapper
        .elements()
        .next()
        .map(|e| e.ns.clone())
        .unwrap_or_else(|| wrapper.ns.clone());
    let indent = wrapper.children.iter().find_map(|n| match n {
        Node::Text(t) if t.trim().is_empty() && t.contains('\n') => Some(t.clone()),
        _ => None,
    });
    for (k, v) in kv {
        let existing = wrapper.children.iter_mut().find_map(|n| match n {
            Node::Element(e) if e.local == *k => Some(e),
            _ => None,
        });
        match existing {
            Some(e) => {
                if e.text() != *v {
                    e.set_text(v);
                }
            }
            None => {
                let mut e = Element::new(&child_ns, k);
                e.set_text(v);
                // Insert after the last element child, keeping the closing whitespace last.
                let pos = wrapper
                    .children
                    .iter()
                    .rposition(|n| matches!(n, Node::Element(_)))
                    .map(|p| p + 1)
                    .unwrap_or(0);
                let mut insert = Vec::new();
                if let Some(ind) = &indent {
                    insert.push(Node::Text(ind.clone()));
                }
                insert.push(Node::Element(e));
                let tail_is_ws = pos == wrapper.children.len();
                for (j, n) in insert.into_iter().enumerate() {
                    wrapper.children.insert(pos + j, n);
                }
                let _ = tail_is_ws;
            }
        }
    }
}

/// Reads a `winery:PropertiesDefinition` element.
pub(crate) fn read_winery_definition(e: &Element) -> PropertiesDefinition {
    let element_name = e.attr("elementname").unwrap_or("Properties").to_string();
    let namespace = e.attr("namespace").unwrap_or("").to_string();
    let mut properties = Vec::new();
    // Winery writes <winery:properties><winery:key/><winery:type/></winery:properties>; newer
    // versions wrap them in <winery:properties> lists or use <winery:property>.
    let mut stack = vec![e];
    while let Some(cur) = stack.pop() {
        for c in cur.elements() {
            if c.ns != WINERY_NS {
                continue;
            }
            if let Some(key) = c.child(WINERY_NS, "key") {
                let get = |n: &str| c.child(WINERY_NS, n).map(|x| x.text().trim().to_string());
                properties.push(PropertyDef {
                    key: key.text().trim().to_string(),
                    type_name: get("type").unwrap_or_else(|| "xsd:string".into()),
                    required: get("required").is_some_and(|r| r == "true" || r == "yes"),
                    default: get("defaultValue").filter(|d| !d.is_empty()),
                    description: get("description").filter(|d| !d.is_empty()),
                });
            } else {
                stack.push(c);
            }
        }
    }
    PropertiesDefinition::KeyValue {
        element_name,
        namespace,
        properties,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{parse_str, write_fragment};

    fn wrapper(xml: &str) -> Element {
        parse_str(xml).unwrap().root
    }

    #[test]
    fn flat_wrapper_is_key_value_whatever_the_prefix() {
        let p = Properties::from_wrapper(wrapper(
            r#"<ns2:Properties xmlns:ns2="urn:w" xmlns="urn:w"><Port>get_input: ApplicationPort</Port><Empty/></ns2:Properties>"#,
        ));
        assert_eq!(
            p.kv().unwrap(),
            &[
                ("Port".into(), "get_input: ApplicationPort".into()),
                ("Empty".into(), "".into())
            ]
        );
        assert_eq!(
            p.inputs(),
            vec![("Port".to_string(), "ApplicationPort".to_string())]
        );
    }

    #[test]
    fn nested_wrapper_stays_raw() {
        let p = Properties::from_wrapper(wrapper(r#"<a xmlns="urn:x"><b><c/></b></a>"#));
        assert!(p.kv().is_none());
        assert!(p.raw_xml().contains("<c/>"));
    }

    #[test]
    fn set_keeps_unknown_structure_and_indentation() {
        let mut p = Properties::from_wrapper(wrapper(
            "<P xmlns=\"urn:w\">\n  <!-- keep -->\n  <a>1</a>\n</P>",
        ));
        assert!(p.set("a", "2"));
        assert!(p.set("b", "3"));
        let text = write_fragment(p.wrapper());
        assert_eq!(
            text,
            "<P xmlns=\"urn:w\">\n  <!-- keep -->\n  <a>2</a>\n  <b>3</b>\n</P>"
        );
        assert!(p.remove("a"));
        assert_eq!(
            write_fragment(p.wrapper()),
            "<P xmlns=\"urn:w\">\n  <!-- keep -->\n  <b>3</b>\n</P>"
        );
    }
}
