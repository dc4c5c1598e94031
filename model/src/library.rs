//! A library of TOSCA definitions from many files (the built-in types, a Winery repository, a
//! CSAR, an opened file) with every QName resolved across files, DerivedFrom chains included.
//! Unresolved references are warnings, never failures.

use crate::QName;
use crate::diagnostic::Diagnostic;
use crate::tosca::*;
use std::collections::HashMap;
use std::path::PathBuf;

/// One loaded file.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Where it came from (a real path, or e.g. `builtin/nodetypes/…` for shipped files).
    pub path: PathBuf,
    pub definitions: Definitions,
    /// Part of the built-in library (read-only in the editor, overridable by user files).
    pub builtin: bool,
}

/// Where an indexed definition lives: file index and position in its kind's list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    pub file: usize,
    pub item: usize,
}

/// Many Definitions resolved as one.
#[derive(Debug, Clone, Default)]
pub struct Library {
    files: Vec<SourceFile>,
    index: HashMap<(TypeKind, QName), Location>,
    /// Problems found while adding files (e.g. the same QName defined twice).
    load_diagnostics: Vec<Diagnostic>,
}

macro_rules! getter {
    ($name:ident, $kind:expr, $list:ident, $ty:ty) => {
        pub fn $name(&self, q: &QName) -> Option<&$ty> {
            let loc = self.index.get(&($kind, q.clone()))?;
            self.files[loc.file].definitions.$list.get(loc.item)
        }
    };
}

macro_rules! lister {
    ($name:ident, $kind:expr, $list:ident, $ty:ty) => {
        /// Every definition of this kind that the index resolves to, sorted by QName.
        pub fn $name(&self) -> Vec<&$ty> {
            let mut v: Vec<(&QName, &$ty)> = self
                .index
                .iter()
                .filter(|((k, _), _)| *k == $kind)
                .filter_map(|((_, q), loc)| {
                    self.files[loc.file]
                        .definitions
                        .$list
                        .get(loc.item)
                        .map(|t| (q, t))
                })
                .collect();
            v.sort_by(|a, b| a.0.cmp(b.0));
            v.into_iter().map(|(_, t)| t).collect()
        }
    };
}

impl Library {
    pub fn new() -> Self {
        Library::default()
    }

    /// Adds one file's definitions; returns its index. A QName already defined by a user file
    /// keeps its first definition (warning); user files override built-in ones.
    pub fn add(
        &mut self,
        path: impl Into<PathBuf>,
        definitions: Definitions,
        builtin: bool,
    ) -> usize {
        let file = self.files.len();
        self.files.push(SourceFile {
            path: path.into(),
            definitions,
            builtin,
        });
        self.index_file(file);
        file
    }

    /// Replaces the definitions of file `file` (e.g. a type edited in the editor, or emptied
    /// when its element was deleted) and its path; the index is rebuilt.
    pub fn set_definitions(&mut self, file: usize, path: PathBuf, definitions: Definitions) {
        self.files[file].path = path;
        self.files[file].definitions = definitions;
        self.reindex();
    }

    /// Rebuilds the QName index from the files (after definitions were added or renamed in place).
    pub fn reindex(&mut self) {
        self.index.clear();
        self.load_diagnostics
            .retain(|d| d.code != "duplicate-definition");
        for f in 0..self.files.len() {
            self.index_file(f);
        }
    }

