//! PlantKeeper's time-series store: one [`Store`] trait, implemented by the embedded SQLite
//! engine ([`sqlite`]) and by PostgreSQL, with TimescaleDB when present ([`postgres`]).
//!
//! **Architecture invariant:** only the store's writer touches the database for writes; every
//! write goes through [`Store::write`], which returns only after the batch is durably committed
//! (group commit: concurrent writes share one transaction).

pub mod model;
pub mod postgres;
mod rollup;
pub mod settings_versions;
pub mod sqlite;
#[cfg(feature = "testsuite")]
pub mod testsuite;

pub use model::*;
pub use settings_versions::{
    NewSettingsVersion, SettingsSource, SettingsVersion, SettingsVersionInfo,
};

use async_trait::async_trait;

/// Errors of a store operation.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The database refused an operation or could not be reached.
    #[error("database error: {0}")]
    Database(String),
    /// The store has been closed (shutdown in progress).
    #[error("the store is closed")]
    Closed,
    /// A query argument was out of range (for example `step` too small for the range).
    #[error("{0}")]
    InvalidQuery(String),
}

/// The persistence interface the master uses. All timestamps are milliseconds since the Unix
/// epoch (UTC).
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Durably stores a batch: reports with their readings, state changes and events.
    /// Returns after the commit. A report whose `(node, boot, seq)` is already stored is not
    /// stored again and is flagged as a duplicate in the receipt.
    async fn write(&self, batch: WriteBatch) -> Result<WriteReceipt, StoreError>;

    /// Increments and returns the master's persisted epoch. Called once at every start.
    async fn begin_epoch(&self) -> Result<u64, StoreError>;

    /// Readings of one sensor in `[from_ms, to_ms)`, oldest first; with `step_ms`, one averaged
    /// point per step-aligned bucket (its start time).
    async fn readings(&self, query: ReadingsQuery) -> Result<Vec<Point>, StoreError>;

    /// State changes and events in `[from_ms, to_ms)`, newest first.
    async fn events(&self, query: EventsQuery) -> Result<Vec<EventRow>, StoreError>;

    /// State changes at or after `from_ms`, oldest first (to rebuild daily budgets after a restart).
    async fn state_changes_since(&self, from_ms: i64) -> Result<Vec<StateChange>, StoreError>;

    /// When the newest stored report of `node` was received (ms), retries included; `None` if
    /// there is none. Reports only serve deduplication, so a store may forget those older than
    /// two days. Used after a restart to bound how long a relay may have stayed ON.
    async fn last_report_at(&self, node: &str) -> Result<Option<i64>, StoreError>;

    /// Streams the raw readings of `query` to `sink`, oldest first (ties by sensor name, then
    /// insertion order), in chunks of at most [`EXPORT_CHUNK_ROWS`] rows sent as they are read
    /// (a cursor on SQLite, a portal on PostgreSQL), so memory stays bounded whatever the
    /// range. Stops early, without error, if the receiver is dropped. Returns the rows sent.
    async fn export(
        &self,
        query: ExportQuery,
        sink: tokio::sync::mpsc::Sender<Vec<ExportRow>>,
    ) -> Result<u64, StoreError>;
    /// Stores a new settings version, numbered one above the newest stored (1 for the first),
    /// and returns its number once committed.
    async fn add_settings_version(&self, version: NewSettingsVersion) -> Result<u64, StoreError>;

    /// The settings history without texts, newest first, at most `limit` rows.
    async fn settings_versions(&self, limit: usize)
    -> Result<Vec<SettingsVersionInfo>, StoreError>;

    /// One stored settings version with its text and diff; `None` if there is no such version.
    async fn settings_version(&self, version: u64) -> Result<Option<SettingsVersion>, StoreError>;

    /// The newest stored settings version, or the newest of one `source` only.
    async fn newest_settings_version(
        &self,
        source: Option<SettingsSource>,
    ) -> Result<Option<SettingsVersion>, StoreError>;

    /// Proves the store is writable now (a tiny committed write).
    async fn check_writable(&self) -> Result<(), StoreError>;

    /// Commits everything already submitted and stops the writer. Later writes fail with
    /// [`StoreError::Closed`].
    async fn close(&self) -> Result<(), StoreError>;
}
