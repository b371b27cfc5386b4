//! Grafana's three rewriting passes over a PostgreSQL panel or alert query, in Grafana's order,
//! so the SQL the test runs is the SQL Grafana would send:
//!
//! 1. the dashboard's template variables (`$node`, `${sensor}`, `${sensor:sqlstring}`) and
//!    `$__interval`, as the browser's template service does, with the PostgreSQL datasource's
//!    quoting (a multi-value or include-all variable becomes `'a','b'`, a single value is
//!    inserted with its `'` doubled);
//! 2. the backend's plain replacements: `$__interval_ms`, `$__interval`, `$__unixEpochFrom()`,
//!    `$__unixEpochTo()`;
//! 3. the PostgreSQL macro engine: `$__name(args)` where args hold no `)`, for the macros of
//!    Grafana's `grafana-postgresql-datasource` with `timescaledb: false` (the provisioned
//!    setting). An unknown macro is an error, as in Grafana.

use std::collections::BTreeMap;

/// The time range and interval a query is expanded for (UTC).
#[derive(Debug, Clone, Copy)]
pub struct TimeRange {
    /// Start, ms since the epoch.
    pub from_ms: i64,
    /// End, ms since the epoch.
    pub to_ms: i64,
    /// `$__interval`, ms.
    pub interval_ms: i64,
}

/// A template variable's current value.
#[derive(Debug, Clone)]
pub enum VariableValue {
    /// One value of a single-value variable (query, textbox, custom).
    Single(String),
    /// The selected values of a multi-value or include-all variable.
    Multi(Vec<String>),
}

/// Runs the three passes. `Err` names what Grafana would refuse.
pub fn expand(
    sql: &str,
    variables: &BTreeMap<String, VariableValue>,
    range: TimeRange,
) -> Result<String, String> {
    let sql = template_variables(sql, variables, range)?;
    let sql = backend_replacements(&sql, range);
    macros(&sql, range)
}

