//! The validated settings model: what a config file means once `check` accepts it.
//!
//! Every value here has already been validated by [`crate::load`]; code that consumes
//! `Settings` never needs to re-check ranges, references or durations.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
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
    /// `[legacy]`: the token-less routes of original PlantKeeper nodes (CONTRACT §5).
    pub legacy: LegacySettings,
    /// `[storage]`: the PostgreSQL engine's outage spool, and how long readings are kept.
    pub storage: StorageSettings,
    /// `[dashboard]`: the browser dashboard (docs/dashboard.md).
    pub dashboard: DashboardSettings,
}

/// `[storage]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageSettings {
    /// `spool`: the file where a PostgreSQL database's writes are kept while it is
    /// unreachable, as written (relative to the settings file's directory); `None` means the
    /// default, `plantkeeper-spool.db` beside the settings file.
    pub spool: Option<String>,
    /// `keep_raw`, default 30 days: raw readings older than this are deleted.
    pub keep_raw: Duration,
    /// `keep_hourly`, default 5 years: hourly averages older than this are deleted.
    pub keep_hourly: Duration,
}

impl Default for StorageSettings {
    /// The default spool, 30 days of raw readings, 5 years of hourly averages.
    fn default() -> Self {
        StorageSettings {
            spool: None,
            keep_raw: crate::load::DEFAULT_KEEP_RAW,
            keep_hourly: crate::load::DEFAULT_KEEP_HOURLY,
        }
    }
}

/// `[dashboard]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DashboardSettings {
    /// `public_read`: anyone reaching the master may view the dashboard without logging in
    /// (read-only; a greenhouse screen). Default false.
    pub public_read: bool,
    /// `password_file`: where `plantkeeper admin set-password` stores the argon2id hash of
    /// the dashboard password; relative to the settings file's directory after
    /// [`DashboardSettings::resolve_paths`]. Default `dashboard-password`.
    pub password_file: std::path::PathBuf,
    /// `trusted_proxies`: peers whose `X-Forwarded-Proto: https` is believed (the session
    /// cookie is then marked `Secure`). Default none.
    pub trusted_proxies: Vec<IpNetwork>,
}

impl Default for DashboardSettings {
    fn default() -> Self {
        DashboardSettings {
            public_read: false,
            password_file: std::path::PathBuf::from("dashboard-password"),
            trusted_proxies: Vec::new(),
        }
    }
}

impl DashboardSettings {
    /// Makes a relative `password_file` relative to `base` (the config file's directory).
    pub fn resolve_paths(&mut self, base: &std::path::Path) {
        self.password_file = base.join(&self.password_file);
    }

    /// Whether `address` is a trusted proxy.
    pub fn trusts_proxy(&self, address: std::net::IpAddr) -> bool {
        self.trusted_proxies
            .iter()
            .any(|network| network.contains(address))
    }
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
    /// `mdns`: advertise the master over multicast DNS (`_plantkeeper._tcp.local.`), default off.
    pub mdns: bool,
    /// `mdns_name`: the DNS label of the advertised host and instance (`NAME.local.`),
    /// default `plantkeeper`.
    pub mdns_name: String,
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
    /// `repeat_every`, default 4 hours: a firing alert is sent again this often.
    pub repeat_every: Duration,
    /// `channels`.
    pub channels: Vec<AlertChannel>,
    /// `[[alerts.rules]]`: the user's threshold alerts.
    pub rules: Vec<AlertRule>,
}

impl AlertSettings {
    /// Makes every relative `ca_file` and `password_file` relative to `base` (the config
    /// file's directory).
    pub fn resolve_paths(&mut self, base: &std::path::Path) {
        for channel in &mut self.channels {
            if let Some(path) = &mut channel.ca_file {
                *path = base.join(&*path);
            }
            if let ChannelTarget::Email {
                password_file: Some(path),
                ..
            } = &mut channel.target
            {
                *path = base.join(&*path);
            }
        }
    }
}

