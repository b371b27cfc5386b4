//! The validated settings model: what a config file means once `check` accepts it.
//!
//! Every value here has already been validated by [`crate::load`]; code that consumes
//! `Settings` never needs to re-check ranges, references or durations.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use crate::condition::ConditionExpr;
use crate::schedule::{Location, Schedule};

/// The whole configuration of a master.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `[master]`: where to listen, which store, local time zone, location.
    pub master: MasterSettings,
    /// `[telemetry]`: logging.
    pub telemetry: TelemetrySettings,
    /// `[alerts]`: notification channels (used by the alerts subsystem).
    pub alerts: AlertSettings,
    /// `[defaults]` as written (per-node values are already resolved into [`NodeSettings`]).
    pub defaults: Defaults,
    /// `[nodes.ID]`, keyed by node id.
    pub nodes: BTreeMap<String, NodeSettings>,
}

/// `[master]`.
#[derive(Debug, Clone)]
pub struct MasterSettings {
    /// `listen`, default `0.0.0.0:8001`.
    pub listen: SocketAddr,
    /// `database`, default `sqlite://plantkeeper.db` (relative paths are relative to the config file's directory).
    pub database: String,
    /// `timezone`: the IANA name as written (default `UTC`).
    pub timezone_name: String,
    /// The resolved time zone every schedule and daily budget is evaluated in.
    pub timezone: jiff::tz::TimeZone,
    /// `latitude` / `longitude`, needed only by sunrise/sunset windows.
    pub location: Option<Location>,
    /// SHA-256 of the admin bearer token; `None` disables the admin/read API.
    pub admin_token_sha256: Option<[u8; 32]>,
}

/// `[telemetry]`.
#[derive(Debug, Clone, PartialEq)]
pub struct TelemetrySettings {
    /// `log`: a tracing level filter such as `info` or `plantkeeper=debug`.
    pub log: String,
    /// `log_format`.
    pub log_format: LogFormat,
    /// `loki_url`.
    pub loki_url: Option<String>,
    /// `loki_labels`.
    pub loki_labels: BTreeMap<String, String>,
}

/// How log lines are written to stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// `[alerts]`.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertSettings {
    /// `node_silent_after`, default 2 minutes.
    pub node_silent_after: Duration,
    /// `channels`.
    pub channels: Vec<AlertChannel>,
}

/// One notification channel of `[alerts] channels`.
#[derive(Debug, Clone, PartialEq)]
pub enum AlertChannel {
    /// `{ type = "webhook", url = "..." }`
    Webhook { url: String },
    /// `{ type = "ntfy", url = "..." }`
    Ntfy { url: String },
    /// `{ type = "email", smtp = "smtp://host:port", from = "...", to = ["..."] }`
    Email {
        smtp: String,
        from: String,
        to: Vec<String>,
    },
}

/// `[defaults]`: values every node inherits unless it overrides them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Defaults {
    /// `report_every`, default 5 s: told to nodes in each answer.
    pub report_every: Duration,
    /// `stale_after`, default 15 s: a reading older than this is not trusted.
    pub stale_after: Duration,
    /// `lease`, default 15 s: an ON command expires on the node after this.
    pub lease: Duration,
}

/// `[nodes.ID]`, with defaults already applied.
#[derive(Debug, Clone)]
pub struct NodeSettings {
    /// The node id: `[a-z0-9][a-z0-9_-]{0,62}`.
    pub id: String,
    /// SHA-256 of the node's bearer token (from `token_sha256`, or hashed from `token`).
    pub token_sha256: [u8; 32],
    /// Resolved `report_every`.
    pub report_every: Duration,
    /// Resolved `stale_after`.
    pub stale_after: Duration,
    /// Resolved `lease`.
    pub lease: Duration,
    /// `sensors.NAME = { min, max, unit }`: declared sensors (nodes may report others).
    pub sensors: BTreeMap<String, SensorSettings>,
    /// `[nodes.ID.outputs.NAME]`.
    pub outputs: BTreeMap<String, OutputSettings>,
}

/// `sensors.NAME = { min = 0, max = 100, unit = "%" }`: a reading outside `min..=max` is invalid.
#[derive(Debug, Clone, PartialEq)]
pub struct SensorSettings {
    /// Lowest valid value, inclusive.
    pub min: Option<f64>,
    /// Highest valid value, inclusive.
    pub max: Option<f64>,
    /// Display unit such as `%` or `°C`.
    pub unit: Option<String>,
}

/// `[nodes.ID.outputs.NAME]`: one relay and the rules that drive it (CONTRACT §3).
#[derive(Debug, Clone)]
pub struct OutputSettings {
    /// `on_when`: switch ON when this becomes true.
    pub on_when: Option<ConditionExpr>,
    /// `off_when`: switch OFF when this becomes true. `None` means `not on_when`.
    pub off_when: Option<ConditionExpr>,
    /// `require`: interlocks; all must hold, else OFF.
    pub require: Vec<ConditionExpr>,
    /// `schedule`: ON only inside these windows. `None` when not set.
    pub schedule: Option<Schedule>,
    /// `max_on`: one run never lasts longer.
    pub max_on: Option<Duration>,
    /// `min_off`: rest after each run.
    pub min_off: Option<Duration>,
    /// `min_on`: no shorter runs (except safety OFF).
    pub min_on: Option<Duration>,
    /// `max_on_per_day`: ON-time budget per local calendar day.
    pub max_on_per_day: Option<Duration>,
}
