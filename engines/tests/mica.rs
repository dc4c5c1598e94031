//! The MICA driver against the emulator over real HTTPS: container lifecycle, certificate
//! pinning (a wrong certificate is refused), wrong password and full storage per address.

use provisio_engines::drivers::mica::{MicaDriver, run_operation};
use provisio_engines::engine::driver::DriverContext;
use provisio_engines::mica_emulator::MicaEmulator;
use provisio_model::plan::Step;

#[path = "common/driver_steps.rs"]
mod driver_steps;
use driver_steps::{input, served};

/// The operation `op` of the container `InfluxDB` on the MICAs at `addresses`.
fn step(op: &str, addresses: &[String], certs: &[String], password: &str) -> Step {
    driver_steps::step(
        "InfluxDB",
        "LXContainerMICA",
        op,
        vec![
            input("userName", "admin"),
            input("userPassword", password),
            input("addresses", serde_json::to_string(addresses).unwrap()),
            input("certificates", serde_json::to_string(certs).unwrap()),
        ],
    )
}

fn ctx(size: usize) -> DriverContext {
    let bytes: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
    driver_steps::ctx([served("InfluxDB_DA", "influx.tar.gz", bytes)])
}

#[tokio::test]
async fn lifecycle_on_two_micas_with_pinned_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let m1 = MicaEmulator::start("admin", "secret", dir.path().join("m1"), 10 << 20)
        .await
        .unwrap();
    let m2 = MicaEmulator::start("admin", "secret", dir.path().join("m2"), 10 << 20)
        .await
        .unwrap();
    let addrs = vec![m1.url(), m2.url()];
    let certs = vec![m1.cert_pem.clone(), m2.cert_pem.clone()];
    let d = MicaDriver::default();
    let c = ctx(600 * 1024);
    let out = run_operation(&d, &step("install", &addrs, &certs, "secret"), &c)
        .await
        .unwrap();
    assert_eq!(out["installedDeviceCount"], "2");
    assert_eq!(m1.container_state("InfluxDB").as_deref(), Some("installed"));
    assert!(dir.path().join("m2/InfluxDB.tar.gz").exists());
    run_operation(&d, &step("start", &addrs, &certs, "secret"), &c)
        .await
        .unwrap();
    assert_eq!(m2.container_state("InfluxDB").as_deref(), Some("running"));
    run_operation(&d, &step("stop", &addrs, &certs, "secret"), &c)
        .await
        .unwrap();
    let out = run_operation(&d, &step("uninstall", &addrs, &certs, "secret"), &c)
        .await
        .unwrap();
    assert_eq!(out["uninstalledDeviceCount"], "2");
    assert_eq!(m1.container_state("InfluxDB"), None);
    // Uninstalling again is not an error.
    run_operation(&d, &step("uninstall", &addrs, &certs, "secret"), &c)
        .await
        .unwrap();
}

#[tokio::test]
async fn wrong_certificate_wrong_password_and_full_storage_fail_their_address_only() {
    let dir = tempfile::tempdir().unwrap();
    let good = MicaEmulator::start("admin", "secret", dir.path().join("good"), 10 << 20)
        .await
        .unwrap();
    let impostor = MicaEmulator::start("admin", "secret", dir.path().join("imp"), 10 << 20)
        .await
        .unwrap();
    let full = MicaEmulator::start("admin", "secret", dir.path().join("full"), 1000)
        .await
        .unwrap();
    let d = MicaDriver::default();
    // Only good's and full's certificates are pinned: the impostor must be refused.
    let certs = vec![good.cert_pem.clone(), full.cert_pem.clone()];
    let err = run_operation(
        &d,
        &step(
            "install",
            &[good.url(), impostor.url(), full.url()],
            &certs,
            "secret",
        ),
        &ctx(4096),
    )
    .await
    .unwrap_err();
    assert!(err.starts_with("1 of 3 devices succeeded"), "{err}");
    assert!(
        err.contains(&format!("{}: TLS refused", impostor.url())),
        "{err}"
    );
    assert!(err.contains("not enough space"), "{err}");
    assert_eq!(impostor.container_state("InfluxDB"), None);
    let err = run_operation(&d, &step("start", &[good.url()], &certs, "wrong"), &ctx(1))
        .await
        .unwrap_err();
    assert!(err.contains("wrong user name or password"), "{err}");
    assert!(!err.contains("wrong\""), "the password is not echoed");
}

#[tokio::test]
async fn configure_writes_files_of_installed_containers_and_bad_certificates_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let m = MicaEmulator::start("admin", "secret", dir.path().join("m"), 1 << 20)
        .await
        .unwrap();
    let d = MicaDriver::default();
    let certs = std::slice::from_ref(&m.cert_pem);
    let err = run_operation(&d, &step("configure", &[m.url()], certs, "secret"), &ctx(1))
        .await
        .unwrap_err();
    assert!(err.contains("no such container"), "{err}");
    run_operation(&d, &step("install", &[m.url()], certs, "secret"), &ctx(1))
        .await
        .unwrap();
    let out = run_operation(&d, &step("configure", &[m.url()], certs, "secret"), &ctx(1))
        .await
        .unwrap();
    assert_eq!(out["configuredDeviceCount"], "1");
    let files = dir.path().join("m/InfluxDB.files/etc/provisio");
    let env = std::fs::read_to_string(files.join("inputs.env")).unwrap();
    assert!(env.contains("userName='admin'"), "{env}");
    assert!(!env.contains("secret"), "no secrets: {env}");
    let conn: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(files.join("connections.json")).unwrap())
            .unwrap();
    assert_eq!(conn["node"], "InfluxDB");
    // The emulator writes nowhere but /etc/provisio.
    let mut c = provisio_engines::drivers::mica::MicaClient::connect(
        &m.url(),
        &serde_json::to_string(certs).unwrap(),
    )
    .await
    .unwrap();
    c.login("admin", "secret").await.unwrap();
    let err = c
        .call(
            provisio_engines::drivers::mica_api::CONFIGURE,
            serde_json::json!({"name": "InfluxDB", "files": {"/etc/provisio/../../x": "x"}}),
        )
        .await
        .unwrap_err();
    assert!(err.contains("not a plain file path"), "{err}");
    let err = run_operation(
        &d,
        &step(
            "start",
            &[m.url()],
            &["-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----".into()],
            "secret",
        ),
        &ctx(1),
    )
    .await
    .unwrap_err();
    assert!(
        err.contains("not valid PEM")
            || err.contains("holds no PEM")
            || err.contains("not one of the pinned certificates"),
        "{err}"
    );
}
