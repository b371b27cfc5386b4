//! The PostgreSQL engine (`database = "postgres://..."`): one writer task doing group commit
//! on its own connection, a pool of read connections, migrations with refinery, and the
//! TimescaleDB migrations when that extension is installed.
//!
//! **Architecture invariant:** only the writer task ([`writer`]) writes; the read pool only
//! reads. `write()` returns only after the commit, and never acknowledges a batch whose commit
//! it could not confirm (a broken connection answers an error, the writer reconnects).

mod lanes;
mod mutations;
mod options;
mod queries;
mod rollup_watermark;
mod schema;
mod settings_versions;
mod spool;
mod statements;
mod writer;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_postgres::{Client, Config, NoTls};
use tracing::{info, warn};

use self::mutations::Work;
pub use self::options::{PostgresOptions, is_postgres_url, redacted_url};
pub use self::schema::{
    Timescale, detect_timescale, timescale_migration_sql, timescale_retention_sql,
};
use self::writer::{Command, Job, JobReply};
use crate::{
    EventRow, EventsQuery, ExportQuery, ExportRow, NewSettingsVersion, Point, ReadingsQuery,
    SettingsSource, SettingsVersion, SettingsVersionInfo, StateChange, Store, StoreError,
    WriteBatch, WriteReceipt,
};

/// The PostgreSQL [`Store`].
///
/// Dropping it without [`Store::close`] loses nothing acknowledged (every acknowledgement
/// follows its commit): the writer task commits what is still queued and stops on its own.
/// Reads keep working after `close`; writes fail with [`StoreError::Closed`].
pub struct PostgresStore {
    commands: mpsc::Sender<Command>,
    /// The writer task until `close` awaits it; the lock makes a second `close` wait for the
    /// first.
    writer_task: Mutex<Option<JoinHandle<()>>>,
    closed: AtomicBool,
    readers: Pool,
    timescale: Timescale,
    /// Batches in the spool not yet replayed, kept up to date by the writer.
    spooled: Arc<AtomicUsize>,
}

impl PostgresStore {
    /// Connects to the database of `url` (`postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE`,
    /// libpq's parameters allowed after `?`), applies the pending migrations (creating
    /// `options.schema` first if set), opens `options.spool` and starts the writer task (which
    /// replays what the spool still holds) and the read pool. Needs a tokio runtime.
    /// Connections are not encrypted (no TLS in this build).
    ///
    /// # Errors
    /// [`StoreError::InvalidQuery`] for a malformed URL or schema name;
    /// [`StoreError::Database`] when the server cannot be reached, refuses the login, or a
    /// migration fails. Messages never contain the password.
    pub async fn open(url: &str, options: PostgresOptions) -> Result<PostgresStore, StoreError> {
        let writer_config = options::connection_config(url, &options, "writer")?;
        let lane_config = options::connection_config(url, &options, "writer lane")?;
        // One connection: the writer's own does everything; more: each is a lane, and the
        // writer keeps its own for the work that must stay in order.
        let lanes = if options.write_connections > 1 {
            options.write_connections
        } else {
            0
        };
        let reader_config = options::connection_config(url, &options, "reader")?;
        let shown_url = redacted_url(url);
        let in_context = |error: StoreError| match error {
            StoreError::Database(message) => {
                StoreError::Database(format!("PostgreSQL at {shown_url}: {message}"))
            }
            other => other,
        };
        let mut client = connect(&writer_config).await.map_err(in_context)?;
        let timescale = schema::migrate(&mut client, options.schema.as_deref(), options.retention)
            .await
            .map_err(in_context)?;
        let readers = read_pool(reader_config, options.read_connections)?;
        // A reader too, so that a problem shows now rather than at the first query.
        let first_reader = readers
            .get()
            .await
            .map_err(|error| in_context(pool_error(error)))?;
        drop(first_reader);
        let spool = match options.spool.clone() {
            Some(path) => Some(
                tokio::task::spawn_blocking(move || spool::Spool::open(&path))
                    .await
                    .map_err(|error| {
                        StoreError::Database(format!("opening the spool failed: {error}"))
                    })??,
            ),
            None => None,
        };
        let spooled = Arc::new(AtomicUsize::new(0));
        let (commands, writer_task) = writer::spawn(
            client,
            writer_config,
            options.max_batch,
            spool,
            spooled.clone(),
            options.retention,
            lanes::Lanes::start(lanes, &lane_config),
        )
        .await
        .map_err(in_context)?;
        info!(url = %shown_url, schema = ?options.schema, spool = ?options.spool, ?timescale, "PostgreSQL store open");
        Ok(PostgresStore {
            commands,
            writer_task: Mutex::new(Some(writer_task)),
            closed: AtomicBool::new(false),
            readers,
            timescale,
            spooled,
        })
    }

    /// How many batches the spool holds that are not in PostgreSQL yet (0 without a spool):
    /// non-zero during an outage and until the replay after it is done.
    pub fn spooled(&self) -> usize {
        self.spooled.load(Ordering::Acquire)
    }

    /// What [`detect_timescale`] found at open, which decided the migrations applied.
    pub fn timescale(&self) -> &Timescale {
        &self.timescale
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
        queries::readings(&self.reader().await?, &query, false).await
    }

    /// Sends work to the writer and waits for its answer, given after the commit.
    async fn run_job<T>(
        &self,
        work: Work,
        reply: impl FnOnce(writer::Reply<T>) -> JobReply,
    ) -> Result<T, StoreError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(StoreError::Closed);
        }
        let (sender, answer) = oneshot::channel();
        let job = Job {
            work,
            reply: reply(sender),
        };
        if self.commands.send(Command::Run(job)).await.is_err() {
            return Err(if self.closed.load(Ordering::Acquire) {
                StoreError::Closed
            } else {
                StoreError::Database("the writer task has stopped".to_owned())
            });
        }
        answer.await.map_err(|_| {
            StoreError::Database("the writer task stopped before answering".to_owned())
        })?
    }

    /// A connection of the read pool.
    async fn reader(&self) -> Result<deadpool_postgres::Client, StoreError> {
        self.readers.get().await.map_err(pool_error)
    }
}

