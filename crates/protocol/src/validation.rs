//! Checks on a parsed [`ReportBody`] that JSON types alone cannot express: how many readings
//! and backlog entries, valid sensor names, finite values.

use alloc::format;
use alloc::string::String;
use core::fmt;

use crate::limits::{MAX_BACKLOG_ENTRIES, MAX_READINGS_PER_REPORT, is_valid_sensor_name};
use crate::wire::ReportBody;

/// Why a well-formed report is still refused (the master answers 422).
#[derive(Debug, Clone, PartialEq)]
pub enum ReportError {
    /// More than [`MAX_READINGS_PER_REPORT`] readings in one set.
    TooManyReadings {
        /// Path of the readings map, e.g. `readings` or `backlog[2].readings`.
        field: String,
        /// How many there were.
        count: usize,
    },
    /// A sensor name outside `[a-z0-9_]{1,64}`.
    InvalidSensorName {
        /// Path of the readings map holding it.
        field: String,
        /// The name as sent.
        name: String,
    },
    /// A value that is NaN or infinite (JSON cannot carry them, other encodings might).
    NonFiniteReading {
        /// Path of the reading, e.g. `readings.temperature`.
        field: String,
    },
    /// More than [`MAX_BACKLOG_ENTRIES`] backlog entries.
    TooManyBacklogEntries {
        /// How many there were.
        count: usize,
    },
}

impl ReportError {
    /// A stable `snake_case` code for the error body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooManyReadings { .. } => "too_many_readings",
            Self::InvalidSensorName { .. } => "invalid_sensor_name",
            Self::NonFiniteReading { .. } => "non_finite_reading",
            Self::TooManyBacklogEntries { .. } => "too_many_backlog_entries",
        }
    }

    /// The path of the offending field, for the error body's `field`.
    pub fn field(&self) -> String {
        match self {
            Self::TooManyReadings { field, .. } | Self::NonFiniteReading { field } => field.clone(),
            Self::InvalidSensorName { field, .. } => field.clone(),
            Self::TooManyBacklogEntries { .. } => String::from("backlog"),
        }
    }
}

impl fmt::Display for ReportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooManyReadings { count, .. } => write!(
                f,
                "{count} readings in one set, at most {MAX_READINGS_PER_REPORT} are allowed"
            ),
            Self::InvalidSensorName { name, .. } => write!(
                f,
                "sensor name {name:?} is invalid: use 1 to 64 of a-z, 0-9 and _"
            ),
            Self::NonFiniteReading { .. } => write!(f, "a reading must be a finite number"),
            Self::TooManyBacklogEntries { count } => write!(
                f,
                "{count} backlog entries, at most {MAX_BACKLOG_ENTRIES} are allowed"
            ),
        }
    }
}

impl core::error::Error for ReportError {}

impl ReportBody {
    /// Checks the limits and names of this report and of every backlog entry; the first
    /// problem found is returned.
    pub fn validate(&self) -> Result<(), ReportError> {
        check_readings("readings", &self.readings)?;
        if self.backlog.len() > MAX_BACKLOG_ENTRIES {
            return Err(ReportError::TooManyBacklogEntries {
                count: self.backlog.len(),
            });
        }
        for (index, entry) in self.backlog.iter().enumerate() {
            check_readings(&format!("backlog[{index}].readings"), &entry.readings)?;
        }
        Ok(())
    }
}

fn check_readings(
    field: &str,
    readings: &alloc::collections::BTreeMap<String, f64>,
) -> Result<(), ReportError> {
    if readings.len() > MAX_READINGS_PER_REPORT {
        return Err(ReportError::TooManyReadings {
            field: field.into(),
            count: readings.len(),
        });
    }
    for (name, value) in readings {
        if !is_valid_sensor_name(name) {
            return Err(ReportError::InvalidSensorName {
                field: field.into(),
                name: name.clone(),
            });
        }
        if !value.is_finite() {
            return Err(ReportError::NonFiniteReading {
                field: format!("{field}.{name}"),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::BacklogEntry;
    use alloc::collections::BTreeMap;
    use alloc::vec::Vec;

    fn report(readings: &[(&str, f64)], backlog: Vec<BacklogEntry>) -> ReportBody {
        ReportBody {
            seq: 1,
            boot: None,
            readings: readings.iter().map(|(k, v)| ((*k).into(), *v)).collect(),
            outputs: None,
            backlog,
        }
    }

    #[test]
    fn ordinary_report_is_valid() {
        assert_eq!(
            report(&[("soil_moisture", 41.5)], Vec::new()).validate(),
            Ok(())
        );
    }

    #[test]
    fn invalid_sensor_name_is_named_in_the_error() {
        let error = report(&[("Soil", 1.0)], Vec::new())
            .validate()
            .expect_err("must fail");
        assert_eq!(error.code(), "invalid_sensor_name");
        assert_eq!(error.field(), "readings");
    }

    #[test]
    fn non_finite_value_in_backlog_points_at_its_entry() {
        let entry = BacklogEntry {
            age_ms: 5,
            readings: BTreeMap::from([("t".into(), f64::NAN)]),
        };
        let error = report(&[], alloc::vec![entry])
            .validate()
            .expect_err("must fail");
        assert_eq!(error.field(), "backlog[0].readings.t");
    }

    #[test]
    fn limits_are_enforced() {
        let many: Vec<(String, f64)> = (0..=MAX_READINGS_PER_REPORT)
            .map(|i| (format!("s{i}"), 0.0))
            .collect();
        let too_many = ReportBody {
            readings: many.into_iter().collect(),
            ..report(&[], Vec::new())
        };
        assert_eq!(
            too_many.validate().map_err(|e| e.code()),
            Err("too_many_readings")
        );

        let entry = BacklogEntry {
            age_ms: 0,
            readings: BTreeMap::new(),
        };
        let long_backlog = report(&[], alloc::vec![entry; MAX_BACKLOG_ENTRIES + 1]);
        assert_eq!(
            long_backlog.validate().map_err(|e| e.code()),
            Err("too_many_backlog_entries")
        );
        let full_backlog = report(
            &[],
            alloc::vec![BacklogEntry { age_ms: 0, readings: BTreeMap::new() }; MAX_BACKLOG_ENTRIES],
        );
        assert_eq!(
            full_backlog.validate(),
            Ok(()),
            "exactly the limit must be accepted"
        );
    }
}
