//! The master's Prometheus metrics, served as text by `GET /metrics` (CONTRACT §4).
//!
//! Counters are incremented where things happen (the report path, [`crate::Master`]'s
//! recording of state changes, the metered store); the garden gauges (nodes by status, outputs
//! ON) are computed from the live view at scrape time. Every name starts with `plantkeeper_`;
//! docs/telemetry.md lists them.

use std::sync::Mutex;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{EncodeLabelSet, prometheus_text};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Metric, Registry, Unit};

/// `Content-Type` of the `GET /metrics` answer (Prometheus text format 0.0.4).
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// Store-write latency buckets: 0.5 ms doubling up to about 8 s.
const WRITE_BUCKETS: (f64, f64, u16) = (0.0005, 2.0, 15);

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PowerLabel {
    power: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: &'static str,
}

/// How many configured nodes are in each status, for the `plantkeeper_nodes` gauge.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeCounts {
    /// Reported within their `stale_after`.
    pub online: i64,
    /// Reported once, but not within their `stale_after`.
    pub stale: i64,
    /// Not reported since the master started.
    pub never_seen: i64,
}

/// Every metric of the master, and the registry that encodes them.
#[derive(Debug)]
pub struct Metrics {
    registry: Mutex<Registry>,
    reports_received: Counter,
    reports_rejected: Family<ReasonLabel, Counter>,
    reports_duplicate: Counter,
    readings_stored: Counter,
    state_changes: Family<PowerLabel, Counter>,
    store_write_duration: Histogram,
    store_write_queue_depth: Gauge,
    nodes: Family<StatusLabel, Gauge>,
    outputs_on: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Every metric at zero, registered under the `plantkeeper_` prefix.
    pub fn new() -> Metrics {
        let (start, factor, count) = WRITE_BUCKETS;
        let metrics = Metrics {
            registry: Mutex::new(Registry::with_prefix("plantkeeper")),
            reports_received: Counter::default(),
            reports_rejected: Family::default(),
            reports_duplicate: Counter::default(),
            readings_stored: Counter::default(),
            state_changes: Family::default(),
            store_write_duration: Histogram::new(exponential_buckets(start, factor, count)),
            store_write_queue_depth: Gauge::default(),
            nodes: Family::default(),
            outputs_on: Gauge::default(),
        };
        // Both powers exist from the start, so rate() and increase() see the first change.
        for power in ["on", "off"] {
            let _ = metrics.state_changes.get_or_create(&PowerLabel { power });
        }
        metrics.register(
            "reports_received",
            "Node reports received on POST /api/v1/nodes/{id}/report, accepted or not",
            metrics.reports_received.clone(),
        );
        metrics.register(
            "reports_rejected",
            "Node reports answered with an error, by the error code of the answer",
            metrics.reports_rejected.clone(),
        );
        metrics.register(
            "reports_duplicate",
            "Accepted reports that were retries of an already stored report (stored once)",
            metrics.reports_duplicate.clone(),
        );
        metrics.register(
            "readings_stored",
            "Sensor readings committed to the store (backlog included, retries excluded)",
            metrics.readings_stored.clone(),
        );
        metrics.register(
            "state_changes",
            "Output state changes recorded, by new power (on/off)",
            metrics.state_changes.clone(),
        );
        metrics.register_with_unit(
            "store_write_duration",
            "Time from submitting a write to the store until it was durably committed (queue wait and group commit included); failed writes are not observed",
            Unit::Seconds,
            metrics.store_write_duration.clone(),
        );
        metrics.register(
            "store_write_queue_depth",
            "Store writes submitted and not yet committed (waiting for or inside the writer's transaction)",
            metrics.store_write_queue_depth.clone(),
        );
        metrics.register(
            "nodes",
            "Configured nodes by status (online, stale, never_seen), as of the scrape",
            metrics.nodes.clone(),
        );
        metrics.register(
            "outputs_on",
            "Outputs the master currently commands ON, as of the scrape",
            metrics.outputs_on.clone(),
        );
        metrics
    }

    /// Registers another metric (for example the Loki client's) as `plantkeeper_NAME`.
    pub fn register(&self, name: &str, help: &str, metric: impl Metric) {
        self.registry().register(name, help, metric);
    }

    /// Registers another metric with a unit suffix, as `plantkeeper_NAME_UNIT`.
    pub fn register_with_unit(&self, name: &str, help: &str, unit: Unit, metric: impl Metric) {
        self.registry().register_with_unit(name, help, unit, metric);
    }

    /// Adds a collector read at every scrape (for counters another module owns).
    pub fn register_collector(&self, collector: impl Collector) {
        self.registry().register_collector(Box::new(collector));
    }

    /// A node report arrived on the node API.
    pub fn report_received(&self) {
        self.reports_received.inc();
    }

    /// A node report was answered with the error `code` (a fixed snake_case code, so the label
    /// set stays small).
    pub fn report_rejected(&self, code: &'static str) {
        self.reports_rejected
            .get_or_create(&ReasonLabel { reason: code })
            .inc();
    }

    /// An accepted report turned out to be a retry of a stored one.
    pub fn report_duplicate(&self) {
        self.reports_duplicate.inc();
    }

    /// `count` readings were committed.
    pub fn readings_stored(&self, count: usize) {
        self.readings_stored
            .inc_by(u64::try_from(count).unwrap_or(u64::MAX));
    }

    /// An output changed to `power`.
    pub fn state_change(&self, power: bool) {
        let power = if power { "on" } else { "off" };
        self.state_changes
            .get_or_create(&PowerLabel { power })
            .inc();
    }

    /// A store write is submitted: it joins the queue until the returned guard is dropped
    /// (after the commit, or when the caller gave up waiting).
    pub fn store_write_started(&self) -> StoreWriteTimer<'_> {
        self.store_write_queue_depth.inc();
        StoreWriteTimer {
            metrics: self,
            started: std::time::Instant::now(),
        }
    }

    /// Encodes every metric in the Prometheus text format, after setting the garden gauges to
    /// `nodes` and `outputs_on`.
    pub fn encode(&self, nodes: NodeCounts, outputs_on: i64) -> String {
        for (status, count) in [
            ("online", nodes.online),
            ("stale", nodes.stale),
            ("never_seen", nodes.never_seen),
        ] {
            self.nodes.get_or_create(&StatusLabel { status }).set(count);
        }
        self.outputs_on.set(outputs_on);
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_text::encode(&mut text, &self.registry());
        text
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        // The registry is only appended to and read; a panic elsewhere cannot corrupt it.
        self.registry
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// One store write in flight; see [`Metrics::store_write_started`].
#[derive(Debug)]
pub struct StoreWriteTimer<'a> {
    metrics: &'a Metrics,
    started: std::time::Instant,
}

impl StoreWriteTimer<'_> {
    /// The write was committed: records how long it took.
    pub fn committed(self) {
        self.metrics
            .store_write_duration
            .observe(self.started.elapsed().as_secs_f64());
    }
}

impl Drop for StoreWriteTimer<'_> {
    fn drop(&mut self) {
        self.metrics.store_write_queue_depth.dec();
    }
}