#[async_trait]
impl Store for PostgresStore {
    /// Commits the batch with whatever else is queued (group commit).
    ///
    /// A report is a duplicate when `(node, boot, seq)` is already stored. A report without
    /// `boot` is never a duplicate (NULLs are distinct in the unique constraint), as in SQLite.
    ///
    /// # Errors
    /// [`StoreError::InvalidQuery`] for a reading that is not finite (refused as by SQLite, so
    /// both engines store the same), before anything is queued.
    async fn write(&self, batch: WriteBatch) -> Result<WriteReceipt, StoreError> {
        batch.check_finite()?;
        self.run_job(Work::Write(batch), JobReply::Write).await
    }

    async fn begin_epoch(&self) -> Result<u64, StoreError> {
        self.run_job(Work::BeginEpoch, JobReply::Epoch).await
    }

    async fn readings(&self, query: ReadingsQuery) -> Result<Vec<Point>, StoreError> {
        queries::readings(&self.reader().await?, &query, true).await
    }

    async fn events(&self, query: EventsQuery) -> Result<Vec<EventRow>, StoreError> {
        queries::events(&self.reader().await?, &query).await
    }

    async fn state_changes_since(&self, from_ms: i64) -> Result<Vec<StateChange>, StoreError> {
        queries::state_changes_since(&self.reader().await?, from_ms).await
    }

    async fn last_report_at(&self, node: &str) -> Result<Option<i64>, StoreError> {
        queries::last_report_at(&self.reader().await?, node).await
    }

    async fn export(
        &self,
        query: ExportQuery,
        sink: mpsc::Sender<Vec<ExportRow>>,
    ) -> Result<u64, StoreError> {
        queries::export(&mut self.reader().await?, &query, &sink).await
    }

    async fn add_settings_version(&self, version: NewSettingsVersion) -> Result<u64, StoreError> {
        self.run_job(Work::AddSettingsVersion(version), JobReply::SettingsVersion)
            .await
    }

    async fn settings_versions(
        &self,
        limit: usize,
    ) -> Result<Vec<SettingsVersionInfo>, StoreError> {
        settings_versions::list(&self.reader().await?, limit).await
    }

    async fn settings_version(&self, version: u64) -> Result<Option<SettingsVersion>, StoreError> {
        settings_versions::find(&self.reader().await?, Some(version), None).await
    }

    async fn newest_settings_version(
        &self,
        source: Option<SettingsSource>,
    ) -> Result<Option<SettingsVersion>, StoreError> {
        settings_versions::find(&self.reader().await?, None, source).await
    }

    /// Commits a heartbeat counter in `meta` through the writer.
    async fn check_writable(&self) -> Result<(), StoreError> {
        self.run_job(Work::CheckWritable, JobReply::Writable).await
    }

    /// Commits everything queued and stops the writer task. Closing again (or concurrently)
    /// is fine: it returns once the first close is done.
    ///
    /// # Errors
    /// [`StoreError::Database`] if the writer task had panicked.
    async fn close(&self) -> Result<(), StoreError> {
        let mut writer_task = self.writer_task.lock().await;
        let Some(task) = writer_task.take() else {
            return Ok(());
        };
        self.closed.store(true, Ordering::Release);
        let (reply, stopped) = oneshot::channel();
        if self.commands.send(Command::Close { reply }).await.is_ok() {
            // An error means the task ended without answering; awaiting it tells why.
            let _ = stopped.await;
        }
        task.await
            .map_err(|error| StoreError::Database(format!("the writer task failed: {error}")))?;
        info!("PostgreSQL store closed");
        Ok(())
    }
}

/// Opens one connection and drives it on a tokio task.
async fn connect(config: &Config) -> Result<Client, StoreError> {
    let (client, connection) = config
        .connect(NoTls)
        .await
        .map_err(database_error("connecting"))?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            warn!(error = %describe(&error), "PostgreSQL connection ended with an error");
        }
    });
    Ok(client)
}

/// The read pool: `size` connections at most (at least one), recycled after a cheap
/// `is_closed` check, so connections broken by a server restart are replaced.
fn read_pool(config: Config, size: usize) -> Result<Pool, StoreError> {
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(size.max(1))
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(std::time::Duration::from_secs(30)))
        .build()
        .map_err(|error| StoreError::Database(format!("building the read pool: {error}")))
}

fn pool_error(error: deadpool_postgres::PoolError) -> StoreError {
    match error {
        deadpool_postgres::PoolError::Backend(error) => {
            StoreError::Database(format!("connecting: {}", describe(&error)))
        }
        other => StoreError::Database(format!("read pool: {other}")),
    }
}

/// Maps a tokio-postgres error to [`StoreError::Database`] saying what was being done.
fn database_error(context: &str) -> impl FnOnce(tokio_postgres::Error) -> StoreError + '_ {
    move |error| StoreError::Database(format!("{context}: {}", describe(&error)))
}

/// The error with its cause: tokio-postgres's own text is terse ("db error", "error
/// connecting to server") and the useful part is in the database error or the source.
fn describe(error: &tokio_postgres::Error) -> String {
    if let Some(db) = error.as_db_error() {
        return format!("{} ({})", db.message(), db.code().code());
    }
    match std::error::Error::source(error) {
        Some(source) => format!("{error}: {source}"),
        None => error.to_string(),
    }
}
