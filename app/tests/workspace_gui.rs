//! The architect's workspace driven like a user with egui_kittest: browse the OpenTOSCA
//! repository and open the third service template; create a service template and save it into
//! a repository (the file appears where Winery puts it); define a node type with a property and
//! an operation, use it in a topology, reopen the repository and find both.

mod common;
use common::copy_tree;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use provisio_app::gui::ProvisioApp;
use provisio_app::gui::browser;
use provisio_app::gui::files;
use provisio_app::gui::workspace::Centre;
use provisio_model::QName;
use provisio_model::tosca::TypeKind;
use std::path::{Path, PathBuf};

fn opentosca() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/corpus/opentosca-public")
}

fn harness(app: ProvisioApp) -> Harness<'static, ProvisioApp> {
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 860.0))
        .build_ui_state(|ui, app: &mut ProvisioApp| app.ui(ui), app);
    settle(&mut h);
    h
}

fn settle(h: &mut Harness<'static, ProvisioApp>) {
    h.run_steps(6);
}

/// Replaces the text of the field labelled `label` by `text`, as a user would.
fn retype(h: &mut Harness<'static, ProvisioApp>, label: &str, text: &str) {
    h.get_by_label(label).focus();
    settle(h);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.get_by_label(label).type_text(text);
    settle(h);
}

/// Clicks a browser row (the last widget with that label: a tab of the same name comes first).
fn click_row(h: &mut Harness<'static, ProvisioApp>, label: &str) {
    h.get_all_by_label(label).last().unwrap().click();
    settle(h);
}

#[test]
fn browse_the_opentosca_repository_and_open_the_third_service_template() {
    let doc = files::open_path(&opentosca()).unwrap();
    let mut h = harness(ProvisioApp::with_document(doc));
    assert_eq!(h.state().workspace.centre, Centre::Browser);
    let rows = browser::service_templates_in_order(h.state().state.doc.library());
    assert!(rows.len() > 20, "{} service templates", rows.len());
    // Counts are shown per category.
    h.get_by_label(&format!("Service templates ({})", rows.len()));
    let nts = browser::type_rows(h.state().state.doc.library(), TypeKind::NodeType, "");
    let n_types: usize = nts.values().map(Vec::len).sum();
    assert!(n_types > 100);
    h.get_by_label(&format!("Node types ({n_types})"));

    // Search narrows the list.
    retype(&mut h, "Search", "mytinytodo");
    let filtered = browser::service_template_rows(h.state().state.doc.library(), "mytinytodo");
    let n: usize = filtered.values().map(Vec::len).sum();
    assert!(n >= 3 && n < rows.len(), "{n}");
    h.get_by_label(&format!("Service templates ({n})"));
    h.get_by_label("Clear").click();
    settle(&mut h);
    h.get_by_label(&format!("Service templates ({})", rows.len()));

    // Open the third one.
    let third = rows[2].clone();
    click_row(&mut h, &third.qname.local);
    settle(&mut h);
    h.get_by_label("Open in editor").click();
    settle(&mut h);
    let app = h.state();
    assert_eq!(app.workspace.centre, Centre::Editor);
    assert_eq!(app.state.doc.st().qname(), third.qname);
    assert_eq!(app.workspace.tabs, vec![third.tab]);
    assert_eq!(
        app.state.doc.topology().node_templates.len(),
        third.nodes,
        "the canvas shows its topology"
    );
    // Back to the browser and open the fifth as a second tab; the first tab stays.
    h.get_by_label("Browser").click();
    settle(&mut h);
    let fifth = rows[4].clone();
    click_row(&mut h, &fifth.qname.local);
    settle(&mut h);
    h.get_by_label("Open in editor").click();
    settle(&mut h);
    assert_eq!(h.state().state.doc.st().qname(), fifth.qname);
    assert_eq!(h.state().workspace.tabs.len(), 2);
    // Switch back through the tab bar.
    let third_label = third.name.clone().unwrap_or(third.qname.local.clone());
    h.get_all_by_label(&third_label).next().unwrap().click();
    settle(&mut h);
    assert_eq!(h.state().state.doc.st().qname(), third.qname);
}

