//! A lossless, namespace-aware XML tree: every element keeps its prefix, its namespace
//! declarations, attribute order, comments, processing instructions and whitespace, so a document
//! that is read and written back is XML-equivalent to its input.

/// The namespace URI of `xmlns` declarations (never stored as attributes).
pub const XMLNS_URI: &str = "http://www.w3.org/2000/xmlns/";
/// The namespace URI bound to the `xml` prefix.
pub const XML_URI: &str = "http://www.w3.org/XML/1998/namespace";

/// A namespace declaration written on an element (`xmlns="…"` or `xmlns:p="…"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NsDecl {
    /// `None` for the default namespace.
    pub prefix: Option<String>,
    pub uri: String,
}

/// An attribute with its resolved namespace (empty for unqualified attributes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attr {
    pub prefix: Option<String>,
    pub local: String,
    pub ns: String,
    pub value: String,
}

/// An element. `ns` is the resolved namespace URI ("" when none); `prefix` is how it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub prefix: Option<String>,
    pub local: String,
    pub ns: String,
    pub ns_decls: Vec<NsDecl>,
    pub attrs: Vec<Attr>,
    pub children: Vec<Node>,
    /// 1-based line of the start tag in the source (0 for elements created in memory).
    pub line: u32,
}

/// A node of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Element(Element),
    /// Character data, unescaped.
    Text(String),
    CData(String),
    /// Comment content between `<!--` and `-->`.
    Comment(String),
    /// Processing instruction content between `<?` and `?>`.
    Pi(String),
}

/// A whole document: declaration, nodes around the root, and the root element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// Content of the XML declaration (between `<?xml` and `?>`), if any.
    pub declaration: Option<String>,
    pub before_root: Vec<Node>,
    pub root: Element,
    pub after_root: Vec<Node>,
}

impl Element {
    /// A new element in namespace `ns` without prefix; the writer picks a prefix in scope.
    pub fn new(ns: &str, local: &str) -> Self {
        Element {
            prefix: None,
            local: local.to_string(),
            ns: ns.to_string(),
            ns_decls: Vec::new(),
            attrs: Vec::new(),
            children: Vec::new(),
            line: 0,
        }
    }

    /// True when this element is `{ns}local`.
    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.local == local && self.ns == ns
    }

    /// The value of the unqualified attribute `name`.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.ns.is_empty() && a.local == name)
            .map(|a| a.value.as_str())
    }

    /// The value of the attribute `{ns}name`.
    pub fn attr_ns(&self, ns: &str, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.ns == ns && a.local == name)
            .map(|a| a.value.as_str())
    }

    /// Sets (or adds at the end) attribute `{ns}name`; order of existing attributes is kept.
    pub fn set_attr_ns(&mut self, ns: &str, name: &str, value: &str) {
        if let Some(a) = self
            .attrs
            .iter_mut()
            .find(|a| a.ns == ns && a.local == name)
        {
            if a.value != value {
                a.value = value.to_string();
            }
        } else {
            self.attrs.push(Attr {
                prefix: None,
                local: name.to_string(),
                ns: ns.to_string(),
                value: value.to_string(),
            });
        }
    }

    /// Sets (or adds) the unqualified attribute `name`.
    pub fn set_attr(&mut self, name: &str, value: &str) {
        self.set_attr_ns("", name, value);
    }

    /// Removes attribute `{ns}name` if present.
    pub fn remove_attr_ns(&mut self, ns: &str, name: &str) {
        self.attrs.retain(|a| !(a.ns == ns && a.local == name));
    }

    /// Child elements in document order.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            _ => None,
        })
    }

    /// Child elements named `{ns}local`.
    pub fn children_named<'a>(
        &'a self,
        ns: &'a str,
        local: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.elements().filter(move |e| e.is(ns, local))
    }

    /// The first child element named `{ns}local`.
    pub fn child(&self, ns: &str, local: &str) -> Option<&Element> {
        self.elements().find(|e| e.is(ns, local))
    }

    /// Mutable first child element named `{ns}local`.
    pub fn child_mut(&mut self, ns: &str, local: &str) -> Option<&mut Element> {
        self.children.iter_mut().find_map(|n| match n {
            Node::Element(e) if e.is(ns, local) => Some(e),
            _ => None,
        })
    }

    /// Concatenated text and CDATA content of this element (not of descendants).
    pub fn text(&self) -> String {
        let mut s = String::new();
        for n in &self.children {
            match n {
                Node::Text(t) | Node::CData(t) => s.push_str(t),
                _ => {}
            }
        }
        s
    }

    /// True when the element has child elements.
    pub fn has_element_children(&self) -> bool {
        self.elements().next().is_some()
    }

    /// Replaces all children by one text node (none when `text` is empty).
    pub fn set_text(&mut self, text: &str) {
        self.children.clear();
        if !text.is_empty() {
            self.children.push(Node::Text(text.to_string()));
        }
    }

    /// Declares `prefix` → `uri` on this element.
    pub fn declare(&mut self, prefix: Option<&str>, uri: &str) {
        self.ns_decls.push(NsDecl {
            prefix: prefix.map(str::to_string),
            uri: uri.to_string(),
        });
    }

    /// Number of elements in this subtree, including itself.
    pub fn count_elements(&self) -> usize {
        1 + self.elements().map(Element::count_elements).sum::<usize>()
    }
}

