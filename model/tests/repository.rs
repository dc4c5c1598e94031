//! Writing a Winery repository: elements land where Winery puts them (checked against the real
//! OpenTOSCA repository), written files re-load into equal definitions, and every file of the
//! other elements stays byte-identical.

mod common;

use provisio_model::QName;
use provisio_model::load::{load_definitions_file, load_winery_repository};
use provisio_model::repository::{self, Repository};
use provisio_model::tosca::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn opentosca() -> PathBuf {
    common::corpus_dir().join("opentosca-public")
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.path().is_dir() {
            copy_tree(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), t).unwrap();
        }
    }
}

/// Every file below `dir` with its bytes, by relative path.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    out
}

/// Paths that differ between two snapshots (added, removed or changed).
fn changed(a: &BTreeMap<PathBuf, Vec<u8>>, b: &BTreeMap<PathBuf, Vec<u8>>) -> Vec<PathBuf> {
    let mut keys: Vec<&PathBuf> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect()
}

#[test]
fn element_paths_match_the_real_opentosca_repository() {
    let loaded = load_winery_repository(&opentosca());
    let repo = Repository::new(opentosca());
    let mut checked = 0;
    let mut stale = 0;
    for f in loaded.library.files() {
        let d = &f.definitions;
        let mut one: Vec<(TypeKind, QName)> = Vec::new();
        one.extend(
            d.service_templates
                .iter()
                .map(|s| (TypeKind::ServiceTemplate, s.qname())),
        );
        one.extend(
            d.node_types
                .iter()
                .map(|t| (TypeKind::NodeType, t.base.qname())),
        );
        one.extend(
            d.relationship_types
                .iter()
                .map(|t| (TypeKind::RelationshipType, t.base.qname())),
        );
        one.extend(
            d.node_type_implementations
                .iter()
                .map(|t| (TypeKind::NodeTypeImplementation, t.base.qname())),
        );
        one.extend(
            d.artifact_templates
                .iter()
                .map(|t| (TypeKind::ArtifactTemplate, t.qname())),
        );
        if one.len() != 1 {
            continue;
        }
        let (kind, q) = &one[0];
        // A few folders of the real repository are stale (the element's id or namespace was
        // changed in the file, not the folder); Winery itself would write those anew.
        let dir = f.path.parent().unwrap();
        let folder = dir.file_name().unwrap().to_string_lossy();
        let ns_folder = dir.parent().unwrap().file_name().unwrap().to_string_lossy();
        if folder != repository::encode(&q.local) || ns_folder != repository::encode(&q.namespace) {
            stale += 1;
            continue;
        }
        assert_eq!(repo.element_file(*kind, q), f.path, "{kind:?} {q}");
        checked += 1;
    }
    assert!(checked > 300, "only {checked} elements checked");
    assert!(stale * 20 < checked, "{stale} stale folders");
}

#[test]
fn artifact_references_match_what_winery_wrote() {
    let loaded = load_winery_repository(&opentosca());
    let mut checked = 0;
    for a in loaded.library.artifact_templates() {
        for r in &a.references {
            let Some(name) = r.reference.rsplit('/').next() else {
                continue;
            };
            if !r.reference.starts_with("artifacttemplates/") || name.contains('%') {
                continue;
            }
            // Skip the stale folders (see above): the reference names the old id.
            if !r.reference.contains(&format!("/{}/files/", a.id)) {
                continue;
            }
            assert_eq!(
                Repository::artifact_reference(&a.qname(), name),
                r.reference
            );
            checked += 1;
        }
    }
    assert!(checked > 50, "only {checked} references checked");
}