    fn index_file(&mut self, file: usize) {
        let path = self.files[file].path.clone();
        let builtin = self.files[file].builtin;
        let d = &self.files[file].definitions;
        let mut entries: Vec<(TypeKind, QName, usize, u32)> = Vec::new();
        macro_rules! base {
            ($list:ident, $kind:expr) => {
                for (i, t) in d.$list.iter().enumerate() {
                    entries.push(($kind, t.base.qname(), i, t.base.line));
                }
            };
        }
        base!(node_types, TypeKind::NodeType);
        base!(relationship_types, TypeKind::RelationshipType);
        base!(capability_types, TypeKind::CapabilityType);
        base!(requirement_types, TypeKind::RequirementType);
        base!(artifact_types, TypeKind::ArtifactType);
        base!(policy_types, TypeKind::PolicyType);
        base!(node_type_implementations, TypeKind::NodeTypeImplementation);
        base!(
            relationship_type_implementations,
            TypeKind::RelationshipTypeImplementation
        );
        for (i, t) in d.artifact_templates.iter().enumerate() {
            entries.push((TypeKind::ArtifactTemplate, t.qname(), i, t.line));
        }
        for (i, t) in d.policy_templates.iter().enumerate() {
            entries.push((TypeKind::PolicyTemplate, t.qname(), i, t.line));
        }
        for (i, t) in d.service_templates.iter().enumerate() {
            entries.push((TypeKind::ServiceTemplate, t.qname(), i, t.line));
        }
        for (kind, q, item, line) in entries {
            let loc = Location { file, item };
            match self.index.get(&(kind, q.clone())) {
                Some(existing) => {
                    let existing_builtin = self.files[existing.file].builtin;
                    match (existing_builtin, builtin) {
                        // A user file overrides the built-in definition.
                        (true, false) => {
                            self.index.insert((kind, q), loc);
                        }
                        // The built-in one is shadowed by a user file loaded earlier.
                        (false, true) => {}
                        _ => {
                            let first = &self.files[existing.file].path;
                            self.load_diagnostics.push(
                                Diagnostic::warning(
                                    "duplicate-definition",
                                    q.to_string(),
                                    format!(
                                        "{} defined again; the one in {} is used",
                                        kind.element(),
                                        first.display()
                                    ),
                                )
                                .with_hint("remove one of the two definitions")
                                .at(Some(path.clone()), line),
                            );
                        }
                    }
                }
                None => {
                    self.index.insert((kind, q), loc);
                }
            }
        }
    }

    /// Adds every file and load diagnostic of `other` (e.g. YAML files read together).
    pub fn merge(&mut self, other: Library) {
        for f in other.files {
            self.add(f.path, f.definitions, f.builtin);
        }
        self.load_diagnostics.extend(other.load_diagnostics);
    }

    /// Adds a diagnostic found while loading (e.g. a file that could not be parsed).
    pub fn push_load_diagnostic(&mut self, d: Diagnostic) {
        self.load_diagnostics.push(d);
    }

    pub fn files(&self) -> &[SourceFile] {
        &self.files
    }

    pub fn file(&self, i: usize) -> &SourceFile {
        &self.files[i]
    }

    /// Mutable access to a file's definitions (the editor edits service templates in place).
    /// Indexes stay valid as long as the set of definitions keeps its ids.
    pub fn definitions_mut(&mut self, i: usize) -> &mut Definitions {
        &mut self.files[i].definitions
    }

    pub fn load_diagnostics(&self) -> &[Diagnostic] {
        &self.load_diagnostics
    }

    /// Where `kind` `q` is defined.
    pub fn locate(&self, kind: TypeKind, q: &QName) -> Option<Location> {
        self.index.get(&(kind, q.clone())).copied()
    }

    /// Whether anything of `kind` is named `q`.
    pub fn contains(&self, kind: TypeKind, q: &QName) -> bool {
        self.index.contains_key(&(kind, q.clone()))
    }

    getter!(node_type, TypeKind::NodeType, node_types, NodeType);
    getter!(
        relationship_type,
        TypeKind::RelationshipType,
        relationship_types,
        RelationshipType
    );
    getter!(
        capability_type,
        TypeKind::CapabilityType,
        capability_types,
        TypeDef
    );
    getter!(
        requirement_type,
        TypeKind::RequirementType,
        requirement_types,
        RequirementType
    );
    getter!(
        artifact_type,
        TypeKind::ArtifactType,
        artifact_types,
        TypeDef
    );
    getter!(policy_type, TypeKind::PolicyType, policy_types, TypeDef);
    getter!(
        node_type_implementation,
        TypeKind::NodeTypeImplementation,
        node_type_implementations,
        NodeTypeImplementation
    );
    getter!(
        artifact_template,
        TypeKind::ArtifactTemplate,
        artifact_templates,
        ArtifactTemplate
    );
    getter!(
        policy_template,
        TypeKind::PolicyTemplate,
        policy_templates,
        PolicyTemplate
    );
    getter!(
        service_template,
        TypeKind::ServiceTemplate,
        service_templates,
        ServiceTemplate
    );

