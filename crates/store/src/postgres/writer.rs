//! The writer task: the only code that writes to the database.
//!
//! It waits for the first command, drains whatever else is already queued (up to `max_batch`
//! rows), applies the whole group in ONE transaction with a few multi-row statements sent
//! together (two round trips for a group of writes, the second one carrying the `COMMIT`, see
//! [`mutations`]), and only then answers every waiter (group commit). If a statement fails, the
//! transaction is rolled back and the group is applied again with each job in its own
//! savepoint, so only the failing job gets the error, as in the SQLite engine.
//!
//! If the connection breaks, every job of the group gets an error, never an acknowledgement
//! (a commit whose answer was lost may have happened: the node's retry is then recognised as a
//! duplicate). The writer reconnects at the next group, with a back-off from 100 ms to 5 s
//! between attempts; a group that arrives while it waits fails at once, so nodes are answered
//! 503 quickly and keep their readings.
//!
//! With a spool ([`Spool`]), a group that fails because the database is unreachable is not
//! failed: its writes are appended to the spool, fsynced, and only then acknowledged (the
//! epoch and the writable probe still fail: they need the database). Whenever nothing is
//! queued and the spool holds batches, the writer replays the oldest one into PostgreSQL in a
//! transaction that also records its id in `spool_drained`, and removes it from the spool only
//! after that commit; a batch whose id is not above the recorded one is skipped, so a replay
//! interrupted between the commit and the removal never stores anything twice.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_postgres::{Client, Config};
use tracing::{debug, error, info, warn};

use super::connect;
use super::lanes::{self, IdleLane, LaneReport, Lanes};
use super::mutations::{self, Opening, Outcome, SeriesIds, Work, newest_received_at};
use super::rollup_watermark;
use super::spool::{Spool, Spooled};
use super::statements::Statements;
use crate::{Retention, StoreError, WriteBatch, WriteReceipt};

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
    SettingsVersion(Reply<u64>),
}

impl JobReply {
    /// Delivers the outcome; a waiter that gave up (its future was dropped) is skipped.
    pub(crate) fn send(self, result: Result<Outcome, StoreError>) {
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
            JobReply::SettingsVersion(reply) => {
                drop(reply.send(result.and_then(|outcome| match outcome {
                    Outcome::SettingsVersion(version) => Ok(version),
                    _ => Err(mismatch()),
                })))
            }
        }
    }
}

/// A writing connection (the writer's or a lane's) and its prepared statements.
pub(crate) struct Connection {
    pub(crate) client: Client,
    pub(crate) statements: Statements,
}

impl Connection {
    /// Connects with `config` and prepares the statements.
    pub(crate) async fn open(config: &Config) -> Result<Connection, StoreError> {
        let client = connect(config).await?;
        let statements = Statements::prepare(&client).await?;
        Ok(Connection { client, statements })
    }
}

/// Starts the writer task on `client`; `config` serves to reconnect. The task runs until
/// every sender is dropped or a [`Command::Close`] is processed.
pub(crate) async fn spawn(
    client: Client,
    config: Config,
    max_batch: usize,
    spool: Option<Spool>,
    spooled: Arc<AtomicUsize>,
    retention: Retention,
    lanes: Lanes,
) -> Result<(mpsc::Sender<Command>, JoinHandle<()>), StoreError> {
    let statements = Statements::prepare(&client).await?;
    let rolled_up_before = rollup_watermark::load(&client).await?;
    let spool_pending = match &spool {
        Some(spool) => blocking(spool, Spool::pending).await?,
        None => 0,
    };
    spooled.store(spool_pending, Ordering::Release);
    if spool_pending > 0 {
        info!(
            batches = spool_pending,
            "the spool holds batches from an earlier outage; replaying them"
        );
    }
    let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
    let writer = Writer {
        lanes,
        config,
        connection: Some(Connection { client, statements }),
        series: SeriesIds::default(),
        max_batch: max_batch.max(1),
        retention,
        rolled_up_before,
        reconnect_delay: FIRST_RECONNECT_DELAY,
        reconnect_not_before: None,
        transactions_since_prune: 0,
        prune_unfinished: false,
        newest_received_at_ms: None,
        spool,
        spool_pending,
        spooled,
        closing: false,
    };
    Ok((sender, tokio::spawn(writer.run(receiver))))
}

