//! Every edit is a command applied to the editor state. Before applying, the topology is
//! snapshotted, so undo/redo is one mechanism for all edits; consecutive edits of the same
//! field (typing, dragging) coalesce into one undo step.

use super::state::{EditorState, Selected};
use provisio_model::QName;
use provisio_model::tosca::{NodeTemplate, Properties, PropertiesDefinition, RelationshipTemplate};

/// An edit of the open topology.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// A new node template of `type_ref` with its top-left corner at (x, y).
    AddNode {
        type_ref: QName,
        x: f64,
        y: f64,
    },
    /// Move node templates by (dx, dy); `coalesce` merges with the previous move (a drag).
    MoveNodes {
        ids: Vec<String>,
        dx: f64,
        dy: f64,
        coalesce: bool,
    },
    /// Delete the selected node and relationship templates (and relationships of deleted nodes).
    DeleteSelection,
    Connect {
        source: String,
        target: String,
        type_ref: QName,
    },
    SetProperty {
        node: String,
        key: String,
        value: String,
    },
    Rename {
        node: String,
        name: String,
    },
    /// Change a node template's id (relationships follow).
    SetId {
        node: String,
        id: String,
    },
    SetInstances {
        node: String,
        min: u32,
        max: provisio_model::tosca::MaxInstances,
    },
    /// Paste node templates (ids made unique, shifted by the offset).
    Paste {
        nodes: Vec<NodeTemplate>,
        dx: f64,
        dy: f64,
    },
    /// Stack hosts under what they host and align groups.
    AutoLayout,
}

impl EditorState {
    /// Applies `cmd`: snapshot for undo, change, mark dirty, revalidate.
    pub fn apply(&mut self, cmd: Command) {
        let key = coalesce_key(&cmd);
        let merge = key.is_some() && self.undo.last().is_some_and(|(_, k)| *k == key);
        if !merge {
            self.undo.push((self.doc.topology().clone(), key));
            if self.undo.len() > 500 {
                self.undo.remove(0);
            }
        }
        self.redo.clear();
        self.execute(cmd);
        self.dirty = true;
        self.revalidate();
    }

