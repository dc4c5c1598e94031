//! The built-in TOSCA type library, icons and example topologies, embedded in the binary.