    lister!(node_types, TypeKind::NodeType, node_types, NodeType);
    lister!(
        relationship_types,
        TypeKind::RelationshipType,
        relationship_types,
        RelationshipType
    );
    lister!(
        capability_types,
        TypeKind::CapabilityType,
        capability_types,
        TypeDef
    );
    lister!(
        requirement_types,
        TypeKind::RequirementType,
        requirement_types,
        RequirementType
    );
    lister!(
        artifact_templates,
        TypeKind::ArtifactTemplate,
        artifact_templates,
        ArtifactTemplate
    );

    /// Every service template with the index of its file, in file order.
    pub fn service_templates(&self) -> Vec<(usize, &ServiceTemplate)> {
        self.files
            .iter()
            .enumerate()
            .flat_map(|(i, f)| f.definitions.service_templates.iter().map(move |s| (i, s)))
            .collect()
    }

    fn derived_from(&self, kind: TypeKind, q: &QName) -> Option<QName> {
        let loc = self.locate(kind, q)?;
        let d = &self.files[loc.file].definitions;
        let base = match kind {
            TypeKind::NodeType => &d.node_types.get(loc.item)?.base,
            TypeKind::RelationshipType => &d.relationship_types.get(loc.item)?.base,
            TypeKind::CapabilityType => &d.capability_types.get(loc.item)?.base,
            TypeKind::RequirementType => &d.requirement_types.get(loc.item)?.base,
            TypeKind::ArtifactType => &d.artifact_types.get(loc.item)?.base,
            TypeKind::PolicyType => &d.policy_types.get(loc.item)?.base,
            TypeKind::NodeTypeImplementation => &d.node_type_implementations.get(loc.item)?.base,
            TypeKind::RelationshipTypeImplementation => {
                &d.relationship_type_implementations.get(loc.item)?.base
            }
            _ => return None,
        };
        base.derived_from.clone()
    }

    /// `q` and its ancestors along DerivedFrom, nearest first; stops at a cycle or an unknown
    /// type (which is still listed).
    pub fn ancestry(&self, kind: TypeKind, q: &QName) -> Vec<QName> {
        let mut out = vec![q.clone()];
        let mut cur = q.clone();
        while let Some(parent) = self.derived_from(kind, &cur) {
            if out.contains(&parent) {
                break;
            }
            out.push(parent.clone());
            cur = parent;
        }
        out
    }

    /// True when `q` is `base` or derives from it.
    pub fn derives_from(&self, kind: TypeKind, q: &QName, base: &QName) -> bool {
        self.ancestry(kind, q).iter().any(|a| a == base)
    }

    /// The DerivedFrom cycle starting at `q`, if any.
    pub fn derivation_cycle(&self, kind: TypeKind, q: &QName) -> Option<Vec<QName>> {
        let chain = self.ancestry(kind, q);
        let last = chain.last()?;
        let next = self.derived_from(kind, last)?;
        chain.contains(&next).then_some(chain)
    }

    /// The node type and its resolved ancestors, nearest first.
    pub fn node_type_chain(&self, q: &QName) -> Vec<&NodeType> {
        self.ancestry(TypeKind::NodeType, q)
            .iter()
            .filter_map(|a| self.node_type(a))
            .collect()
    }

    /// The properties definition of a node type, inherited along DerivedFrom.
    pub fn node_properties_definition(&self, q: &QName) -> Option<&PropertiesDefinition> {
        self.node_type_chain(q)
            .into_iter()
            .find_map(|t| t.base.properties_definition.as_ref())
    }

    /// The properties definition of a relationship type, inherited along DerivedFrom.
    pub fn relationship_properties_definition(&self, q: &QName) -> Option<&PropertiesDefinition> {
        self.ancestry(TypeKind::RelationshipType, q)
            .iter()
            .filter_map(|a| self.relationship_type(a))
            .find_map(|t| t.base.properties_definition.as_ref())
    }

