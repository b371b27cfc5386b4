//! The embedded SQLite engine: one file in WAL mode, one writer thread doing group commit, and
//! a small pool of read connections.
//!
//! **Architecture invariant:** only the writer thread ([`writer`]) writes to the database; the
//! read connections are opened `query_only`.

mod checkpointer;
mod connection;
mod mutations;
mod options;
mod queries;
mod read_pool;
mod series_ids;
mod settings_versions;
mod writer;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use async_trait::async_trait;
use tokio::sync::{Mutex, mpsc, oneshot};
use tracing::info;

use self::checkpointer::Checkpointer;
pub use self::options::{SqliteOptions, Synchronous, database_path};
pub(crate) use self::queries::state_change;
use self::read_pool::ReadPool;
use self::writer::{Command, Job, Reply};
use crate::{
    EventRow, EventsQuery, ExportQuery, ExportRow, NewSettingsVersion, Point, ReadingsQuery,
    SettingsSource, SettingsVersion, SettingsVersionInfo, StateChange, Store, StoreError,
    WriteBatch, WriteReceipt,
};

/// The SQLite [`Store`].
///
/// Dropping it without [`Store::close`] loses nothing acknowledged (every acknowledgement
/// follows its commit) and never blocks: the writer thread commits what is still queued and
/// stops on its own. Reads keep working after `close`; writes fail with [`StoreError::Closed`].
pub struct SqliteStore {
    commands: mpsc::Sender<Command>,
    /// The writer thread until `close` joins it; the lock makes a second `close` wait for the
    /// first.
    writer_thread: Mutex<Option<JoinHandle<()>>>,
    closed: AtomicBool,
    readers: ReadPool,
    /// Copies the write-ahead log into the database off the commit path; stopped by `close`
    /// (or by dropping the store).
    checkpointer: std::sync::Mutex<Option<Checkpointer>>,
}

impl SqliteStore {
    /// Opens (creating the file and its directory if needed) and migrates the database at
    /// `path`, and starts the writer thread.
    ///
    /// The file work runs on tokio's blocking pool, so this needs a tokio runtime.
    ///
    /// # Errors
    /// [`StoreError::Database`] when the file cannot be created, opened in WAL mode or migrated.
    pub async fn open(path: &Path, options: SqliteOptions) -> Result<SqliteStore, StoreError> {
        let path = path.to_path_buf();
        tokio::task::spawn_blocking(move || SqliteStore::open_blocking(&path, options))
            .await
            .map_err(|error| StoreError::Database(format!("opening the SQLite store: {error}")))?
    }

    /// Opens the database named by a `database = "sqlite://PATH"` setting, a relative `PATH`
    /// being taken relative to `base_dir` (see [`database_path`]).
    ///
    /// # Errors
    /// [`StoreError::InvalidQuery`] for a URL that is not `sqlite://PATH`, else as
    /// [`open`](Self::open).
    pub async fn open_url(
        url: &str,
        base_dir: &Path,
        options: SqliteOptions,
    ) -> Result<SqliteStore, StoreError> {
        SqliteStore::open(&database_path(url, base_dir)?, options).await
    }

    /// [`open`](Self::open), blocking the calling thread.
    fn open_blocking(path: &Path, options: SqliteOptions) -> Result<SqliteStore, StoreError> {
        let write_connection = connection::open_writer(path, options.synchronous)?;
        let readers = ReadPool::open(path.to_path_buf(), options.read_connections)?;
        let (commands, writer_thread) =
            writer::spawn(write_connection, options.max_batch, options.retention)?;
        let checkpointer = Checkpointer::start(path)?;
        info!(path = %path.display(), synchronous = ?options.synchronous, "SQLite store open");
        Ok(SqliteStore {
            commands,
            writer_thread: Mutex::new(Some(writer_thread)),
            closed: AtomicBool::new(false),
            readers,
            checkpointer: std::sync::Mutex::new(Some(checkpointer)),
        })
    }

    /// [`Store::readings`] computed from the raw readings only, never from the hourly rollup:
    /// the baseline of the rollup's benchmark (`benches/readings_rollup.rs`).
    ///
    /// # Errors
    /// As [`Store::readings`].
    pub async fn readings_without_rollup(
        &self,
        query: ReadingsQuery,
    ) -> Result<Vec<Point>, StoreError> {
        self.readers
            .run(move |connection| queries::readings(connection, &query, false))
            .await
    }

    /// Sends a job to the writer and waits for its answer, given after the commit.
    async fn run_job<T>(&self, job: impl FnOnce(Reply<T>) -> Job) -> Result<T, StoreError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(StoreError::Closed);
        }
        let (reply, answer) = oneshot::channel();
        if self.commands.send(Command::Run(job(reply))).await.is_err() {
            return Err(self.writer_gone());
        }
        answer.await.map_err(|_| {
            StoreError::Database("the writer thread stopped before answering".to_owned())
        })?
    }

    /// Why the writer no longer takes commands.
    fn writer_gone(&self) -> StoreError {
        if self.closed.load(Ordering::Acquire) {
            StoreError::Closed
        } else {
            StoreError::Database("the writer thread has stopped".to_owned())
        }
    }
}