struct Writer {
    config: Config,
    /// More connections committing plain write groups beside this one ([`lanes`]).
    lanes: Lanes,
    /// `None` after the connection broke, until a reconnection succeeds.
    connection: Option<Connection>,
    series: SeriesIds,
    max_batch: usize,
    /// How long readings and hourly rollups are kept.
    retention: Retention,
    /// The hourly rollup's watermark ([`rollup_watermark`]), as committed.
    rolled_up_before: Option<i64>,
    /// The wait before the next reconnection attempt after this one fails.
    reconnect_delay: Duration,
    /// No reconnection attempt before this (back-off after a failed one).
    reconnect_not_before: Option<Instant>,
    transactions_since_prune: u32,
    prune_unfinished: bool,
    /// The newest `received_at` committed: the store's "now" for pruning.
    newest_received_at_ms: Option<i64>,
    /// Where writes go while the database is unreachable, if configured.
    spool: Option<Spool>,
    /// Batches in the spool still to replay...
    spool_pending: usize,
    /// ...as the store shows it ([`PostgresStore::spooled`](super::PostgresStore::spooled)).
    spooled: Arc<AtomicUsize>,
    /// A close was received: no more replaying, only what is queued is done.
    closing: bool,
}

/// What [`Writer::apply_group`] could do.
enum GroupOutcome {
    /// One result per work, each `Ok` only if committed.
    Done(Vec<Result<Outcome, StoreError>>),
    /// The database could not be reached: nothing of the group was committed (or, if the
    /// connection broke during the commit itself, it cannot be known).
    Unreachable(StoreError),
}