    /// The interfaces of a node type with inherited operations; a type's own operation
    /// overrides the one of its ancestors.
    pub fn node_interfaces(&self, q: &QName) -> Vec<Interface> {
        let mut out: Vec<Interface> = Vec::new();
        for t in self.node_type_chain(q) {
            for i in &t.interfaces {
                match out.iter_mut().find(|o| o.name == i.name) {
                    Some(existing) => {
                        for op in &i.operations {
                            if !existing.operations.iter().any(|o| o.name == op.name) {
                                existing.operations.push(op.clone());
                            }
                        }
                    }
                    None => out.push(i.clone()),
                }
            }
        }
        out
    }

    /// Requirement definitions of a node type, inherited along DerivedFrom.
    pub fn node_requirement_definitions(&self, q: &QName) -> Vec<&ReqCapDefinition> {
        let mut out: Vec<&ReqCapDefinition> = Vec::new();
        for t in self.node_type_chain(q) {
            for r in &t.requirement_definitions {
                if !out.iter().any(|o| o.name == r.name) {
                    out.push(r);
                }
            }
        }
        out
    }

    /// Capability definitions of a node type, inherited along DerivedFrom.
    pub fn node_capability_definitions(&self, q: &QName) -> Vec<&ReqCapDefinition> {
        let mut out: Vec<&ReqCapDefinition> = Vec::new();
        for t in self.node_type_chain(q) {
            for c in &t.capability_definitions {
                if !out.iter().any(|o| o.name == c.name) {
                    out.push(c);
                }
            }
        }
        out
    }

    /// Node type implementations whose nodeType is `q`.
    pub fn implementations_of(&self, q: &QName) -> Vec<&NodeTypeImplementation> {
        let mut v: Vec<&NodeTypeImplementation> = self
            .index
            .iter()
            .filter(|((k, _), _)| *k == TypeKind::NodeTypeImplementation)
            .filter_map(|(_, loc)| {
                self.files[loc.file]
                    .definitions
                    .node_type_implementations
                    .get(loc.item)
            })
            .filter(|i| i.node_type == *q)
            .collect();
        v.sort_by_key(|i| i.base.qname());
        v
    }

    /// Deployment artifacts of a node template: its own when it has any (they override the
    /// type's), else those of the nearest type implementation along DerivedFrom.
    pub fn deployment_artifacts_of(&self, node: &NodeTemplate) -> Vec<DeploymentArtifact> {
        let mut out = node.deployment_artifacts.clone();
        if !out.is_empty() {
            return out;
        }
        // The nearest type along DerivedFrom whose implementations carry artifacts provides
        // the defaults (a derived type's image replaces its parent's).
        for t in self.ancestry(TypeKind::NodeType, &node.type_ref) {
            let mut found = false;
            for imp in self.implementations_of(&t) {
                for da in &imp.deployment_artifacts {
                    found = true;
                    if !out.iter().any(|o| o.name == da.name) {
                        out.push(da.clone());
                    }
                }
            }
            if found {
                break;
            }
        }
        out
    }

