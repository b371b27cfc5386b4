//! One notification channel as a task: a bounded queue (the master only ever `try_send`s, so
//! control never waits), the channel's `min_severity` and `max_per_hour`, and retries with
//! exponential back-off. Drops and failures are counted and logged.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use plantkeeper_control::alerts::{Notice, RateLimit};
use plantkeeper_control::settings::{AlertChannel, Severity};
use tokio::sync::mpsc;

use super::deliver::Delivery;
use super::message::title;
use crate::clock::SharedClock;

/// Notifications waiting per channel; beyond this they are dropped (and counted).
pub const QUEUE_CAPACITY: usize = 64;
/// Attempts per notification, the first included.
pub const MAX_ATTEMPTS: u32 = 5;
/// Pause before the first retry; it doubles before each further retry.
pub const FIRST_RETRY_AFTER: Duration = Duration::from_millis(500);

/// Counters of one channel.
#[derive(Debug, Default)]
pub struct ChannelStats {
    /// Notifications delivered.
    pub sent: AtomicU64,
    /// Notifications given up after [`MAX_ATTEMPTS`].
    pub failed: AtomicU64,
    /// Failed attempts that were retried.
    pub retried: AtomicU64,
    /// Notifications dropped because the queue was full.
    pub dropped_queue_full: AtomicU64,
    /// Notifications dropped by `max_per_hour`.
    pub dropped_rate_limited: AtomicU64,
}

/// The master's handle on a running channel task.
pub struct ChannelHandle {
    /// `webhook`, `ntfy` or `email` with its position: `channels[0] (webhook)`.
    pub name: String,
    min_severity: Severity,
    queue: mpsc::Sender<Arc<Notice>>,
    /// The channel's counters.
    pub stats: Arc<ChannelStats>,
}

impl ChannelHandle {
    /// Starts the task of `channel` (position `index` in the config) on the current runtime.
    pub fn spawn(
        index: usize,
        channel: &AlertChannel,
        clock: SharedClock,
        master: Arc<str>,
    ) -> ChannelHandle {
        let name = format!("channels[{index}] ({})", channel.target.kind());
        let (queue, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let stats = Arc::new(ChannelStats::default());
        let delivery = Delivery::new(channel);
        if let Err(error) = &delivery {
            tracing::error!(channel = %name, %error, "alert channel cannot deliver");
        }
        let worker = Worker {
            name: name.clone(),
            delivery,
            limit: RateLimit::new(channel.max_per_hour),
            clock,
            master,
            stats: Arc::clone(&stats),
        };
        tokio::spawn(worker.run(receiver));
        ChannelHandle {
            name,
            min_severity: channel.min_severity,
            queue,
            stats,
        }
    }

    /// Queues `notice` if it is serious enough for this channel; never waits.
    pub fn offer(&self, notice: &Arc<Notice>) {
        if notice.alert.severity < self.min_severity {
            return;
        }
        match self.queue.try_send(Arc::clone(notice)) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                let dropped = self
                    .stats
                    .dropped_queue_full
                    .fetch_add(1, Ordering::Relaxed)
                    + 1;
                tracing::warn!(channel = %self.name, dropped, alert = %title(notice), "alert queue full; notification dropped");
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                tracing::error!(channel = %self.name, "alert channel task has stopped");
            }
        }
    }
}

struct Worker {
    name: String,
    delivery: Result<Delivery, String>,
    limit: RateLimit,
    clock: SharedClock,
    master: Arc<str>,
    stats: Arc<ChannelStats>,
}

impl Worker {
    async fn run(mut self, mut receiver: mpsc::Receiver<Arc<Notice>>) {
        while let Some(notice) = receiver.recv().await {
            if !self.limit.try_take(self.clock.now()) {
                let dropped = self
                    .stats
                    .dropped_rate_limited
                    .fetch_add(1, Ordering::Relaxed)
                    + 1;
                tracing::warn!(channel = %self.name, dropped, alert = %title(&notice), "max_per_hour reached; notification dropped");
                continue;
            }
            self.deliver(&notice).await;
        }
    }

    async fn deliver(&self, notice: &Notice) {
        let delivery = match &self.delivery {
            Ok(delivery) => delivery,
            Err(error) => {
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                tracing::error!(channel = %self.name, %error, alert = %title(notice), "notification not sent");
                return;
            }
        };
        let mut pause = FIRST_RETRY_AFTER;
        for attempt in 1..=MAX_ATTEMPTS {
            match delivery.deliver(notice, &self.master).await {
                Ok(()) => {
                    self.stats.sent.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(channel = %self.name, attempt, alert = %title(notice), "notification sent");
                    return;
                }
                Err(error) if attempt < MAX_ATTEMPTS => {
                    self.stats.retried.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(channel = %self.name, attempt, %error, retry_in = ?pause, "notification failed; will retry");
                    tokio::time::sleep(pause).await;
                    pause = pause.saturating_mul(2);
                }
                Err(error) => {
                    self.stats.failed.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(channel = %self.name, attempt, %error, alert = %title(notice), "notification given up");
                }
            }
        }
    }
}
