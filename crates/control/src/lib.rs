//! PlantKeeper's control core: the settings model, the condition language, schedules and the
//! pure decision engine.
//!
//! **Architecture invariant:** nothing in this crate does I/O, reads a clock, spawns a task or
//! sleeps. Time always comes in as an argument (`now`), so every rule can be tested and
//! property-checked without a server, a database or waiting.
//!
//! The flow is: TOML text → [`load::load_settings`] (all errors at once, each with file, line,
//! column and field) → [`Settings`] → [`engine::Engine`] → [`engine::Decision`]s.

pub mod alerts;
pub mod condition;
pub mod duration;
pub mod engine;
pub mod load;
pub mod schedule;
pub mod settings;
pub mod summary;

pub use settings::Settings;
