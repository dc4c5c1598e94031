//! The editor state: the open document (a library plus the service template being edited),
//! selection, view, undo history, diagnostics and deploy overlays. Panels read it and change it
//! only through [`Command`](super::commands::Command)s.

use provisio_model::tosca::{NodeTemplate, ServiceTemplate, TopologyTemplate};
use provisio_model::{Diagnostic, Library, Loaded, QName};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// What is selected.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Selected {
    Node(String),
    Relationship(String),
}

/// Canvas transform: screen = origin + pan + world × zoom.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct View {
    pub pan: egui::Vec2,
    pub zoom: f32,
}

impl Default for View {
    fn default() -> Self {
        View {
            pan: egui::vec2(40.0, 40.0),
            zoom: 1.0,
        }
    }
}

/// The state of one node during a deploy (issue 9 overlays).
#[derive(Debug, Clone, PartialEq)]
pub enum NodeRun {
    Pending,
    Running(String),
    Done,
    Failed(String),
    Skipped(String),
    /// Torn down by a finished undeploy (also after reopening the topology).
    Undeployed,
}

/// After an undeploy that converged: nodes show "undeployed", not the "done" of its steps.
pub fn mark_undeployed(overlays: &mut std::collections::BTreeMap<String, NodeOverlay>) {
    for o in overlays.values_mut() {
        if o.run.is_some() {
            o.run = Some(NodeRun::Undeployed);
        }
    }
}

/// One device marker on a device-group node.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceMarker {
    pub id: String,
    pub state: provisio_engines::events::DeviceState,
    pub last_message: Option<String>,
}

/// What the canvas draws over a node while or after deploying.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeOverlay {
    /// `None` for nodes without lifecycle steps (hardware): no badge.
    pub run: Option<NodeRun>,
    pub devices: Vec<DeviceMarker>,
}

/// The open document.
pub struct Document {
    pub loaded: Loaded,
    /// Index of the library file holding the service template.
    pub file: usize,
    /// Index of the service template in that file.
    pub st_index: usize,
    /// Where Save writes (`None`: ask, e.g. for a built-in example).
    pub save_path: Option<PathBuf>,
}

impl Document {
    pub fn library(&self) -> &Library {
        &self.loaded.library
    }

    pub fn st(&self) -> &ServiceTemplate {
        &self
            .loaded
            .library
            .file(self.file)
            .definitions
            .service_templates[self.st_index]
    }

    pub fn st_mut(&mut self) -> &mut ServiceTemplate {
        &mut self
            .loaded
            .library
            .definitions_mut(self.file)
            .service_templates[self.st_index]
    }

    pub fn topology(&self) -> &TopologyTemplate {
        &self.st().topology
    }

    pub fn node(&self, id: &str) -> Option<&NodeTemplate> {
        self.topology().node(id)
    }

    /// The XML to save: the whole Definitions file of the service template.
    pub fn to_xml(&self) -> String {
        self.loaded.library.file(self.file).definitions.to_xml()
    }

    pub fn title(&self) -> String {
        let st = self.st();
        let name = st.name.clone().unwrap_or_else(|| st.id.clone());
        match &self.save_path {
            Some(p) => format!("{name} — {}", p.display()),
            None => name,
        }
    }
}

/// Everything the editor shows and edits.
pub struct EditorState {
    pub doc: Document,
    pub selection: BTreeSet<Selected>,
    pub view: View,
    pub undo: Vec<(TopologyTemplate, Option<String>)>,
    pub redo: Vec<TopologyTemplate>,
    pub dirty: bool,
    pub diagnostics: Vec<Diagnostic>,
    pub overlays: BTreeMap<String, NodeOverlay>,
    pub status: String,
    pub palette_filter: String,
    pub clipboard: Vec<NodeTemplate>,
    /// A relationship being created: source, target and the types offered.
    pub connect_menu: Option<ConnectMenu>,
    /// Fit the view to the topology on the next frame.
    pub fit_requested: bool,
    /// Scroll the view so the selection is centred on the next frame.
    pub center_on_selection: bool,
    /// Transient canvas interaction (connection drag, box selection).
    pub canvas: super::canvas::CanvasState,
}

/// The popup offering valid relationship types for a new connection.
#[derive(Debug, Clone)]
pub struct ConnectMenu {
    pub source: String,
    pub target: String,
    pub types: Vec<QName>,
    pub at: egui::Pos2,
}

impl EditorState {
    pub fn new(doc: Document) -> Self {
        let mut s = EditorState {
            doc,
            selection: BTreeSet::new(),
            view: View::default(),
            undo: Vec::new(),
            redo: Vec::new(),
            dirty: false,
            diagnostics: Vec::new(),
            overlays: BTreeMap::new(),
            status: String::new(),
            palette_filter: String::new(),
            clipboard: Vec::new(),
            connect_menu: None,
            fit_requested: true,
            center_on_selection: false,
            canvas: Default::default(),
        };
        s.revalidate();
        s
    }

    /// Recomputes diagnostics of the open service template.
    pub fn revalidate(&mut self) {
        self.diagnostics = super::diagnostics::compute(&self.doc);
    }

    pub fn selected_nodes(&self) -> Vec<String> {
        self.selection
            .iter()
            .filter_map(|s| match s {
                Selected::Node(id) => Some(id.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn is_selected_node(&self, id: &str) -> bool {
        self.selection.contains(&Selected::Node(id.to_string()))
    }

    /// Diagnostics concerning `element`.
    pub fn diagnostics_for(&self, element: &str) -> impl Iterator<Item = &Diagnostic> {
        let element = element.to_string();
        self.diagnostics
            .iter()
            .filter(move |d| d.element == element)
    }
}