impl Writer {
    async fn run(mut self, mut receiver: mpsc::Receiver<Command>) {
        let mut close_replies = Vec::new();
        while let Some(input) = self.next_input(&mut receiver).await {
            let first = match input {
                Input::Command(command) => command,
                Input::Lane(report) => {
                    self.take_lane_report(report).await;
                    continue;
                }
            };
            // Lanes only while the database is up and the spool empty, so a lane never tries a
            // connection the writer knows is down. Waiting for one lets the queue fill.
            let lane = if self.connection.is_some() && self.spool_pending == 0 {
                self.lanes.idle_lane().await
            } else {
                None
            };
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
                        self.closing = true;
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
                self.commit_group(group, lane).await;
                self.roll_up_when_due().await;
                self.prune_now_and_then().await;
            }
        }
        // Groups still on lanes, and those they hand back.
        loop {
            self.lanes.wait_idle().await;
            let Some(report) = self.lanes.try_report() else {
                break;
            };
            self.take_lane_report(report).await;
        }
        debug!("PostgreSQL store writer stopped, everything queued is committed");
        for reply in close_replies {
            // The closer may have stopped waiting; the work is done either way.
            let _ = reply.send(());
        }
    }

    /// Gives the jobs of `group` that suit a lane to `lane`, if any, and applies the others in
    /// one transaction on the writer's connection; every job is answered after its commit.
    async fn commit_group(&mut self, group: Vec<Job>, lane: Option<IdleLane>) {
        let (for_lane, here): (Vec<Job>, Vec<Job>) = match lane {
            Some(_) => group
                .into_iter()
                .partition(|job| lanes::suits_a_lane(&job.work, &self.series)),
            None => (Vec::new(), group),
        };
        if let Some(lane) = lane.filter(|_| !for_lane.is_empty()) {
            let (works, replies) = for_lane
                .into_iter()
                .map(|job| (job.work, job.reply))
                .unzip();
            let given = self
                .lanes
                .give(lane, works, replies, &self.series, self.rolled_up_before);
            if let Err((works, replies)) = given {
                self.commit_here(works, replies).await;
            }
        }
        if !here.is_empty() {
            let (works, replies) = here.into_iter().map(|job| (job.work, job.reply)).unzip();
            self.commit_here(works, replies).await;
        }
    }

    /// What a lane reported: a committed group counts as the writer's own; a group handed back
    /// is applied here.
    async fn take_lane_report(&mut self, report: LaneReport) {
        match report {
            LaneReport::Committed {
                newest_received_at_ms,
            } => self.committed(newest_received_at_ms),
            LaneReport::Returned { works, replies } => self.commit_here(works, replies).await,
        }
    }

    /// Counts a committed group whose newest receive time is `newest`.
    fn committed(&mut self, newest: Option<i64>) {
        self.newest_received_at_ms = self.newest_received_at_ms.max(newest);
        self.transactions_since_prune = self.transactions_since_prune.saturating_add(1);
    }

    /// Applies the works in one transaction on the writer's connection (or the spool) and
    /// answers every job after the commit.
    async fn commit_here(&mut self, works: Vec<Work>, replies: Vec<JobReply>) {
        let newest = newest_received_at(&works);
        let results = match self.apply_group(&works).await {
            GroupOutcome::Done(results) => results,
            GroupOutcome::Unreachable(error) => self.spool_group(&works, error).await,
        };
        if results.iter().any(Result::is_ok) {
            self.committed(newest);
        }
        for (reply, result) in replies.into_iter().zip(results) {
            reply.send(result);
        }
    }

    /// Applies the works in one transaction (per-job savepoints if that fails while the
    /// connection is fine).
    async fn apply_group(&mut self, works: &[Work]) -> GroupOutcome {
        let fail_all = |error: &StoreError| {
            GroupOutcome::Done(works.iter().map(|_| Err(error.clone())).collect())
        };
        if let Err(error) = self.ensure_connected().await {
            return GroupOutcome::Unreachable(error);
        }
        let Some(connection) = self.connection.as_mut() else {
            return GroupOutcome::Unreachable(StoreError::Database("not connected".to_owned()));
        };
        let all: Vec<&Work> = works.iter().collect();
        let error = match group_transaction(
            connection,
            &mut self.series,
            self.rolled_up_before,
            &all,
        )
        .await
        {
            Ok(outcomes) => return GroupOutcome::Done(outcomes.into_iter().map(Ok).collect()),
            Err(error) => error,
        };
        self.series.forget_all();
        // Ends the failed transaction (a no-op after a failed COMMIT); failing, the connection
        // is gone.
        if connection.client.batch_execute("ROLLBACK").await.is_err()
            || !is_usable(&connection.client).await
        {
            self.connection_lost(&error);
            return GroupOutcome::Unreachable(error);
        }
        if works.len() == 1 {
            warn!(%error, jobs = works.len(), "store transaction failed");
            return fail_all(&error);
        }
        debug!(%error, "group failed; applying each job in its own savepoint");
        match savepoint_per_job(connection, &mut self.series, self.rolled_up_before, works).await {
            Ok(results) => GroupOutcome::Done(results),
            Err(error) => {
                self.series.forget_all();
                if !is_usable(&connection.client).await {
                    self.connection_lost(&error);
                    return GroupOutcome::Unreachable(error);
                }
                warn!(%error, jobs = works.len(), "store transaction failed");
                fail_all(&error)
            }
        }
    }

    /// The group's results when the database is unreachable: its writes appended to the
    /// spool as one batch and acknowledged after the spool's commit (no report is flagged as a
    /// duplicate: the replay recognises retries); everything else fails with `error`.
    async fn spool_group(
        &mut self,
        works: &[Work],
        error: StoreError,
    ) -> Vec<Result<Outcome, StoreError>> {
        let writes: Vec<&WriteBatch> = works
            .iter()
            .filter_map(|work| match work {
                Work::Write(batch) => Some(batch),
                _ => None,
            })
            .collect();
        let spooled = match &self.spool {
            Some(spool) if !writes.is_empty() => {
                let mut merged = WriteBatch::default();
                for batch in &writes {
                    merged.reports.extend(batch.reports.iter().cloned());
                    merged
                        .state_changes
                        .extend(batch.state_changes.iter().cloned());
                    merged.events.extend(batch.events.iter().cloned());
                }
                let now_ms = now_ms();
                Some(blocking(spool, move |spool| spool.append(&merged, now_ms)).await)
            }
            _ => None,
        };
        match spooled {
            Some(Ok(id)) => {
                self.set_spool_pending(self.spool_pending + 1);
                debug!(batch = id, writes = writes.len(), %error, "database unreachable; spooled");
            }
            Some(Err(spool_error)) => {
                error!(%spool_error, %error, "database unreachable and the spool failed");
                let both = StoreError::Database(format!("{error}; and {spool_error}"));
                return works.iter().map(|_| Err(both.clone())).collect();
            }
            None => {
                warn!(%error, jobs = works.len(), "store transaction failed");
            }
        }
        works
            .iter()
            .map(|work| match work {
                Work::Write(batch) if spooled.is_some() => Ok(Outcome::Written(WriteReceipt {
                    duplicate: vec![false; batch.reports.len()],
                })),
                _ => Err(error.clone()),
            })
            .collect()
    }

    fn set_spool_pending(&mut self, pending: usize) {
        self.spool_pending = pending;
        self.spooled.store(pending, Ordering::Release);
    }

    /// The next command or lane report (reports first). While the spool holds batches and
    /// nothing is queued, replays them one by one, and between failed attempts waits for input
    /// or the next reconnection.
    async fn next_input(&mut self, receiver: &mut mpsc::Receiver<Command>) -> Option<Input> {
        loop {
            if let Some(report) = self.lanes.try_report() {
                return Some(Input::Lane(report));
            }
            if self.spool_pending == 0 || self.closing {
                return wait_input(&mut self.lanes, receiver).await;
            }
            match receiver.try_recv() {
                Ok(command) => return Some(Input::Command(command)),
                Err(TryRecvError::Disconnected) => return None,
                Err(TryRecvError::Empty) => {}
            }
            if self.replay_oldest().await {
                continue;
            }
            let wait = self
                .reconnect_not_before
                .map_or(FIRST_RECONNECT_DELAY, |not_before| {
                    not_before.saturating_duration_since(Instant::now())
                })
                .max(FIRST_RECONNECT_DELAY);
            if let Ok(input) =
                tokio::time::timeout(wait, wait_input(&mut self.lanes, receiver)).await
            {
                return input;
            }
        }
    }

    /// Replays the spool's oldest batch; `false` when no progress could be made now.
    async fn replay_oldest(&mut self) -> bool {
        let Some(spool) = self.spool.clone() else {
            return false;
        };
        if self.ensure_connected().await.is_err() {
            return false;
        }
        let spooled = match blocking(&spool, Spool::oldest).await {
            Ok(Some(spooled)) => spooled,
            Ok(None) => {
                self.set_spool_pending(0);
                return true;
            }
            Err(error) => {
                warn!(%error, "reading the spool failed; will try again");
                return false;
            }
        };
        let Some(connection) = self.connection.as_mut() else {
            return false;
        };
        let id = spooled.id;
        match replay(
            connection,
            &mut self.series,
            self.rolled_up_before,
            spool.identity(),
            spooled,
        )
        .await
        {
            Ok(fresh) => debug!(batch = id, fresh, "replayed a spooled batch"),
            Err(replay_error) => {
                self.series.forget_all();
                if !is_usable(&connection.client).await {
                    self.connection_lost(&replay_error);
                    return false;
                }
                error!(%replay_error, batch = id, "PostgreSQL refused a spooled batch; it is kept in the spool, marked refused");
                let why = replay_error.to_string();
                if let Err(error) = blocking(&spool, move |spool| spool.refuse(id, &why)).await {
                    warn!(%error, "marking a refused spooled batch failed");
                    return false;
                }
                self.set_spool_pending(self.spool_pending.saturating_sub(1));
                return true;
            }
        }
        if let Err(error) = blocking(&spool, move |spool| spool.remove(id)).await {
            warn!(%error, "removing a replayed batch from the spool failed; will try again");
            return false;
        }
        self.set_spool_pending(self.spool_pending.saturating_sub(1));
        if self.spool_pending == 0 {
            info!("the spool is empty: every batch of the outage is in PostgreSQL");
        }
        true
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
        match Connection::open(&self.config).await {
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

    /// Rolls up the hours past since the last roll-up, if any ([`rollup_watermark::due`]).
    /// A failure is logged and tried again after the next group: until then those hours are
    /// read raw, which is slower but exact.
    async fn roll_up_when_due(&mut self) {
        let Some(to) = self
            .newest_received_at_ms
            .and_then(|newest| rollup_watermark::due(self.rolled_up_before, newest))
        else {
            return;
        };
        if self.connection.is_none() {
            return;
        }
        // Groups on lanes use the current watermark: they must be committed before it moves.
        self.lanes.wait_idle().await;
        let Some(connection) = self.connection.as_mut() else {
            return;
        };
        let started = Instant::now();
        match rollup_watermark::roll_up(
            &mut connection.client,
            &connection.statements,
            self.rolled_up_before,
            to,
        )
        .await
        {
            Ok(()) => {
                debug!(
                    from = ?self.rolled_up_before,
                    to,
                    ms = started.elapsed().as_millis(),
                    "rolled up the past hours"
                );
                self.rolled_up_before = Some(to);
            }
            Err(error) => warn!(%error, "rolling up the past hours failed; will try again"),
        }
    }

    /// Deletes old `reports` rows, expired raw readings and expired hourly rollups every
    /// [`PRUNE_EVERY_TRANSACTIONS`] transactions, after the waiters have been answered, each
    /// statement on its own (autocommit) and of at most about [`PRUNE_ROWS_AT_ONCE`] rows.
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
        let statements = &connection.statements;
        // Raw readings not rolled up yet are kept until they are.
        let readings_before_ms = newest
            .saturating_sub(self.retention.keep_raw_ms)
            .min(self.rolled_up_before.unwrap_or(i64::MIN));
        let jobs = [
            (
                "reports",
                &statements.prune_reports,
                newest.saturating_sub(REPORTS_KEPT_MS),
            ),
            ("readings", &statements.expire_readings, readings_before_ms),
            (
                "hourly rollups",
                &statements.expire_rollup,
                newest.saturating_sub(self.retention.keep_hourly_ms),
            ),
        ];
        self.prune_unfinished = false;
        for (what, statement, before_ms) in jobs {
            match connection
                .client
                .execute(statement, &[&before_ms, &PRUNE_ROWS_AT_ONCE])
                .await
            {
                Ok(deleted) => {
                    self.prune_unfinished |= deleted >= PRUNE_ROWS_AT_ONCE.unsigned_abs();
                    if deleted > 0 {
                        debug!(deleted, before_ms, what, "deleted old rows");
                    }
                }
                Err(error) => {
                    warn!(%error, what, "deleting old rows failed; will try again later");
                }
            }
        }
    }
}

