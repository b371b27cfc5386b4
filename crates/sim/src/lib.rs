//! The simulated garden and its simulated nodes over real HTTP.
//!
//! - [`garden`]: the physics of the demo garden (CONTRACT §6).
//! - [`demo_config`]: the demo's PlantKeeper config and its freshly generated tokens.
//! - [`node`]: one simulated node: reports over HTTP, relays driven by the protocol's
//!   lease keeper.
//! - [`demo`]: [`run_garden`] starts all nodes plus the physics against a running master.
//! - [`shutdown`]: the stop signal shared by the garden's tasks.

pub mod demo;
pub mod demo_config;
pub mod garden;
pub mod node;
pub mod shutdown;

pub use demo::{GardenHandle, GardenSnapshot, run_garden};
pub use demo_config::{DemoTokens, demo_settings_toml};
