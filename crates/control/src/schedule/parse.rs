//! Window text → [`Window`], with the byte offset of every error.
//!
//! Syntax:
//! ```text
//! window := [days " "] end "-" end
//! days   := item ("," item)*            e.g. mon-fri   sat,sun   mon,wed-fri   fri-mon
//! item   := day | day "-" day           (a range may wrap past sunday: fri-mon)
//! day    := mon | tue | wed | thu | fri | sat | sun
//! end    := HH:MM | sunrise [offset] | sunset [offset]
//! offset := ("+" | "-") duration        e.g. sunrise+30m, sunset-1h, at most 12h
//! ```
//! Decisions where the contract is silent:
//! - `HH:MM` is 24-hour (`7:00` is accepted as `07:00`); `24:00` is accepted as an **end only**
//!   and means the end of the day (stored as minute 1440), so `sat,sun 00:00-24:00` is a whole
//!   day. As a start it is an error.
//! - A window whose end is earlier than its start crosses midnight and ends the next day; the
//!   day prefix names the days on which the window *starts*.
//! - A window whose start equals its end is an error (it would be either empty or the whole day,
//!   and a reader cannot tell which was meant).
//! - After `sunrise`/`sunset`, a `-` followed by a clock time (`sunset-23:00`) is the range
//!   separator, not an offset.

use crate::duration::parse_duration;
use crate::schedule::{DaySet, TimeOfDay, Window};

/// Every day of the week (the meaning of a window without a day prefix).
pub const EVERY_DAY: DaySet = DaySet(0b111_1111);

/// The longest sunrise/sunset offset accepted.
pub const MAX_SUN_OFFSET_SECONDS: i32 = 12 * 3_600;

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// A window that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct WindowError {
    /// Byte offset in the window text of the offending part.
    pub offset: usize,
    /// What is wrong, and what would be right.
    pub message: String,
}

impl WindowError {
    fn new(offset: usize, message: impl Into<String>) -> Self {
        Self {
            offset,
            message: message.into(),
        }
    }
}

/// Parses one schedule window such as `06:00-21:00`, `mon-fri 22:00-06:00` or
/// `sunrise+30m-sunset`.
pub fn parse_window(text: &str) -> Result<Window, WindowError> {
    let lead = text.len() - text.trim_start().len();
    let source = text.trim();
    if source.is_empty() {
        return Err(WindowError::new(
            0,
            "the window is empty; write e.g. `06:00-21:00`",
        ));
    }
    let starts_with_day = source.starts_with(|c: char| c.is_ascii_alphabetic())
        && !source.starts_with("sunrise")
        && !source.starts_with("sunset");
    let (days, range_offset) = if starts_with_day {
        let Some(days_len) = source.find(char::is_whitespace) else {
            parse_days(source, lead)?;
            return Err(WindowError::new(
                lead + source.len(),
                "expected a time range after the days, e.g. `mon-fri 07:00-20:00`",
            ));
        };
        let days = parse_days(&source[..days_len], lead)?;
        let after_days = &source[days_len..];
        (
            days,
            lead + days_len + (after_days.len() - after_days.trim_start().len()),
        )
    } else {
        (EVERY_DAY, lead)
    };
    let mut cursor = Cursor {
        text,
        pos: range_offset,
    };
    let start = cursor.end_point(false)?;
    cursor.skip_whitespace();
    if !cursor.rest().starts_with('-') {
        return Err(WindowError::new(
            cursor.pos,
            format!(
                "expected `-` between the start and the end, e.g. `06:00-21:00`, found {}",
                describe(cursor.rest())
            ),
        ));
    }
    cursor.pos += 1;
    cursor.skip_whitespace();
    let end = cursor.end_point(true)?;
    cursor.skip_whitespace();
    if !cursor.rest().is_empty() {
        return Err(WindowError::new(
            cursor.pos,
            format!(
                "unexpected {} after the end of the window",
                describe(cursor.rest())
            ),
        ));
    }
    if start == end {
        return Err(WindowError::new(
            range_offset,
            "the window starts and ends at the same time; write e.g. `06:00-21:00` (use `00:00-24:00` for a whole day)",
        ));
    }
    Ok(Window {
        source: source.to_owned(),
        days,
        start,
        end,
    })
}

/// Whether a window has a `sunrise` or `sunset` end, and so needs the master's location.
pub fn window_needs_location(window: &Window) -> bool {
    [window.start, window.end]
        .iter()
        .any(|end| !matches!(end, TimeOfDay::Clock { .. }))
}

/// Parses `mon-fri`, `sat,sun`, `mon,wed-fri`, `tue` or `fri-mon`; `base` is its offset.
fn parse_days(text: &str, base: usize) -> Result<DaySet, WindowError> {
    let mut bits = 0u8;
    let mut item_offset = base;
    for item in text.split(',') {
        let (first, last) = match item.split_once('-') {
            Some((first, last)) => (first, Some(last)),
            None => (item, None),
        };
        let first_day = day_index(first, item_offset)?;
        let last_day = match last {
            Some(last) => day_index(last, item_offset + first.len() + 1)?,
            None => first_day,
        };
        let mut day = first_day;
        loop {
            bits |= 1 << day;
            if day == last_day {
                break;
            }
            day = (day + 1) % 7;
        }
        item_offset += item.len() + 1;
    }
    Ok(DaySet(bits))
}

