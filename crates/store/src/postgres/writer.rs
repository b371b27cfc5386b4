//! The writer task: the only code that writes to the database.
//!
//! It waits for the first command, drains whatever else is already queued (up to `max_batch`
//! rows), applies the whole group in ONE transaction with a few multi-row statements, commits,
//! and only then answers every waiter (group commit). If a statement fails, the transaction is
//! rolled back and the group is applied again with each job in its own savepoint, so only the
//! failing job gets the error, as in the SQLite engine.
//!
//! If the connection breaks, every job of the group gets an error, never an acknowledgement
//! (a commit whose answer was lost may have happened: the node's retry is then recognised as a
//! duplicate). The writer reconnects at the next group, with a back-off from 100 ms to 5 s
//! between attempts; a group that arrives while it waits fails at once, so nodes are answered
//! 503 quickly and keep their readings.

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_postgres::{Client, Config};
use tracing::{debug, info, warn};

use super::connect;
use super::mutations::{self, Outcome, SeriesIds, Work};
use super::statements::Statements;
use crate::{StoreError, WriteReceipt};

/// Commands waiting for the writer; senders wait for room when it is full (back-pressure).
const QUEUE_CAPACITY: usize = 1024;
/// `reports` only serves deduplication of retries: rows older than this are pruned.
const REPORTS_KEPT_MS: i64 = 2 * 24 * 3600 * 1000;
/// Pruning runs after this many transactions...
const PRUNE_EVERY_TRANSACTIONS: u32 = 64;
/// ...and deletes at most this many rows at a time.
const PRUNE_ROWS_AT_ONCE: i64 = 5000;
/// First wait before reconnecting after a failure; doubled at each failed attempt...
const FIRST_RECONNECT_DELAY: Duration = Duration::from_millis(100);
/// ...up to this.
const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(5);

/// Where the writer sends a job's outcome.
pub(crate) type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// A request to the writer.
pub(crate) enum Command {
    /// Do this work in the next transaction.
    Run(Job),
    /// Commit everything queued, then stop; answered once the last transaction is committed.
    Close { reply: oneshot::Sender<()> },
}

/// Work and the waiter to answer after the commit.
pub(crate) struct Job {
    pub(crate) work: Work,
    pub(crate) reply: JobReply,
}

/// The waiter of a job, typed by the work's outcome.
pub(crate) enum JobReply {
    Write(Reply<WriteReceipt>),
    Epoch(Reply<u64>),
    Writable(Reply<()>),
}

impl JobReply {
    /// Delivers the outcome; a waiter that gave up (its future was dropped) is skipped.
    fn send(self, result: Result<Outcome, StoreError>) {
        let mismatch =
            || StoreError::Database("internal error: a job got another kind of outcome".to_owned());
        match self {
            JobReply::Write(reply) => drop(reply.send(result.and_then(|outcome| match outcome {
                Outcome::Written(receipt) => Ok(receipt),
                _ => Err(mismatch()),
            }))),
            JobReply::Epoch(reply) => drop(reply.send(result.and_then(|outcome| match outcome {
                Outcome::Epoch(epoch) => Ok(epoch),
                _ => Err(mismatch()),
            }))),
            JobReply::Writable(reply) => {
                drop(reply.send(result.and_then(|outcome| match outcome {
                    Outcome::Writable => Ok(()),
                    _ => Err(mismatch()),
                })))
            }
        }
    }
}

/// The writer's connection and its prepared statements.
struct Connection {
    client: Client,
    statements: Statements,
}

/// Starts the writer task on `client`; `config` serves to reconnect. The task runs until
/// every sender is dropped or a [`Command::Close`] is processed.
pub(crate) async fn spawn(
    client: Client,
    config: Config,
    max_batch: usize,
) -> Result<(mpsc::Sender<Command>, JoinHandle<()>), StoreError> {
    let statements = Statements::prepare(&client).await?;
    let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
    let writer = Writer {
        config,
        connection: Some(Connection { client, statements }),
        series: SeriesIds::default(),
        max_batch: max_batch.max(1),
        reconnect_delay: FIRST_RECONNECT_DELAY,
        reconnect_not_before: None,
        transactions_since_prune: 0,
        prune_unfinished: false,
        newest_received_at_ms: None,
    };
    Ok((sender, tokio::spawn(writer.run(receiver))))
}

