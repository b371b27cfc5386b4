//! Structured logs to stdout (`[telemetry] log` and `log_format`).

use plantkeeper_control::settings::{LogFormat, TelemetrySettings};
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber; `RUST_LOG` overrides `[telemetry] log`. Installing twice
/// (as tests do) keeps the first.
pub fn init_logging(telemetry: &TelemetrySettings) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&telemetry.log))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let _ = match telemetry.log_format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.compact().try_init(),
    };
}
