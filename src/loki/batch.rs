//! The pusher task: takes lines from the bounded queue, groups them into batches (at most
//! [`BatchOptions::max_lines`] lines or [`BatchOptions::max_wait`] after the first line), and
//! pushes each batch with a timeout and a few retries with back-off. A batch that cannot be
//! delivered is dropped and counted; the queue meanwhile keeps refusing new lines when full, so
//! nothing ever waits for Loki but this task.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Bytes;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::target::{PushError, PushTarget};
use super::{Entry, LokiMetrics};

/// How lines are batched and pushed.
#[derive(Debug, Clone)]
pub struct BatchOptions {
    /// A batch is pushed when it holds this many lines...
    pub max_lines: usize,
    /// ...or this long after its first line arrived.
    pub max_wait: Duration,
    /// One push attempt (connect, send, answer) gives up after this.
    pub push_timeout: Duration,
    /// Waits between attempts; a batch gets `1 + retry_delays.len()` attempts, then is dropped.
    pub retry_delays: Vec<Duration>,
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions {
            max_lines: 500,
            max_wait: Duration::from_secs(1),
            push_timeout: Duration::from_secs(5),
            retry_delays: vec![
                Duration::from_millis(250),
                Duration::from_millis(500),
                Duration::from_secs(1),
            ],
        }
    }
}

/// Everything the pusher task needs.
pub(super) struct Pusher {
    pub target: PushTarget,
    pub labels: BTreeMap<String, String>,
    pub options: BatchOptions,
    pub metrics: Arc<LokiMetrics>,
}

impl Pusher {
    /// Runs until `stop` fires (then pushes what is queued once, without retries) or every
    /// sender is gone.
    pub async fn run(self, mut queue: mpsc::Receiver<Entry>, mut stop: oneshot::Receiver<()>) {
        let mut failing = false;
        loop {
            let first = tokio::select! {
                entry = queue.recv() => entry,
                _ = &mut stop => None,
            };
            let Some(first) = first else {
                break;
            };
            let mut batch = vec![first];
            let deadline = Instant::now() + self.options.max_wait;
            let mut stopping = false;
            while batch.len() < self.options.max_lines {
                tokio::select! {
                    entry = queue.recv() => match entry {
                        Some(entry) => batch.push(entry),
                        None => break,
                    },
                    () = tokio::time::sleep_until(deadline) => break,
                    _ = &mut stop => {
                        stopping = true;
                        break;
                    }
                }
            }
            if stopping {
                self.flush(batch, &mut queue).await;
                return;
            }
            failing = self.deliver(batch, failing).await;
        }
        self.flush(Vec::new(), &mut queue).await;
    }

    /// Pushes `batch` with retries; returns whether Loki is failing now. Logs only when that
    /// changes, so an unreachable Loki does not flood the logs (and its own queue).
    async fn deliver(&self, batch: Vec<Entry>, was_failing: bool) -> bool {
        let lines = batch.len() as u64;
        let body = self.body(&batch);
        let mut delays = self.options.retry_delays.iter();
        loop {
            match self
                .target
                .push(body.clone(), self.options.push_timeout)
                .await
            {
                Ok(()) => {
                    self.metrics.pushed.inc_by(lines);
                    if was_failing {
                        tracing::info!("Loki push works again");
                    }
                    return false;
                }
                Err(error) => {
                    self.metrics.push_failures.inc();
                    let delay = match error {
                        PushError::Refused(..) => None,
                        PushError::Transient(_) => delays.next(),
                    };
                    let Some(delay) = delay else {
                        self.metrics.dropped_push_failed.inc_by(lines);
                        if !was_failing {
                            tracing::warn!(
                                %error,
                                lines,
                                "Loki push failed; dropping the batch (further failures are counted in plantkeeper_loki_dropped_lines_total, not logged)"
                            );
                        }
                        return true;
                    };
                    tokio::time::sleep(*delay).await;
                }
            }
        }
    }

    /// Pushes `batch` plus everything still queued, once each, without retries (shutdown).
    async fn flush(&self, mut batch: Vec<Entry>, queue: &mut mpsc::Receiver<Entry>) {
        while let Ok(entry) = queue.try_recv() {
            batch.push(entry);
        }
        for chunk in batch.chunks(self.options.max_lines.max(1)) {
            let lines = chunk.len() as u64;
            match self
                .target
                .push(self.body(chunk), self.options.push_timeout)
                .await
            {
                Ok(()) => {
                    self.metrics.pushed.inc_by(lines);
                }
                Err(_) => {
                    self.metrics.push_failures.inc();
                    self.metrics.dropped_push_failed.inc_by(lines);
                }
            }
        }
    }

    /// The push body: one stream per (level, kind), lines in arrival order.
    fn body(&self, batch: &[Entry]) -> Bytes {
        let mut streams: BTreeMap<(&str, &str), Vec<Value>> = BTreeMap::new();
        for entry in batch {
            streams
                .entry((entry.level, entry.kind))
                .or_default()
                .push(json!([entry.at_ns.to_string(), entry.line]));
        }
        let streams: Vec<Value> = streams
            .into_iter()
            .map(|((level, kind), values)| {
                let mut labels = self.labels.clone();
                labels.insert("level".to_owned(), level.to_owned());
                labels.insert("kind".to_owned(), kind.to_owned());
                json!({ "stream": labels, "values": values })
            })
            .collect();
        Bytes::from(json!({ "streams": streams }).to_string())
    }
}
