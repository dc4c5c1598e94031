//! Typing rules shared by the editor and validation: which relationship types may connect two
//! node templates (ValidSource/ValidTarget along DerivedFrom, requirement/capability matching).

use crate::QName;
use crate::library::Library;
use crate::tosca::{NodeTemplate, RelationshipType, TypeKind};

/// Whether `end` (a ValidSource/ValidTarget type reference) accepts `node`: a node type the
/// node's type derives from, or a requirement (source) / capability (target) type the node has.
pub fn end_accepts(lib: &Library, end: &QName, node: &NodeTemplate, is_source: bool) -> bool {
    if lib.node_type(end).is_some()
        || (lib.requirement_type(end).is_none() && lib.capability_type(end).is_none())
    {
        // A node type, or an unknown reference (treated as a node type so it can still match).
        return lib.derives_from(TypeKind::NodeType, &node.type_ref, end);
    }
    if is_source && lib.requirement_type(end).is_some() {
        let own = node.requirements.iter().map(|r| r.type_ref.clone());
        let defined = lib
            .node_requirement_definitions(&node.type_ref)
            .into_iter()
            .map(|d| d.type_ref.clone());
        return own
            .chain(defined)
            .any(|t| lib.derives_from(TypeKind::RequirementType, &t, end));
    }
    if !is_source && lib.capability_type(end).is_some() {
        let own = node.capabilities.iter().map(|c| c.type_ref.clone());
        let defined = lib
            .node_capability_definitions(&node.type_ref)
            .into_iter()
            .map(|d| d.type_ref.clone());
        return own
            .chain(defined)
            .any(|t| lib.derives_from(TypeKind::CapabilityType, &t, end));
    }
    false
}

/// The effective ValidSource/ValidTarget of a relationship type (inherited along DerivedFrom).
fn effective_ends(lib: &Library, rt: &RelationshipType) -> (Option<QName>, Option<QName>) {
    let mut src = rt.valid_source.clone();
    let mut tgt = rt.valid_target.clone();
    for a in lib
        .ancestry(TypeKind::RelationshipType, &rt.base.qname())
        .iter()
        .skip(1)
    {
        if let Some(p) = lib.relationship_type(a) {
            src = src.or_else(|| p.valid_source.clone());
            tgt = tgt.or_else(|| p.valid_target.clone());
        }
    }
    (src, tgt)
}

/// Whether a relationship of type `rt` may go from `source` to `target`.
pub fn relationship_allowed(
    lib: &Library,
    rt: &RelationshipType,
    source: &NodeTemplate,
    target: &NodeTemplate,
) -> bool {
    if rt.base.is_abstract || source.id == target.id {
        return false;
    }
    let (src, tgt) = effective_ends(lib, rt);
    src.is_none_or(|s| end_accepts(lib, &s, source, true))
        && tgt.is_none_or(|t| end_accepts(lib, &t, target, false))
}

/// Every relationship type allowed from `source` to `target`, base types (HostedOn, ConnectsTo,
/// DependsOn) first, then by name.
pub fn allowed_relationship_types(
    lib: &Library,
    source: &NodeTemplate,
    target: &NodeTemplate,
) -> Vec<QName> {
    let mut v: Vec<QName> = lib
        .relationship_types()
        .into_iter()
        .filter(|rt| relationship_allowed(lib, rt, source, target))
        .map(|rt| rt.base.qname())
        .collect();
    let rank = |q: &QName| match (q.namespace.as_str(), q.local.as_str()) {
        (crate::tosca::BASE_TYPES_NS, "HostedOn") => 0,
        (crate::tosca::BASE_TYPES_NS, "ConnectsTo") => 1,
        (crate::tosca::BASE_TYPES_NS, "DependsOn") => 2,
        _ => 3,
    };
    v.sort_by(|a, b| {
        rank(a)
            .cmp(&rank(b))
            .then(a.local.cmp(&b.local))
            .then(a.namespace.cmp(&b.namespace))
    });
    v
}
