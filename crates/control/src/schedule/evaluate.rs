//! Whether a schedule is open at a moment.
//!
//! Windows compare **local civil time** in the master's time zone, the way a grower reads a
//! wall clock:
//! - a window whose end is not after its start crosses midnight: `22:00-06:00` starting on day
//!   D ends at 06:00 on D+1, and a day prefix names the *start* day (`fri 22:00-06:00` is open
//!   on Saturday at 03:00, not on Friday at 03:00);
//! - on a spring-forward night the skipped hour simply does not happen, so `22:00-06:00` is one
//!   hour shorter; on a fall-back night the repeated hour is inside the window both times when
//!   the window spans it, and a window starting inside it (`01:30-03:30`) is open, closed while
//!   the clock repeats 01:00–01:30, then open again;
//! - `sunrise`/`sunset` ends are that local date's sun events (plus the offset), converted to
//!   local time. When the sun does not rise or set that day (polar night or day), or no
//!   location is configured, a window using that event is empty that day.
//!
//! A start equal to the end (`06:00-06:00`) is a 24-hour window.

use jiff::civil::{Date, DateTime, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};

use super::sun::{sunrise, sunset};
use super::{DaySet, Location, Schedule, TimeOfDay, Window};

/// Start days checked around the local date: a window started the day before may still be
/// open, and sunrise/sunset offsets may move an end across a day boundary either way.
const START_DAY_OFFSETS: [i64; 4] = [-2, -1, 0, 1];

impl Schedule {
    /// The first window (in the order written) that is open at `at`, or `None` when the output
    /// is outside every window.
    pub fn active_window(
        &self,
        at: Timestamp,
        tz: &TimeZone,
        location: Option<Location>,
    ) -> Option<&Window> {
        let local = tz.to_datetime(at);
        self.windows
            .iter()
            .find(|window| window.contains_local(local, tz, location))
    }
}

impl Schedule {
    /// While the schedule is open at `at`: the earliest moment it can close, that is the
    /// latest end among the windows open at `at` (a window starting later may keep it open
    /// longer, never shorter). `None` when it is closed at `at`.
    ///
    /// An end that falls in a DST gap or fold is taken at its earliest possible instant, and a
    /// fall-back that turns the wall clock back out of the window (`01:30-03:30` entered at
    /// 01:45 summer time is closed again from 01:00 to 01:30 winter time) closes it at that
    /// transition, so the answer is never later than the moment [`Schedule::active_window`]
    /// turns `None`.
    pub fn open_until(
        &self,
        at: Timestamp,
        tz: &TimeZone,
        location: Option<Location>,
    ) -> Option<Timestamp> {
        let mut end = self.latest_end_of_windows_open_at(at, tz, location)?;
        // Between two offset transitions the wall clock runs forward, so a window open there
        // stays open until its end; only a transition can close it early. A zone has at most
        // a few transitions in a window's span; the bound only guards against a malformed zone.
        let mut from = at;
        for _ in 0..MAX_TRANSITIONS_PER_WINDOW {
            let Some(transition) = tz.following(from).next().map(|t| t.timestamp()) else {
                return Some(end);
            };
            if transition >= end {
                return Some(end);
            }
            match self.latest_end_of_windows_open_at(transition, tz, location) {
                None => return Some(transition),
                Some(later_end) => end = end.min(later_end),
            }
            from = transition;
        }
        Some(from)
    }

    /// The latest end, as the earliest instant it can happen, among the windows open at `at`.
    fn latest_end_of_windows_open_at(
        &self,
        at: Timestamp,
        tz: &TimeZone,
        location: Option<Location>,
    ) -> Option<Timestamp> {
        let local = tz.to_datetime(at);
        self.windows
            .iter()
            .filter_map(|window| window.open_end_local(local, tz, location))
            .filter_map(|end| earliest_instant(end, tz))
            .max()
    }
}

/// More offset transitions than any real zone has within one window (at most 48 hours).
const MAX_TRANSITIONS_PER_WINDOW: usize = 8;

/// The first instant at which local civil time reaches `local`: in a DST fold the first of its
/// two occurrences, in a DST gap the transition that skips over it.
fn earliest_instant(local: DateTime, tz: &TimeZone) -> Option<Timestamp> {
    use jiff::tz::AmbiguousOffset;
    match tz.to_ambiguous_timestamp(local).offset() {
        AmbiguousOffset::Unambiguous { offset } => offset.to_timestamp(local).ok(),
        AmbiguousOffset::Fold { before, after } => {
            let first = before.to_timestamp(local).ok();
            let second = after.to_timestamp(local).ok();
            first.into_iter().chain(second).min()
        }
        AmbiguousOffset::Gap { after, .. } => {
            // Read with the offset after the gap, `local` lands before the transition; the
            // transition itself is when the wall clock jumps past `local`.
            let before_transition = after.to_timestamp(local).ok()?;
            let transition = tz.following(before_transition).next()?.timestamp();
            Some(transition)
        }
    }
}