#[test]
fn service_templates_are_created_renamed_duplicated_and_deleted_in_place() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("repo");
    copy_tree(&opentosca(), &root);
    let before = snapshot(&root);
    let repo = Repository::new(&root);
    let ns = "http://example.org/servicetemplates";

    // Create.
    let q = QName::new(ns, "Demo");
    let (path, defs) = repo.create_service_template(&q).unwrap();
    assert_eq!(
        path,
        root.join("servicetemplates/http%3A%2F%2Fexample.org%2Fservicetemplates/Demo/ServiceTemplate.tosca")
    );
    let back = load_definitions_file(&path).unwrap();
    assert_eq!(back.semantic(), defs.semantic());
    assert_eq!(back.service_templates[0].qname(), q);
    assert!(repo.create_service_template(&q).is_err(), "exists already");
    assert!(
        repo.create_service_template(&QName::new(ns, "bad id"))
            .is_err()
    );
    assert_eq!(
        changed(&before, &snapshot(&root)),
        vec![PathBuf::from(
            "servicetemplates/http%3A%2F%2Fexample.org%2Fservicetemplates/Demo/ServiceTemplate.tosca"
        )]
    );

    // Rename a real one (id and namespace): its folder moves with the other files in it.
    let old = QName::new(
        "http://opentosca.org/servicetemplates",
        "MyTinyToDo_Bare_Docker",
    );
    let old_file = repo.element_file(TypeKind::ServiceTemplate, &old);
    let old_defs = load_definitions_file(&old_file).unwrap();
    let new = QName::new(ns, "TinyToDo");
    let (new_file, renamed) = repo.rename_service_template(&old_defs, &old, &new).unwrap();
    assert!(!old_file.exists());
    assert!(new_file.parent().unwrap().join("LICENSE").exists());
    let back = load_definitions_file(&new_file).unwrap();
    assert_eq!(back.semantic(), renamed.semantic());
    assert_eq!(back.service_templates[0].qname(), new);
    // Only the id, name and namespaces changed: the topology is the same.
    assert_eq!(
        back.service_templates[0].topology.node_templates.len(),
        old_defs.service_templates[0].topology.node_templates.len()
    );
    assert_eq!(
        back.semantic().service_templates[0].topology,
        old_defs.semantic().service_templates[0].topology
    );

    // Duplicate.
    let dup = QName::new(ns, "TinyToDo_copy");
    let (dup_file, _) = repo
        .duplicate_service_template(&renamed, &new, &dup)
        .unwrap();
    assert!(new_file.exists() && dup_file.exists());
    assert!(dup_file.parent().unwrap().join("LICENSE").exists());
    assert_eq!(
        load_definitions_file(&dup_file).unwrap().service_templates[0].qname(),
        dup
    );

    // Delete.
    repo.delete(TypeKind::ServiceTemplate, &dup).unwrap();
    assert!(!dup_file.parent().unwrap().exists());
    assert!(repo.delete(TypeKind::ServiceTemplate, &dup).is_err());

    // Nothing outside these three folders changed.
    let touched = changed(&before, &snapshot(&root));
    let allowed = [
        "servicetemplates/http%3A%2F%2Fexample.org%2Fservicetemplates/",
        "servicetemplates/http%3A%2F%2Fopentosca.org%2Fservicetemplates/MyTinyToDo_Bare_Docker/",
    ];
    for p in &touched {
        let s = p.to_string_lossy();
        assert!(allowed.iter().any(|a| s.starts_with(a)), "touched {s}");
    }
    // The whole repository still loads, with the renamed one and without the old one.
    let loaded = load_winery_repository(&root);
    assert!(loaded.library.service_template(&new).is_some());
    assert!(loaded.library.service_template(&old).is_none());
    assert!(loaded.library.service_template(&q).is_some());
}