/// What the writer takes next: a command, or the report of a lane.
enum Input {
    Command(Command),
    Lane(LaneReport),
}

/// Waits for the next command or lane report; `None` once the queue is closed and empty.
async fn wait_input(lanes: &mut Lanes, receiver: &mut mpsc::Receiver<Command>) -> Option<Input> {
    tokio::select! {
        biased;
        Some(report) = lanes.next_report() => Some(Input::Lane(report)),
        command = receiver.recv() => command.map(Input::Command),
    }
}

/// Runs `call` on the spool on a blocking thread (SQLite and fsync block).
async fn blocking<T: Send + 'static>(
    spool: &Spool,
    call: impl FnOnce(&Spool) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let spool = spool.clone();
    tokio::task::spawn_blocking(move || call(&spool))
        .await
        .map_err(|error| StoreError::Database(format!("the spool task failed: {error}")))?
}

/// Milliseconds since the Unix epoch, for bookkeeping columns.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
        })
}

/// Replays one spooled batch in one transaction with its `spool_drained` row; returns whether
/// it was new (`false`: an earlier replay had committed it and it is skipped).
async fn replay(
    connection: &mut Connection,
    series: &mut SeriesIds,
    rolled_up_before: Option<i64>,
    identity: &str,
    spooled: Spooled,
) -> Result<bool, StoreError> {
    let database_error = super::database_error;
    let transaction = connection
        .client
        .transaction()
        .await
        .map_err(database_error("starting a transaction"))?;
    let statements = &connection.statements;
    let fresh = transaction
        .execute(
            &statements.mark_drained,
            &[&identity, &spooled.id, &now_ms()],
        )
        .await
        .map_err(database_error("recording a replayed batch"))?
        == 1;
    if fresh {
        let work = Work::Write(spooled.batch);
        let (_, deferred) = mutations::apply(
            &transaction,
            statements,
            series,
            &[&work],
            Opening::InTransaction,
            rolled_up_before,
        )
        .await?;
        mutations::finish(&transaction, statements, &deferred, false).await?;
    }
    transaction
        .commit()
        .await
        .map_err(database_error("committing"))?;
    Ok(fresh)
}