struct Writer {
    config: Config,
    /// `None` after the connection broke, until a reconnection succeeds.
    connection: Option<Connection>,
    series: SeriesIds,
    max_batch: usize,
    /// The wait before the next reconnection attempt after this one fails.
    reconnect_delay: Duration,
    /// No reconnection attempt before this (back-off after a failed one).
    reconnect_not_before: Option<Instant>,
    transactions_since_prune: u32,
    prune_unfinished: bool,
    /// The newest `received_at` committed: the store's "now" for pruning.
    newest_received_at_ms: Option<i64>,
}

impl Writer {
    async fn run(mut self, mut receiver: mpsc::Receiver<Command>) {
        let mut close_replies = Vec::new();
        while let Some(first) = receiver.recv().await {
            let mut group = Vec::new();
            let mut rows = 0;
            let mut next = Some(first);
            while let Some(command) = next {
                match command {
                    Command::Run(job) => {
                        rows += job.work.rows();
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
                self.commit_group(group).await;
                self.prune_now_and_then().await;
            }
        }
        debug!("PostgreSQL store writer stopped, everything queued is committed");
        for reply in close_replies {
            // The closer may have stopped waiting; the work is done either way.
            let _ = reply.send(());
        }
    }

    /// Applies `group` in one transaction and answers every job after the commit.
    async fn commit_group(&mut self, group: Vec<Job>) {
        let (works, replies): (Vec<Work>, Vec<JobReply>) =
            group.into_iter().map(|job| (job.work, job.reply)).unzip();
        let newest = works
            .iter()
            .filter_map(|work| match work {
                Work::Write(batch) => batch.reports.iter().map(|r| r.received_at_ms).max(),
                _ => None,
            })
            .max();
        let results = self.apply_group(&works).await;
        if results.iter().any(Result::is_ok) {
            self.newest_received_at_ms = self.newest_received_at_ms.max(newest);
            self.transactions_since_prune = self.transactions_since_prune.saturating_add(1);
        }
        for (reply, result) in replies.into_iter().zip(results) {
            reply.send(result);
        }
    }

    /// One result per work, each `Ok` only if committed.
    async fn apply_group(&mut self, works: &[Work]) -> Vec<Result<Outcome, StoreError>> {
        let fail_all = |error: &StoreError| works.iter().map(|_| Err(error.clone())).collect();
        if let Err(error) = self.ensure_connected().await {
            return fail_all(&error);
        }
        let Some(connection) = self.connection.as_mut() else {
            return fail_all(&StoreError::Database("not connected".to_owned()));
        };
        let all: Vec<&Work> = works.iter().collect();
        let error = match group_transaction(connection, &mut self.series, &all).await {
            Ok(outcomes) => return outcomes.into_iter().map(Ok).collect(),
            Err(error) => error,
        };
        self.series.forget_all();
        let usable = is_usable(&connection.client).await;
        if !usable || works.len() == 1 {
            if !usable {
                self.connection_lost(&error);
            }
            warn!(%error, jobs = works.len(), "store transaction failed");
            return fail_all(&error);
        }
        debug!(%error, "group failed; applying each job in its own savepoint");
        match savepoint_per_job(connection, &mut self.series, works).await {
            Ok(results) => results,
            Err(error) => {
                self.series.forget_all();
                if !is_usable(&connection.client).await {
                    self.connection_lost(&error);
                }
                warn!(%error, jobs = works.len(), "store transaction failed");
                fail_all(&error)
            }
        }
    }

    /// Makes sure there is a live connection, reconnecting if the back-off allows.
    async fn ensure_connected(&mut self) -> Result<(), StoreError> {
        if let Some(connection) = &self.connection {
            if !connection.client.is_closed() {
                return Ok(());
            }
            self.connection_lost(&StoreError::Database("the connection closed".to_owned()));
        }
        if let Some(not_before) = self.reconnect_not_before {
            let wait = not_before.saturating_duration_since(Instant::now());
            if !wait.is_zero() {
                return Err(StoreError::Database(format!(
                    "the database connection is lost; reconnecting in {} ms",
                    wait.as_millis()
                )));
            }
        }
        let connected = async {
            let client = connect(&self.config).await?;
            let statements = Statements::prepare(&client).await?;
            Ok::<_, StoreError>(Connection { client, statements })
        }
        .await;
        match connected {
            Ok(connection) => {
                info!("PostgreSQL store writer reconnected");
                self.connection = Some(connection);
                self.reconnect_delay = FIRST_RECONNECT_DELAY;
                self.reconnect_not_before = None;
                Ok(())
            }
            Err(error) => {
                warn!(%error, retry_in_ms = self.reconnect_delay.as_millis(), "reconnecting failed");
                self.reconnect_not_before = Some(Instant::now() + self.reconnect_delay);
                self.reconnect_delay = (self.reconnect_delay * 2).min(MAX_RECONNECT_DELAY);
                Err(error)
            }
        }
    }

    /// Drops a broken connection; the next group reconnects.
    fn connection_lost(&mut self, error: &StoreError) {
        if self.connection.take().is_some() {
            warn!(%error, "PostgreSQL store writer lost its connection");
        }
        self.series.forget_all();
    }

    /// Deletes old `reports` rows every [`PRUNE_EVERY_TRANSACTIONS`] transactions, after the
    /// waiters have been answered.
    async fn prune_now_and_then(&mut self) {
        let due =
            self.prune_unfinished || self.transactions_since_prune >= PRUNE_EVERY_TRANSACTIONS;
        let Some(newest) = self.newest_received_at_ms.filter(|_| due) else {
            return;
        };
        let Some(connection) = self.connection.as_ref() else {
            return;
        };
        self.transactions_since_prune = 0;
        let before_ms = newest.saturating_sub(REPORTS_KEPT_MS);
        match connection
            .client
            .execute(
                &connection.statements.prune_reports,
                &[&before_ms, &PRUNE_ROWS_AT_ONCE],
            )
            .await
        {
            Ok(deleted) => {
                self.prune_unfinished = deleted >= PRUNE_ROWS_AT_ONCE.unsigned_abs();
                debug!(deleted, before_ms, "pruned old reports");
            }
            Err(error) => {
                self.prune_unfinished = false;
                warn!(%error, "pruning old reports failed; will try again later");
            }
        }
    }
}

/// Whether `client` still answers, after a failure: the failure may have been the connection
/// dying before the client noticed (`is_closed` is set only once its task has ended).
async fn is_usable(client: &Client) -> bool {
    !client.is_closed() && client.simple_query("").await.is_ok()
}

/// Applies every work in one transaction and commits it.
async fn group_transaction(
    connection: &mut Connection,
    series: &mut SeriesIds,
    works: &[&Work],
) -> Result<Vec<Outcome>, StoreError> {
    let transaction = connection
        .client
        .transaction()
        .await
        .map_err(super::database_error("starting a transaction"))?;
    let outcomes = mutations::apply(&transaction, &connection.statements, series, works).await?;
    transaction
        .commit()
        .await
        .map_err(super::database_error("committing"))?;
    Ok(outcomes)
}

/// Applies each work in its own savepoint of one transaction: a failing work rolls back alone
/// and gets its error. The outer error is a failure of the transaction itself.
async fn savepoint_per_job(
    connection: &mut Connection,
    series: &mut SeriesIds,
    works: &[Work],
) -> Result<Vec<Result<Outcome, StoreError>>, StoreError> {
    let database_error = super::database_error;
    let mut transaction = connection
        .client
        .transaction()
        .await
        .map_err(database_error("starting a transaction"))?;
    let mut results = Vec::with_capacity(works.len());
    for work in works {
        let savepoint = transaction
            .savepoint("job")
            .await
            .map_err(database_error("opening a savepoint"))?;
        match mutations::apply(&savepoint, &connection.statements, series, &[work]).await {
            Ok(mut outcomes) => {
                savepoint
                    .commit()
                    .await
                    .map_err(database_error("releasing a savepoint"))?;
                results.push(outcomes.pop().ok_or_else(|| {
                    StoreError::Database("internal error: a job had no outcome".to_owned())
                }));
            }
            Err(error) => {
                // A series created in the savepoint is gone with it.
                series.forget_all();
                savepoint
                    .rollback()
                    .await
                    .map_err(database_error("rolling back a failed write"))?;
                results.push(Err(error));
            }
        }
    }
    transaction
        .commit()
        .await
        .map_err(database_error("committing"))?;
    Ok(results)
}