fn sensor_type(ns: &str) -> NodeType {
    NodeType {
        base: EntityType {
            name: "AirSensor".into(),
            target_namespace: ns.into(),
            derived_from: Some(QName::new("http://opentosca.org/nodetypes", "MultiSensor")),
            properties_definition: Some(PropertiesDefinition::KeyValue {
                element_name: "Properties".into(),
                namespace: format!("{ns}/propertiesdefinition/winery"),
                properties: vec![
                    PropertyDef {
                        key: "interval".into(),
                        type_name: "xsd:integer".into(),
                        required: true,
                        default: Some("5000".into()),
                        description: None,
                    },
                    PropertyDef {
                        key: "label".into(),
                        type_name: "xsd:string".into(),
                        required: false,
                        default: None,
                        description: None,
                    },
                ],
            }),
            ..Default::default()
        },
        requirement_definitions: vec![ReqCapDefinition {
            name: "host".into(),
            type_ref: QName::new(BASE_TYPES_NS, "HostedOn"),
            lower_bound: 1,
            upper_bound: MaxInstances::Bounded(1),
        }],
        capability_definitions: vec![ReqCapDefinition {
            name: "readings".into(),
            type_ref: QName::new("http://example.org/capabilitytypes", "Readings"),
            lower_bound: 0,
            upper_bound: MaxInstances::Unbounded,
        }],
        interfaces: vec![Interface {
            name: LIFECYCLE_INTERFACE.into(),
            operations: vec![Operation {
                name: "install".into(),
                inputs: vec![Parameter {
                    name: "firmware".into(),
                    type_name: "xsd:string".into(),
                    required: true,
                }],
                outputs: vec![Parameter {
                    name: "version".into(),
                    type_name: "xsd:string".into(),
                    required: false,
                }],
            }],
        }],
    }
}

#[test]
fn node_types_relationship_types_and_implementations_round_trip_through_the_repository() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("repo");
    copy_tree(&opentosca(), &root);
    let before = snapshot(&root);
    let repo = Repository::new(&root);
    let ns = "http://example.org/nodetypes";

    // A new node type with a property, requirement/capability definitions and an operation.
    let nt = sensor_type(ns);
    let q = nt.base.qname();
    let mut defs = repository::new_definitions(TypeKind::NodeType, &q);
    repository::upsert_node_type(&mut defs, nt.clone());
    let nt_file = repo.write(TypeKind::NodeType, &q, &defs).unwrap();
    let text = std::fs::read_to_string(&nt_file).unwrap();
    assert!(text.contains("<winery:key>interval</winery:key>"), "{text}");
    assert!(
        text.contains("<winery:defaultValue>5000</winery:defaultValue>"),
        "{text}"
    );
    let back = load_definitions_file(&nt_file).unwrap();
    let mut read = back.node_types[0].clone();
    read.base.line = 0;
    assert_eq!(read, nt);

    // A relationship type with ValidSource/ValidTarget.
    let rt = RelationshipType {
        base: EntityType {
            name: "ReportsTo".into(),
            target_namespace: "http://example.org/relationshiptypes".into(),
            derived_from: Some(QName::new(BASE_TYPES_NS, "ConnectsTo")),
            ..Default::default()
        },
        valid_source: Some(q.clone()),
        valid_target: Some(QName::new(
            "http://opentosca.org/nodetypes",
            "Mosquitto_3.1",
        )),
        ..Default::default()
    };
    let rq = rt.base.qname();
    let mut rdefs = repository::new_definitions(TypeKind::RelationshipType, &rq);
    repository::upsert_relationship_type(&mut rdefs, rt.clone());
    let rt_file = repo.write(TypeKind::RelationshipType, &rq, &rdefs).unwrap();
    let mut read = load_definitions_file(&rt_file).unwrap().relationship_types[0].clone();
    read.base.line = 0;
    assert_eq!(read, rt);

    // An implementation whose artifact files are copied into files/.
    let src = tmp.path().join("install.sh");
    std::fs::write(&src, "#!/bin/sh\necho install\n").unwrap();
    let aq = QName::new("http://example.org/artifacttemplates", "AirSensor_install");
    let script = QName::new(BASE_TYPES_NS, "ScriptArtifact");
    let (at_file, _) = repo
        .add_artifact_template(&aq, &script, std::slice::from_ref(&src))
        .unwrap();
    let copied = at_file.parent().unwrap().join("files/install.sh");
    assert_eq!(
        std::fs::read(&copied).unwrap(),
        std::fs::read(&src).unwrap()
    );
    let nti = NodeTypeImplementation {
        base: EntityType {
            name: "AirSensor_Impl".into(),
            target_namespace: "http://example.org/nodetypeimplementations".into(),
            ..Default::default()
        },
        node_type: q.clone(),
        implementation_artifacts: vec![ImplementationArtifact {
            name: Some("install_IA".into()),
            interface_name: Some(LIFECYCLE_INTERFACE.into()),
            operation_name: Some("install".into()),
            artifact_type: script.clone(),
            artifact_ref: Some(aq.clone()),
        }],
        deployment_artifacts: vec![DeploymentArtifact {
            name: "firmware".into(),
            artifact_type: script.clone(),
            artifact_ref: Some(aq.clone()),
        }],
    };
    let iq = nti.base.qname();
    let mut idefs = repository::new_definitions(TypeKind::NodeTypeImplementation, &iq);
    repository::upsert_node_type_implementation(&mut idefs, nti.clone());
    repo.write(TypeKind::NodeTypeImplementation, &iq, &idefs)
        .unwrap();

    // Reopen the repository: everything is found and resolves.
    let loaded = load_winery_repository(&root);
    let lib = &loaded.library;
    assert!(lib.node_type(&q).is_some());
    assert!(lib.relationship_type(&rq).is_some());
    assert_eq!(lib.implementations_of(&q).len(), 1);
    let at = lib.artifact_template(&aq).unwrap();
    let path = provisio_model::csar::percent_decode(&at.references[0].reference);
    assert_eq!(
        std::fs::read(root.join(path)).unwrap(),
        std::fs::read(&src).unwrap()
    );
    // The inherited properties come along DerivedFrom.
    assert!(lib.node_type_chain(&q).len() >= 2);

    // Only the new elements' folders appeared.
    for p in changed(&before, &snapshot(&root)) {
        let s = p.to_string_lossy().to_string();
        assert!(s.contains("example.org"), "touched {s}");
    }
}

