//! CSAR export with a YAML Entry-Definitions.