#[test]
fn a_new_service_template_is_saved_where_winery_puts_it() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("repo");
    copy_tree(&opentosca(), &root);
    let doc = files::open_path(&root).unwrap();
    let mut h = harness(ProvisioApp::with_document(doc));
    h.get_by_label("New service template…").click();
    settle(&mut h);
    retype(&mut h, "Namespace", "http://example.org/servicetemplates");
    retype(&mut h, "Id", "GreenhouseMonitor");
    h.get_by_label("OK").click();
    settle(&mut h);
    let file = root.join(
        "servicetemplates/http%3A%2F%2Fexample.org%2Fservicetemplates/GreenhouseMonitor/ServiceTemplate.tosca",
    );
    assert!(file.exists(), "created at {}", file.display());
    let app = h.state();
    assert_eq!(app.workspace.centre, Centre::Editor);
    assert_eq!(app.state.doc.st().id, "GreenhouseMonitor");
    assert_eq!(app.state.doc.save_path.as_deref(), Some(file.as_path()));

    // Rename it (namespace and id): the folder moves.
    h.get_by_label("Browser").click();
    settle(&mut h);
    click_row(&mut h, "GreenhouseMonitor");
    settle(&mut h);
    h.get_by_label("Rename…").click();
    settle(&mut h);
    retype(&mut h, "Namespace", "http://example.org/iot");
    retype(&mut h, "Id", "Greenhouse");
    h.get_by_label("OK").click();
    settle(&mut h);
    let renamed = root
        .join("servicetemplates/http%3A%2F%2Fexample.org%2Fiot/Greenhouse/ServiceTemplate.tosca");
    assert!(renamed.exists() && !file.exists());
    // Duplicate, then delete the copy.
    click_row(&mut h, "Greenhouse");
    settle(&mut h);
    h.get_by_label("Duplicate…").click();
    settle(&mut h);
    h.get_by_label("OK").click();
    settle(&mut h);
    let copy = root.join(
        "servicetemplates/http%3A%2F%2Fexample.org%2Fiot/Greenhouse_copy/ServiceTemplate.tosca",
    );
    assert!(copy.exists());
    click_row(&mut h, "Greenhouse_copy");
    settle(&mut h);
    h.get_by_label("Delete…").click();
    settle(&mut h);
    h.get_by_label("Delete").click();
    settle(&mut h);
    assert!(!copy.exists() && renamed.exists());
    assert!(h.query_by_label("Greenhouse_copy").is_none());
    let reopened = provisio_model::load_path(&root).unwrap();
    assert!(
        reopened
            .library
            .service_template(&QName::new("http://example.org/iot", "Greenhouse"))
            .is_some()
    );
}