/// Pass 1. `$name`, `${name}` and `${name:format}` for known variables (and `$__interval`,
/// `$__interval_ms`); anything else starting with `$` is left for the backend.
fn template_variables(
    sql: &str,
    variables: &BTreeMap<String, VariableValue>,
    range: TimeRange,
) -> Result<String, String> {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        let (name, format, consumed) = if let Some(braced) = after.strip_prefix('{') {
            let close = braced
                .find('}')
                .ok_or_else(|| format!("unclosed `${{` in: {sql}"))?;
            let inner = &braced[..close];
            let (name, format) = match inner.split_once(':') {
                Some((name, format)) => (name, Some(format)),
                None => (inner, None),
            };
            (name, format, 1 + close + 1)
        } else {
            let length = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..length], None, length)
        };
        let value = match name {
            "__interval" => Some(format_interval(range.interval_ms)),
            "__interval_ms" => Some(range.interval_ms.to_string()),
            _ => match variables.get(name) {
                Some(value) => Some(format_variable(name, value, format)?),
                None if format.is_some() || after.starts_with('{') => {
                    return Err(format!("unknown template variable `{name}` in: {sql}"));
                }
                None => None,
            },
        };
        match value {
            Some(value) => {
                out.push_str(&value);
                rest = &after[consumed..];
            }
            None => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The PostgreSQL datasource's formatting of a variable value.
fn format_variable(
    name: &str,
    value: &VariableValue,
    format: Option<&str>,
) -> Result<String, String> {
    let quote = |text: &str| format!("'{}'", text.replace('\'', "''"));
    match (format, value) {
        (None, VariableValue::Single(text)) => Ok(text.replace('\'', "''")),
        (None | Some("sqlstring"), VariableValue::Multi(values)) => Ok(values
            .iter()
            .map(|v| quote(v))
            .collect::<Vec<_>>()
            .join(",")),
        (Some("sqlstring"), VariableValue::Single(text)) => Ok(quote(text)),
        (Some("raw"), VariableValue::Single(text)) => Ok(text.clone()),
        (Some("raw"), VariableValue::Multi(values)) => Ok(values.join(",")),
        (Some(other), _) => Err(format!(
            "variable `{name}`: format `{other}` is not expanded by this test"
        )),
    }
}

/// Grafana's `gtime.FormatInterval`: the largest whole unit (`1h`, `5m`, `30s`, `500ms`).
fn format_interval(ms: i64) -> String {
    const UNITS: [(i64, &str); 5] = [
        (86_400_000, "d"),
        (3_600_000, "h"),
        (60_000, "m"),
        (1000, "s"),
        (1, "ms"),
    ];
    for (size, unit) in UNITS {
        if ms >= size && ms % size == 0 {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

/// Pass 2 (Grafana's `sqleng.Interpolate`).
fn backend_replacements(sql: &str, range: TimeRange) -> String {
    sql.replace("$__interval_ms", &range.interval_ms.to_string())
        .replace("$__interval", &format_interval(range.interval_ms))
        .replace(
            "$__unixEpochFrom()",
            &range.from_ms.div_euclid(1000).to_string(),
        )
        .replace(
            "$__unixEpochTo()",
            &range.to_ms.div_euclid(1000).to_string(),
        )
}

/// Pass 3: every `$identifier(args)` (args up to the first `)`), evaluated like Grafana's
/// PostgreSQL macro engine.
fn macros(sql: &str, range: TimeRange) -> Result<String, String> {
    let mut out = String::with_capacity(sql.len());
    let mut position = 0;
    while let Some(offset) = sql[position..].find('$') {
        let start = position + offset;
        let after = &sql[start + 1..];
        let length = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        let call = &after[length..];
        let close = call.strip_prefix('(').and_then(|args| args.find(')'));
        let (Some(close), true) = (close, length > 0) else {
            out.push_str(&sql[position..=start]);
            position = start + 1;
            continue;
        };
        let mut name = &after[..length];
        let args: Vec<&str> = call[1..=close].split(',').map(str::trim).collect();
        let end = start + 1 + length + 1 + close + 1;
        // Grafana: `$__timeGroup(...)` directly followed by `,` is the pre-5.3 alias form.
        if name == "__timeGroup" && sql[end..].starts_with(',') {
            name = "__timeGroupAlias";
        }
        out.push_str(&sql[position..start]);
        out.push_str(&evaluate(name, &args, range)?);
        position = end;
    }
    out.push_str(&sql[position..]);
    Ok(out)
}

fn evaluate(name: &str, args: &[&str], range: TimeRange) -> Result<String, String> {
    let column = || {
        args.first()
            .filter(|column| !column.is_empty())
            .copied()
            .ok_or_else(|| format!("missing time column argument for macro {name}"))
    };
    let (from, to) = (rfc3339(range.from_ms), rfc3339(range.to_ms));
    match name {
        "__time" => Ok(format!("{} AS \"time\"", column()?)),
        "__timeEpoch" => Ok(format!("extract(epoch from {}) as \"time\"", column()?)),
        "__timeFilter" => Ok(format!("{} BETWEEN '{from}' AND '{to}'", column()?)),
        "__timeFrom" => Ok(format!("'{from}'")),
        "__timeTo" => Ok(format!("'{to}'")),
        "__timeGroup" => {
            let seconds = group_seconds(name, args)?;
            Ok(format!(
                "floor(extract(epoch from {})/{seconds})*{seconds}",
                column()?
            ))
        }
        "__timeGroupAlias" => Ok(format!(
            "{} AS \"time\"",
            evaluate("__timeGroup", args, range)?
        )),
        "__unixEpochFilter" => {
            let column = column()?;
            Ok(format!(
                "{column} >= {} AND {column} <= {}",
                range.from_ms.div_euclid(1000),
                range.to_ms.div_euclid(1000)
            ))
        }
        "__unixEpochGroup" => {
            let seconds = group_seconds(name, args)?;
            Ok(format!("floor(({})/{seconds})*{seconds}", column()?))
        }
        "__unixEpochGroupAlias" => Ok(format!(
            "{} AS \"time\"",
            evaluate("__unixEpochGroup", args, range)?
        )),
        other => Err(format!("unknown macro \"{other}\"")),
    }
}

/// The interval argument of a group macro, in seconds as Go's `%v` prints a float64.
fn group_seconds(name: &str, args: &[&str]) -> Result<String, String> {
    if args.len() < 2 {
        return Err(format!(
            "macro {name} needs time column and interval and optional fill value"
        ));
    }
    if args.len() == 3 {
        return Err(format!(
            "macro {name}: fill modes are not expanded by this test"
        ));
    }
    let ms = parse_interval(args[1].trim_matches('\''))
        .ok_or_else(|| format!("error parsing interval {}", args[1]))?;
    let seconds = ms as f64 / 1000.0;
    Ok(if seconds.fract() == 0.0 {
        format!("{seconds:.0}")
    } else {
        seconds.to_string()
    })
}

/// `30s`, `5m`, `1h`, `1d`, `500ms` → ms.
fn parse_interval(text: &str) -> Option<i64> {
    let digits = text.find(|c: char| !c.is_ascii_digit())?;
    let number: i64 = text[..digits].parse().ok()?;
    let unit = match &text[digits..] {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    Some(number * unit)
}

/// Go's `time.RFC3339Nano` of a UTC instant: trailing zeros of the fraction dropped.
fn rfc3339(ms: i64) -> String {
    let seconds = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = seconds.div_euclid(86_400);
    let of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let fraction = if millis == 0 {
        String::new()
    } else {
        format!(".{millis:03}").trim_end_matches('0').to_owned()
    };
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}{fraction}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RANGE: TimeRange = TimeRange {
        // 2026-12-05T06:00:00.250Z .. 2026-12-05T12:00:00Z, 1 minute
        from_ms: 1_796_450_400_250,
        to_ms: 1_796_472_000_000,
        interval_ms: 60_000,
    };

    fn vars() -> BTreeMap<String, VariableValue> {
        BTreeMap::from([
            ("node".to_owned(), VariableValue::Single("bed-1".to_owned())),
            (
                "sensor".to_owned(),
                VariableValue::Multi(vec!["soil_moisture".to_owned(), "o'dd".to_owned()]),
            ),
        ])
    }

    #[test]
    fn every_macro_expands_as_grafana_writes_it() {
        let cases = [
            (
                "$__timeFilter(t)",
                "t BETWEEN '2026-12-05T06:00:00.25Z' AND '2026-12-05T12:00:00Z'",
            ),
            (
                "$__timeFrom()::timestamptz",
                "'2026-12-05T06:00:00.25Z'::timestamptz",
            ),
            ("$__timeTo()", "'2026-12-05T12:00:00Z'"),
            (
                "$__timeGroupAlias(p.t, $__interval), x",
                "floor(extract(epoch from p.t)/60)*60 AS \"time\", x",
            ),
            (
                "$__timeGroup(t, '1h') AS time",
                "floor(extract(epoch from t)/3600)*3600 AS time",
            ),
            (
                "$__timeGroup(t,'5m'), x",
                "floor(extract(epoch from t)/300)*300 AS \"time\", x",
            ),
            (
                "$__unixEpochFilter(ts)",
                "ts >= 1796450400 AND ts <= 1796472000",
            ),
            (
                "$__unixEpochFrom()::bigint * 1000",
                "1796450400::bigint * 1000",
            ),
            (
                "'$node' IN (${sensor:sqlstring}) IN ($sensor)",
                "'bed-1' IN ('soil_moisture','o''dd') IN ('soil_moisture','o''dd')",
            ),
            ("reason ~ ' outside [^ ]*$'", "reason ~ ' outside [^ ]*$'"),
            ("$__interval_ms", "60000"),
        ];
        for (sql, expected) in cases {
            assert_eq!(
                expand(sql, &vars(), RANGE).as_deref(),
                Ok(expected),
                "{sql}"
            );
        }
    }

    #[test]
    fn unknown_macros_and_variables_are_errors() {
        for sql in [
            "$__timeFilterr(t)",
            "${missing}",
            "$__timeGroup(t)",
            "$__timeGroup(t, 'x')",
        ] {
            assert!(
                expand(sql, &vars(), RANGE).is_err(),
                "{sql} should be refused"
            );
        }
    }
}
