//! Alerts: built-in rules and the user's `[[alerts.rules]]` are observed every tick, the pure
//! [`AlertBook`] decides what fires, repeats and resolves, firing and resolved alerts are stored
//! as `alert` events, and every notice is offered to the channels' queues.
//!
//! Control never waits for a notification: channel tasks own the network, and the master only
//! `try_send`s into their bounded queues (see [`channel`]).

pub mod channel;
pub mod deliver;
pub mod message;
pub mod observe;
pub mod outputs;

use std::sync::{Arc, Mutex, MutexGuard};

use jiff::Timestamp;
use plantkeeper_control::Settings;
use plantkeeper_control::alerts::{Alert, AlertBook, Notice, NoticeStatus, Observation};
use plantkeeper_control::engine::{Decision, OutputId};
use plantkeeper_store::{Event, StoreError};

use crate::clock::SharedClock;
use channel::ChannelHandle;
use message::event_message;
use outputs::OutputWatch;

/// The alert state of one master.
pub struct Alerts {
    book: Mutex<AlertBook>,
    watch: Mutex<OutputWatch>,
    storage_error: Mutex<Option<String>>,
    started_at: Timestamp,
    channels: Vec<ChannelHandle>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every field is consistent after each statement; a panic elsewhere cannot corrupt it.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Alerts {
    /// Starts one task per configured channel (on the current tokio runtime).
    pub fn start(settings: &Settings, clock: SharedClock, started_at: Timestamp) -> Alerts {
        let master: Arc<str> = Arc::from(host_name());
        let channels = settings
            .alerts
            .channels
            .iter()
            .enumerate()
            .map(|(index, channel)| {
                ChannelHandle::spawn(index, channel, Arc::clone(&clock), Arc::clone(&master))
            })
            .collect();
        Alerts {
            book: Mutex::new(AlertBook::new(settings.alerts.repeat_every)),
            watch: Mutex::new(OutputWatch::default()),
            storage_error: Mutex::new(None),
            started_at,
            channels,
        }
    }

    /// Every alert firing now (for the dashboard and the API).
    pub fn firing(&self) -> Vec<Alert> {
        lock(&self.book).firing()
    }

    /// The running channels with their counters.
    pub fn channels(&self) -> &[ChannelHandle] {
        &self.channels
    }

    /// When the master started.
    pub fn started_at(&self) -> Timestamp {
        self.started_at
    }

    /// Feeds one evaluation's decisions (max_on cuts, safety OFFs).
    pub fn observe_decisions(&self, decisions: &[Decision], now: Timestamp) {
        lock(&self.watch).observe(decisions, now);
    }

    /// Follows a settings change: output memories move to their ids in the new engine
    /// (see [`OutputWatch::remap`]).
    pub fn remap_outputs(&self, new_id: impl Fn(OutputId) -> Option<OutputId>) {
        lock(&self.watch).remap(new_id);
    }

    /// Notes the outcome of a store write: an error starts `storage_error`, a success ends it.
    pub fn storage_result<T>(&self, result: &Result<T, StoreError>) {
        let mut current = lock(&self.storage_error);
        match result {
            Ok(_) => *current = None,
            Err(error) => *current = Some(error.to_string()),
        }
    }

    /// The newest store error while writes fail.
    pub fn storage_error(&self) -> Option<String> {
        lock(&self.storage_error).clone()
    }

    /// Runs the observation with the output memory, then the book at `now`.
    pub fn update(
        &self,
        now: Timestamp,
        observe: impl FnOnce(&mut OutputWatch) -> Vec<Observation>,
    ) -> Vec<Notice> {
        let observations = observe(&mut lock(&self.watch));
        lock(&self.book).update(now, observations)
    }

    /// Offers every notice to every channel; never waits.
    pub fn dispatch(&self, notices: Vec<Notice>) {
        for notice in notices {
            let notice = Arc::new(notice);
            for channel in &self.channels {
                channel.offer(&notice);
            }
        }
    }
}

/// The events to store for `notices`: first firings and resolutions (repeats are not history).
pub fn alert_events(notices: &[Notice]) -> Vec<Event> {
    notices
        .iter()
        .filter(|notice| !notice.repeat)
        .map(|notice| Event {
            at_ms: match notice.status {
                NoticeStatus::Firing => notice.alert.started_at,
                NoticeStatus::Resolved => notice.resolved_at.unwrap_or(notice.alert.started_at),
            }
            .as_millisecond(),
            kind: "alert".to_owned(),
            node: notice.alert.key.node.clone(),
            output: notice.alert.key.output.clone(),
            message: event_message(notice),
        })
        .collect()
}

/// The host name sent as `master` in notifications.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "plantkeeper".to_owned())
}
