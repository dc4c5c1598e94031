//! A generated YAML topology for timing parse + validate (wired into `provisio bench model` by
//! the app, and measured by the ignored test `yaml_bench`).

use std::fmt::Write;
use std::time::{Duration, Instant};

/// A service template with `nodes` node templates: half NodeMCU apps, each hosted on its own
/// NodeMCU board, with typed properties and constraints (types defined in the same file).
pub fn generate(nodes: usize) -> String {
    let mut s = String::from(
        "tosca_definitions_version: tosca_simple_yaml_1_3\n\
         metadata:\n  template_name: Generated\n\
         capability_types:\n  bench.capabilities.Board:\n    derived_from: tosca.capabilities.Container\n\
         node_types:\n\
         \x20 bench.nodes.Board:\n    derived_from: tosca.nodes.Root\n    properties:\n\
         \x20     hardwareIds:\n        type: list\n        entry_schema: { type: string }\n\
         \x20     broker:\n        type: string\n        constraints:\n          - pattern: \"tcp://.+\"\n\
         \x20     memory:\n        type: scalar-unit.size\n        constraints:\n          - greater_or_equal: 64 kB\n\
         \x20   capabilities:\n      host: { type: bench.capabilities.Board }\n\
         \x20 bench.nodes.App:\n    derived_from: tosca.nodes.Root\n    properties:\n\
         \x20     interval:\n        type: integer\n        constraints:\n          - in_range: [100, 60000]\n\
         \x20   requirements:\n      - host:\n          capability: bench.capabilities.Board\n          relationship: tosca.relationships.HostedOn\n\
         topology_template:\n  node_templates:\n",
    );
    for i in 0..nodes / 2 {
        let _ = write!(
            s,
            "    app{i}:\n      type: bench.nodes.App\n      properties:\n        interval: {}\n      requirements:\n        - host: board{i}\n\
             \x20   board{i}:\n      type: bench.nodes.Board\n      properties:\n        hardwareIds: [\"{i}\"]\n        broker: tcp://10.0.0.1:1883\n        memory: 4 MB\n",
            100 + i % 1000
        );
    }
    s
}

/// Parse (load with the normative types) and validate times of a generated topology, and the
/// number of error diagnostics (0 expected).
pub fn measure(nodes: usize) -> Result<(Duration, Duration, usize), String> {
    let dir = std::env::temp_dir().join(format!("provisio-yaml-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let path = dir.join("generated.yaml");
    std::fs::write(&path, generate(nodes)).map_err(|e| e.to_string())?;
    // Best of three, as `provisio bench model` measures the XML figures.
    let mut parse = Duration::MAX;
    let mut loaded = None;
    for _ in 0..3 {
        let t = Instant::now();
        let l = crate::load_path(&path).map_err(|e| e.to_string());
        parse = parse.min(t.elapsed());
        loaded = Some(l);
    }
    let _ = std::fs::remove_dir_all(&dir);
    let loaded = loaded.ok_or("no run")??;
    let main = loaded.main_file.ok_or("no main file")?;
    let st = &loaded.library.file(main).definitions.service_templates[0];
    let mut validate = Duration::MAX;
    let mut diags = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        diags = crate::validate::validate_service_template(&loaded.library, st, None);
        validate = validate.min(t.elapsed());
    }
    let errors = diags.iter().filter(|d| d.is_error()).count()
        + loaded
            .library
            .load_diagnostics()
            .iter()
            .filter(|d| d.is_error())
            .count();
    Ok((parse, validate, errors))
}
