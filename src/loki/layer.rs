//! [`LokiLayer`]: a `tracing` layer that queues each event as one JSON line for Loki.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use plantkeeper_master::master::EVENT_TARGET;
use serde_json::{Map, Value};
use tokio::sync::mpsc;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

use super::{Entry, LokiMetrics};

/// Queues events for the Loki pusher, never waiting: a full queue drops the line and counts it.
pub struct LokiLayer {
    queue: mpsc::Sender<Entry>,
    metrics: Arc<LokiMetrics>,
}

impl LokiLayer {
    pub(super) fn new(queue: mpsc::Sender<Entry>, metrics: Arc<LokiMetrics>) -> LokiLayer {
        LokiLayer { queue, metrics }
    }
}

impl<S: Subscriber> Layer<S> for LokiLayer {
    fn on_event(&self, event: &Event<'_>, _context: Context<'_, S>) {
        let metadata = event.metadata();
        let mut fields = JsonFields(Map::new());
        event.record(&mut fields);
        let mut line = fields.0;
        line.insert("target".to_owned(), Value::from(metadata.target()));
        let entry = Entry {
            at_ns: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |since| since.as_nanos()),
            level: level_label(*metadata.level()),
            kind: if metadata.target() == EVENT_TARGET {
                "event"
            } else {
                "log"
            },
            line: Value::Object(line).to_string(),
        };
        if self.queue.try_send(entry).is_err() {
            self.metrics.dropped_queue_full.inc();
        }
    }
}

fn level_label(level: Level) -> &'static str {
    match level {
        Level::ERROR => "error",
        Level::WARN => "warn",
        Level::INFO => "info",
        Level::DEBUG => "debug",
        Level::TRACE => "trace",
    }
}

/// An event's fields as a JSON object (`message` holds the formatted message).
struct JsonFields(Map<String, Value>);

impl Visit for JsonFields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().to_owned(), Value::from(format!("{value:?}")));
    }
}
