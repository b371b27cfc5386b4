//! Durations as written in the config: humantime style (`500ms`, `15s`, `2m`, `1h30m`).
//!
//! A duration is one or more `NUMBER UNIT` parts, optionally separated by spaces, whose values
//! are added: `1h30m`, `1h 30m`, `90s`. Numbers are whole (`1.5h` is written `1h30m`).
//!
//! | unit | also accepted as |
//! |---|---|
//! | `ms` | `msec`, `millis` |
//! | `s` | `sec`, `secs`, `second`, `seconds` |
//! | `m` | `min`, `mins`, `minute`, `minutes` |
//! | `h` | `hr`, `hrs`, `hour`, `hours` |
//! | `d` | `day`, `days` |
//! | `w` | `week`, `weeks` (7 days) |
//! | `y` | `year`, `years` (365 days; meant for `[storage]` retention) |
//!
//! This is a deliberately strict subset of the `humantime` crate's syntax: humantime reads `M`
//! as *months*, so a typo such as `2M` would silently mean eight weeks. Here such a value is an
//! error (units are case-sensitive). Microsecond and nanosecond units are also not accepted: nothing
//! in a garden needs them.

use std::time::Duration;

/// A duration string that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected a duration like `15s` or `1h30m`, got `{text}`{hint}")]
pub struct DurationError {
    /// The text as written.
    pub text: String,
    /// Extra advice, starting with `; ` when present.
    hint: String,
}

impl DurationError {
    fn new(text: &str, hint: &str) -> Self {
        let hint = if hint.is_empty() {
            String::new()
        } else {
            format!("; {hint}")
        };
        Self {
            text: text.to_owned(),
            hint,
        }
    }
}

/// Parses a duration such as `500ms`, `15s`, `2m` or `1h30m`.
///
/// ```
/// use std::time::Duration;
/// use plantkeeper_control::duration::parse_duration;
/// assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
/// assert!(parse_duration("15").unwrap_err().to_string().contains("got `15`"));
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(DurationError::new(text, "the value is empty"));
    }
    if trimmed.starts_with('-') {
        return Err(DurationError::new(text, "durations cannot be negative"));
    }
    let mut total = Duration::ZERO;
    let mut rest = trimmed;
    while !rest.is_empty() {
        let digits_len = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits_len == 0 {
            return Err(DurationError::new(text, ""));
        }
        let (digits, after_digits) = rest.split_at(digits_len);
        let after_digits = after_digits.trim_start();
        if after_digits.starts_with('.') {
            return Err(DurationError::new(
                text,
                "use whole numbers, e.g. `1m30s` instead of `1.5m`",
            ));
        }
        let unit_len = after_digits
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(after_digits.len());
        let (unit, after_unit) = after_digits.split_at(unit_len);
        if unit.is_empty() {
            return Err(DurationError::new(
                text,
                "a unit is needed (ms, s, m, h, d, w or y)",
            ));
        }
        let Some(unit_nanos) = unit_in_nanos(unit) else {
            return Err(DurationError::new(
                text,
                &format!("unknown unit `{unit}` (use ms, s, m, h, d, w or y)"),
            ));
        };
        let part = digits
            .parse::<u64>()
            .ok()
            .and_then(|count| count.checked_mul(unit_nanos))
            .ok_or_else(|| DurationError::new(text, "the value is too large"))?;
        total = total
            .checked_add(Duration::from_nanos(part))
            .ok_or_else(|| DurationError::new(text, "the value is too large"))?;
        rest = after_unit.trim_start();
    }
    Ok(total)
}