#[test]
fn a_new_node_type_is_used_in_a_topology_and_both_are_found_after_reopening() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("repo");
    copy_tree(&opentosca(), &root);
    let doc = files::open_path(&root).unwrap();
    let mut h = harness(ProvisioApp::with_document(doc));

    // Define the type from the browser's node type list.
    h.get_by_label_contains("Node types (").click();
    settle(&mut h);
    h.get_by_label("New node type…").click();
    settle(&mut h);
    assert_eq!(h.state().workspace.centre, Centre::TypeEditor);
    retype(&mut h, "Type name", "AirSensor");
    retype(&mut h, "Type namespace", "http://example.org/nodetypes");
    h.get_by_label("Add property").click();
    settle(&mut h);
    h.get_all_by_value("property1").next().unwrap().focus();
    settle(&mut h);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.get_all_by_value("property1")
        .next()
        .unwrap()
        .type_text("interval");
    settle(&mut h);
    h.get_by_label("Add operation").click();
    settle(&mut h);
    // An implementation artifact for the operation: the file the picker returned is copied.
    h.get_by_label("Add artifact").click();
    settle(&mut h);
    let script = tmp.path().join("install.sh");
    std::fs::write(&script, "#!/bin/sh\necho installing\n").unwrap();
    h.state_mut()
        .workspace
        .type_editor
        .as_mut()
        .unwrap()
        .artifacts[0]
        .file = script.display().to_string();
    h.get_by_label("Save type").click();
    settle(&mut h);
    let copied = root.join(
        "artifacttemplates/http%3A%2F%2Fexample.org%2Fartifacttemplates/AirSensor_artifact1/files/install.sh",
    );
    assert_eq!(
        std::fs::read(&copied).unwrap(),
        std::fs::read(&script).unwrap()
    );
    let q = QName::new("http://example.org/nodetypes", "AirSensor");
    let nt_file =
        root.join("nodetypes/http%3A%2F%2Fexample.org%2Fnodetypes/AirSensor/NodeType.tosca");
    assert!(
        nt_file.exists(),
        "{:?}",
        h.state().workspace.type_editor.as_ref().unwrap().message
    );
    assert!(h.state().state.doc.library().node_type(&q).is_some());

    // Open a topology; the palette offers the new type at once: drag it onto the canvas.
    h.get_by_label("Browser").click();
    settle(&mut h);
    h.get_by_label_contains("Service templates (").click();
    settle(&mut h);
    let rows = browser::service_templates_in_order(h.state().state.doc.library());
    let st = rows[2].clone();
    click_row(&mut h, &st.qname.local);
    settle(&mut h);
    h.get_by_label("Open in editor").click();
    settle(&mut h);
    h.get_by_label("example.org/nodetypes").click();
    settle(&mut h);
    let from = h.get_by_label("AirSensor").rect().center();
    let to = h.state().state.canvas.rect.center() + egui::vec2(0.0, 200.0);
    h.drag_at(from);
    settle(&mut h);
    h.hover_at(from + egui::vec2(30.0, 10.0));
    settle(&mut h);
    h.hover_at(to);
    settle(&mut h);
    h.drop_at(to);
    settle(&mut h);
    let app = h.state();
    let node = app
        .state
        .doc
        .topology()
        .node_templates
        .iter()
        .find(|n| n.type_ref == q)
        .expect("a node of the new type")
        .clone();
    // It was made from the new definition (its property) and validates against it.
    assert!(node.property("interval").is_some(), "{node:?}");
    assert!(
        !app.state
            .diagnostics_for(&node.id)
            .any(|d| d.code == "unknown-type" || d.code == "missing-property"),
        "{:?}",
        app.state.diagnostics
    );
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::S);
    settle(&mut h);
    assert!(!h.state().state.dirty, "saved");

    // Reopen the repository: both are there.
    let reopened = provisio_model::load_path(&root).unwrap();
    let lib = &reopened.library;
    let t = lib.node_type(&q).expect("the node type");
    assert_eq!(
        t.base.properties_definition.as_ref().unwrap().keys()[0].key,
        "interval"
    );
    assert!(
        t.operation(provisio_model::tosca::LIFECYCLE_INTERFACE, "install")
            .is_some()
    );
    let imp = lib.implementations_of(&q);
    assert_eq!(imp.len(), 1);
    assert_eq!(
        imp[0].implementation_artifacts[0].operation_name.as_deref(),
        Some("install")
    );
    let saved = lib.service_template(&st.qname).unwrap();
    assert!(
        saved
            .topology
            .node_templates
            .iter()
            .any(|n| n.id == node.id && n.type_ref == q)
    );
    // The service template was saved into its own file only.
    assert_eq!(
        lib.locate(TypeKind::ServiceTemplate, &st.qname)
            .map(|l| lib.file(l.file).path.clone()),
        Some(
            provisio_model::repository::Repository::new(&root)
                .element_file(TypeKind::ServiceTemplate, &st.qname)
        )
    );
}

