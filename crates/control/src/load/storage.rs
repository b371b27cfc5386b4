//! `[storage]`: where the PostgreSQL engine keeps writes while the database is unreachable,
//! and how long readings are kept. One reader per key.

use std::time::Duration;

use super::reader::{DurationLimits, Fields, Reader, Value};
use crate::settings::StorageSettings;

/// Default `spool` of a PostgreSQL database, beside the settings file.
pub const DEFAULT_SPOOL: &str = "plantkeeper-spool.db";
/// Default `keep_raw`: 30 days of raw readings.
pub const DEFAULT_KEEP_RAW: Duration = Duration::from_secs(30 * DAY_SECS);
/// Default `keep_hourly`: 5 years (of 365 days) of hourly averages.
pub const DEFAULT_KEEP_HOURLY: Duration = Duration::from_secs(5 * 365 * DAY_SECS);
/// Limits of `keep_raw`: at least a day (the engine's daily budgets and restarts read today's
/// raw data), at most 10 years.
pub const KEEP_RAW_LIMITS: DurationLimits = DurationLimits {
    min: Duration::from_secs(DAY_SECS),
    max: Duration::from_secs(10 * 365 * DAY_SECS),
};
/// Limits of `keep_hourly`: at least a day, at most 100 years.
pub const KEEP_HOURLY_LIMITS: DurationLimits = DurationLimits {
    min: Duration::from_secs(DAY_SECS),
    max: Duration::from_secs(100 * 365 * DAY_SECS),
};

const DAY_SECS: u64 = 86_400;
const KEYS: [&str; 3] = ["spool", "keep_raw", "keep_hourly"];

/// Reads `[storage]` (absent = defaults). `database` is `[master] database`: a spool only
/// serves a PostgreSQL database, so naming one for SQLite is an error.
pub(super) fn read_storage(
    reader: &mut Reader<'_>,
    fields: Option<Fields<'_, '_>>,
    database: &str,
) -> StorageSettings {
    let mut storage = StorageSettings::default();
    let Some(fields) = fields else {
        return storage;
    };
    reader.reject_unknown_keys(fields, &KEYS, &[]);
    if let Some(value) = fields.get("spool") {
        storage.spool = read_spool(reader, value, &fields.field("spool"), database);
    }
    if let Some(value) = fields.get("keep_raw") {
        let field = fields.field("keep_raw");
        if let Some(duration) = reader.duration(value, &field, KEEP_RAW_LIMITS) {
            storage.keep_raw = duration;
        }
    }
    if let Some(value) = fields.get("keep_hourly") {
        let field = fields.field("keep_hourly");
        if let Some(duration) = reader.duration(value, &field, KEEP_HOURLY_LIMITS) {
            storage.keep_hourly = duration;
            // The hourly averages would vanish before the readings they summarise.
            if duration < storage.keep_raw {
                reader.error(
                    &value.span(),
                    &field,
                    "must be at least `keep_raw`: hourly averages outlive the raw readings",
                );
            }
        }
    }
    storage
}

/// `spool`: a non-empty path, for a PostgreSQL database only.
fn read_spool(
    reader: &mut Reader<'_>,
    value: &Value<'_>,
    field: &str,
    database: &str,
) -> Option<String> {
    let path = reader.string(value, field, "a file path like `plantkeeper-spool.db`")?;
    if path.trim().is_empty() {
        reader.error(&value.span(), field, "the spool path is empty");
        None
    } else if !database.starts_with("postgres://") && !database.starts_with("postgresql://") {
        reader.error(
            &value.span(),
            field,
            "a spool only serves a PostgreSQL database (`[master] database = \
             \"postgres://...\"`); SQLite writes locally already",
        );
        None
    } else {
        Some(path.to_owned())
    }
}