/// Nanoseconds in one `unit`, or `None` for an unknown unit.
fn unit_in_nanos(unit: &str) -> Option<u64> {
    const MILLI: u64 = 1_000_000;
    const SECOND: u64 = 1_000 * MILLI;
    Some(match unit {
        "ms" | "msec" | "millis" => MILLI,
        "s" | "sec" | "secs" | "second" | "seconds" => SECOND,
        "m" | "min" | "mins" | "minute" | "minutes" => 60 * SECOND,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3_600 * SECOND,
        "d" | "day" | "days" => 86_400 * SECOND,
        "w" | "week" | "weeks" => 7 * 86_400 * SECOND,
        // A year of retention is 365 days: precise enough for "keep 5 years".
        "y" | "year" | "years" => 365 * 86_400 * SECOND,
        _ => return None,
    })
}

/// Formats a duration in the compact form the config uses: `2m`, `1h30m`, `500ms`, `0s`.
///
/// Hours are not folded into days (`48h`), and the result always parses back with
/// [`parse_duration`] to the same value when it is a whole number of milliseconds; any
/// sub-millisecond remainder is written as `us`/`ns` for display only.
///
/// ```
/// use std::time::Duration;
/// use plantkeeper_control::duration::format_duration;
/// assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
/// assert_eq!(format_duration(Duration::from_millis(500)), "500ms");
/// ```
pub fn format_duration(duration: Duration) -> String {
    let seconds = duration.as_secs();
    let nanos = duration.subsec_nanos();
    let parts = [
        (seconds / 3_600, "h"),
        (seconds / 60 % 60, "m"),
        (seconds % 60, "s"),
        (u64::from(nanos / 1_000_000), "ms"),
        (u64::from(nanos / 1_000 % 1_000), "us"),
        (u64::from(nanos % 1_000), "ns"),
    ];
    let text: String = parts
        .iter()
        .filter(|(count, _)| *count > 0)
        .map(|(count, unit)| format!("{count}{unit}"))
        .collect();
    if text.is_empty() {
        "0s".to_owned()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_documented_form() {
        let cases = [
            ("500ms", Duration::from_millis(500)),
            ("15s", Duration::from_secs(15)),
            ("2m", Duration::from_secs(120)),
            ("1h30m", Duration::from_secs(5400)),
            ("1h 30m", Duration::from_secs(5400)),
            ("2 min", Duration::from_secs(120)),
            ("1d", Duration::from_secs(86_400)),
            ("0s", Duration::ZERO),
            (" 10s ", Duration::from_secs(10)),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_duration(text), Ok(expected), "parsing `{text}`");
        }
    }

    #[test]
    fn rejects_numbers_without_units_with_the_documented_message() {
        let error = parse_duration("15").unwrap_err();
        assert_eq!(
            error.to_string(),
            "expected a duration like `15s` or `1h30m`, got `15`; a unit is needed (ms, s, m, h, d, w or y)"
        );
    }

    #[test]
    fn rejects_ambiguous_or_malformed_durations() {
        for text in [
            "",
            "2M",
            "1Y",
            "1.5h",
            "-5s",
            "s",
            "5s x",
            "10us",
            "99999999999999999999h",
        ] {
            assert!(parse_duration(text).is_err(), "`{text}` should be rejected");
        }
    }

    #[test]
    fn weeks_and_years_are_7_and_365_days() {
        assert_eq!(parse_duration("2w"), Ok(Duration::from_secs(14 * 86_400)));
        assert_eq!(
            parse_duration("5y"),
            Ok(Duration::from_secs(5 * 365 * 86_400))
        );
    }

    #[test]
    fn formats_compactly_and_round_trips() {
        let cases = [
            (Duration::from_millis(500), "500ms"),
            (Duration::from_secs(120), "2m"),
            (Duration::from_secs(5400), "1h30m"),
            (Duration::from_secs(172_800), "48h"),
            (Duration::from_millis(1_500), "1s500ms"),
            (Duration::ZERO, "0s"),
        ];
        for (duration, expected) in cases {
            let text = format_duration(duration);
            assert_eq!(text, expected, "formatting {duration:?}");
            assert_eq!(
                parse_duration(&text),
                Ok(duration),
                "round trip of `{text}`"
            );
        }
    }
}
