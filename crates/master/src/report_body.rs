//! Reading and checking a node's report body: size limit, JSON shape and every limit of
//! CONTRACT §4, each failure naming the field at fault.

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header::CONTENT_LENGTH};
use jiff::{SignedDuration, Timestamp};
use plantkeeper_protocol::{
    MAX_BACKLOG_ENTRIES, MAX_BODY_BYTES, MAX_READINGS_PER_REPORT, ReportBody, is_valid_sensor_name,
};
use plantkeeper_store::NewReading;
use std::collections::BTreeMap;

use crate::error::ApiError;

/// Largest magnitude accepted for a reading. Real sensors stay far below; anything above is a
/// firmware bug we would rather refuse than plot.
pub const MAX_READING_MAGNITUDE: f64 = 1e12;

/// Oldest backlog entry accepted: a node that was offline longer has lost track of time.
pub const MAX_BACKLOG_AGE_MS: u64 = 7 * 24 * 3600 * 1000;

/// Reads the request body, refusing anything over [`MAX_BODY_BYTES`] with 413.
pub async fn read_limited(headers: &HeaderMap, body: Body) -> Result<axum::body::Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!(
                "the request body is over {} KiB; send fewer backlog entries per report",
                MAX_BODY_BYTES / 1024
            ),
        )
    };
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|error| {
            let over_limit = std::error::Error::source(&error)
                .is_some_and(|source| source.is::<http_body_util::LengthLimitError>());
            if over_limit {
                too_large()
            } else {
                ApiError::bad_request(
                    "unreadable_body",
                    format!("the request body could not be read: {error}"),
                )
            }
        })
}

/// Parses a JSON body, naming the field at fault when a value has the wrong type. A body that
/// is not UTF-8 is refused as a whole: JSON must be UTF-8 (RFC 8259), and `serde_json` does
/// not check the bytes of strings it skips (such as unknown fields) when reading a slice.
pub fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let text = std::str::from_utf8(bytes).map_err(|error| {
        ApiError::bad_request(
            "invalid_json",
            format!("invalid JSON body: it is not UTF-8 ({error})"),
        )
    })?;
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let field = error.path().to_string();
        let inner = error.into_inner();
        let api = ApiError::bad_request("invalid_json", format!("invalid JSON body: {inner}"));
        if field == "." || field.is_empty() {
            api
        } else {
            api.with_field(field)
        }
    })?;
    deserializer.end().map_err(|error| {
        ApiError::bad_request("invalid_json", format!("invalid JSON body: {error}"))
    })?;
    Ok(value)
}

/// A report that passed every check, with its readings timestamped.
#[derive(Debug)]
pub struct CheckedReport {
    /// The parsed body.
    pub body: ReportBody,
    /// Every reading: backlog ones at `received_at - age_ms`, then the current ones at
    /// `received_at`.
    pub readings: Vec<NewReading>,
}

/// Applies the limits of CONTRACT §4 and timestamps the readings.
pub fn check_report(body: ReportBody, received_at: Timestamp) -> Result<CheckedReport, ApiError> {
    check_readings("readings", &body.readings)?;
    if let Some(outputs) = &body.outputs
        && let Some(name) = outputs.keys().find(|name| !is_valid_sensor_name(name))
    {
        return Err(ApiError::invalid(
            format!("outputs.{name}"),
            "output names are 1 to 64 characters of a-z, 0-9 and _",
        ));
    }
    if body.backlog.len() > MAX_BACKLOG_ENTRIES {
        return Err(ApiError::invalid(
            "backlog",
            format!(
                "{} backlog entries; at most {MAX_BACKLOG_ENTRIES} per report (send the rest with the next report)",
                body.backlog.len()
            ),
        ));
    }
    let received_ms = received_at.as_millisecond();
    let mut readings = Vec::with_capacity(body.readings.len());
    for (index, entry) in body.backlog.iter().enumerate() {
        if entry.age_ms > MAX_BACKLOG_AGE_MS {
            return Err(ApiError::invalid(
                format!("backlog[{index}].age_ms"),
                format!(
                    "age_ms {} is more than 7 days; readings that old are refused",
                    entry.age_ms
                ),
            ));
        }
        check_readings(&format!("backlog[{index}].readings"), &entry.readings)?;
        let age = SignedDuration::from_millis(i64::try_from(entry.age_ms).unwrap_or(i64::MAX));
        let at_ms = received_at
            .saturating_sub(age)
            .map(|at| at.as_millisecond())
            .unwrap_or(received_ms);
        readings.extend(entry.readings.iter().map(|(sensor, value)| NewReading {
            sensor: sensor.clone(),
            at_ms,
            value: *value,
        }));
    }
    // The current readings come last: a backlog entry with `age_ms: 0` has the same time, and
    // the live view keeps the last of equal-time samples.
    readings.extend(body.readings.iter().map(|(sensor, value)| NewReading {
        sensor: sensor.clone(),
        at_ms: received_ms,
        value: *value,
    }));
    Ok(CheckedReport { body, readings })
}

fn check_readings(field: &str, readings: &BTreeMap<String, f64>) -> Result<(), ApiError> {
    if readings.len() > MAX_READINGS_PER_REPORT {
        return Err(ApiError::invalid(
            field,
            format!(
                "{} readings; at most {MAX_READINGS_PER_REPORT} per report",
                readings.len()
            ),
        ));
    }
    for (name, value) in readings {
        if !is_valid_sensor_name(name) {
            return Err(ApiError::invalid(
                format!("{field}.{name}"),
                "sensor names are 1 to 64 characters of a-z, 0-9 and _",
            ));
        }
        if !value.is_finite() || value.abs() > MAX_READING_MAGNITUDE {
            return Err(ApiError::invalid(
                format!("{field}.{name}"),
                format!("{value} is not a plausible reading (finite, magnitude at most 1e12)"),
            ));
        }
    }
    Ok(())
}