#[test]
fn winery_small_icons_show_in_palette_and_browser() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("repo");
    let repo = provisio_model::repository::Repository::new(&root);
    // A node type with Winery's appearance/smallIcon.png, and a service template using it.
    let q = QName::new("http://example.org/nodetypes", "Lamp");
    let mut defs = provisio_model::repository::new_definitions(TypeKind::NodeType, &q);
    provisio_model::repository::upsert_node_type(
        &mut defs,
        provisio_model::tosca::NodeType {
            base: provisio_model::tosca::EntityType {
                name: q.local.clone(),
                target_namespace: q.namespace.clone(),
                ..Default::default()
            },
            ..Default::default()
        },
    );
    let nt_file = repo.write(TypeKind::NodeType, &q, &defs).unwrap();
    let mut png_bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut png_bytes, 16, 16);
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().unwrap();
        w.write_image_data(&[200u8, 30, 30, 255].repeat(256))
            .unwrap();
    }
    let icon = nt_file.parent().unwrap().join("appearance/smallIcon.png");
    std::fs::create_dir_all(icon.parent().unwrap()).unwrap();
    std::fs::write(&icon, &png_bytes).unwrap();
    repo.create_service_template(&QName::new("http://example.org/st", "Room"))
        .unwrap();

    let doc = files::open_path(&root).unwrap();
    let mut h = harness(ProvisioApp::with_document(doc));
    let tex = provisio_app::gui::icons::small_icon(&h.ctx, &h.state().state, &q).expect("icon");
    assert_eq!(tex.size(), [16, 16]);
    // A type without an icon has none.
    let other = QName::new("http://example.org/nodetypes", "Nothing");
    assert!(provisio_app::gui::icons::small_icon(&h.ctx, &h.state().state, &other).is_none());
    // The browser lists the type with its icon; the palette after opening the topology too.
    h.get_by_label_contains("Node types (").click();
    settle(&mut h);
    h.get_by_label("Lamp");
    h.get_by_label_contains("Service templates (").click();
    settle(&mut h);
    click_row(&mut h, "Room");
    h.get_by_label("Open in editor").click();
    settle(&mut h);
    h.get_by_label("example.org/nodetypes").click();
    settle(&mut h);
    h.get_by_label("Lamp");
    assert!(provisio_app::gui::icons::decode_png(b"not a png").is_none());
}

#[test]
fn a_relationship_type_is_created_from_the_repository_menu() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("repo");
    let repo = provisio_model::repository::Repository::new(&root);
    repo.create_service_template(&QName::new("http://example.org/st", "Room"))
        .unwrap();
    let doc = files::open_path(&root).unwrap();
    let mut h = harness(ProvisioApp::with_document(doc));
    // The menu (the browser's heading has the same text and comes later).
    h.get_all_by_label("Repository").next().unwrap().click();
    settle(&mut h);
    h.get_by_label("New relationship type…").click();
    settle(&mut h);
    retype(&mut h, "Type name", "ReportsTo");
    retype(
        &mut h,
        "Type namespace",
        "http://example.org/relationshiptypes",
    );
    h.get_by_label("Save type").click();
    settle(&mut h);
    let file = root.join(
        "relationshiptypes/http%3A%2F%2Fexample.org%2Frelationshiptypes/ReportsTo/RelationshipType.tosca",
    );
    assert!(file.exists());
    let q = QName::new("http://example.org/relationshiptypes", "ReportsTo");
    let reopened = provisio_model::load_path(&root).unwrap();
    let t = reopened.library.relationship_type(&q).expect("the type");
    assert_eq!(
        t.base.derived_from.as_ref().map(|d| d.local.as_str()),
        Some("ConnectsTo")
    );
    // Invalid names are refused with a message, nothing is written.
    retype(&mut h, "Type name", "bad name");
    h.get_by_label("Save type").click();
    settle(&mut h);
    let msg = h
        .state()
        .workspace
        .type_editor
        .as_ref()
        .unwrap()
        .message
        .clone();
    assert!(
        matches!(msg, Some((false, ref m)) if m.contains("not a valid id")),
        "{msg:?}"
    );
}