/// How serious an alert is; channels send only alerts at or above their `min_severity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// `info`.
    Info,
    /// `warning`.
    Warning,
    /// `critical`.
    Critical,
}

impl Severity {
    /// The name as written in the config and in notifications.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    /// The severity named `name`, if any.
    pub fn from_name(name: &str) -> Option<Severity> {
        [Severity::Info, Severity::Warning, Severity::Critical]
            .into_iter()
            .find(|severity| severity.as_str() == name)
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One notification channel of `[alerts] channels`.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertChannel {
    /// Where and how notifications are delivered.
    pub target: ChannelTarget,
    /// `min_severity`, default `info`: less serious alerts are not sent here.
    pub min_severity: Severity,
    /// `max_per_hour`, default 30: notifications beyond this in any hour are dropped (and
    /// counted).
    pub max_per_hour: u32,
    /// `ca_file`: a PEM file of extra trusted CA certificates (a private CA). Relative to the
    /// config file's directory; `serve` resolves it before the master starts.
    pub ca_file: Option<PathBuf>,
}

/// The kind of an [`AlertChannel`] and its address.
#[derive(Debug, Clone, PartialEq)]
pub enum ChannelTarget {
    /// `{ type = "webhook", url = "..." }`: a JSON body POSTed to `url`.
    Webhook {
        /// `http://` or `https://` URL.
        url: String,
    },
    /// `{ type = "ntfy", url = "..." }`: an ntfy topic URL.
    Ntfy {
        /// `http://` or `https://` topic URL.
        url: String,
    },
    /// `{ type = "email", smtp = "smtp://host:port", from = "...", to = ["..."] }`
    Email {
        /// `smtp://host:port` (STARTTLS when offered, required with credentials) or
        /// `smtps://host:port` (TLS from the first byte).
        smtp: String,
        /// Sender address.
        from: String,
        /// Recipients (at least one).
        to: Vec<String>,
        /// `username` for SMTP AUTH.
        username: Option<String>,
        /// `password_file`: the file holding the SMTP password (never the password itself);
        /// relative like `ca_file`.
        password_file: Option<PathBuf>,
    },
}

impl ChannelTarget {
    /// `webhook`, `ntfy` or `email`.
    pub fn kind(&self) -> &'static str {
        match self {
            ChannelTarget::Webhook { .. } => "webhook",
            ChannelTarget::Ntfy { .. } => "ntfy",
            ChannelTarget::Email { .. } => "email",
        }
    }
}

/// `[[alerts.rules]]`: a user threshold alert.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRule {
    /// `name`: unique among the rules, `[a-z0-9_-]`.
    pub name: String,
    /// `when`: the condition (same language as output rules); fires while true.
    pub when: ConditionExpr,
    /// `for`, default 0: the condition must hold this long before the alert fires.
    pub hold_for: Duration,
    /// `severity`, default `warning`.
    pub severity: Severity,
    /// `node`: the node bare sensor names belong to (and that the alert is about).
    pub node: Option<String>,
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

/// `[legacy]`: original PlantKeeper MicroPython nodes (CONTRACT §5), off by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LegacySettings {
    /// `enabled`, default `false`: the legacy routes answer 404 unless this is set.
    pub enabled: bool,
    /// `allow`: networks whose clients may use the token-less legacy routes. Empty means
    /// loopback only (`127.0.0.0/8` and `::1`).
    pub allow: Vec<IpNetwork>,
    /// `map`: which configured node each original node stands for.
    pub map: BTreeMap<LegacySource, String>,
}

impl LegacySettings {
    /// Whether a client at `address` may use the legacy routes.
    pub fn allows(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        if self.allow.is_empty() {
            address.is_loopback()
        } else {
            self.allow.iter().any(|network| network.contains(address))
        }
    }

    /// The configured node that stands for `source`, if it is mapped.
    pub fn node_for(&self, source: &LegacySource) -> Option<&str> {
        self.map.get(source).map(String::as_str)
    }
}

