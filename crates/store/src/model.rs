//! The rows the store reads and writes.

use crate::StoreError;

/// One sensor value at one time.
#[derive(Debug, Clone, PartialEq)]
pub struct NewReading {
    /// Sensor name (`[a-z0-9_]{1,64}`).
    pub sensor: String,
    /// When it was measured (ms since epoch): for backlog entries `received - age_ms`.
    pub at_ms: i64,
    /// The finite value.
    pub value: f64,
}

/// One node report as stored: its identity and its readings (current and backlog).
#[derive(Debug, Clone, PartialEq)]
pub struct ReportRecord {
    /// Node id.
    pub node: String,
    /// The node's random boot number, if it sent one.
    pub boot: Option<u32>,
    /// The node's report sequence number.
    pub seq: u32,
    /// When the master received it.
    pub received_at_ms: i64,
    /// Every reading of the report, backlog included.
    pub readings: Vec<NewReading>,
}

/// An output switching ON or OFF, with the reason a grower reads.
#[derive(Debug, Clone, PartialEq)]
pub struct StateChange {
    /// When it changed.
    pub at_ms: i64,
    /// Node id.
    pub node: String,
    /// Output name.
    pub output: String,
    /// The new power.
    pub power: bool,
    /// Why, e.g. `soil_moisture 28.1 < 30`.
    pub reason: String,
}

/// Something worth recording that is not a state change: master start, override, alert, ...
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// When it happened.
    pub at_ms: i64,
    /// Kind in snake_case, e.g. `master_started`, `override_set`.
    pub kind: String,
    /// The node concerned, if any.
    pub node: Option<String>,
    /// The output concerned, if any.
    pub output: Option<String>,
    /// A human sentence.
    pub message: String,
}

/// Everything one write commits together.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WriteBatch {
    /// Reports with their readings.
    pub reports: Vec<ReportRecord>,
    /// Output state changes.
    pub state_changes: Vec<StateChange>,
    /// Other events.
    pub events: Vec<Event>,
}

impl WriteBatch {
    /// Refuses a batch holding a reading that is not finite, naming it: SQLite would store NaN
    /// as NULL, so no engine stores one.
    ///
    /// # Errors
    /// [`StoreError::InvalidQuery`] naming the first such reading and its node.
    pub fn check_finite(&self) -> Result<(), StoreError> {
        for report in &self.reports {
            if let Some(reading) = report
                .readings
                .iter()
                .find(|reading| !reading.value.is_finite())
            {
                return Err(StoreError::InvalidQuery(format!(
                    "reading `{}` of node `{}` is {}, not a finite number",
                    reading.sensor, report.node, reading.value
                )));
            }
        }
        Ok(())
    }
}

/// What a committed write did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteReceipt {
    /// For each report of the batch, in order: `true` when it was already stored before (a retry).
    pub duplicate: Vec<bool>,
}

/// A readings query.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadingsQuery {
    /// Node id.
    pub node: String,
    /// Sensor name.
    pub sensor: String,
    /// Inclusive start (ms).
    pub from_ms: i64,
    /// Exclusive end (ms).
    pub to_ms: i64,
    /// Bucket width for averaging, if any.
    pub step_ms: Option<i64>,
    /// At most this many points are returned (the oldest ones).
    pub limit: usize,
}

/// One point of a readings answer: time (ms) and value.
pub type Point = (i64, f64);

/// An events query.
#[derive(Debug, Clone, PartialEq)]
pub struct EventsQuery {
    /// Inclusive start (ms).
    pub from_ms: i64,
    /// Exclusive end (ms).
    pub to_ms: i64,
    /// Only this node's events.
    pub node: Option<String>,
    /// At most this many rows (the newest).
    pub limit: usize,
}

/// A row of the events answer: a state change or another event.
#[derive(Debug, Clone, PartialEq)]
pub enum EventRow {
    /// An output switched.
    StateChange(StateChange),
    /// Any other event.
    Event(Event),
}

impl EventRow {
    /// When it happened.
    pub fn at_ms(&self) -> i64 {
        match self {
            EventRow::StateChange(change) => change.at_ms,
            EventRow::Event(event) => event.at_ms,
        }
    }
}

/// One hour in milliseconds: the width of the hourly rollup's buckets.
pub const HOUR_MS: i64 = 3_600_000;

/// How long the store keeps readings (`[storage]` of the config). The writer deletes older rows
/// in small batches after its commits, measuring age from the newest report it committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Raw readings older than this (ms) are deleted.
    pub keep_raw_ms: i64,
    /// Hourly rollup rows older than this (ms) are deleted.
    pub keep_hourly_ms: i64,
}

impl Default for Retention {
    /// 30 days of raw readings, 5 years (of 365 days) of hourly rollups.
    fn default() -> Self {
        const DAY_MS: i64 = 24 * HOUR_MS;
        Retention {
            keep_raw_ms: 30 * DAY_MS,
            keep_hourly_ms: 5 * 365 * DAY_MS,
        }
    }
}

/// What `plantkeeper export` reads: the raw readings of one node (one sensor or all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportQuery {
    /// Node id.
    pub node: String,
    /// Only this sensor; `None` for every sensor of the node.
    pub sensor: Option<String>,
    /// Inclusive start (ms).
    pub from_ms: i64,
    /// Exclusive end (ms).
    pub to_ms: i64,
}

/// One exported reading.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportRow {
    /// When it was measured (ms).
    pub at_ms: i64,
    /// Sensor name.
    pub sensor: String,
    /// The value.
    pub value: f64,
}

/// Rows per chunk an export sends: the store holds at most one chunk (plus the receiver's
/// channel) in memory, whatever the range.
pub const EXPORT_CHUNK_ROWS: usize = 1024;