/// Two long-named service templates open as tabs in a 1024x640 window: their names elide so
/// both tabs (with their close buttons) stay in view, and the full name is on hover.
#[test]
fn long_tab_names_elide_so_two_tabs_fit_a_small_window() {
    let doc = files::open_path(&opentosca()).unwrap();
    let mut h = Harness::builder()
        .with_size(egui::vec2(1024.0, 640.0))
        .build_ui_state(
            |ui, app: &mut ProvisioApp| app.ui(ui),
            ProvisioApp::with_document(doc),
        );
    settle(&mut h);
    let mut rows = browser::service_templates_in_order(h.state().state.doc.library());
    rows.sort_by_key(|r| std::cmp::Reverse(r.qname.local.len()));
    for r in &rows[..2] {
        provisio_app::gui::workspace::open_tab(h.state_mut(), r.tab);
        settle(&mut h);
    }
    let inspector = h.get_by_label("Inspector").rect();
    for r in &rows[..2] {
        let name = r.name.clone().unwrap_or(r.qname.local.clone());
        assert!(name.len() > 28, "a long name: {name}");
        let tab = h
            .get_all_by_label(&name)
            .map(|n| n.rect())
            .find(|rect| rect.min.y < 60.0 && rect.min.x < inspector.min.x)
            .unwrap_or_else(|| panic!("tab {name}"));
        assert!(tab.max.x <= inspector.min.x, "{name} in view: {tab:?}");
        assert!(
            tab.width() <= 2.0 * provisio_app::gui::workspace::TAB_LABEL_WIDTH + 1.0,
            "{name}: {tab:?}"
        );
    }
    for close in h.get_all_by_label("x") {
        let r = close.rect();
        assert!(r.max.x <= inspector.min.x, "close button in view: {r:?}");
    }
    assert_eq!(h.get_all_by_label("x").count(), 2);
}

/// Searching the palette opens the namespace a match is in, even one the user never opened.
#[test]
fn a_palette_search_shows_matches_in_closed_namespaces() {
    let doc = files::open_path(&opentosca()).unwrap();
    let mut h = harness(ProvisioApp::with_document(doc));
    let first = browser::service_templates_in_order(h.state().state.doc.library())[0].tab;
    provisio_app::gui::workspace::open_tab(h.state_mut(), first);
    settle(&mut h);
    // A type of the repository's own namespace (closed by default) that the canvas doesn't show.
    let lib = h.state().state.doc.library();
    let topo = h.state().state.doc.topology();
    let shown: Vec<String> = topo
        .node_templates
        .iter()
        .flat_map(|n| [n.id.clone(), n.type_ref.local.clone()])
        .collect();
    let name = lib
        .node_types()
        .iter()
        .map(|t| t.base.qname())
        .find(|q| {
            q.namespace == "http://opentosca.org/nodetypes"
                && !shown.contains(&q.local)
                && !lib.node_types().iter().any(|t| {
                    let o = t.base.qname();
                    o != *q && o.local.contains(&q.local)
                })
                && !lib
                    .node_types()
                    .iter()
                    .any(|t| t.base.is_abstract && t.base.qname() == *q)
        })
        .expect("a type to search for")
        .local;
    assert_eq!(h.query_all_by_label(&name).count(), 0, "closed at first");
    h.state_mut().state.palette_filter = name.to_lowercase();
    settle(&mut h);
    assert_eq!(h.query_all_by_label(&name).count(), 1, "{name} found");
}

/// After a deploy of one service template, switching to another tab keeps the run's steps and
/// log in the deploy panel but says whose they are.
#[test]
fn the_deploy_panel_names_the_service_template_of_the_run_it_shows() {
    let doc = files::open_path(&opentosca()).unwrap();
    let mut app = ProvisioApp::with_document(doc);
    let rows = browser::service_templates_in_order(app.state.doc.library());
    provisio_app::gui::workspace::open_tab(&mut app, rows[0].tab);
    app.deploy.run_of = Some(rows[0].qname.to_string());
    app.deploy.log.push((
        provisio_engines::events::Level::Info,
        "a step of the first".into(),
    ));
    app.tab = provisio_app::gui::BottomTab::Deploy;
    let mut h = harness(app);
    let note = format!("steps and log of {}", rows[0].qname.local);
    assert!(h.query_by_label(&note).is_none(), "its own run: no note");
    provisio_app::gui::workspace::open_tab(h.state_mut(), rows[1].tab);
    settle(&mut h);
    assert!(h.query_by_label(&note).is_some(), "{note}");
}

