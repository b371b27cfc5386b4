//! The settings history in PostgreSQL: the insert run by the writer inside its transaction,
//! the reads run on the read pool. The same SQL as the SQLite engine's.

use deadpool_postgres::Client;
use tokio_postgres::{GenericClient, Row};

use super::database_error;
use crate::{NewSettingsVersion, SettingsSource, SettingsVersion, SettingsVersionInfo, StoreError};

const COLUMNS: &str = "version, created_at, author, source, summary, text, diff";

/// Inserts `new` numbered one above the newest version; only the writer calls it, so the
/// number cannot be taken twice. `transaction` is a connection inside a transaction.
pub(crate) async fn insert(
    transaction: &(impl GenericClient + Sync),
    new: &NewSettingsVersion,
) -> Result<u64, StoreError> {
    let version: i64 = transaction
        .query_one(
            "INSERT INTO settings_versions \
                 (version, created_at, author, source, text, summary, diff) \
             VALUES ((SELECT COALESCE(MAX(version), 0) + 1 FROM settings_versions), \
                 $1, $2, $3, $4, $5, $6) \
             RETURNING version",
            &[
                &new.created_at_ms,
                &new.author,
                &new.source.as_str(),
                &new.text,
                &new.summary,
                &new.diff,
            ],
        )
        .await
        .map_err(database_error("storing a settings version"))?
        .get(0);
    stored_version(version)
}

/// The history without texts, newest first.
pub(crate) async fn list(
    client: &Client,
    limit: usize,
) -> Result<Vec<SettingsVersionInfo>, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = client
        .query(
            &format!("SELECT {COLUMNS} FROM settings_versions ORDER BY version DESC LIMIT $1"),
            &[&limit],
        )
        .await
        .map_err(database_error("listing settings versions"))?;
    rows.iter()
        .map(|row| version_of(row).map(|version| version.info))
        .collect()
}

/// One version, or the newest (of `source`, if given).
pub(crate) async fn find(
    client: &Client,
    version: Option<u64>,
    source: Option<SettingsSource>,
) -> Result<Option<SettingsVersion>, StoreError> {
    let version = version.map(|v| i64::try_from(v).unwrap_or(i64::MAX));
    let source = source.map(SettingsSource::as_str);
    let row = client
        .query_opt(
            &format!(
                "SELECT {COLUMNS} FROM settings_versions \
                 WHERE ($1::bigint IS NULL OR version = $1) AND ($2::text IS NULL OR source = $2) \
                 ORDER BY version DESC LIMIT 1"
            ),
            &[&version, &source],
        )
        .await
        .map_err(database_error("reading a settings version"))?;
    row.as_ref().map(version_of).transpose()
}

fn version_of(row: &Row) -> Result<SettingsVersion, StoreError> {
    let read = |error| StoreError::Database(format!("reading a settings version: {error}"));
    let source: String = row.try_get(3).map_err(read)?;
    Ok(SettingsVersion {
        info: SettingsVersionInfo {
            version: stored_version(row.try_get(0).map_err(read)?)?,
            created_at_ms: row.try_get(1).map_err(read)?,
            author: row.try_get(2).map_err(read)?,
            source: SettingsSource::parse(&source)?,
            summary: row.try_get(4).map_err(read)?,
        },
        text: row.try_get(5).map_err(read)?,
        diff: row.try_get(6).map_err(read)?,
    })
}

fn stored_version(version: i64) -> Result<u64, StoreError> {
    u64::try_from(version)
        .ok()
        .filter(|version| *version > 0)
        .ok_or_else(|| {
            StoreError::Database(format!("the stored settings version {version} is invalid"))
        })
}
