//! Logins taken from a ConnectsTo target (the `provisio:login` tag): a HomeMaticPoller without
//! a login of its own uses the one of the HomeMaticCCU it connects to, masked, in its configure
//! step only, never in another node's; its own login wins as a whole; contradicting logins are
//! validation errors naming the template.

use provisio_model::plan::{InputSource, PlanError, build_deploy_plan, build_open_deploy_plan};
use provisio_model::tosca::{NodeTemplate, Properties, RelationshipTemplate, ServiceTemplate};
use provisio_model::validate::validate_service_template;
use provisio_model::{Diagnostic, Library, QName, Severity, load_path};
use std::collections::BTreeMap;
use std::path::Path;

const NT: &str = "http://provisio.dev/tosca/nodetypes";
const BASE: &str = "http://docs.oasis-open.org/tosca/ns/2011/12/ToscaBaseTypes";

fn library() -> Library {
    load_path(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/library"))
        .unwrap()
        .library
}

fn node(id: &str, ty: &str, props: &[(&str, &str)]) -> NodeTemplate {
    let mut n = NodeTemplate::new(id, QName::new(NT, ty), 0.0, 0.0);
    let kv: Vec<(String, String)> = props
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    n.properties = Some(Properties::new_kv(
        "http://provisio.dev/tosca/nodetypes/propertiesdefinition/winery",
        "Properties",
        &kv,
    ));
    n
}

fn rel(st: &mut ServiceTemplate, kind: &str, source: &str, target: &str) {
    st.topology
        .relationship_templates
        .push(RelationshipTemplate::new(
            &format!("{kind}_{source}_{target}"),
            QName::new(BASE, kind),
            source,
            target,
        ));
}

/// The thesis scenario plus two CCUs and a poller on the Pi for each; Node-RED connects to the
/// first CCU too (its type declares no login: it must get none).
fn scenario(
    lib: &Library,
    ccu: &[(&str, &str)],
    poller: &[(&str, &str)],
    ccu2: &[(&str, &str)],
) -> ServiceTemplate {
    let mut st = lib
        .service_template(&QName::new(
            "http://provisio.dev/tosca/servicetemplates",
            "ThesisScenario",
        ))
        .unwrap()
        .clone();
    let with = |base: &[(&str, &str)], more: &[(&str, &str)]| -> Vec<(String, String)> {
        base.iter()
            .chain(more)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let ccu1 = with(&[("xmlRpcUrl", "http://ccu3:2001")], ccu);
    let ccu2 = with(&[("xmlRpcUrl", "http://ccu-b:2001")], ccu2);
    let p1 = with(&[("ccuUrl", "http://ccu3:2001")], poller);
    let p2 = with(&[("ccuUrl", "http://ccu-b:2001")], &[]);
    for (id, ty, props) in [
        ("CCU", "HomeMaticCCU", ccu1),
        ("CCU2", "HomeMaticCCU", ccu2),
        ("Poller", "HomeMaticPoller", p1),
        ("Poller2", "HomeMaticPoller", p2),
    ] {
        let refs: Vec<(&str, &str)> = props.iter().map(|(k, v)| (&k[..], &v[..])).collect();
        st.topology.node_templates.push(node(id, ty, &refs));
    }
    rel(&mut st, "HostedOn", "Poller", "RaspbianStretchLXC");
    rel(&mut st, "HostedOn", "Poller2", "RaspbianStretchLXC");
    rel(&mut st, "ConnectsTo", "Poller", "CCU");
    rel(&mut st, "ConnectsTo", "Poller2", "CCU2");
    rel(&mut st, "ConnectsTo", "NodeRED", "CCU");
    st
}

fn inputs(more: &[(&str, &str)]) -> BTreeMap<String, String> {
    [("raspberryPassword", "raspberry"), ("micaPassword", "m")]
        .iter()
        .chain(more)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn both_homematic_types_declare_the_same_login() {
    let lib = library();
    for ty in ["HomeMaticCCU", "HomeMaticPoller"] {
        assert_eq!(
            provisio_model::plan::login_keys(&lib, &QName::new(NT, ty)),
            ["ccuUser", "ccuPassword"],
            "{ty}"
        );
    }
    assert!(
        provisio_model::plan::login_keys(&lib, &QName::new(NT, "LXContainerRaspberryPi"))
            .is_empty()
    );
}

#[test]
fn a_poller_without_a_login_uses_the_login_of_its_ccu_only() {
    let lib = library();
    let st = scenario(
        &lib,
        &[("ccuUser", "admin"), ("ccuPassword", "get_input: ccuPw")],
        &[],
        &[("ccuUser", "user2"), ("ccuPassword", "lit-pw-2")],
    );
    let plan = build_deploy_plan(&lib, &st, &inputs(&[("ccuPw", "ccu-s3cret")])).unwrap();
    let step = |id: &str| plan.steps.iter().find(|s| s.id == id).unwrap();
    let input = |s: &str, name: &str| step(s).inputs.iter().find(|i| i.name == name).cloned();

    let user = input("Poller.configure", "ccuUser").expect("the CCU's user");
    assert_eq!(user.value, "admin");
    assert!(!user.secret);
    assert_eq!(user.source, InputSource::Target("CCU".into()));
    let pw = input("Poller.configure", "ccuPassword").expect("the CCU's password");
    assert_eq!(pw.value, "ccu-s3cret");
    assert!(pw.secret);
    assert_eq!(pw.shown(), "***");
    assert_eq!(pw.source, InputSource::DeployInput("ccuPw".into()));

    // The other poller gets the login of its own CCU (a literal), not the first one's.
    let pw2 = input("Poller2.configure", "ccuPassword").expect("CCU2's password");
    assert_eq!((pw2.value.as_str(), pw2.secret), ("lit-pw-2", true));
    assert_eq!(pw2.source, InputSource::Target("CCU2".into()));
    assert_eq!(
        input("Poller2.configure", "ccuUser").unwrap().value,
        "user2"
    );

    // Only the configure step of a node whose type declares the login: Node-RED connects to
    // the CCU too, and no install/start step of the pollers carries it.
    for s in &plan.steps {
        let leaks = s.inputs.iter().any(|i| i.name == "ccuPassword");
        let expected = s.id == "Poller.configure" || s.id == "Poller2.configure";
        assert_eq!(leaks, expected, "{}", s.id);
        let conn = s.input("connections").unwrap_or("");
        for v in ["ccu-s3cret", "lit-pw-2"] {
            assert!(!conn.contains(v), "{}: {conn}", s.id);
        }
    }
    // The plan as shown (CLI, GUI, events) masks both and says where they came from.
    let shown = plan.to_string();
    assert!(
        !shown.contains("ccu-s3cret") && !shown.contains("lit-pw-2"),
        "{shown}"
    );
    assert!(
        shown.contains("ccuPassword = ***  [input ccuPw]"),
        "{shown}"
    );
    assert!(shown.contains("ccuUser = admin  [login of CCU]"), "{shown}");
    assert!(
        shown.contains("ccuPassword = ***  [login of CCU2]"),
        "{shown}"
    );

    // The login is clean for validation.
    let logins: Vec<Diagnostic> = validate_service_template(&lib, &st, None)
        .into_iter()
        .filter(|d| d.code == "login")
        .collect();
    assert!(logins.is_empty(), "{logins:#?}");
}

#[test]
fn a_ccu_password_nobody_gave_is_a_missing_input_of_the_poller() {
    let lib = library();
    let st = scenario(
        &lib,
        &[("ccuUser", "admin"), ("ccuPassword", "get_input: ccuPw")],
        &[],
        &[],
    );
    match build_deploy_plan(&lib, &st, &inputs(&[])) {
        Err(PlanError::MissingInputs(m)) => {
            assert!(
                m.iter().any(|m| m.node == "Poller"
                    && m.operation == "configure"
                    && m.input == "ccuPassword"
                    && m.deploy_input.as_deref() == Some("ccuPw")),
                "{m:?}"
            );
            assert!(m.iter().all(|m| m.node == "Poller"), "{m:?}");
        }
        other => panic!("{other:?}"),
    }
    let (plan, missing) = build_open_deploy_plan(&lib, &st, &inputs(&[])).unwrap();
    assert_eq!(missing.len(), 1, "{missing:?}");
    assert!(plan.to_string().contains("ccuPassword = <input: ccuPw>"));
}

#[test]
fn a_pollers_own_login_wins_as_a_whole() {
    let lib = library();
    let st = scenario(
        &lib,
        &[("ccuUser", "admin"), ("ccuPassword", "get_input: ccuPw")],
        &[("ccuUser", "own"), ("ccuPassword", "own-pw")],
        &[],
    );
    // The CCU's deploy input is not needed: nobody uses that login.
    let plan = build_deploy_plan(&lib, &st, &inputs(&[])).unwrap();
    let cfg = plan
        .steps
        .iter()
        .find(|s| s.id == "Poller.configure")
        .unwrap();
    let pw = cfg.inputs.iter().find(|i| i.name == "ccuPassword").unwrap();
    assert_eq!(
        (pw.value.as_str(), pw.secret, &pw.source),
        ("own-pw", true, &InputSource::Own)
    );
    // Its user is its own property (in its connections document), not the CCU's.
    assert!(cfg.input("ccuUser").is_none());
    let conn: serde_json::Value = serde_json::from_str(cfg.input("connections").unwrap()).unwrap();
    assert_eq!(conn["properties"]["ccuUser"], "own");
}

fn login_diags(lib: &Library, st: &ServiceTemplate) -> Vec<Diagnostic> {
    validate_service_template(lib, st, None)
        .into_iter()
        .filter(|d| d.code == "login")
        .collect()
}

fn one_error<'a>(d: &'a [Diagnostic], element: &str) -> &'a Diagnostic {
    assert_eq!(d.len(), 1, "{d:#?}");
    assert_eq!(d[0].severity, Severity::Error, "{d:#?}");
    assert_eq!(d[0].element, element);
    assert!(d[0].hint.is_some());
    &d[0]
}

#[test]
fn contradicting_logins_are_errors_naming_the_template() {
    let lib = library();
    // A password on the poller, no user anywhere.
    let st = scenario(&lib, &[], &[("ccuPassword", "get_input: pw")], &[]);
    let d = login_diags(&lib, &st);
    let e = one_error(&d, "Poller");
    assert!(
        e.message
            .contains("HomeMaticPoller 'Poller' sets ccuPassword but no ccuUser")
            && e.message.contains("HomeMaticCCU 'CCU'"),
        "{e:?}"
    );

    // A password on the poller, the user on the CCU: the poller's login replaces the CCU's.
    let st = scenario(
        &lib,
        &[("ccuUser", "admin"), ("ccuPassword", "x")],
        &[("ccuPassword", "get_input: pw")],
        &[],
    );
    let d = login_diags(&lib, &st);
    let e = one_error(&d, "Poller");
    assert!(
        e.message.contains("sets ccuPassword but not ccuUser") && e.message.contains("'CCU'"),
        "{e:?}"
    );

    // A user on the poller, the password on the CCU: the CCU's password would be dropped.
    let st = scenario(
        &lib,
        &[("ccuUser", "admin"), ("ccuPassword", "x")],
        &[("ccuUser", "admin")],
        &[],
    );
    let d = login_diags(&lib, &st);
    let e = one_error(&d, "Poller");
    assert!(
        e.message.contains("sets ccuUser but no ccuPassword") && e.message.contains("'CCU'"),
        "{e:?}"
    );

    // A password without a user on the CCU itself.
    let st = scenario(&lib, &[("ccuPassword", "x")], &[], &[]);
    let d = login_diags(&lib, &st);
    let e = one_error(&d, "CCU");
    assert!(
        e.message
            .contains("HomeMaticCCU 'CCU' sets ccuPassword but not ccuUser"),
        "{e:?}"
    );

    // A whole login on the poller, none or another on the CCU: fine.
    for ccu in [&[][..], &[("ccuUser", "admin"), ("ccuPassword", "x")][..]] {
        let st = scenario(&lib, ccu, &[("ccuUser", "u"), ("ccuPassword", "p")], &[]);
        assert!(login_diags(&lib, &st).is_empty());
    }

    // Two CCUs with a login for one poller: a warning, the first one is used.
    let mut st = scenario(
        &lib,
        &[("ccuUser", "a")],
        &[],
        &[("ccuUser", "b"), ("ccuPassword", "x")],
    );
    rel(&mut st, "ConnectsTo", "Poller", "CCU2");
    let d = login_diags(&lib, &st);
    assert_eq!(d.len(), 1, "{d:#?}");
    assert_eq!(
        (d[0].severity, d[0].element.as_str()),
        (Severity::Warning, "Poller")
    );
    assert!(d[0].message.contains("(CCU, CCU2)"), "{d:?}");
}
