//! The time range of a chart or event list: a preset (`1h`, `24h`, `7d`, `30d`) or a custom
//! `from`/`to`, and the readings `step` that keeps a chart near [`TARGET_POINTS`] points.

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

/// About this many points per chart, whatever the range.
pub const TARGET_POINTS: i64 = 300;
/// Presets: (name, length in hours).
pub const PRESETS: [(&str, i64); 4] = [("1h", 1), ("24h", 24), ("7d", 168), ("30d", 720)];
/// Longest custom range.
pub const MAX_SPAN_HOURS: i64 = 366 * 24;

/// A resolved range.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeRange {
    /// Start (inclusive).
    pub from: Timestamp,
    /// End (exclusive).
    pub to: Timestamp,
    /// The preset's name, or `custom`.
    pub name: String,
}

impl TimeRange {
    /// The bucket width (ms) for about [`TARGET_POINTS`] points; `None` (raw readings) for
    /// ranges up to 100 minutes, where 10-second readings stay within twice that.
    pub fn step_ms(&self) -> Option<i64> {
        let span = self.to.as_millisecond() - self.from.as_millisecond();
        let step = span / TARGET_POINTS;
        (step > 20_000).then(|| round_step(step))
    }
}

/// Rounds a step up to a whole number of seconds, minutes or (from 30 minutes) hours: whole
/// hours are answered from the store's hourly rollup.
fn round_step(ms: i64) -> i64 {
    let unit = if ms < 60_000 {
        1_000
    } else if ms < 1_800_000 {
        60_000
    } else {
        3_600_000
    };
    (ms + unit - 1) / unit * unit
}

/// Resolves `range`, `from` and `to` query values (`from`/`to` as RFC 3339 or a local
/// `YYYY-MM-DDTHH:MM` in `tz`); `default` names the preset used when nothing is given.
/// Errors name the field.
pub fn resolve(
    range: Option<&str>,
    from: Option<&str>,
    to: Option<&str>,
    now: Timestamp,
    tz: &TimeZone,
    default: &str,
) -> Result<TimeRange, (&'static str, String)> {
    let custom =
        from.is_some_and(|text| !text.is_empty()) || to.is_some_and(|text| !text.is_empty());
    if !custom || range.is_some_and(|name| name != "custom") {
        let name = range.unwrap_or(default);
        let hours = PRESETS
            .iter()
            .find(|(preset, _)| *preset == name)
            .map(|(_, hours)| *hours)
            .ok_or_else(|| {
                (
                    "range",
                    format!("unknown range `{name}`: use 1h, 24h, 7d, 30d or from/to"),
                )
            })?;
        let to = now.checked_add(SignedDuration::from_secs(1)).unwrap_or(now);
        let from = to
            .checked_sub(SignedDuration::from_hours(hours))
            .unwrap_or(Timestamp::MIN);
        return Ok(TimeRange {
            from,
            to,
            name: name.to_owned(),
        });
    }
    let to = match to.filter(|text| !text.is_empty()) {
        Some(text) => parse_time(text, tz).map_err(|message| ("to", message))?,
        None => now.checked_add(SignedDuration::from_secs(1)).unwrap_or(now),
    };
    let from = match from.filter(|text| !text.is_empty()) {
        Some(text) => parse_time(text, tz).map_err(|message| ("from", message))?,
        None => to
            .checked_sub(SignedDuration::from_hours(24))
            .unwrap_or(Timestamp::MIN),
    };
    if from >= to {
        return Err(("from", "`from` must be earlier than `to`".to_owned()));
    }
    if to.duration_since(from) > SignedDuration::from_hours(MAX_SPAN_HOURS) {
        return Err(("from", "the range may span at most 366 days".to_owned()));
    }
    Ok(TimeRange {
        from,
        to,
        name: "custom".to_owned(),
    })
}

/// A time given as RFC 3339 or as a local `YYYY-MM-DDTHH:MM[:SS]` in `tz` (what a
/// `datetime-local` field sends); the error says what was expected.
pub fn parse_time(text: &str, tz: &TimeZone) -> Result<Timestamp, String> {
    if let Ok(at) = text.parse::<Timestamp>() {
        return Ok(at);
    }
    text.parse::<DateTime>()
        .ok()
        .and_then(|local| tz.to_timestamp(local).ok())
        .ok_or_else(|| {
            format!("expected a time like 2026-06-01T12:00 (local) or 2026-06-01T12:00:00Z, got `{text}`")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-06-01T12:00:00Z".parse().expect("time")
    }

    #[test]
    fn presets_and_custom_ranges_resolve_with_a_step() {
        let tz = TimeZone::UTC;
        let day = resolve(Some("24h"), None, None, now(), &tz, "24h").expect("preset");
        assert_eq!(day.step_ms(), Some(300_000), "24 h in 5-minute steps");
        let hour = resolve(None, None, None, now(), &tz, "1h").expect("default");
        assert_eq!(hour.name, "1h");
        assert_eq!(hour.step_ms(), None, "raw readings for an hour");
        let week = resolve(Some("7d"), None, None, now(), &tz, "24h").expect("preset");
        assert_eq!(week.step_ms(), Some(3_600_000), "hours from the rollup");
        let month = resolve(Some("30d"), None, None, now(), &tz, "24h").expect("preset");
        assert_eq!(month.step_ms(), Some(3 * 3_600_000));
        let custom = resolve(
            Some("custom"),
            Some("2026-05-31T00:00"),
            Some("2026-06-01T00:00:00Z"),
            now(),
            &tz,
            "24h",
        )
        .expect("custom");
        assert_eq!(custom.from.to_string(), "2026-05-31T00:00:00Z");
        assert_eq!(
            resolve(Some("2y"), None, None, now(), &tz, "24h").map_err(|e| e.0),
            Err("range")
        );
        assert_eq!(
            resolve(None, Some("yesterday"), None, now(), &tz, "24h").map_err(|e| e.0),
            Err("from")
        );
        assert_eq!(
            resolve(
                None,
                Some("2026-06-02T00:00"),
                Some("2026-06-01T00:00"),
                now(),
                &tz,
                "24h"
            )
            .map_err(|e| e.0),
            Err("from")
        );
    }
}
