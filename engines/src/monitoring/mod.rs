//! Flex4Apps monitoring (D3.5): broker activity records in the documented JSON format sent to a
//! Logstash-style TCP receiver (`record.rs`, `sink.rs`), an MQTT-aware TCP tap in front of any
//! broker (`mqtt_codec.rs`, `tap.rs`), the MQTT → InfluxDB connector (`influx.rs`) with its
//! message normalisation (`normalize.rs`: flat JSON per device topic, The Things Network
//! uplinks), gateway adapters that poll data sources and publish per device (`sources/`:
//! HomeMatic CCU over XML-RPC, powerfox REST), and log template mining with anomaly scores
//! (`logmine.rs`).

pub mod influx;
pub mod logmine;
pub mod mqtt_codec;
pub mod normalize;
pub mod record;
pub mod sink;
pub mod sources;
pub mod tap;
