//! The pure alert evaluator: given what is wrong right now and the time, which alerts fire,
//! which repeat and which resolve.
//!
//! The master observes its live view every tick and hands the [`AlertBook`] one
//! [`Observation`] per problem it sees (a silent node, an invalid sensor, a user rule whose
//! `when` holds, ...). The book keeps, per [`AlertKey`]:
//! - **pending**: observed, but not yet for the rule's `for` duration — nothing is sent;
//! - **firing**: one `firing` notice when it starts, then nothing (deduplication) until
//!   `repeat_every` has passed since the last notice, when a repeat is sent;
//! - when a key is no longer observed, a firing alert sends one `resolved` notice and a pending
//!   one is forgotten.
//!
//! No I/O and no clock: `now` is an argument, so the rules are property-tested.

mod rate;

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;

use crate::engine::time::elapsed;
use crate::settings::Severity;

pub use rate::RateLimit;

/// The built-in rules' names (docs/alerts.md); a user rule may not take one.
pub const BUILT_IN_RULES: [&str; 7] = [
    "node_silent",
    "sensor_invalid",
    "output_max_on",
    "safety_off_repeats",
    "require_blocking",
    "storage_error",
    "master_restarted",
];

/// What one alert is about: the rule and the node, output and sensor concerned.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AlertKey {
    /// The built-in rule (`node_silent`, `sensor_invalid`, ...) or the user rule's `name`.
    pub rule: String,
    /// The node concerned, if any.
    pub node: Option<String>,
    /// The output concerned, if any.
    pub output: Option<String>,
    /// The sensor concerned, if any.
    pub sensor: Option<String>,
}

/// One problem seen at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// What it is about.
    pub key: AlertKey,
    /// How serious it is.
    pub severity: Severity,
    /// A sentence for the grower, e.g. `node bed-1 has not reported for 2m`.
    pub message: String,
    /// How long it must be observed without a break before it fires.
    pub hold_for: Duration,
}

/// An alert that is firing (or, in a resolved notice, was).
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// What it is about.
    pub key: AlertKey,
    /// How serious it is.
    pub severity: Severity,
    /// The newest sentence observed.
    pub message: String,
    /// When it started firing.
    pub started_at: Timestamp,
}

/// Whether a notice announces an alert or its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeStatus {
    /// The alert fires (first time or repeat).
    Firing,
    /// The alert is over.
    Resolved,
}

impl NoticeStatus {
    /// `firing` or `resolved`, as in the webhook body.
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeStatus::Firing => "firing",
            NoticeStatus::Resolved => "resolved",
        }
    }
}

/// One notification to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// Firing or resolved.
    pub status: NoticeStatus,
    /// The alert.
    pub alert: Alert,
    /// When it resolved (`Some` exactly for resolved notices).
    pub resolved_at: Option<Timestamp>,
    /// Whether this is a repeat of an alert already announced.
    pub repeat: bool,
}

#[derive(Debug, Clone)]
struct Firing {
    alert: Alert,
    last_sent: Timestamp,
}

/// The alert state machine of one master: pending and firing alerts.
#[derive(Debug, Clone)]
pub struct AlertBook {
    repeat_every: Duration,
    pending: BTreeMap<AlertKey, Timestamp>,
    firing: BTreeMap<AlertKey, Firing>,
}

impl AlertBook {
    /// An empty book; firing alerts repeat every `repeat_every`.
    pub fn new(repeat_every: Duration) -> AlertBook {
        AlertBook {
            repeat_every,
            pending: BTreeMap::new(),
            firing: BTreeMap::new(),
        }
    }