impl Window {
    /// Whether this window is open at `at` (start inclusive, end exclusive), in local time of
    /// `tz`. See the [module documentation](self) for midnight, DST and sun rules.
    pub fn contains(&self, at: Timestamp, tz: &TimeZone, location: Option<Location>) -> bool {
        self.contains_local(tz.to_datetime(at), tz, location)
    }

    fn contains_local(&self, local: DateTime, tz: &TimeZone, location: Option<Location>) -> bool {
        self.open_end_local(local, tz, location).is_some()
    }

    /// The local end of this window if it is open at `local` (the latest, should two of its
    /// days overlap there).
    fn open_end_local(
        &self,
        local: DateTime,
        tz: &TimeZone,
        location: Option<Location>,
    ) -> Option<DateTime> {
        START_DAY_OFFSETS
            .iter()
            .filter_map(|&offset| {
                local
                    .date()
                    .checked_add(offset.days())
                    .ok()
                    .filter(|start_day| starts_on(self.days, start_day.weekday()))
                    .and_then(|start_day| self.bounds_starting_on(start_day, tz, location))
                    .filter(|(start, end)| *start <= local && local < *end)
                    .map(|(_, end)| end)
            })
            .max()
    }

    /// The local start and end of this window when it starts on `day`, or `None` when it is
    /// empty that day.
    fn bounds_starting_on(
        &self,
        day: Date,
        tz: &TimeZone,
        location: Option<Location>,
    ) -> Option<(DateTime, DateTime)> {
        let start = local_time_on(self.start, day, tz, location)?;
        let end_same_day = local_time_on(self.end, day, tz, location);
        let end = match end_same_day {
            Some(end) if end > start => end,
            _ => {
                let next_day = day.tomorrow().ok()?;
                local_time_on(self.end, next_day, tz, location)?
            }
        };
        (end > start).then_some((start, end))
    }
}

/// Whether a window with these start days may start on `weekday`.
fn starts_on(days: DaySet, weekday: Weekday) -> bool {
    let bit = weekday.to_monday_zero_offset();
    days.0 & (1 << bit) != 0
}

/// The local civil time `time` means on `day`, or `None` when it does not exist that day.
fn local_time_on(
    time: TimeOfDay,
    day: Date,
    tz: &TimeZone,
    location: Option<Location>,
) -> Option<DateTime> {
    let (event, offset_seconds) = match time {
        TimeOfDay::Clock { minutes } => {
            return day
                .to_datetime(jiff::civil::Time::midnight())
                .checked_add(i64::from(minutes).minutes())
                .ok();
        }
        TimeOfDay::Sunrise { offset_seconds } => (sunrise(day, location?), offset_seconds),
        TimeOfDay::Sunset { offset_seconds } => (sunset(day, location?), offset_seconds),
    };
    let moment = event?
        .checked_add(SignedDuration::from_secs(i64::from(offset_seconds)))
        .ok()?;
    Some(tz.to_datetime(moment))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock(hours: u16, minutes: u16) -> TimeOfDay {
        TimeOfDay::Clock {
            minutes: hours * 60 + minutes,
        }
    }

    #[test]
    fn window_of_equal_ends_is_open_all_day() {
        let window = Window {
            source: "06:00-06:00".to_owned(),
            days: DaySet(0x7f),
            start: clock(6, 0),
            end: clock(6, 0),
        };
        let tz = TimeZone::UTC;
        for hour in [0, 5, 6, 12, 23] {
            let at = jiff::civil::date(2024, 5, 1)
                .at(hour, 30, 0, 0)
                .to_zoned_datetime(tz.clone())
                .expect("UTC has every time")
                .timestamp();
            assert!(
                window.contains(at, &tz, None),
                "06:00-06:00 should be open at {hour}:30"
            );
        }
    }

    #[test]
    fn sun_window_without_location_is_never_open() {
        let window = Window {
            source: "sunrise-sunset".to_owned(),
            days: DaySet(0x7f),
            start: TimeOfDay::Sunrise { offset_seconds: 0 },
            end: TimeOfDay::Sunset { offset_seconds: 0 },
        };
        let noon = jiff::civil::date(2024, 6, 21)
            .at(12, 0, 0, 0)
            .to_zoned_datetime(TimeZone::UTC)
            .expect("UTC has every time")
            .timestamp();
        assert!(!window.contains(noon, &TimeZone::UTC, None));
    }
}