/// Export CSAR and Save as from a repository suggest a file beside the repository, never one
/// inside it (which would add a stray file to the repository).
#[test]
fn a_repository_suggests_exports_beside_it() {
    let doc = files::open_path(&opentosca()).unwrap();
    let mut app = ProvisioApp::with_document(doc);
    let rows = browser::service_templates_in_order(app.state.doc.library());
    provisio_app::gui::workspace::open_tab(&mut app, rows[2].tab);
    let repo = std::fs::canonicalize(opentosca()).unwrap();
    let suggested = PathBuf::from(app.suggested_path("x.csar"));
    assert_eq!(suggested, repo.parent().unwrap().join("x.csar"));
}

/// Opens the Repository menu's `item` (the browser's heading "Repository" comes later).
fn repository_menu(h: &mut Harness<'static, ProvisioApp>, item: &str) {
    h.get_all_by_label("Repository").next().unwrap().click();
    settle(h);
    h.get_by_label(item).click();
    settle(h);
}

/// The type editor's tab has a close button like a service template's. A form left as opened
/// closes at once; one with unsaved edits asks first: Cancel keeps the edits, Discard drops
/// them (nothing written), Save writes the type and then closes. "Close type editor" and
/// opening another type ask the same.
#[test]
fn the_type_tab_closes_and_asks_before_dropping_unsaved_edits() {
    use provisio_app::gui::Modal;
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("repo");
    let repo = provisio_model::repository::Repository::new(&root);
    repo.create_service_template(&QName::new("http://example.org/st", "Room"))
        .unwrap();
    let doc = files::open_path(&root).unwrap();
    let mut h = harness(ProvisioApp::with_document(doc));
    let q = QName::new("http://example.org/nodetypes", "Thermostat");
    let file = repo.element_file(TypeKind::NodeType, &q);

    // Untouched: the tab's close button closes it, no question.
    repository_menu(&mut h, "New node type…");
    assert_eq!(h.state().workspace.centre, Centre::TypeEditor);
    h.get_by_label("Type: NewNodeType");
    h.get_by_label("x").click();
    settle(&mut h);
    assert!(h.state().workspace.type_editor.is_none());
    assert_eq!(h.state().workspace.centre, Centre::Browser);
    assert_eq!(h.state().active_modal(), None);

    // Edited: the tab says so, and closing asks. Cancel keeps the form as edited.
    repository_menu(&mut h, "New node type…");
    retype(&mut h, "Type name", "Thermostat");
    retype(&mut h, "Type namespace", "http://example.org/nodetypes");
    h.get_by_label("* Type: Thermostat");
    h.get_by_label("x").click();
    settle(&mut h);
    assert_eq!(h.state().active_modal(), Some(Modal::ConfirmType));
    assert!(h.query_by_label_contains("unsaved edits").is_some());
    h.get_by_label("Cancel").click();
    settle(&mut h);
    assert_eq!(h.state().active_modal(), None);
    let form = h.state().workspace.type_editor.clone().expect("still open");
    assert_eq!(form.name, "Thermostat");
    assert_eq!(h.state().workspace.centre, Centre::TypeEditor);

    // Opening another type asks too; Cancel keeps this one.
    repository_menu(&mut h, "New relationship type…");
    assert_eq!(h.state().active_modal(), Some(Modal::ConfirmType));
    h.get_by_label("Cancel").click();
    settle(&mut h);
    assert_eq!(
        h.state()
            .workspace
            .type_editor
            .as_ref()
            .map(|f| f.name.as_str()),
        Some("Thermostat")
    );

    // So does replacing the document (File > New topology); Cancel keeps the form and the
    // repository.
    h.get_by_label("File").click();
    settle(&mut h);
    h.get_by_label("New topology").click();
    settle(&mut h);
    assert_eq!(h.state().active_modal(), Some(Modal::ConfirmType));
    h.get_by_label("Cancel").click();
    settle(&mut h);
    assert_eq!(
        h.state()
            .workspace
            .type_editor
            .as_ref()
            .map(|f| f.name.as_str()),
        Some("Thermostat")
    );
    assert!(
        h.state().workspace.browsable,
        "the repository is still open"
    );

    // The form's own close button asks; Discard closes without writing anything.
    h.get_by_label("Close type editor").click();
    settle(&mut h);
    assert_eq!(h.state().active_modal(), Some(Modal::ConfirmType));
    h.get_by_label("Discard").click();
    settle(&mut h);
    assert!(h.state().workspace.type_editor.is_none());
    assert!(!file.exists());

    // Save writes the type, then the tab closes.
    repository_menu(&mut h, "New node type…");
    retype(&mut h, "Type name", "Thermostat");
    retype(&mut h, "Type namespace", "http://example.org/nodetypes");
    h.get_by_label("x").click();
    settle(&mut h);
    h.get_by_label("Save").click();
    settle(&mut h);
    assert!(file.exists(), "saved to {}", file.display());
    assert!(h.state().workspace.type_editor.is_none());
    assert_eq!(h.state().active_modal(), None);
    assert!(h.state().state.doc.library().node_type(&q).is_some());
}