fn day_index(name: &str, offset: usize) -> Result<u8, WindowError> {
    let position = DAY_NAMES.iter().position(|day| *day == name);
    match position.and_then(|index| u8::try_from(index).ok()) {
        Some(index) => Ok(index),
        None if name.is_empty() => Err(WindowError::new(
            offset,
            "expected a day name here; write days without spaces, e.g. `sat,sun` or `mon-fri`",
        )),
        None => Err(WindowError::new(
            offset,
            format!("unknown day `{name}`; expected mon, tue, wed, thu, fri, sat or sun"),
        )),
    }
}

struct Cursor<'t> {
    text: &'t str,
    pos: usize,
}

impl<'t> Cursor<'t> {
    fn rest(&self) -> &'t str {
        &self.text[self.pos..]
    }

    fn skip_whitespace(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    /// Reads `HH:MM`, `sunrise[±offset]` or `sunset[±offset]`.
    fn end_point(&mut self, is_end: bool) -> Result<TimeOfDay, WindowError> {
        let rest = self.rest();
        if rest.starts_with(|c: char| c.is_ascii_digit()) {
            return self.clock(is_end);
        }
        for (word, is_sunrise) in [("sunrise", true), ("sunset", false)] {
            let after_word = rest.strip_prefix(word);
            let glued = after_word
                .is_some_and(|after| after.starts_with(|c: char| c.is_ascii_alphanumeric()));
            if after_word.is_some() && !glued {
                self.pos += word.len();
                let offset_seconds = self.sun_offset()?;
                return Ok(if is_sunrise {
                    TimeOfDay::Sunrise { offset_seconds }
                } else {
                    TimeOfDay::Sunset { offset_seconds }
                });
            }
        }
        Err(WindowError::new(
            self.pos,
            format!(
                "expected a time like `06:00`, `sunrise` or `sunset+30m`, found {}",
                describe(rest)
            ),
        ))
    }

    fn clock(&mut self, is_end: bool) -> Result<TimeOfDay, WindowError> {
        let start = self.pos;
        let rest = self.rest();
        let token_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == ':'))
            .unwrap_or(rest.len());
        let token = &rest[..token_len];
        let bad = || {
            WindowError::new(
                start,
                format!("expected a 24-hour time like `06:00` or `21:30`, found `{token}`"),
            )
        };
        let (hours, minutes) = token.split_once(':').ok_or_else(bad)?;
        if !(1..=2).contains(&hours.len()) || minutes.len() != 2 {
            return Err(bad());
        }
        let hours: u16 = hours.parse().map_err(|_| bad())?;
        let minutes: u16 = minutes.parse().map_err(|_| bad())?;
        let total = hours * 60 + minutes;
        if minutes >= 60 || total > 24 * 60 {
            return Err(bad());
        }
        if total == 24 * 60 && !is_end {
            return Err(WindowError::new(
                start,
                "`24:00` can only end a window; start at `00:00` instead",
            ));
        }
        self.pos += token_len;
        Ok(TimeOfDay::Clock { minutes: total })
    }

    /// Reads an optional `+offset` / `-offset` after `sunrise` or `sunset`.
    fn sun_offset(&mut self) -> Result<i32, WindowError> {
        let rest = self.rest();
        let sign = match rest.chars().next() {
            Some('+') => 1,
            // `sunset-23:00` is "from sunset to 23:00", not an offset of 23 somethings.
            Some('-') if starts_with_offset(&rest[1..]) => -1,
            _ => return Ok(0),
        };
        let offset_start = self.pos + 1;
        let body = &rest[1..];
        let body_len = body
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(body.len());
        let body = &body[..body_len];
        let duration = parse_duration(body).map_err(|error| {
            WindowError::new(offset_start, format!("bad sunrise/sunset offset: {error}"))
        })?;
        let seconds = i32::try_from(duration.as_secs())
            .ok()
            .filter(|seconds| *seconds <= MAX_SUN_OFFSET_SECONDS)
            .ok_or_else(|| {
                WindowError::new(offset_start, "a sunrise/sunset offset can be at most 12h")
            })?;
        if duration.subsec_nanos() != 0 {
            return Err(WindowError::new(
                offset_start,
                "a sunrise/sunset offset is a whole number of seconds",
            ));
        }
        self.pos += 1 + body_len;
        Ok(sign * seconds)
    }
}

/// Whether `text` (after a `-`) is a duration such as `1h` rather than a clock time `06:00`.
fn starts_with_offset(text: &str) -> bool {
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    digits > 0 && !text[digits..].starts_with(':')
}

