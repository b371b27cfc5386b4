//! The settings history in SQLite: the insert run by the writer, the reads run by the pool.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::database_error;
use crate::{NewSettingsVersion, SettingsSource, SettingsVersion, SettingsVersionInfo, StoreError};

const COLUMNS: &str = "version, created_at, author, source, summary, text, diff";

/// Inserts `new` numbered one above the newest version; only the writer calls it, so the
/// number cannot be taken twice.
pub(crate) fn insert(connection: &Connection, new: &NewSettingsVersion) -> Result<u64, StoreError> {
    let version: i64 = connection
        .prepare_cached(
            "INSERT INTO settings_versions \
                 (version, created_at, author, source, text, summary, diff) \
             VALUES ((SELECT COALESCE(MAX(version), 0) + 1 FROM settings_versions), \
                 ?1, ?2, ?3, ?4, ?5, ?6) \
             RETURNING version",
        )
        .and_then(|mut insert| {
            insert.query_row(
                params![
                    new.created_at_ms,
                    new.author,
                    new.source.as_str(),
                    new.text,
                    new.summary,
                    new.diff
                ],
                |row| row.get(0),
            )
        })
        .map_err(database_error("storing a settings version"))?;
    stored_version(version)
}

/// The history without texts, newest first.
pub(crate) fn list(
    connection: &Connection,
    limit: usize,
) -> Result<Vec<SettingsVersionInfo>, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut select = connection
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM settings_versions ORDER BY version DESC LIMIT ?1"
        ))
        .map_err(database_error("listing settings versions"))?;
    let rows = select
        .query_map([limit], raw_row)
        .map_err(database_error("listing settings versions"))?;
    let mut versions = Vec::new();
    for row in rows {
        let raw = row.map_err(database_error("listing settings versions"))?;
        versions.push(raw.into_version()?.info);
    }
    Ok(versions)
}

/// One version, or the newest (of `source`, if given).
pub(crate) fn find(
    connection: &Connection,
    version: Option<u64>,
    source: Option<SettingsSource>,
) -> Result<Option<SettingsVersion>, StoreError> {
    let version = version.map(|v| i64::try_from(v).unwrap_or(i64::MAX));
    let raw = connection
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM settings_versions \
             WHERE (?1 IS NULL OR version = ?1) AND (?2 IS NULL OR source = ?2) \
             ORDER BY version DESC LIMIT 1"
        ))
        .and_then(|mut select| {
            select
                .query_row(
                    params![version, source.map(SettingsSource::as_str)],
                    raw_row,
                )
                .optional()
        })
        .map_err(database_error("reading a settings version"))?;
    raw.map(RawRow::into_version).transpose()
}

/// A row as read, before its number and source are checked.
struct RawRow {
    version: i64,
    created_at_ms: i64,
    author: String,
    source: String,
    summary: String,
    text: String,
    diff: String,
}

fn raw_row(row: &Row<'_>) -> rusqlite::Result<RawRow> {
    Ok(RawRow {
        version: row.get(0)?,
        created_at_ms: row.get(1)?,
        author: row.get(2)?,
        source: row.get(3)?,
        summary: row.get(4)?,
        text: row.get(5)?,
        diff: row.get(6)?,
    })
}

impl RawRow {
    fn into_version(self) -> Result<SettingsVersion, StoreError> {
        Ok(SettingsVersion {
            info: SettingsVersionInfo {
                version: stored_version(self.version)?,
                created_at_ms: self.created_at_ms,
                author: self.author,
                source: SettingsSource::parse(&self.source)?,
                summary: self.summary,
            },
            text: self.text,
            diff: self.diff,
        })
    }
}

fn stored_version(version: i64) -> Result<u64, StoreError> {
    u64::try_from(version)
        .ok()
        .filter(|version| *version > 0)
        .ok_or_else(|| {
            StoreError::Database(format!("the stored settings version {version} is invalid"))
        })
}