/// The toolbar's validation summary is about what is shown: the browser shows no service
/// template, so no template's errors; the editor shows its tab's; the type editor names the
/// template whose errors they are, and a click on them shows it with its diagnostics.
#[test]
fn the_toolbar_counts_errors_of_the_template_in_view_only() {
    use provisio_app::gui::BottomTab;
    use provisio_app::gui::workspace::{close_tab, open_tab};
    let doc = files::open_path(&opentosca()).unwrap();
    let mut app = ProvisioApp::with_document(doc);
    let errors = |app: &ProvisioApp| {
        app.state
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .count()
    };
    // A service template with errors, left as the current one behind the browser.
    let rows = browser::service_templates_in_order(app.state.doc.library());
    let bad = rows
        .iter()
        .find(|r| {
            open_tab(&mut app, r.tab);
            let bad = errors(&app) > 0;
            if !bad {
                close_tab(&mut app, r.tab);
            }
            bad
        })
        .expect("a service template with errors")
        .clone();
    let n = errors(&app);
    app.workspace.centre = Centre::Browser;
    let mut h = harness(app);
    assert_eq!(h.state().state.doc.st().qname(), bad.qname);
    assert!(
        h.query_by_label_contains("error(s)").is_none(),
        "the browser shows no template's errors"
    );
    assert!(h.query_by_label_contains("valid").is_none());

    // Its tab: the toolbar counts its errors.
    let name = bad.name.clone().unwrap_or(bad.qname.local.clone());
    h.get_all_by_label(&name).next().unwrap().click();
    settle(&mut h);
    assert_eq!(h.state().workspace.centre, Centre::Editor);
    h.get_by_label(&format!("⛔ {n} error(s)"));

    // The type editor: the errors are named as the template's; a click shows it.
    h.state_mut().tab = BottomTab::Deploy;
    repository_menu(&mut h, "New node type…");
    assert_eq!(h.state().workspace.centre, Centre::TypeEditor);
    assert!(h.query_by_label(&format!("⛔ {n} error(s)")).is_none());
    let short = provisio_app::gui::in_view::short(&name);
    h.get_by_label(&format!("⛔ {n} error(s) in {short}"))
        .click();
    settle(&mut h);
    assert_eq!(h.state().workspace.centre, Centre::Editor);
    assert_eq!(h.state().tab, BottomTab::Diagnostics);
    assert_eq!(h.state().state.doc.st().qname(), bad.qname);
}

/// Whether a widget is shown disabled (greyed out, clicks ignored).
fn disabled(n: &egui_kittest::Node<'_>) -> bool {
    use egui_kittest::kittest::NodeT;
    n.accesskit_node().is_disabled()
}