    /// Every QName reference that does not resolve, as warnings naming file and line.
    pub fn unresolved_references(&self) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for f in &self.files {
            let d = &f.definitions;
            let mut check =
                |kinds: &[TypeKind], q: &QName, element: &str, what: &str, line: u32| {
                    if q.local.is_empty() {
                        return;
                    }
                    if !kinds.iter().any(|k| self.contains(*k, q)) {
                        out.push(
                            Diagnostic::warning(
                                "unresolved-reference",
                                element.to_string(),
                                format!("{what} {q} is not defined in the loaded files"),
                            )
                            .with_hint("open the Winery repository or CSAR that defines it")
                            .at(Some(f.path.clone()), line),
                        );
                    }
                };
            use TypeKind as K;
            for t in &d.node_types {
                let el = t.base.qname().to_string();
                if let Some(p) = &t.base.derived_from {
                    check(&[K::NodeType], p, &el, "parent node type", t.base.line);
                }
                for r in &t.requirement_definitions {
                    check(
                        &[K::RequirementType],
                        &r.type_ref,
                        &el,
                        "requirement type",
                        t.base.line,
                    );
                }
                for c in &t.capability_definitions {
                    check(
                        &[K::CapabilityType],
                        &c.type_ref,
                        &el,
                        "capability type",
                        t.base.line,
                    );
                }
            }
            for t in &d.relationship_types {
                let el = t.base.qname().to_string();
                if let Some(p) = &t.base.derived_from {
                    check(
                        &[K::RelationshipType],
                        p,
                        &el,
                        "parent relationship type",
                        t.base.line,
                    );
                }
                let ends = [K::NodeType, K::RequirementType, K::CapabilityType];
                if let Some(s) = &t.valid_source {
                    check(&ends, s, &el, "valid source", t.base.line);
                }
                if let Some(s) = &t.valid_target {
                    check(&ends, s, &el, "valid target", t.base.line);
                }
            }
            for t in &d.requirement_types {
                let el = t.base.qname().to_string();
                if let Some(c) = &t.required_capability_type {
                    check(
                        &[K::CapabilityType],
                        c,
                        &el,
                        "required capability type",
                        t.base.line,
                    );
                }
            }
            for (list, kind) in [
                (&d.capability_types, K::CapabilityType),
                (&d.artifact_types, K::ArtifactType),
                (&d.policy_types, K::PolicyType),
            ] {
                for t in list {
                    if let Some(p) = &t.base.derived_from {
                        check(
                            &[kind],
                            p,
                            &t.base.qname().to_string(),
                            "parent type",
                            t.base.line,
                        );
                    }
                }
            }
            for i in &d.node_type_implementations {
                let el = i.base.qname().to_string();
                check(&[K::NodeType], &i.node_type, &el, "node type", i.base.line);
                for a in &i.implementation_artifacts {
                    check(
                        &[K::ArtifactType],
                        &a.artifact_type,
                        &el,
                        "artifact type",
                        i.base.line,
                    );
                    if let Some(r) = &a.artifact_ref {
                        check(
                            &[K::ArtifactTemplate],
                            r,
                            &el,
                            "artifact template",
                            i.base.line,
                        );
                    }
                }
                for a in &i.deployment_artifacts {
                    check(
                        &[K::ArtifactType],
                        &a.artifact_type,
                        &el,
                        "artifact type",
                        i.base.line,
                    );
                    if let Some(r) = &a.artifact_ref {
                        check(
                            &[K::ArtifactTemplate],
                            r,
                            &el,
                            "artifact template",
                            i.base.line,
                        );
                    }
                }
            }
            for i in &d.relationship_type_implementations {
                let el = i.base.qname().to_string();
                check(
                    &[K::RelationshipType],
                    &i.relationship_type,
                    &el,
                    "relationship type",
                    i.base.line,
                );
            }
            for a in &d.artifact_templates {
                check(
                    &[K::ArtifactType],
                    &a.type_ref,
                    &a.qname().to_string(),
                    "artifact type",
                    a.line,
                );
            }
            for p in &d.policy_templates {
                check(
                    &[K::PolicyType],
                    &p.type_ref,
                    &p.qname().to_string(),
                    "policy type",
                    p.line,
                );
            }
            for st in &d.service_templates {
                for n in &st.topology.node_templates {
                    check(&[K::NodeType], &n.type_ref, &n.id, "node type", n.line);
                    for r in &n.requirements {
                        check(
                            &[K::RequirementType],
                            &r.type_ref,
                            &n.id,
                            "requirement type",
                            n.line,
                        );
                    }
                    for c in &n.capabilities {
                        check(
                            &[K::CapabilityType],
                            &c.type_ref,
                            &n.id,
                            "capability type",
                            n.line,
                        );
                    }
                    for a in &n.deployment_artifacts {
                        check(
                            &[K::ArtifactType],
                            &a.artifact_type,
                            &n.id,
                            "artifact type",
                            n.line,
                        );
                        if let Some(r) = &a.artifact_ref {
                            check(
                                &[K::ArtifactTemplate],
                                r,
                                &n.id,
                                "artifact template",
                                n.line,
                            );
                        }
                    }
                    for p in &n.policies {
                        check(
                            &[K::PolicyType],
                            &p.policy_type,
                            &n.id,
                            "policy type",
                            n.line,
                        );
                        if let Some(r) = &p.policy_ref {
                            check(&[K::PolicyTemplate], r, &n.id, "policy template", n.line);
                        }
                    }
                }
                for r in &st.topology.relationship_templates {
                    check(
                        &[K::RelationshipType],
                        &r.type_ref,
                        &r.id,
                        "relationship type",
                        r.line,
                    );
                }
            }
        }
        out
    }
}