/// The namespace bindings in scope at some element: a chain of declaration lists.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    decls: &'a [NsDecl],
    parent: Option<&'a Scope<'a>>,
}

impl<'a> Scope<'a> {
    /// The empty root scope (only `xml` is bound).
    pub const ROOT: Scope<'static> = Scope {
        decls: &[],
        parent: None,
    };

    /// The scope inside `element`, whose parent scope is `self`.
    pub fn enter(&'a self, element: &'a Element) -> Scope<'a> {
        Scope {
            decls: &element.ns_decls,
            parent: Some(self),
        }
    }

    /// The scope inside an element with declarations `decls`, whose parent scope is `self`.
    pub fn enter_decls(&'a self, decls: &'a [NsDecl]) -> Scope<'a> {
        Scope {
            decls,
            parent: Some(self),
        }
    }

    /// The URI bound to `prefix` (`None` = default namespace); `Some("")` when undeclared-to-empty.
    pub fn resolve(&self, prefix: Option<&str>) -> Option<&'a str> {
        if prefix == Some("xml") {
            return Some(XML_URI);
        }
        let mut s = Some(self);
        while let Some(scope) = s {
            if let Some(d) = scope
                .decls
                .iter()
                .rev()
                .find(|d| d.prefix.as_deref() == prefix)
            {
                return Some(d.uri.as_str());
            }
            s = scope.parent;
        }
        None
    }

    /// A prefix bound to `uri` that is not shadowed (`Some(None)` = the default namespace).
    pub fn prefix_for(&self, uri: &str) -> Option<Option<&'a str>> {
        let mut s = Some(self);
        while let Some(scope) = s {
            for d in scope.decls.iter().rev() {
                if d.uri == uri {
                    let p = d.prefix.as_deref();
                    if self.resolve(p) == Some(uri) {
                        return Some(p);
                    }
                }
            }
            s = scope.parent;
        }
        None
    }

    /// Resolves a `prefix:local` QName value (as in `type="ns0:NodeMCU"`); an unprefixed value
    /// takes the default namespace, as TOSCA QName attributes do.
    pub fn resolve_qname_value(&self, value: &str) -> Option<(String, String)> {
        let value = value.trim();
        match value.split_once(':') {
            Some((p, local)) => self
                .resolve(Some(p))
                .map(|ns| (ns.to_string(), local.to_string())),
            None => Some((
                self.resolve(None).unwrap_or("").to_string(),
                value.to_string(),
            )),
        }
    }
}
