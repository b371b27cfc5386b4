//! The simulated garden, simulated nodes over real HTTP, and the load generator.
//!
//! - [`garden`]: the physics of the demo garden (CONTRACT §6).
//! - [`demo_config`]: the demo's PlantKeeper config and its freshly generated tokens.

pub mod demo_config;
pub mod garden;