#[async_trait]
impl Store for SqliteStore {
    /// Commits the batch with whatever else is queued (group commit).
    ///
    /// A report is a duplicate when `(node, boot, seq)` is already stored. A report without
    /// `boot` is never a duplicate here: SQLite treats NULLs as distinct, and without `boot`
    /// deduplication is the master's in-memory job.
    ///
    /// # Errors
    /// [`StoreError::InvalidQuery`] for a reading that is not finite (SQLite would store NaN
    /// as NULL), before anything is queued.
    async fn write(&self, batch: WriteBatch) -> Result<WriteReceipt, StoreError> {
        batch.check_finite()?;
        self.run_job(|reply| Job::Write { batch, reply }).await
    }

    async fn begin_epoch(&self) -> Result<u64, StoreError> {
        self.run_job(|reply| Job::BeginEpoch { reply }).await
    }

    async fn readings(&self, query: ReadingsQuery) -> Result<Vec<Point>, StoreError> {
        self.readers
            .run(move |connection| queries::readings(connection, &query, true))
            .await
    }

    async fn events(&self, query: EventsQuery) -> Result<Vec<EventRow>, StoreError> {
        self.readers
            .run(move |connection| queries::events(connection, &query))
            .await
    }

    async fn state_changes_since(&self, from_ms: i64) -> Result<Vec<StateChange>, StoreError> {
        self.readers
            .run(move |connection| queries::state_changes_since(connection, from_ms))
            .await
    }

    async fn last_report_at(&self, node: &str) -> Result<Option<i64>, StoreError> {
        let node = node.to_owned();
        self.readers
            .run(move |connection| queries::last_report_at(connection, &node))
            .await
    }

    async fn export(
        &self,
        query: ExportQuery,
        sink: mpsc::Sender<Vec<ExportRow>>,
    ) -> Result<u64, StoreError> {
        self.readers
            .run(move |connection| queries::export(connection, &query, &sink))
            .await
    }

    async fn add_settings_version(&self, version: NewSettingsVersion) -> Result<u64, StoreError> {
        self.run_job(|reply| Job::AddSettingsVersion { version, reply })
            .await
    }

    async fn settings_versions(
        &self,
        limit: usize,
    ) -> Result<Vec<SettingsVersionInfo>, StoreError> {
        self.readers
            .run(move |connection| settings_versions::list(connection, limit))
            .await
    }

    async fn settings_version(&self, version: u64) -> Result<Option<SettingsVersion>, StoreError> {
        self.readers
            .run(move |connection| settings_versions::find(connection, Some(version), None))
            .await
    }

    async fn newest_settings_version(
        &self,
        source: Option<SettingsSource>,
    ) -> Result<Option<SettingsVersion>, StoreError> {
        self.readers
            .run(move |connection| settings_versions::find(connection, None, source))
            .await
    }

    /// Commits a heartbeat counter in `meta` through the writer.
    async fn check_writable(&self) -> Result<(), StoreError> {
        self.run_job(|reply| Job::CheckWritable { reply }).await
    }

    /// Commits everything queued, stops the writer thread and joins it. Closing again (or
    /// concurrently) is fine: it returns once the first close is done.
    ///
    /// # Errors
    /// [`StoreError::Database`] if the writer thread had panicked.
    async fn close(&self) -> Result<(), StoreError> {
        let mut writer_thread = self.writer_thread.lock().await;
        let Some(thread) = writer_thread.take() else {
            return Ok(());
        };
        self.closed.store(true, Ordering::Release);
        let (reply, stopped) = oneshot::channel();
        if self.commands.send(Command::Close { reply }).await.is_ok() {
            // An error means the thread ended without answering; joining tells why.
            let _ = stopped.await;
        }
        tokio::task::spawn_blocking(move || thread.join())
            .await
            .map_err(|error| StoreError::Database(format!("joining the writer thread: {error}")))?
            .map_err(|_| StoreError::Database("the writer thread panicked".to_owned()))?;
        let checkpointer = self
            .checkpointer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(checkpointer) = checkpointer {
            tokio::task::spawn_blocking(move || checkpointer.stop())
                .await
                .map_err(|error| {
                    StoreError::Database(format!("joining the checkpoint thread: {error}"))
                })?;
        }
        info!("SQLite store closed");
        Ok(())
    }
}

/// Maps a rusqlite error to [`StoreError::Database`] saying what was being done.
fn database_error(context: &str) -> impl FnOnce(rusqlite::Error) -> StoreError + '_ {
    move |error| StoreError::Database(format!("{context}: {error}"))
}
