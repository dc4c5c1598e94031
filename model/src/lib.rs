//! Pure TOSCA 1.0 model: XML, CSAR, Winery repositories, validation and deployment plans.
//!
//! No GUI and no network: everything here is deterministic and fast to test.

pub mod protocol;
pub mod qname;
pub mod tosca;
pub mod xml;

pub use qname::QName;