#[test]
fn editing_a_real_node_type_changes_only_what_was_edited() {
    let file = opentosca()
        .join("nodetypes/http%3A%2F%2Fopentosca.org%2Fnodetypes/Apache-2.4/NodeType.tosca");
    let original = std::fs::read_to_string(&file).unwrap();
    let defs = load_definitions_file(&file).unwrap();
    // Untouched: the same document (the writer puts namespace declarations first).
    let untouched = Definitions::from_str(&defs.to_xml()).unwrap();
    let orig_doc = Definitions::from_str(&original).unwrap();
    provisio_model::xml::equivalent(
        untouched.original_root().unwrap(),
        orig_doc.original_root().unwrap(),
    )
    .unwrap();
    let mut edited = defs.clone();
    let nt = &mut edited.node_types[0];
    nt.base.properties_definition = Some(PropertiesDefinition::KeyValue {
        element_name: "Properties".into(),
        namespace: "http://opentosca.org/nodetypes/propertiesdefinition/winery".into(),
        properties: vec![PropertyDef {
            key: "Port".into(),
            type_name: "xsd:integer".into(),
            required: false,
            default: Some("80".into()),
            description: None,
        }],
    });
    nt.interfaces[0].operations.push(Operation {
        name: "reload".into(),
        ..Default::default()
    });
    let text = edited.to_xml();
    // Winery's own attribute, the lower-case documentation and the capability line are kept.
    assert!(text.contains("winery:bordercolor=\"#0db099\""));
    assert!(text.contains("<tosca:documentation>This Node Type"));
    assert!(text.contains("capabilityType=\"ns1:Apache-2.4-Capability\""));
    assert!(
        text.contains("<tosca:Operation name=\"reload\"/>"),
        "{text}"
    );
    let back = Definitions::from_str(&text).unwrap();
    assert_eq!(back.semantic(), edited.semantic());
    // The properties definition sits before the capability definitions (schema order).
    let pd = text.find("winery:PropertiesDefinition").unwrap();
    let cd = text.find("tosca:CapabilityDefinitions").unwrap();
    assert!(pd < cd, "{text}");
}
