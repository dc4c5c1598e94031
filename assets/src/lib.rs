//! The built-in TOSCA type library, icons and example topologies, embedded in the binary.

/// Every file of the built-in library: (repository-relative path, bytes).
pub fn library_files() -> &'static [(&'static str, &'static [u8])] {
    &[]
}
