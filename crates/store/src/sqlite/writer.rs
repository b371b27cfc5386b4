//! The writer thread: the only code that writes to the database.
//!
//! It blocks for the first command, drains whatever else is already queued (up to `max_batch`
//! rows), applies everything in ONE transaction, commits, and only then answers every waiter
//! (group commit). Each command runs inside its own savepoint, so a command that fails rolls
//! back alone and gets its error while the others go on; if the commit itself fails, every
//! command of the transaction gets the error, so nothing is half-acknowledged. The thread keeps
//! running after an error, and the next transaction tries again.

use std::thread::JoinHandle;

use rusqlite::{Connection, Transaction, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

use super::database_error;
use super::mutations;
use super::series_ids::SeriesIds;
use super::settings_versions;
use crate::{NewSettingsVersion, Retention, StoreError, WriteBatch, WriteReceipt};

/// Commands waiting for the writer; senders wait for room when it is full (back-pressure).
const QUEUE_CAPACITY: usize = 1024;
/// `reports` only serves deduplication of retries: rows older than this are pruned.
const REPORTS_KEPT_MS: i64 = 2 * 24 * 3600 * 1000;
/// Pruning runs after this many transactions...
const PRUNE_EVERY_TRANSACTIONS: u32 = 64;
/// ...and deletes at most this many rows at a time, so it never stalls the writer for long
/// (it runs again after the next transaction while there is more to delete).
const PRUNE_ROWS_AT_ONCE: usize = 5000;

/// Where the writer sends a command's outcome.
pub(crate) type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// A request to the writer.
pub(crate) enum Command {
    /// Do this work in the next transaction.
    Run(Job),
    /// Commit everything queued, then stop; answered once the last transaction is committed.
    Close { reply: oneshot::Sender<()> },
}

/// Work done inside a group transaction and answered after its commit.
pub(crate) enum Job {
    /// Commit this batch.
    Write {
        batch: WriteBatch,
        reply: Reply<WriteReceipt>,
    },
    /// Increment and return the epoch.
    BeginEpoch { reply: Reply<u64> },
    /// Commit a heartbeat.
    CheckWritable { reply: Reply<()> },
    /// Store a settings version and return its number.
    AddSettingsVersion {
        version: NewSettingsVersion,
        reply: Reply<u64>,
    },
}

impl Job {
    /// Rows this job writes, counted against `max_batch`.
    fn rows(&self) -> usize {
        match self {
            Job::Write { batch, .. } => {
                let readings: usize = batch
                    .reports
                    .iter()
                    .map(|report| report.readings.len())
                    .sum();
                (batch.reports.len() + readings + batch.state_changes.len() + batch.events.len())
                    .max(1)
            }
            Job::BeginEpoch { .. } | Job::CheckWritable { .. } | Job::AddSettingsVersion { .. } => {
                1
            }
        }
    }

    /// Answers the job with `error`, its work not having been committed.
    fn fail(self, error: &StoreError) {
        match self {
            Job::Write { reply, .. } => drop(reply.send(Err(error.clone()))),
            Job::BeginEpoch { reply } => drop(reply.send(Err(error.clone()))),
            Job::CheckWritable { reply } => drop(reply.send(Err(error.clone()))),
            Job::AddSettingsVersion { reply, .. } => drop(reply.send(Err(error.clone()))),
        }
    }
}

/// Starts the writer thread on `connection`; it runs until every sender is dropped or a
/// [`Command::Close`] is processed.
pub(crate) fn spawn(
    connection: Connection,
    max_batch: usize,
    retention: Retention,
) -> Result<(mpsc::Sender<Command>, JoinHandle<()>), StoreError> {
    let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
    let writer = Writer {
        connection,
        series: SeriesIds::default(),
        max_batch: max_batch.max(1),
        retention,
        transactions_since_prune: 0,
        prune_unfinished: false,
        newest_received_at_ms: None,
    };
    let thread = std::thread::Builder::new()
        .name("store-writer".to_owned())
        .spawn(move || writer.run(receiver))
        .map_err(|error| StoreError::Database(format!("starting the writer thread: {error}")))?;
    Ok((sender, thread))
}

struct Writer {
    connection: Connection,
    series: SeriesIds,
    max_batch: usize,
    /// How long readings and hourly rollups are kept.
    retention: Retention,
    transactions_since_prune: u32,
    /// The last prune hit its row limit: there is more to delete.
    prune_unfinished: bool,
    /// The newest `received_at` committed: the store's notion of "now" for pruning, so a
    /// simulated clock prunes consistently.
    newest_received_at_ms: Option<i64>,
}

impl Writer {
    fn run(mut self, mut receiver: mpsc::Receiver<Command>) {
        let mut close_replies = Vec::new();
        while let Some(first) = receiver.blocking_recv() {
            let mut group = Vec::new();
            let mut rows = 0;
            let mut next = Some(first);
            while let Some(command) = next {
                match command {
                    Command::Run(job) => {
                        rows += job.rows();
                        group.push(job);
                    }
                    Command::Close { reply } => {
                        // No new command gets in; those already queued are still received.
                        receiver.close();
                        close_replies.push(reply);
                    }
                }
                next = if rows < self.max_batch {
                    receiver.try_recv().ok()
                } else {
                    None
                };
            }
            if !group.is_empty() {
                self.commit_group(group);
                self.prune_now_and_then();
            }
        }
        debug!("store writer stopped, everything queued is committed");
        for reply in close_replies {
            // The closer may have stopped waiting; the work is done either way.
            let _ = reply.send(());
        }
    }

    /// Applies `group` in one transaction and answers every job after the commit.
    fn commit_group(&mut self, group: Vec<Job>) {
        let count = group.len();
        let mut transaction = match self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
        {
            Ok(transaction) => transaction,
            Err(error) => {
                let error = database_error("starting a transaction")(error);
                warn!(%error, jobs = count, "store transaction not started");
                group.into_iter().for_each(|job| job.fail(&error));
                return;
            }
        };
        let mut answers = Vec::with_capacity(count);
        let mut newest_received_at_ms = self.newest_received_at_ms;
        let mut jobs = group.into_iter();
        for job in jobs.by_ref() {
            if let Job::Write { batch, .. } = &job {
                let newest = batch
                    .reports
                    .iter()
                    .map(|report| report.received_at_ms)
                    .max();
                newest_received_at_ms = newest_received_at_ms.max(newest);
            }
            answers.push(apply(&mut transaction, &mut self.series, job));
            if transaction.is_autocommit() {
                // The failed statement made SQLite roll the whole transaction back (disk full,
                // I/O error): nothing of this group is stored.
                let error = StoreError::Database(
                    "the transaction was rolled back by SQLite after an error".to_owned(),
                );
                warn!(%error, jobs = count, "store transaction aborted");
                self.series.forget_all();
                answers
                    .into_iter()
                    .for_each(|answer| answer.fail(&error).send());
                jobs.for_each(|job| job.fail(&error));
                return;
            }
        }
        match transaction.commit() {
            Ok(()) => {
                self.newest_received_at_ms = newest_received_at_ms;
                self.transactions_since_prune = self.transactions_since_prune.saturating_add(1);
                answers.into_iter().for_each(Answer::send);
            }
            Err(error) => {
                let error = database_error("committing")(error);
                warn!(%error, jobs = count, "store commit failed");
                self.series.forget_all();
                answers
                    .into_iter()
                    .for_each(|answer| answer.fail(&error).send());
            }
        }
    }

    /// Deletes old `reports` rows, expired raw readings and expired hourly rollups every
    /// [`PRUNE_EVERY_TRANSACTIONS`] transactions, after the waiters have been answered, each
    /// statement in its own small transaction of at most [`PRUNE_ROWS_AT_ONCE`] rows.
    fn prune_now_and_then(&mut self) {
        let due =
            self.prune_unfinished || self.transactions_since_prune >= PRUNE_EVERY_TRANSACTIONS;
        let Some(newest) = self.newest_received_at_ms.filter(|_| due) else {
            return;
        };
        self.transactions_since_prune = 0;
        let jobs: [(&str, PruneFn, i64); 3] = [
            ("reports", mutations::prune_reports, REPORTS_KEPT_MS),
            (
                "readings",
                mutations::expire_readings,
                self.retention.keep_raw_ms,
            ),
            (
                "hourly rollups",
                mutations::expire_rollup,
                self.retention.keep_hourly_ms,
            ),
        ];
        self.prune_unfinished = false;
        for (what, delete, kept_ms) in jobs {
            let before_ms = newest.saturating_sub(kept_ms);
            match delete(&self.connection, before_ms, PRUNE_ROWS_AT_ONCE) {
                Ok(deleted) => {
                    self.prune_unfinished |= deleted >= PRUNE_ROWS_AT_ONCE;
                    if deleted > 0 {
                        debug!(deleted, before_ms, what, "deleted old rows");
                    }
                }
                Err(error) => warn!(%error, what, "deleting old rows failed; will try again later"),
            }
        }
    }
}

/// A pruning statement: `(connection, before_ms, limit)` → rows deleted.
type PruneFn = fn(&Connection, i64, usize) -> Result<usize, StoreError>;

/// Runs one job inside its own savepoint of `transaction`.
fn apply(transaction: &mut Transaction<'_>, series: &mut SeriesIds, job: Job) -> Answer {
    match job {
        Job::Write { batch, reply } => Answer::Write(
            reply,
            in_savepoint(transaction, series, |connection, series| {
                mutations::insert_batch(connection, series, &batch)
            }),
        ),
        Job::BeginEpoch { reply } => Answer::Epoch(
            reply,
            in_savepoint(transaction, series, |connection, _| {
                mutations::next_epoch(connection)
            }),
        ),
        Job::CheckWritable { reply } => Answer::Writable(
            reply,
            in_savepoint(transaction, series, |connection, _| {
                mutations::beat_heart(connection)
            }),
        ),
        Job::AddSettingsVersion { version, reply } => Answer::SettingsVersion(
            reply,
            in_savepoint(transaction, series, |connection, _| {
                settings_versions::insert(connection, &version)
            }),
        ),
    }
}

/// Runs `work` in a savepoint: released on success, rolled back on error.
fn in_savepoint<T>(
    transaction: &mut Transaction<'_>,
    series: &mut SeriesIds,
    work: impl FnOnce(&Connection, &mut SeriesIds) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let savepoint = transaction
        .savepoint()
        .map_err(database_error("opening a savepoint"))?;
    match work(&savepoint, series) {
        Ok(value) => {
            savepoint
                .commit()
                .map_err(database_error("releasing a savepoint"))?;
            Ok(value)
        }
        Err(error) => {
            // A series created in the savepoint is gone with it.
            series.forget_all();
            if let Err(rollback_error) = savepoint.finish() {
                warn!(%rollback_error, "rolling back a failed write");
            }
            Err(error)
        }
    }
}

/// A job's outcome, held until the transaction is committed.
enum Answer {
    Write(Reply<WriteReceipt>, Result<WriteReceipt, StoreError>),
    Epoch(Reply<u64>, Result<u64, StoreError>),
    Writable(Reply<()>, Result<(), StoreError>),
    SettingsVersion(Reply<u64>, Result<u64, StoreError>),
}

impl Answer {
    /// The same answer, but failed with `error` if it had succeeded: its work was not committed.
    /// A job that had failed on its own keeps its own error.
    fn fail(self, error: &StoreError) -> Answer {
        match self {
            Answer::Write(reply, result) => Answer::Write(reply, result.and(Err(error.clone()))),
            Answer::Epoch(reply, result) => Answer::Epoch(reply, result.and(Err(error.clone()))),
            Answer::Writable(reply, result) => {
                Answer::Writable(reply, result.and(Err(error.clone())))
            }
            Answer::SettingsVersion(reply, result) => {
                Answer::SettingsVersion(reply, result.and(Err(error.clone())))
            }
        }
    }

    /// Delivers the outcome; a waiter that gave up (its future was dropped) is skipped.
    fn send(self) {
        match self {
            Answer::Write(reply, result) => drop(reply.send(result)),
            Answer::Epoch(reply, result) => drop(reply.send(result)),
            Answer::Writable(reply, result) => drop(reply.send(result)),
            Answer::SettingsVersion(reply, result) => drop(reply.send(result)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqlite::Synchronous;
    use crate::sqlite::connection::open_writer;
    use crate::{Event, NewReading, ReportRecord};

    fn writer_on(connection: Connection) -> Writer {
        Writer {
            connection,
            series: SeriesIds::default(),
            max_batch: 2000,
            retention: Retention::default(),
            transactions_since_prune: 0,
            prune_unfinished: false,
            newest_received_at_ms: None,
        }
    }

    fn reading_batch(seq: u32) -> WriteBatch {
        WriteBatch {
            reports: vec![ReportRecord {
                node: "bed-1".to_owned(),
                boot: Some(1),
                seq,
                received_at_ms: 0,
                readings: vec![NewReading {
                    sensor: "t".to_owned(),
                    at_ms: 0,
                    value: 1.0,
                }],
            }],
            ..WriteBatch::default()
        }
    }

    fn count(connection: &Connection, table: &str) -> i64 {
        connection
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |row| {
                row.get(0)
            })
            .expect("counting rows")
    }

    #[test]
    fn failing_job_rolls_back_alone_and_the_rest_of_the_group_commits() {
        let dir = tempfile::tempdir().expect("creating a temporary directory");
        let connection =
            open_writer(&dir.path().join("pk.db"), Synchronous::Normal).expect("opening");
        // Make every event insert fail.
        connection
            .execute_batch("DROP TABLE events")
            .expect("dropping events");
        let mut writer = writer_on(connection);

        let mut failing = reading_batch(1);
        failing.events.push(Event {
            at_ms: 0,
            kind: "override_set".to_owned(),
            node: None,
            output: None,
            message: "m".to_owned(),
        });
        let (failing_reply, failing_answer) = oneshot::channel();
        let (good_reply, good_answer) = oneshot::channel();
        writer.commit_group(vec![
            Job::Write {
                batch: failing,
                reply: failing_reply,
            },
            Job::Write {
                batch: reading_batch(2),
                reply: good_reply,
            },
        ]);

        match failing_answer.blocking_recv() {
            Ok(Err(StoreError::Database(message))) => {
                assert!(
                    message.contains("inserting an event"),
                    "error says what failed: {message}"
                )
            }
            other => panic!("the job with an event should fail, got {other:?}"),
        }
        let good = good_answer
            .blocking_recv()
            .expect("the good job is answered");
        assert_eq!(
            good.ok().map(|receipt| receipt.duplicate),
            Some(vec![false]),
            "good job commits"
        );
        assert_eq!(
            count(&writer.connection, "reports"),
            1,
            "only the good job's report is stored"
        );
        assert_eq!(
            count(&writer.connection, "readings"),
            1,
            "only the good job's reading is stored"
        );
        assert_eq!(
            count(&writer.connection, "series"),
            1,
            "one series, created by either job"
        );
    }

    #[test]
    fn group_is_answered_only_after_its_commit() {
        let dir = tempfile::tempdir().expect("creating a temporary directory");
        let path = dir.path().join("pk.db");
        let connection = open_writer(&path, Synchronous::Full).expect("opening");
        let (sender, thread) =
            spawn(connection, 2000, Retention::default()).expect("spawning the writer");
        let answers: Vec<_> = (0..10u32)
            .map(|seq| {
                let (reply, answer) = oneshot::channel();
                let command = Command::Run(Job::Write {
                    batch: reading_batch(seq),
                    reply,
                });
                sender.blocking_send(command).expect("queueing a write");
                answer
            })
            .collect();
        let other = Connection::open(&path).expect("a second connection");
        for (seq, answer) in (0..10u32).zip(answers) {
            answer
                .blocking_recv()
                .expect("answered")
                .expect("committed");
            // Seen from another connection: the write is committed, not just applied.
            let stored: i64 = other
                .query_row(
                    "SELECT count(*) FROM reports WHERE seq = ?1",
                    [seq],
                    |row| row.get(0),
                )
                .expect("counting the report");
            assert_eq!(
                stored, 1,
                "report {seq} is committed when its write is answered"
            );
        }
        drop(sender);
        thread
            .join()
            .expect("the writer stops when every sender is gone");
    }
}
