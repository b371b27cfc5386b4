//! Schedules: local-time windows such as `06:00-21:00`, `mon-fri 22:00-06:00` or
//! `sunrise+30m-sunset`, evaluated in the master's IANA time zone.
//!
//! [`parse::parse_window`] reads one window as written in a config file.

pub mod parse;

mod evaluate;
pub mod sun;

/// Where the garden is, for sunrise and sunset.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Location {
    /// Degrees north, -90..=90.
    pub latitude: f64,
    /// Degrees east, -180..=180.
    pub longitude: f64,
}

/// The windows of one output's `schedule`; the output may be ON inside any of them.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// The windows, in the order written.
    pub windows: Vec<Window>,
}

/// One window such as `mon-fri 07:00-20:00`.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    /// The window exactly as written, used in reasons ("outside 07:00-20:00").
    pub source: String,
    /// The days on which the window *starts*; a window crossing midnight ends the next day.
    pub days: DaySet,
    /// Start of the window (inclusive).
    pub start: TimeOfDay,
    /// End of the window (exclusive).
    pub end: TimeOfDay,
}

/// A set of weekdays, bit 0 = Monday … bit 6 = Sunday.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DaySet(pub u8);

/// One end of a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeOfDay {
    /// A wall-clock time, minutes after local midnight (0..1440).
    Clock { minutes: u16 },
    /// Local sunrise plus a signed offset in seconds.
    Sunrise { offset_seconds: i32 },
    /// Local sunset plus a signed offset in seconds.
    Sunset { offset_seconds: i32 },
}