/// Whether `client` still answers, after a failure: the failure may have been the connection
/// dying before the client noticed (`is_closed` is set only once its task has ended).
pub(crate) async fn is_usable(client: &Client) -> bool {
    !client.is_closed() && client.simple_query("").await.is_ok()
}

/// Applies every work in one transaction and commits it. On an error the transaction may be
/// left open (aborted): the caller rolls it back.
pub(crate) async fn group_transaction(
    connection: &Connection,
    series: &mut SeriesIds,
    rolled_up_before: Option<i64>,
    works: &[&Work],
) -> Result<Vec<Outcome>, StoreError> {
    let statements = &connection.statements;
    let (outcomes, deferred) = mutations::apply(
        &connection.client,
        statements,
        series,
        works,
        Opening::Begin,
        rolled_up_before,
    )
    .await?;
    mutations::finish(&connection.client, statements, &deferred, true).await?;
    Ok(outcomes)
}

/// Applies each work in its own savepoint of one transaction: a failing work rolls back alone
/// and gets its error. The outer error is a failure of the transaction itself.
async fn savepoint_per_job(
    connection: &mut Connection,
    series: &mut SeriesIds,
    rolled_up_before: Option<i64>,
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
        let statements = &connection.statements;
        let applied = async {
            let (outcomes, deferred) = mutations::apply(
                &savepoint,
                statements,
                series,
                &[work],
                Opening::InTransaction,
                rolled_up_before,
            )
            .await?;
            mutations::finish(&savepoint, statements, &deferred, false).await?;
            Ok::<_, StoreError>(outcomes)
        }
        .await;
        match applied {
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