/// Describes the text at the start of `rest` for an error message.
fn describe(rest: &str) -> String {
    let token: String = rest.chars().take_while(|c| !c.is_whitespace()).collect();
    if token.is_empty() {
        "the end of the window".to_owned()
    } else {
        format!("`{token}`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock(hours: u16, minutes: u16) -> TimeOfDay {
        TimeOfDay::Clock {
            minutes: hours * 60 + minutes,
        }
    }

    fn days(names: &[&str]) -> DaySet {
        let mut bits = 0;
        for name in names {
            let index = DAY_NAMES
                .iter()
                .position(|day| day == name)
                .expect("test day names are valid");
            bits |= 1 << index;
        }
        DaySet(bits)
    }

    #[test]
    fn reads_a_plain_clock_window_on_every_day() {
        assert_eq!(
            parse_window(" 06:00-21:00 "),
            Ok(Window {
                source: "06:00-21:00".into(),
                days: EVERY_DAY,
                start: clock(6, 0),
                end: clock(21, 0),
            })
        );
    }

    #[test]
    fn window_may_cross_midnight_and_end_at_24_00() {
        let night = parse_window("22:00-06:00").expect("crossing midnight is allowed");
        assert_eq!((night.start, night.end), (clock(22, 0), clock(6, 0)));
        let whole_day = parse_window("sat,sun 00:00-24:00").expect("24:00 may end a window");
        assert_eq!(whole_day.end, TimeOfDay::Clock { minutes: 1440 });
        assert_eq!(
            parse_window("7:05 - 8:00").map(|w| w.start),
            Ok(clock(7, 5))
        );
    }

    #[test]
    fn reads_day_sets_including_wrapping_ranges() {
        let cases = [
            (
                "mon-fri 07:00-20:00",
                days(&["mon", "tue", "wed", "thu", "fri"]),
            ),
            ("sat,sun 09:00-18:00", days(&["sat", "sun"])),
            (
                "mon,wed-fri 09:00-18:00",
                days(&["mon", "wed", "thu", "fri"]),
            ),
            ("tue 09:00-18:00", days(&["tue"])),
            ("fri-mon 09:00-18:00", days(&["fri", "sat", "sun", "mon"])),
            ("sun-sun 09:00-18:00", days(&["sun"])),
        ];
        for (text, expected) in cases {
            assert_eq!(
                parse_window(text).map(|w| w.days),
                Ok(expected),
                "days of `{text}`"
            );
        }
    }

    #[test]
    fn reads_sunrise_and_sunset_with_offsets() {
        let cases = [
            (
                "sunrise+30m-sunset",
                TimeOfDay::Sunrise {
                    offset_seconds: 1800,
                },
                TimeOfDay::Sunset { offset_seconds: 0 },
            ),
            (
                "sunrise-sunset-1h",
                TimeOfDay::Sunrise { offset_seconds: 0 },
                TimeOfDay::Sunset {
                    offset_seconds: -3600,
                },
            ),
            (
                "sunset-1h-sunrise+1h30m",
                TimeOfDay::Sunset {
                    offset_seconds: -3600,
                },
                TimeOfDay::Sunrise {
                    offset_seconds: 5400,
                },
            ),
            (
                "sunset-23:00",
                TimeOfDay::Sunset { offset_seconds: 0 },
                clock(23, 0),
            ),
            (
                "05:00-sunrise",
                clock(5, 0),
                TimeOfDay::Sunrise { offset_seconds: 0 },
            ),
        ];
        for (text, start, end) in cases {
            let window =
                parse_window(text).unwrap_or_else(|e| panic!("`{text}` should parse: {e}"));
            assert_eq!((window.start, window.end), (start, end), "ends of `{text}`");
            assert!(window_needs_location(&window), "`{text}` needs a location");
        }
        let plain = parse_window("06:00-07:00").expect("valid window");
        assert!(
            !window_needs_location(&plain),
            "a clock window needs no location"
        );
    }

    #[test]
    fn rejects_bad_windows_at_the_offending_part() {
        let cases = [
            ("", 0, "empty"),
            ("06:00", 5, "expected `-`"),
            ("06:00-21:00x", 11, "unexpected `x`"),
            ("25:00-26:00", 0, "24-hour time"),
            ("06:60-07:00", 0, "24-hour time"),
            ("6-7", 0, "found `6`"),
            ("24:00-06:00", 0, "can only end a window"),
            ("06:00-06:00", 0, "starts and ends at the same time"),
            ("sunrise-sunrise", 0, "starts and ends at the same time"),
            ("monday 06:00-07:00", 0, "unknown day `monday`"),
            ("mon-fry 06:00-07:00", 4, "unknown day `fry`"),
            ("sat, sun 06:00-07:00", 4, "write days without spaces"),
            ("mon-fri", 7, "expected a time range after the days"),
            ("sunrise+13h-sunset", 8, "at most 12h"),
            ("sunrise+30-sunset", 8, "bad sunrise/sunset offset"),
            ("noon-13:00", 0, "unknown day `noon`"),
            ("06:00-sunsets", 6, "found `sunsets`"),
        ];
        for (text, offset, needle) in cases {
            let error = parse_window(text).expect_err(text);
            assert_eq!(error.offset, offset, "offset for `{text}`: {error}");
            assert!(error.message.contains(needle), "`{text}` gave: {error}");
        }
    }
}
