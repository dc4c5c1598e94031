//! Writing YAML back: an untouched document is its original bytes; edits are span edits.
