//! Logs and events to Grafana Loki (`[telemetry] loki_url`), without ever slowing control.
//!
//! [`LokiLayer`] turns each `tracing` event into one JSON line and hands it to a bounded queue
//! with `try_send`: when the queue is full the **newest** line is dropped and counted, so a
//! slow or absent Loki costs a report nothing. A pusher task ([`batch`]) batches the queue and
//! pushes JSON to `POST /loki/api/v1/push` with a timeout and a few retries, dropping (and
//! counting) batches it cannot deliver.
//!
//! Streams carry few, bounded labels: `app`, `host`, `level`, `kind` (`event` for state
//! changes and other recorded events, `log` otherwise) and the static `loki_labels`. Node ids,
//! outputs and reasons stay in the line, never in labels.

mod batch;
mod layer;
mod target;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use plantkeeper_master::metrics::Metrics;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use tokio::sync::{mpsc, oneshot};

pub use self::batch::BatchOptions;
pub use self::layer::LokiLayer;
pub use self::target::{PUSH_PATH, PushTarget};

/// Lines waiting for the pusher at most; beyond that new lines are dropped.
pub const QUEUE_CAPACITY: usize = 10_000;

/// One log line on its way to Loki.
#[derive(Debug)]
struct Entry {
    /// Wall-clock time, nanoseconds since the Unix epoch.
    at_ns: u128,
    /// `error`, `warn`, `info`, `debug` or `trace`.
    level: &'static str,
    /// `event` or `log`.
    kind: &'static str,
    /// The JSON object of the line.
    line: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DropReason {
    reason: &'static str,
}

/// The Loki client's counters, served in the master's `/metrics`.
#[derive(Debug)]
pub struct LokiMetrics {
    pushed: Counter,
    push_failures: Counter,
    dropped: Family<DropReason, Counter>,
    dropped_queue_full: Counter,
    dropped_push_failed: Counter,
}

impl Default for LokiMetrics {
    fn default() -> Self {
        let dropped = Family::<DropReason, Counter>::default();
        let dropped_queue_full = dropped.get_or_create_owned(&DropReason {
            reason: "queue_full",
        });
        let dropped_push_failed = dropped.get_or_create_owned(&DropReason {
            reason: "push_failed",
        });
        LokiMetrics {
            pushed: Counter::default(),
            push_failures: Counter::default(),
            dropped,
            dropped_queue_full,
            dropped_push_failed,
        }
    }
}

impl LokiMetrics {
    /// Adds the counters to the master's registry as `plantkeeper_loki_*`.
    pub fn register(&self, metrics: &Metrics) {
        metrics.register(
            "loki_pushed_lines",
            "Log lines Loki accepted",
            self.pushed.clone(),
        );
        metrics.register(
            "loki_push_failures",
            "Failed push attempts to Loki (each retry counts)",
            self.push_failures.clone(),
        );
        metrics.register(
            "loki_dropped_lines",
            "Log lines never delivered to Loki: queue_full (the bounded queue was full; the newest line is dropped) or push_failed (every attempt of its batch failed)",
            self.dropped.clone(),
        );
    }
}

/// The running pusher; [`LokiHandle::finish`] flushes it at shutdown.
pub struct LokiHandle {
    metrics: Arc<LokiMetrics>,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl LokiHandle {
    /// The client's counters.
    pub fn metrics(&self) -> &LokiMetrics {
        &self.metrics
    }

    /// Pushes what is still queued (one attempt) and stops, waiting at most `within`.
    pub async fn finish(self, within: Duration) {
        let _ = self.stop.send(());
        let mut task = self.task;
        if tokio::time::timeout(within, &mut task).await.is_err() {
            task.abort();
        }
    }
}

/// Starts the pusher task on the current tokio runtime and returns the layer that feeds it.
/// `labels` are the static stream labels (`app`, `host` and `loki_labels`).
///
/// # Errors
/// When `url` is not a usable `http://` Loki URL.
pub fn start(
    url: &str,
    labels: BTreeMap<String, String>,
    options: BatchOptions,
    capacity: usize,
) -> anyhow::Result<(LokiLayer, LokiHandle)> {
    let target = PushTarget::parse(url)?;
    let metrics = Arc::new(LokiMetrics::default());
    let (sender, queue) = mpsc::channel(capacity.max(1));
    let (stop, stopped) = oneshot::channel();
    let pusher = batch::Pusher {
        target,
        labels,
        options,
        metrics: Arc::clone(&metrics),
    };
    let task = tokio::spawn(pusher.run(queue, stopped));
    Ok((
        LokiLayer::new(sender, Arc::clone(&metrics)),
        LokiHandle {
            metrics,
            stop,
            task,
        },
    ))
}

/// The labels every stream of this process carries: `app`, `host` and the configured ones.
pub fn static_labels(configured: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut labels = configured.clone();
    labels.insert("app".to_owned(), "plantkeeper".to_owned());
    labels.insert("host".to_owned(), host_name());
    labels
}

/// This machine's host name (`unknown` if it has none).
fn host_name() -> String {
    let name = rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned();
    if name.is_empty() {
        "unknown".to_owned()
    } else {
        name
    }
}
