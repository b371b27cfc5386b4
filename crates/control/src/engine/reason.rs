//! [`Reason`]: why an output is ON or OFF, in a grower's words, and the small formatters that
//! write numbers, durations and local times into those words.

use std::fmt;
use std::time::Duration;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::duration::format_duration;

/// What kind of rule decided an output's power (for metrics, filters and colours).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ReasonKind {
    /// Rule 8: every output starts OFF when the master starts.
    MasterStarted,
    /// Rule 6: the output's node has not reported within its `stale_after`.
    NodeSilent,
    /// Rule 2: a sensor input has never been reported (or an output input is unknown).
    InputMissing,
    /// Rule 2: a sensor input is older than its node's `stale_after`.
    InputStale,
    /// Rule 2: a sensor input is not finite or outside its declared range.
    InputInvalid,
    /// Rule 3: a `require` condition is false.
    RequireFailed,
    /// Rule 3: a schedule is set and the moment is outside every window.
    OutsideSchedule,
    /// Rule 4: `on_when` / `off_when` (hysteresis).
    Condition,
    /// Rule 4: no `on_when`, inside a schedule window.
    InsideSchedule,
    /// Neither `on_when` nor `schedule` is set: nothing ever asks for ON.
    NoRule,
    /// Rule 7: a manual override.
    Override,
    /// Rule 5: a condition-driven OFF is held until the run lasted `min_on`.
    MinOn,
    /// Rule 5: no ON until `min_off` has passed since the last OFF.
    MinOff,
    /// Rule 5: the run reached `max_on`.
    MaxOn,
    /// Rule 5: today's ON-time reached `max_on_per_day`.
    DailyBudget,
    /// The output was added by a settings change while running and starts OFF (as rule 8),
    /// or was removed by one and is switched OFF.
    SettingsChanged,
}

impl ReasonKind {
    /// Whether this is a safety OFF (rules 2, 3 and 6), which is never delayed by `min_on` and
    /// never replaced by an override.
    pub fn is_safety(self) -> bool {
        matches!(
            self,
            ReasonKind::NodeSilent
                | ReasonKind::InputMissing
                | ReasonKind::InputStale
                | ReasonKind::InputInvalid
                | ReasonKind::RequireFailed
                | ReasonKind::OutsideSchedule
        )
    }

    /// A stable snake_case name, e.g. `input_stale`, for logs, metrics and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonKind::MasterStarted => "master_started",
            ReasonKind::NodeSilent => "node_silent",
            ReasonKind::InputMissing => "input_missing",
            ReasonKind::InputStale => "input_stale",
            ReasonKind::InputInvalid => "input_invalid",
            ReasonKind::RequireFailed => "require_failed",
            ReasonKind::OutsideSchedule => "outside_schedule",
            ReasonKind::Condition => "condition",
            ReasonKind::InsideSchedule => "inside_schedule",
            ReasonKind::NoRule => "no_rule",
            ReasonKind::Override => "override",
            ReasonKind::MinOn => "min_on",
            ReasonKind::MinOff => "min_off",
            ReasonKind::MaxOn => "max_on",
            ReasonKind::DailyBudget => "daily_budget",
            ReasonKind::SettingsChanged => "settings_changed",
        }
    }
}

impl fmt::Display for ReasonKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an output is ON or OFF: a machine [`ReasonKind`] plus the sentence shown to the grower
/// (its `Display`), e.g. `soil_moisture 28.1 < 30` or `tank.level stale for 42s`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reason {
    /// The rule that decided.
    pub kind: ReasonKind,
    /// The grower-facing sentence.
    pub text: String,
}

impl Reason {
    /// A reason of `kind` with the sentence `text`.
    pub fn new(kind: ReasonKind, text: impl Into<String>) -> Reason {
        Reason {
            kind,
            text: text.into(),
        }
    }

    /// `master started` (rule 8).
    pub fn master_started() -> Reason {
        Reason::new(ReasonKind::MasterStarted, "master started")
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A threshold or raw value: at most two decimals, no trailing zeros (`30`, `0.5`, `120`).
pub(crate) fn number(value: f64) -> String {
    if !value.is_finite() || value.abs() >= 1e9 {
        return format!("{value:e}");
    }
    let text = format!("{value:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_owned()
    } else {
        text.to_owned()
    }
}

/// A sensor reading: like [`number`] but always with a decimal (`28.1`, `46.0`, `12.0`).
pub(crate) fn reading(value: f64) -> String {
    let text = number(value);
    if text.contains(['.', 'e', 'N', 'i']) {
        text
    } else {
        format!("{text}.0")
    }
}

/// A configured duration: `2m`, `1h30m`, `10s`.
pub(crate) fn duration(value: Duration) -> String {
    format_duration(value)
}

/// An age such as `42s` or `3m5s`: whole seconds once over a second (readings are not that
/// precise), milliseconds below.
pub(crate) fn age(value: Duration) -> String {
    if value >= Duration::from_secs(1) {
        format_duration(Duration::from_secs(value.as_secs()))
    } else {
        format_duration(Duration::from_millis(
            u64::try_from(value.as_millis()).unwrap_or(u64::MAX),
        ))
    }
}

/// A local time a grower can read: `14:32`, `14:32:10` when seconds matter, prefixed by the date
/// (`2024-03-31 14:32`) when it is not the same local day as `now`.
pub(crate) fn local_time(at: Timestamp, now: Timestamp, tz: &TimeZone) -> String {
    let local = tz.to_datetime(at);
    let time = if local.second() == 0 {
        local.strftime("%H:%M").to_string()
    } else {
        local.strftime("%H:%M:%S").to_string()
    };
    if local.date() == tz.to_datetime(now).date() {
        time
    } else {
        format!("{} {time}", local.date())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short_and_readings_keep_one_decimal() {
        assert_eq!(number(30.0), "30");
        assert_eq!(number(0.5), "0.5");
        assert_eq!(number(-0.001), "0");
        assert_eq!(reading(46.0), "46.0");
        assert_eq!(reading(28.1), "28.1");
        assert_eq!(reading(0.05), "0.05");
        assert_eq!(reading(f64::NAN), "NaN");
        assert_eq!(number(1e300), "1e300");
    }

    #[test]
    fn ages_are_whole_seconds() {
        assert_eq!(age(Duration::from_millis(42_900)), "42s");
        assert_eq!(age(Duration::from_millis(250)), "250ms");
        assert_eq!(age(Duration::from_secs(185)), "3m5s");
        assert_eq!(age(Duration::ZERO), "0s");
    }

    #[test]
    fn durations_are_compact() {
        assert_eq!(duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(duration(Duration::from_secs(120)), "2m");
        assert_eq!(duration(Duration::from_secs(172_800)), "48h");
    }
}
