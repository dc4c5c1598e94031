//! Parse + validate time of a 10,000-node YAML topology (a figure, not a timed test):
//! `cargo test --release -p provisio-model --test yaml_bench -- --ignored --nocapture`.

#[test]
fn generated_topology_is_valid() {
    let (_, _, errors) = provisio_model::yaml::bench::measure(200).unwrap();
    assert_eq!(errors, 0);
}

#[test]
#[ignore]
fn ten_thousand_nodes() {
    let (parse, validate, errors) = provisio_model::yaml::bench::measure(10_000).unwrap();
    assert_eq!(errors, 0);
    println!(
        "10,000-node YAML topology: parse {:.0} ms + validate {:.0} ms = {:.0} ms",
        parse.as_secs_f64() * 1e3,
        validate.as_secs_f64() * 1e3,
        (parse + validate).as_secs_f64() * 1e3
    );
}