/// The toolbar's ▶ Deploy acts on the service template in view only. A freshly opened
/// repository shows the browser, and the "current" template behind it is one the user never
/// opened: Deploy (and Export CSAR, Save as, Layout) are disabled there and say to open one
/// first; selecting a row does not change that. Opened in the editor, Deploy acts on it; in the
/// type editor the button names it, and a click shows its tab before deploying it.
#[test]
fn deploy_acts_only_on_the_service_template_in_view() {
    use provisio_app::gui::workspace::{close_tab, open_tab};
    use provisio_app::gui::{BottomTab, in_view};
    // A service template with errors: deploying it is refused, so the click below runs no
    // engine, and the refusal says which template Deploy acted on.
    let bad = {
        let mut app = ProvisioApp::with_document(files::open_path(&opentosca()).unwrap());
        let first = app.state.doc.st().qname();
        let rows = browser::service_templates_in_order(app.state.doc.library());
        rows.into_iter()
            .find(|r| {
                open_tab(&mut app, r.tab);
                let bad = app.state.diagnostics.iter().any(|d| d.is_error());
                close_tab(&mut app, r.tab);
                bad && r.qname != first
            })
            .expect("a service template with errors")
    };
    let mut app = ProvisioApp::with_document(files::open_path(&opentosca()).unwrap());
    let data = tempfile::tempdir().unwrap();
    app.deploy.data_dir = data.path().to_path_buf();
    let hidden = app.state.doc.st().qname();
    let mut h = harness(app);
    assert_eq!(h.state().workspace.centre, Centre::Browser);
    assert_ne!(hidden, bad.qname);

    let deploy = h.get_by_label("▶ Deploy");
    assert!(disabled(&deploy), "the browser shows no service template");
    deploy.click();
    settle(&mut h);
    let app = h.state();
    assert!(!app.deploy.is_running(), "{hidden} was deployed unseen");
    assert!(app.deploy.log.is_empty(), "{:?}", app.deploy.log);
    assert_eq!(app.tab, BottomTab::Diagnostics);
    // Layout would rearrange (and dirty) the hidden template.
    h.get_by_label("⊞ Layout").click();
    settle(&mut h);
    assert!(!h.state().state.dirty, "{hidden} laid out unseen");
    h.get_by_label("File").click();
    settle(&mut h);
    assert!(disabled(&h.get_by_label("Export CSAR…")));
    assert!(disabled(&h.get_by_label("Save as…")));
    h.get_by_label("File").click();
    settle(&mut h);

    // A selected row is not opened: Deploy stays disabled and says to open it.
    click_row(&mut h, &bad.qname.local);
    assert!(disabled(&h.get_by_label("▶ Deploy")));
    h.get_by_label("▶ Deploy").hover();
    h.run_steps(60);
    h.get_by_label_contains(&format!("open {} first", bad.qname.local));

    // Opened: Deploy acts on it.
    h.get_by_label("Open in editor").click();
    settle(&mut h);
    assert_eq!(h.state().workspace.centre, Centre::Editor);
    assert!(!disabled(&h.get_by_label("▶ Deploy")));
    h.get_by_label("File").click();
    settle(&mut h);
    assert!(!disabled(&h.get_by_label("Export CSAR…")));
    h.get_by_label("File").click();
    settle(&mut h);

    // The type editor: the button names the template; a click shows it and deploys it (here:
    // refused for its errors, in the status line of its tab).
    repository_menu(&mut h, "New node type…");
    assert_eq!(h.state().workspace.centre, Centre::TypeEditor);
    assert!(h.query_by_label("▶ Deploy").is_none());
    let name = bad.name.clone().unwrap_or(bad.qname.local.clone());
    h.get_by_label(&format!("▶ Deploy {}", in_view::short(&name)))
        .click();
    settle(&mut h);
    let app = h.state();
    assert_eq!(app.workspace.centre, Centre::Editor);
    assert_eq!(app.state.doc.st().qname(), bad.qname);
    assert!(
        app.state.status.starts_with("deploy refused"),
        "{}",
        app.state.status
    );
    assert_eq!(app.tab, BottomTab::Deploy);
}
