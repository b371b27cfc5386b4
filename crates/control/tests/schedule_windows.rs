//! Schedule windows in local civil time: midnight crossing, day prefixes, DST and the sun.

mod engine_common;

use engine_common::{local, window};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use plantkeeper_control::schedule::{Location, Schedule};

const PARIS: &str = "Europe/Paris";
const NEW_YORK: &str = "America/New_York";

fn open(text: &str, zone: &str, at: Timestamp) -> bool {
    let tz = TimeZone::get(zone).expect("bundled tzdb");
    window(text).contains(at, &tz, None)
}

/// Real minutes the window is open between two local times, sampled each minute.
fn open_minutes(text: &str, zone: &str, from: &str, to: &str) -> usize {
    let (mut at, end) = (local(zone, from), local(zone, to));
    let mut minutes = 0;
    while at < end {
        minutes += usize::from(open(text, zone, at));
        at = at
            .checked_add(jiff::SignedDuration::from_mins(1))
            .expect("in range");
    }
    minutes
}

#[test]
fn window_crossing_midnight_is_open_overnight_only() {
    // Wednesday 15 May 2024.
    for (time, expected) in [
        ("2024-05-15T23:00", true),
        ("2024-05-16T05:59", true),
        ("2024-05-16T06:00", false),
        ("2024-05-15T21:59", false),
        ("2024-05-15T22:00", true),
        ("2024-05-15T12:00", false),
    ] {
        assert_eq!(
            open("22:00-06:00", PARIS, local(PARIS, time)),
            expected,
            "22:00-06:00 at {time}"
        );
    }
}

#[test]
fn day_prefix_applies_to_the_start_day() {
    // Friday 17 May 2024 and Saturday 18 May 2024.
    assert!(
        open("fri 22:00-06:00", PARIS, local(PARIS, "2024-05-18T03:00")),
        "open Saturday 03:00 (started Friday)"
    );
    assert!(
        !open("fri 22:00-06:00", PARIS, local(PARIS, "2024-05-17T03:00")),
        "closed Friday 03:00 (Thursday did not start it)"
    );
    assert!(
        open("fri 22:00-06:00", PARIS, local(PARIS, "2024-05-17T23:00")),
        "open Friday 23:00"
    );
    assert!(
        !open("fri 22:00-06:00", PARIS, local(PARIS, "2024-05-18T23:00")),
        "closed Saturday 23:00"
    );
    assert!(open(
        "mon-fri 07:00-20:00",
        PARIS,
        local(PARIS, "2024-05-17T19:59")
    ));
    assert!(
        !open(
            "mon-fri 07:00-20:00",
            PARIS,
            local(PARIS, "2024-05-18T12:00")
        ),
        "closed on Saturday"
    );
    assert!(
        open(
            "sat,sun 09:00-18:00",
            PARIS,
            local(PARIS, "2024-05-19T09:00")
        ),
        "open Sunday 09:00"
    );
}

#[test]
fn windows_inside_the_skipped_hour_are_empty_on_spring_forward_day() {
    assert_eq!(
        open_minutes("02:00-03:00", PARIS, "2024-03-31T00:00", "2024-03-31T06:00"),
        0
    );
    assert_eq!(
        open_minutes(
            "02:00-03:00",
            NEW_YORK,
            "2024-03-10T00:00",
            "2024-03-10T06:00"
        ),
        0
    );
    assert_eq!(
        open_minutes("02:30-03:30", PARIS, "2024-03-31T00:00", "2024-03-31T06:00"),
        30,
        "only 03:00-03:30 exists"
    );
    assert_eq!(
        open_minutes(
            "01:00-04:00",
            NEW_YORK,
            "2024-03-10T00:00",
            "2024-03-10T06:00"
        ),
        120
    );
}

#[test]
fn repeated_hour_is_inside_both_times_on_fall_back_day() {
    // Paris repeats 02:00-03:00, New York repeats 01:00-02:00.
    assert_eq!(
        open_minutes("02:00-03:00", PARIS, "2024-10-27T00:00", "2024-10-27T06:00"),
        120
    );
    assert_eq!(
        open_minutes(
            "01:00-02:00",
            NEW_YORK,
            "2024-11-03T00:00",
            "2024-11-03T06:00"
        ),
        120
    );
    assert_eq!(
        open_minutes(
            "02:00-03:00",
            NEW_YORK,
            "2024-11-03T00:00",
            "2024-11-03T06:00"
        ),
        60
    );
    let first: Timestamp = "2024-11-03T01:30-04:00"
        .parse()
        .expect("a literal timestamp");
    let second: Timestamp = "2024-11-03T01:30-05:00"
        .parse()
        .expect("a literal timestamp");
    assert!(open("01:00-02:00", NEW_YORK, first), "01:30 EDT is inside");
    assert!(
        open("01:00-02:00", NEW_YORK, second),
        "01:30 EST is inside too"
    );
    assert!(
        !open("02:00-03:00", NEW_YORK, second),
        "01:30 EST is still before 02:00"
    );
}

