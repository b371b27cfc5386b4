//! Overflow-safe time arithmetic: the engine never panics on far-off timestamps or huge
//! durations.

use std::time::Duration;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

/// `to - from`, or zero when `to` is not after `from`.
pub(crate) fn elapsed(from: Timestamp, to: Timestamp) -> Duration {
    Duration::try_from(to.duration_since(from)).unwrap_or(Duration::ZERO)
}

/// `at + by`, saturating at the largest representable timestamp.
pub(crate) fn later(at: Timestamp, by: Duration) -> Timestamp {
    at.checked_add(by).unwrap_or(Timestamp::MAX)
}

/// The first instant of the local calendar day `day` (after a DST gap if midnight is skipped).
pub(crate) fn start_of_day(day: Date, tz: &TimeZone) -> Option<Timestamp> {
    day.to_zoned_datetime(tz.clone())
        .and_then(|zoned| zoned.start_of_day())
        .ok()
        .map(|zoned| zoned.timestamp())
}