/// An original PlantKeeper node type, aliases already resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LegacyType {
    /// `sprinkler` (alias `sprinkler-valve`): one per plant, told apart by `tag`.
    Sprinkler,
    /// `water` (alias `water-pump`): the tank and its pump.
    Water,
    /// `enclosure`: temperature, humidity, CO2 of the grow box.
    Enclosure,
    /// `cooler`.
    Cooler,
    /// `heater`.
    Heater,
    /// `air-humidifier` (alias `humidifier`).
    AirHumidifier,
}

impl LegacyType {
    /// Every type, in its canonical spelling.
    pub const ALL: [LegacyType; 6] = [
        LegacyType::Sprinkler,
        LegacyType::Water,
        LegacyType::Enclosure,
        LegacyType::Cooler,
        LegacyType::Heater,
        LegacyType::AirHumidifier,
    ];

    /// Every name the original firmware used in its URLs, with the type it means.
    pub const PATH_NAMES: [(&'static str, LegacyType); 9] = [
        ("sprinkler", LegacyType::Sprinkler),
        ("sprinkler-valve", LegacyType::Sprinkler),
        ("water", LegacyType::Water),
        ("water-pump", LegacyType::Water),
        ("enclosure", LegacyType::Enclosure),
        ("cooler", LegacyType::Cooler),
        ("heater", LegacyType::Heater),
        ("air-humidifier", LegacyType::AirHumidifier),
        ("humidifier", LegacyType::AirHumidifier),
    ];

    /// The type a URL or map name stands for, aliases included.
    pub fn from_name(name: &str) -> Option<LegacyType> {
        Self::PATH_NAMES
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, kind)| *kind)
    }

    /// The canonical name, as written in `[legacy.map]` keys.
    pub fn name(self) -> &'static str {
        match self {
            LegacyType::Sprinkler => "sprinkler",
            LegacyType::Water => "water",
            LegacyType::Enclosure => "enclosure",
            LegacyType::Cooler => "cooler",
            LegacyType::Heater => "heater",
            LegacyType::AirHumidifier => "air-humidifier",
        }
    }
}

/// Which original node a `[legacy.map]` key names: a type, plus the `tag` for sprinklers.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LegacySource {
    /// The node type.
    pub kind: LegacyType,
    /// The sprinkler's `tag` (`Some` exactly for sprinklers).
    pub tag: Option<String>,
}

impl std::fmt::Display for LegacySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.tag {
            Some(tag) => write!(f, "{}/{tag}", self.kind.name()),
            None => f.write_str(self.kind.name()),
        }
    }
}

/// An IP network in CIDR notation, such as `10.3.141.0/24` or `fd00::/8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNetwork {
    /// The network address (host bits may be set; they are ignored).
    pub address: IpAddr,
    /// The prefix length: at most 32 for IPv4, 128 for IPv6.
    pub prefix: u8,
}

impl IpNetwork {
    /// Whether `address` is inside this network (an IPv4 network never holds an IPv6 address).
    pub fn contains(&self, address: IpAddr) -> bool {
        match (self.address, address.to_canonical()) {
            (IpAddr::V4(network), IpAddr::V4(address)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(network) & mask == u32::from(address) & mask
            }
            (IpAddr::V6(network), IpAddr::V6(address)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(network) & mask == u128::from(address) & mask
            }
            _ => false,
        }
    }
}

impl std::str::FromStr for IpNetwork {
    type Err = String;

    /// `ADDRESS/PREFIX`, or a bare address meaning that one host.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (address_text, prefix_text) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address: IpAddr = address_text.parse().map_err(|_| {
            format!("expected a network like `10.3.141.0/24`, got `{text}`: `{address_text}` is not an IP address")
        })?;
        let max = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix_text {
            None => max,
            Some(prefix_text) => match prefix_text.parse::<u8>() {
                Ok(prefix) if prefix <= max => prefix,
                _ => {
                    return Err(format!(
                        "expected a prefix length from 0 to {max} after `/`, got `{text}`"
                    ));
                }
            },
        };
        Ok(IpNetwork { address, prefix })
    }
}