#[test]
fn a_window_starting_inside_the_repeated_hour_closes_when_the_clock_turns_back() {
    // New York, 2024-11-03: 01:59:59 EDT is followed by 01:00:00 EST. `01:30-03:30` entered at
    // 01:45 EDT is closed from 01:00 to 01:30 EST, so it must close at the transition, not at
    // 03:30: a lease reaching past the transition would keep a valve ON while closed.
    let tz = TimeZone::get(NEW_YORK).expect("bundled tzdb");
    let schedule = Schedule {
        windows: vec![window("01:30-03:30")],
    };
    let at: Timestamp = "2024-11-03T01:45-04:00"
        .parse()
        .expect("a literal timestamp");
    let transition: Timestamp = "2024-11-03T01:00-05:00"
        .parse()
        .expect("a literal timestamp");
    assert_eq!(schedule.open_until(at, &tz, None), Some(transition));
    assert!(
        !open("01:30-03:30", NEW_YORK, transition),
        "closed right after the turn"
    );
    // Open again from 01:30 EST, until 03:30 EST.
    let reopened: Timestamp = "2024-11-03T01:30-05:00"
        .parse()
        .expect("a literal timestamp");
    let end: Timestamp = "2024-11-03T03:30-05:00"
        .parse()
        .expect("a literal timestamp");
    assert_eq!(schedule.open_until(reopened, &tz, None), Some(end));
    // A window spanning the whole repeated hour still closes only at its end.
    let overnight = Schedule {
        windows: vec![window("22:00-06:00")],
    };
    let night_end: Timestamp = "2024-11-03T06:00-05:00"
        .parse()
        .expect("a literal timestamp");
    assert_eq!(overnight.open_until(at, &tz, None), Some(night_end));
}

#[test]
fn sun_window_follows_the_seasons() {
    let tz = TimeZone::get(PARIS).expect("bundled tzdb");
    let paris = Some(Location {
        latitude: 48.85,
        longitude: 2.35,
    });
    let daylight = window("sunrise+30m-sunset");
    assert!(
        daylight.contains(local(PARIS, "2024-06-21T07:00"), &tz, paris),
        "June 07:00 is after sunrise+30m"
    );
    assert!(
        !daylight.contains(local(PARIS, "2024-12-21T07:00"), &tz, paris),
        "December 07:00 is before sunrise"
    );
    assert!(
        daylight.contains(local(PARIS, "2024-06-21T21:30"), &tz, paris),
        "June sunset is near 22:00"
    );
    assert!(
        !daylight.contains(local(PARIS, "2024-12-21T17:30"), &tz, paris),
        "December sunset is near 17:00"
    );
    assert!(
        !daylight.contains(local(PARIS, "2024-06-21T05:50"), &tz, paris),
        "before sunrise+30m"
    );
}

#[test]
fn sun_window_is_empty_in_polar_night_and_other_windows_still_apply() {
    let zone = "Arctic/Longyearbyen";
    let tz = TimeZone::get(zone).expect("bundled tzdb");
    let svalbard = Some(Location {
        latitude: 78.2,
        longitude: 15.6,
    });
    let schedule = Schedule {
        windows: vec![window("sunrise-sunset"), window("10:00-14:00")],
    };
    let noon = local(zone, "2024-12-21T12:00");
    let active = schedule
        .active_window(noon, &tz, svalbard)
        .map(|w| w.source.as_str());
    assert_eq!(
        active,
        Some("10:00-14:00"),
        "no sunrise in polar night: only the clock window is open"
    );
    let evening = local(zone, "2024-12-21T16:00");
    assert_eq!(schedule.active_window(evening, &tz, svalbard), None);
}

#[test]
fn evening_to_sunrise_window_crosses_midnight() {
    let tz = TimeZone::get(PARIS).expect("bundled tzdb");
    let paris = Some(Location {
        latitude: 48.85,
        longitude: 2.35,
    });
    let night = window("20:00-sunrise");
    assert!(night.contains(local(PARIS, "2024-06-22T03:00"), &tz, paris));
    assert!(
        !night.contains(local(PARIS, "2024-06-22T07:00"), &tz, paris),
        "sunrise is before 06:00 in June"
    );
    assert!(!night.contains(local(PARIS, "2024-06-21T19:00"), &tz, paris));
}

#[test]
fn far_away_instants_never_panic() {
    let tz = TimeZone::get(PARIS).expect("bundled tzdb");
    let paris = Some(Location {
        latitude: 48.85,
        longitude: 2.35,
    });
    for text in [
        "22:00-06:00",
        "sunrise-sunset",
        "sunset-sunrise+30m",
        "sun 00:00-00:00",
    ] {
        for at in [Timestamp::MIN, Timestamp::MAX, Timestamp::UNIX_EPOCH] {
            let _ = window(text).contains(at, &tz, paris);
        }
    }
}
