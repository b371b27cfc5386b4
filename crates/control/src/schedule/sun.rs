//! Sunrise and sunset for a local date, from the `sunrise` crate.
//!
//! The sun is computed for the solar day centred on the mean solar noon of `date` at the
//! location's longitude, so a local calendar date maps to that date's sunrise and sunset.
//! In polar night or polar day the sun does not rise or set: the functions return `None` and
//! a window bounded by that event is empty on that day (the output stays OFF unless another
//! window is open).

use jiff::Timestamp;
use jiff::civil::Date;
use sunrise::{Coordinates, SolarDay, SolarEvent};

use super::Location;

/// The moment the sun rises at `location` on the local calendar `date`, or `None` when it does
/// not rise that day (polar night or polar day) or the location is not a valid coordinate.
pub fn sunrise(date: Date, location: Location) -> Option<Timestamp> {
    sun_event(date, location, SolarEvent::Sunrise)
}

/// The moment the sun sets at `location` on the local calendar `date`, or `None` when it does
/// not set that day (polar night or polar day) or the location is not a valid coordinate.
pub fn sunset(date: Date, location: Location) -> Option<Timestamp> {
    sun_event(date, location, SolarEvent::Sunset)
}

fn sun_event(date: Date, location: Location, event: SolarEvent) -> Option<Timestamp> {
    let coordinates = Coordinates::new(location.latitude, location.longitude)?;
    let month = u32::try_from(date.month()).ok()?;
    let day = u32::try_from(date.day()).ok()?;
    let chrono_date = chrono::NaiveDate::from_ymd_opt(i32::from(date.year()), month, day)?;
    let moment = SolarDay::new(coordinates, chrono_date).event_time(event)?;
    Timestamp::from_second(moment.timestamp()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use jiff::tz::TimeZone;

    const PARIS: Location = Location {
        latitude: 48.85,
        longitude: 2.35,
    };

    fn local_hour_minute(at: Timestamp, zone: &str) -> (i8, i8) {
        let tz = TimeZone::get(zone).expect("bundled tzdb has the zone");
        let local = tz.to_datetime(at);
        (local.hour(), local.minute())
    }

    #[test]
    fn paris_midsummer_sun_rises_before_six_and_sets_after_nine_local() {
        let day = date(2024, 6, 21);
        let rise = sunrise(day, PARIS).expect("the sun rises in Paris in June");
        let set = sunset(day, PARIS).expect("the sun sets in Paris in June");
        let (rise_h, rise_m) = local_hour_minute(rise, "Europe/Paris");
        let (set_h, set_m) = local_hour_minute(set, "Europe/Paris");
        assert_eq!(
            (rise_h, rise_m / 10),
            (5, 4),
            "Paris sunrise on 21 June is about 05:47"
        );
        assert_eq!(
            (set_h, set_m / 10),
            (21, 5),
            "Paris sunset on 21 June is about 21:58"
        );
    }

    #[test]
    fn polar_night_has_no_sunrise() {
        let tromso_far_north = Location {
            latitude: 78.2,
            longitude: 15.6,
        };
        assert_eq!(sunrise(date(2024, 12, 21), tromso_far_north), None);
        assert_eq!(sunset(date(2024, 6, 21), tromso_far_north), None);
    }

    #[test]
    fn invalid_coordinates_give_no_event_instead_of_panicking() {
        let nowhere = Location {
            latitude: f64::NAN,
            longitude: 500.0,
        };
        assert_eq!(sunrise(date(2024, 6, 21), nowhere), None);
    }
}
