//! The connector's normalisation against a real Mosquitto and a real InfluxDB 1.x: recorded The
//! Things Network uplinks (v3 and v2, written from TTN's documentation; tests/fixtures/ttn) become
//! points tagged with their device and application, carrying the decoded fields, the strongest
//! gateway's RSSI/SNR and the uplink's own receive time; a join-accept writes nothing; flat JSON
//! on one topic per device keeps working next to them.

mod common;
#[path = "common/influxd.rs"]
mod influxd;
use common::Mosquitto;
use influxd::Influxd;
use provisio_engines::monitoring::influx::{Connector, ConnectorConfig, create_database};
use rumqttc::{AsyncClient, MqttOptions, QoS};
use std::time::{Duration, Instant};

fn fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ttn");
    std::fs::read_to_string(dir.join("topics.txt"))
        .unwrap()
        .lines()
        .map(|l| {
            let (file, topic) = l.split_once(' ').unwrap();
            (topic.to_string(), std::fs::read(dir.join(file)).unwrap())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttn_uplinks_become_points_tagged_by_device() {
    let m = Mosquitto::start();
    let influx = Influxd::start();
    create_database(&influx.addr(), "f4a").await.unwrap();
    let connector = Connector::start(ConnectorConfig {
        broker_host: "127.0.0.1".into(),
        broker_port: m.port,
        topics: vec![
            "v3/+/devices/+/+".into(),
            "+/devices/+/up".into(),
            "sensors/+".into(),
        ],
        measurement: "readings".into(),
        device_segment: 1,
        influx: influx.addr(),
        database: "f4a".into(),
        batch_size: 100,
        flush_interval: Duration::from_millis(100),
        spool_limit: 1000,
    });
    let mut o = MqttOptions::new("ttn-replay", "127.0.0.1", m.port);
    o.set_keep_alive(Duration::from_secs(30));
    let (client, mut ev) = AsyncClient::new(o, 64);
    tokio::spawn(async move { while ev.poll().await.is_ok() {} });
    tokio::time::sleep(Duration::from_millis(700)).await; // connector subscribed
    for (topic, payload) in fixtures() {
        client
            .publish(topic, QoS::AtLeastOnce, false, payload)
            .await
            .unwrap();
    }
    client
        .publish(
            "sensors/1345963",
            QoS::AtLeastOnce,
            false,
            r#"{"temperature":20.5}"#,
        )
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let all = loop {
        let rows = influx.rows("f4a", "SELECT * FROM readings GROUP BY device");
        if rows.len() >= 4 || Instant::now() > deadline {
            break rows;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // Three uplinks and one flat reading; the join-accept wrote nothing.
    let mut devices: Vec<&str> = all.iter().map(|r| r["device"].as_str().unwrap()).collect();
    devices.sort();
    assert_eq!(
        devices,
        ["1345963", "dev1", "eui-70b3d57ed0000001", "my-dev-id"],
        "{all:#?}"
    );
    let row = |d: &str| all.iter().find(|r| r["device"] == d).unwrap().clone();
    let dev1 = row("dev1");
    assert_eq!(dev1["application"], "app1");
    assert_eq!(dev1["temperature"], 22.3);
    assert_eq!(dev1["humidity"], 41.0);
    assert_eq!(dev1["battery_voltage"], 3.6);
    assert_eq!(dev1["battery_low"], false);
    // The strongest of the two gateways (gtw2: -61 dBm, 9.25 dB).
    assert_eq!(dev1["rssi"], -61.0);
    assert_eq!(dev1["snr"], 9.25);
    assert_eq!(dev1["gateways"], 2.0);
    assert_eq!(dev1["f_cnt"], 7.0);
    assert_eq!(dev1["f_port"], 15.0);
    assert_eq!(dev1["spreading_factor"], 7.0);
    assert!(
        dev1.get("status").is_none_or(|v| v.is_null()),
        "text is not a field"
    );
    // The point's time is the uplink's received_at, to the nanosecond.
    assert_eq!(dev1["time"].as_u64(), Some(1_581_520_545_787_310_493));
    let eui = row("eui-70b3d57ed0000001");
    assert_eq!(eui["temperature_0"], 23.4);
    assert_eq!(eui["relative_humidity_1"], 48.0);
    assert_eq!(eui["rssi"], -47.0);
    assert_eq!(eui["snr"], 10.5);
    assert_eq!(eui["spreading_factor"], 9.0);
    assert_eq!(eui["time"].as_u64(), Some(1_683_014_472_413_000_000));
    let v2 = row("my-dev-id");
    assert_eq!(v2["application"], "my-app-id");
    assert_eq!(v2["power"], 512.0);
    assert_eq!(v2["energy"], 1234.5);
    assert_eq!(v2["rssi"], -25.0);
    assert_eq!(v2["snr"], 5.0);
    assert_eq!(v2["f_cnt"], 2.0);
    assert_eq!(v2["time"].as_u64(), Some(1_556_530_200_000_000_000));
    let flat = row("1345963");
    assert_eq!(flat["temperature"], 20.5);
    assert!(
        flat.get("application")
            .is_none_or(|v| v.is_null() || v == "")
    );
    connector.stop();
}
