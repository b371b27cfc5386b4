//! The `plantkeeper` binary's commands, kept in a library so integration tests can drive them.

pub mod admin;
pub mod ap_config;
pub mod bench;
pub mod check;
pub mod cli;
pub mod database;
pub mod demo;
pub mod export;
pub mod healthcheck;
pub mod logging;
pub mod loki;
pub mod node_add;
pub mod serve;
pub mod sigpipe;
