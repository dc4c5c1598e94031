//! Pure TOSCA model: TOSCA 1.0 XML and Simple Profile YAML, CSAR, Winery repositories, validation and deployment plans.
//!
//! No GUI and no network: everything here is deterministic and fast to test.

pub mod csar;
pub mod csar_export;
pub mod deployable;
pub mod diagnostic;
pub mod drivers;
pub mod library;
pub mod load;
pub mod plan;
pub mod protocol;
pub mod qname;
pub mod repository;
pub mod rules;
pub mod save;
pub mod tosca;
pub mod validate;
pub mod xml;
pub mod yaml;

pub use diagnostic::{Diagnostic, Severity};
pub use library::Library;
pub use load::{InputKind, LoadError, Loaded, load_path};
pub use qname::QName;
