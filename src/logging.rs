//! Structured logs to stdout (`[telemetry] log` and `log_format`) and, with `loki_url`, to
//! Grafana Loki as well (see [`crate::loki`]).

use std::time::Duration;

use plantkeeper_control::settings::{LogFormat, TelemetrySettings};
use plantkeeper_master::metrics::Metrics;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::loki::{self, BatchOptions, LokiHandle, LokiMetrics, QUEUE_CAPACITY};

/// How long shutdown waits for the last lines to reach Loki.
const LOKI_FLUSH_LIMIT: Duration = Duration::from_secs(2);

/// The installed logging, kept by the command to register the Loki counters and to flush Loki
/// at shutdown. Keep it while the process logs: dropping it stops the Loki pusher.
pub struct Logging {
    loki: Option<LokiHandle>,
    /// Zeros when Loki is off, so `/metrics` always has the same names.
    idle_loki_metrics: LokiMetrics,
}

impl Logging {
    /// Adds the Loki client's counters to the master's `/metrics`.
    pub fn register_metrics(&self, metrics: &Metrics) {
        match &self.loki {
            Some(loki) => loki.metrics().register(metrics),
            None => self.idle_loki_metrics.register(metrics),
        }
    }

    /// Pushes the lines still queued for Loki (waiting at most 2 s).
    pub async fn finish(self) {
        if let Some(loki) = self.loki {
            loki.finish(LOKI_FLUSH_LIMIT).await;
        }
    }
}

/// Installs the global subscriber; `RUST_LOG` overrides `[telemetry] log`. With `loki_url`,
/// starts the Loki pusher on the current tokio runtime. Installing twice (as tests do) keeps
/// the first and starts no pusher.
///
/// # Errors
/// When `loki_url` cannot be used (the loader has already checked its form).
pub fn init_logging(telemetry: &TelemetrySettings) -> anyhow::Result<Logging> {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&telemetry.log))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let stdout = tracing_subscriber::fmt::layer().with_target(false);
    let stdout = match telemetry.log_format {
        LogFormat::Json => stdout.json().flatten_event(true).boxed(),
        LogFormat::Text => stdout.compact().boxed(),
    };
    let (loki_layer, loki) = match &telemetry.loki_url {
        Some(url) => {
            let labels = loki::static_labels(&telemetry.loki_labels);
            let (layer, handle) =
                loki::start(url, labels, BatchOptions::default(), QUEUE_CAPACITY)?;
            (Some(layer), Some(handle))
        }
        None => (None, None),
    };
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(stdout)
        .with(loki_layer)
        .try_init()
        .is_ok();
    Ok(Logging {
        loki: if installed { loki } else { None },
        idle_loki_metrics: LokiMetrics::default(),
    })
}
