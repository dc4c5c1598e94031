//! The XML layer: a lossless namespace-aware tree, a hardened reader and a writer.

pub mod dom;
pub mod equiv;
pub mod parse;
pub mod write;

pub use dom::{Attr, Document, Element, Node, NsDecl, Scope};
pub use equiv::equivalent;
pub use parse::{XmlError, parse_bytes, parse_str};
pub use write::{write_document, write_fragment};
