//! Flex4Apps monitoring (D3.5): broker activity records in the documented JSON format sent to a
//! Logstash-style TCP receiver (`record.rs`, `sink.rs`), an MQTT-aware TCP tap in front of any
//! broker (`mqtt_codec.rs`, `tap.rs`), and log template mining with anomaly scores
//! (`logmine.rs`).

pub mod influx;
pub mod logmine;
pub mod mqtt_codec;
pub mod normalize;
pub mod record;
pub mod sink;
pub mod tap;
