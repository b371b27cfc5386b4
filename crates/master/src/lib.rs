//! The PlantKeeper master: HTTP API, live control state and the ticker.
//!
//! **Architecture invariant:** decisions are made only by `plantkeeper_control`'s engine, from
//! the live view in memory; the store records what happened and never decides anything. A
//! report is answered only after its readings are committed.

pub mod alert_metrics;
pub mod alerts;
pub mod app;
pub mod auth;
pub mod clock;
pub mod dashboard;
pub mod error;
pub mod health;
pub mod legacy;
pub mod live;
pub mod master;
pub mod mdns;
pub mod metered_store;
pub mod metrics;
pub mod metrics_route;
pub mod overrides;
pub mod read_api;
pub mod report;
pub mod report_body;
pub mod restore;
pub mod settings_api;
pub mod settings_history;
pub mod ticker;

pub use master::Master;
