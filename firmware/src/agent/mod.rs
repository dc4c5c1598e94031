//! The NodeMCU device agent: a sans-IO core ([`core`]) with the image checks ([`image`]), its
//! persisted state ([`state`]), the HTTP image download into the slot ([`download`]), broker TLS and credentials ([`security`]) and the tokio/MQTT runner ([`runner`]).

pub mod core;
pub mod download;
pub mod image;
pub mod runner;
pub mod security;
pub mod state;

pub use self::core::{Action, Agent, AgentConfig, App, Input, NullApp, reasons};
pub use self::image::ImageCheck;
pub use self::state::{DeviceState, Slot, SlotImage};