    /// Ends coalescing (e.g. when a drag or an edit field ends).
    pub fn seal(&mut self) {
        if let Some(last) = self.undo.last_mut() {
            last.1 = None;
        }
    }

    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }

    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }

    pub fn undo(&mut self) {
        if let Some((topo, _)) = self.undo.pop() {
            let current = std::mem::replace(&mut self.doc.st_mut().topology, topo);
            self.redo.push(current);
            self.after_history();
        }
    }

    pub fn redo(&mut self) {
        if let Some(topo) = self.redo.pop() {
            let current = std::mem::replace(&mut self.doc.st_mut().topology, topo);
            self.undo.push((current, None));
            self.after_history();
        }
    }

    fn after_history(&mut self) {
        let topo = self.doc.topology();
        self.selection.retain(|s| match s {
            Selected::Node(id) => topo.node(id).is_some(),
            Selected::Relationship(id) => topo.relationship_templates.iter().any(|r| r.id == *id),
        });
        self.dirty = true;
        self.revalidate();
    }

    fn execute(&mut self, cmd: Command) {
        match cmd {
            Command::AddNode { type_ref, x, y } => {
                let topo = self.doc.topology();
                let id = topo.unique_id(&type_ref.local);
                let mut node = NodeTemplate::new(&id, type_ref.clone(), x, y);
                node.properties =
                    default_properties(self.doc.library().node_properties_definition(&type_ref));
                self.doc.st_mut().topology.node_templates.push(node);
                self.selection.clear();
                self.selection.insert(Selected::Node(id));
            }
            Command::MoveNodes { ids, dx, dy, .. } => {
                let topo = &mut self.doc.st_mut().topology;
                for id in ids {
                    if let Some(n) = topo.node_mut(&id) {
                        n.x = Some((n.x.unwrap_or(0.0) + dx).round());
                        n.y = Some((n.y.unwrap_or(0.0) + dy).round());
                    }
                }
            }
            Command::DeleteSelection => {
                let nodes: Vec<String> = self.selected_nodes();
                let rels: Vec<String> = self
                    .selection
                    .iter()
                    .filter_map(|s| match s {
                        Selected::Relationship(id) => Some(id.clone()),
                        _ => None,
                    })
                    .collect();
                let topo = &mut self.doc.st_mut().topology;
                let owned: Vec<String> = topo
                    .node_templates
                    .iter()
                    .filter(|n| nodes.contains(&n.id))
                    .flat_map(|n| {
                        std::iter::once(n.id.clone())
                            .chain(n.requirements.iter().map(|r| r.id.clone()))
                            .chain(n.capabilities.iter().map(|c| c.id.clone()))
                    })
                    .collect();
                topo.node_templates.retain(|n| !nodes.contains(&n.id));
                topo.relationship_templates.retain(|r| {
                    !rels.contains(&r.id)
                        && !owned.contains(&r.source)
                        && !owned.contains(&r.target)
                });
                self.selection.clear();
            }
            Command::Connect {
                source,
                target,
                type_ref,
            } => {
                let topo = self.doc.topology();
                let id = topo.unique_id(&format!("con_{source}_{target}"));
                let rel = RelationshipTemplate::new(&id, type_ref, &source, &target);
                self.doc.st_mut().topology.relationship_templates.push(rel);
                self.selection.clear();
                self.selection.insert(Selected::Relationship(id));
            }
            Command::SetProperty { node, key, value } => {
                let def = self.doc.node(&node).and_then(|n| {
                    self.doc
                        .library()
                        .node_properties_definition(&n.type_ref)
                        .cloned()
                });
                if let Some(n) = self.doc.st_mut().topology.node_mut(&node) {
                    if n.properties.is_none() {
                        n.properties = default_properties(def.as_ref()).or_else(|| {
                            Some(Properties::new_kv(
                                "http://provisio.dev/tosca/nodetypes/propertiesdefinition/winery",
                                "Properties",
                                &[],
                            ))
                        });
                    }
                    if let Some(p) = &mut n.properties {
                        p.set(&key, &value);
                    }
                }
            }
            Command::Rename { node, name } => {
                if let Some(n) = self.doc.st_mut().topology.node_mut(&node) {
                    n.name = Some(name);
                }
            }
            Command::SetId { node, id } => {
                let taken = self.doc.topology().unique_id(&id) != id;
                if id.is_empty() || taken {
                    self.status = format!("id '{id}' is empty or already used");
                    return;
                }
                let topo = &mut self.doc.st_mut().topology;
                if let Some(n) = topo.node_mut(&node) {
                    n.id = id.clone();
                }
                for r in &mut topo.relationship_templates {
                    if r.source == node {
                        r.source = id.clone();
                    }
                    if r.target == node {
                        r.target = id.clone();
                    }
                }
                self.selection.remove(&Selected::Node(node));
                self.selection.insert(Selected::Node(id));
            }
            Command::SetInstances { node, min, max } => {
                if let Some(n) = self.doc.st_mut().topology.node_mut(&node) {
                    n.min_instances = min;
                    n.max_instances = max;
                }
            }
            Command::Paste { nodes, dx, dy } => {
                self.selection.clear();
                for mut n in nodes {
                    let id = self.doc.topology().unique_id(&n.id);
                    n.detach();
                    n.id = id.clone();
                    n.x = Some(n.x.unwrap_or(0.0) + dx);
                    n.y = Some(n.y.unwrap_or(0.0) + dy);
                    n.requirements.clear();
                    n.capabilities.clear();
                    self.doc.st_mut().topology.node_templates.push(n);
                    self.selection.insert(Selected::Node(id));
                }
            }
            Command::AutoLayout => super::layout::auto_layout(&mut self.doc),
        }
    }
}

fn coalesce_key(cmd: &Command) -> Option<String> {
    match cmd {
        Command::MoveNodes {
            ids,
            coalesce: true,
            ..
        } => Some(format!("move:{}", ids.join(","))),
        Command::SetProperty { node, key, .. } => Some(format!("prop:{node}:{key}")),
        Command::Rename { node, .. } => Some(format!("name:{node}")),
        _ => None,
    }
}

/// Empty key/value properties for a type's Winery properties definition.
pub fn default_properties(def: Option<&PropertiesDefinition>) -> Option<Properties> {
    match def? {
        PropertiesDefinition::KeyValue {
            element_name,
            namespace,
            properties,
        } => {
            let entries: Vec<(String, String)> = properties
                .iter()
                .map(|p| (p.key.clone(), p.default.clone().unwrap_or_default()))
                .collect();
            Some(Properties::new_kv(namespace, element_name, &entries))
        }
        _ => None,
    }
}