    /// Takes everything observed at `now` (the complete list: a key missing from it is no
    /// longer a problem) and returns the notices to send, in key order. Repeated keys count
    /// once (the first wins).
    pub fn update(&mut self, now: Timestamp, observations: Vec<Observation>) -> Vec<Notice> {
        let mut seen: BTreeMap<AlertKey, Observation> = BTreeMap::new();
        for observation in observations {
            seen.entry(observation.key.clone()).or_insert(observation);
        }
        let mut notices = Vec::new();
        let gone: Vec<AlertKey> = self
            .firing
            .keys()
            .filter(|key| !seen.contains_key(*key))
            .cloned()
            .collect();
        for key in gone {
            if let Some(firing) = self.firing.remove(&key) {
                notices.push(Notice {
                    status: NoticeStatus::Resolved,
                    alert: firing.alert,
                    resolved_at: Some(now),
                    repeat: false,
                });
            }
        }
        self.pending.retain(|key, _| seen.contains_key(key));
        for (key, observation) in seen {
            if let Some(firing) = self.firing.get_mut(&key) {
                firing.alert.message = observation.message;
                firing.alert.severity = observation.severity;
                if elapsed(firing.last_sent, now) >= self.repeat_every {
                    firing.last_sent = now;
                    notices.push(Notice {
                        status: NoticeStatus::Firing,
                        alert: firing.alert.clone(),
                        resolved_at: None,
                        repeat: true,
                    });
                }
                continue;
            }
            let since = *self.pending.entry(key.clone()).or_insert(now);
            if elapsed(since, now) >= observation.hold_for {
                self.pending.remove(&key);
                let alert = Alert {
                    key: key.clone(),
                    severity: observation.severity,
                    message: observation.message,
                    started_at: now,
                };
                notices.push(Notice {
                    status: NoticeStatus::Firing,
                    alert: alert.clone(),
                    resolved_at: None,
                    repeat: false,
                });
                self.firing.insert(
                    key,
                    Firing {
                        alert,
                        last_sent: now,
                    },
                );
            }
        }
        notices.sort_by(|a, b| a.alert.key.cmp(&b.alert.key));
        notices
    }

    /// Every alert firing now, in key order (for the dashboard and the API).
    pub fn firing(&self) -> Vec<Alert> {
        self.firing
            .values()
            .map(|firing| firing.alert.clone())
            .collect()
    }
}

/// A one-off notice that fires once and has no end (e.g. `master_restarted`): it is never kept
/// in a book, so it never repeats and never resolves.
pub fn one_off(now: Timestamp, observation: Observation) -> Notice {
    Notice {
        status: NoticeStatus::Firing,
        alert: Alert {
            key: observation.key,
            severity: observation.severity,
            message: observation.message,
            started_at: now,
        },
        resolved_at: None,
        repeat: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + seconds).expect("valid timestamp")
    }

    fn dry(hold_for: u64) -> Observation {
        Observation {
            key: AlertKey {
                rule: "dry".to_owned(),
                node: Some("bed-1".to_owned()),
                output: None,
                sensor: None,
            },
            severity: Severity::Warning,
            message: "soil is dry".to_owned(),
            hold_for: Duration::from_secs(hold_for),
        }
    }

    fn statuses(notices: &[Notice]) -> Vec<(&'static str, bool)> {
        notices
            .iter()
            .map(|notice| (notice.status.as_str(), notice.repeat))
            .collect()
    }

    #[test]
    fn fires_after_for_once_then_repeats_then_resolves() {
        let mut book = AlertBook::new(Duration::from_secs(60));
        assert!(book.update(at(0), vec![dry(10)]).is_empty(), "pending");
        assert!(
            book.update(at(9), vec![dry(10)]).is_empty(),
            "still pending"
        );
        assert_eq!(
            statuses(&book.update(at(10), vec![dry(10)])),
            [("firing", false)]
        );
        assert!(
            book.update(at(11), vec![dry(10)]).is_empty(),
            "deduplicated"
        );
        assert_eq!(book.firing().len(), 1);
        assert_eq!(
            statuses(&book.update(at(70), vec![dry(10)])),
            [("firing", true)]
        );
        assert!(book.update(at(129), vec![dry(10)]).is_empty());
        let resolved = book.update(at(130), vec![]);
        assert_eq!(statuses(&resolved), [("resolved", false)]);
        assert_eq!(resolved[0].alert.started_at, at(10));
        assert_eq!(resolved[0].resolved_at, Some(at(130)));
        assert!(book.firing().is_empty());
    }

    #[test]
    fn a_break_restarts_the_for_timer() {
        let mut book = AlertBook::new(Duration::from_secs(60));
        assert!(book.update(at(0), vec![dry(10)]).is_empty());
        assert!(
            book.update(at(5), vec![]).is_empty(),
            "pending ends silently"
        );
        assert!(book.update(at(10), vec![dry(10)]).is_empty());
        assert!(book.update(at(19), vec![dry(10)]).is_empty());
        assert_eq!(
            statuses(&book.update(at(20), vec![dry(10)])),
            [("firing", false)]
        );
    }
}
