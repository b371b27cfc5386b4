//! What the writer does inside a group transaction: every job of the group applied with a few
//! multi-row statements sent together (pipelined on the connection), in two steps.
//!
//! [`apply`] sends `BEGIN`, the reports with their readings (one statement: a data-modifying
//! CTE that inserts the readings of the reports it inserted), the state changes and the events
//! at once: one round trip for a group of writes. The updates of existing rows — the hourly
//! rollup's upsert of new readings in hours already rolled up (see [`super::rollup_watermark`])
//! and the receive times of retried reports, which depend
//! on which reports that insert stored — are returned as [`Deferred`], and [`finish`] sends
//! them with the `COMMIT`: a second round trip (plus the server's WAL flush). The functions
//! never commit on their own: `finish` commits only when asked to.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use tokio_postgres::GenericClient;

use super::database_error;
use super::rollup_watermark::is_rolled_up;
use super::settings_versions;
use super::statements::Statements;
use crate::rollup::HourlyAggregates;
use crate::{NewSettingsVersion, ReportRecord, StoreError, WriteBatch, WriteReceipt};

/// The work of one job, without its reply.
pub(crate) enum Work {
    /// Store this batch.
    Write(WriteBatch),
    /// Increment and return the epoch.
    BeginEpoch,
    /// Commit a heartbeat.
    CheckWritable,
    /// Store a settings version.
    AddSettingsVersion(NewSettingsVersion),
}

impl Work {
    /// Rows this work writes, counted against `max_batch`.
    pub(crate) fn rows(&self) -> usize {
        match self {
            Work::Write(batch) => {
                let readings: usize = batch
                    .reports
                    .iter()
                    .map(|report| report.readings.len())
                    .sum();
                (batch.reports.len() + readings + batch.state_changes.len() + batch.events.len())
                    .max(1)
            }
            Work::BeginEpoch | Work::CheckWritable | Work::AddSettingsVersion(_) => 1,
        }
    }
}

/// The newest receive time of the reports in `works`, if any.
pub(crate) fn newest_received_at(works: &[Work]) -> Option<i64> {
    works
        .iter()
        .filter_map(|work| match work {
            Work::Write(batch) => batch.reports.iter().map(|r| r.received_at_ms).max(),
            _ => None,
        })
        .max()
}

/// What one job's work produced, answered after the commit.
pub(crate) enum Outcome {
    /// The receipt of a [`Work::Write`].
    Written(WriteReceipt),
    /// The new epoch of a [`Work::BeginEpoch`].
    Epoch(u64),
    /// A [`Work::CheckWritable`] was done.
    Writable,
    /// The number of the version stored by [`Work::AddSettingsVersion`].
    SettingsVersion(u64),
}

/// How [`apply`] finds the connection.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Opening {
    /// Outside a transaction: `apply` sends `BEGIN` first (pipelined with its statements).
    Begin,
    /// Already inside a transaction (or a savepoint).
    InTransaction,
}

/// The updates a group sends with its commit ([`finish`]): the hourly rollup rows of the new
/// readings in hours already rolled up (in key order) and the receive times of retried
/// reports.
#[derive(Default)]
pub(crate) struct Deferred {
    hourly: HourlyAggregates,
    retried: RetriedReports,
}

/// Retried reports' identities and latest receive times, one array per column.
#[derive(Default)]
struct RetriedReports {
    nodes: Vec<String>,
    boots: Vec<Option<i64>>,
    seqs: Vec<i64>,
    received_at: Vec<i64>,
}

/// Applies `works` on `client`, in order, except the [`Deferred`] updates; returns one outcome
/// per work and those updates. With [`Opening::Begin`] it opens the transaction. Readings
/// before `rolled_up_before` (the rollup's watermark) are added to the hourly rollup.
pub(crate) async fn apply(
    client: &(impl GenericClient + Sync),
    statements: &Statements,
    series: &mut SeriesIds,
    works: &[&Work],
    opening: Opening,
    rolled_up_before: Option<i64>,
) -> Result<(Vec<Outcome>, Deferred), StoreError> {
    let batches: Vec<&WriteBatch> = works
        .iter()
        .filter_map(|work| match work {
            Work::Write(batch) => Some(batch),
            _ => None,
        })
        .collect();
    let (receipts, deferred) = write_batches(
        client,
        statements,
        series,
        &batches,
        opening,
        rolled_up_before,
    )
    .await?;
    let mut receipts = receipts.into_iter();
    let mut outcomes = Vec::with_capacity(works.len());
    for work in works {
        outcomes.push(match work {
            Work::Write(_) => Outcome::Written(receipts.next().unwrap_or_default()),
            Work::BeginEpoch => Outcome::Epoch(next_epoch(client, statements).await?),
            Work::CheckWritable => {
                client
                    .execute(&statements.beat_heart, &[])
                    .await
                    .map_err(database_error("writing the heartbeat"))?;
                Outcome::Writable
            }
            Work::AddSettingsVersion(version) => {
                Outcome::SettingsVersion(settings_versions::insert(client, version).await?)
            }
        });
    }
    Ok((outcomes, deferred))
}

/// Sends the [`Deferred`] updates and, with `commit`, the `COMMIT`, together. An error
/// means nothing of the transaction is committed (the server turns the `COMMIT` of a failed
/// transaction into a rollback), unless the connection broke, which leaves it unknown.
pub(crate) async fn finish(
    client: &(impl GenericClient + Sync),
    statements: &Statements,
    deferred: &Deferred,
    commit: bool,
) -> Result<(), StoreError> {
    let retried = &deferred.retried;
    // Each future sends its statement when first polled: `biased` polls them in this order.
    let (rollup, retried, committed) = tokio::join!(
        biased;
        upsert_rollup(client, statements, &deferred.hourly),
        async {
            if retried.nodes.is_empty() {
                return Ok(());
            }
            client
                .execute(
                    &statements.touch_reports,
                    &[&retried.nodes, &retried.boots, &retried.seqs, &retried.received_at],
                )
                .await
                .map(drop)
                .map_err(database_error("recording retried reports"))
        },
        async {
            if !commit {
                return Ok(());
            }
            client
                .batch_execute("COMMIT")
                .await
                .map_err(database_error("committing"))
        },
    );
    committed?;
    rollup?;
    retried
}

/// Stores the batches together; one receipt per batch, and the updates left for the commit.
async fn write_batches(
    client: &(impl GenericClient + Sync),
    statements: &Statements,
    series: &mut SeriesIds,
    batches: &[&WriteBatch],
    opening: Opening,
    rolled_up_before: Option<i64>,
) -> Result<(Vec<WriteReceipt>, Deferred), StoreError> {
    let reports: Vec<&ReportRecord> = batches.iter().flat_map(|batch| &batch.reports).collect();
    let plan = ReportPlan::of(&reports);
    let readings: Vec<(&str, &crate::NewReading)> = plan
        .first_occurrences(&reports)
        .flat_map(|report| {
            report
                .readings
                .iter()
                .map(|reading| (report.node.as_str(), reading))
        })
        .collect();
    let pairs = || {
        readings
            .iter()
            .map(|(node, reading)| (*node, reading.sensor.as_str()))
    };
    let mut begin = opening == Opening::Begin;
    if begin && (batches.is_empty() || series.any_missing(pairs())) {
        // Creating series needs the transaction first; so does a group without writes.
        client
            .batch_execute("BEGIN")
            .await
            .map_err(database_error("starting a transaction"))?;
        begin = false;
    }
    series.resolve(client, statements, pairs()).await?;
    let columns = ReadingColumns::of(series, &plan, &reports)?;
    let state_changes = StateChangeColumns::of(batches);
    let events = EventColumns::of(batches);
    // Each future sends its statement when first polled: `biased` polls them in this order,
    // so BEGIN, the reports, the state changes and the events travel together.
    let (begun, inserted, changes_stored, events_stored) = tokio::join!(
        biased;
        async {
            if !begin {
                return Ok(());
            }
            client
                .batch_execute("BEGIN")
                .await
                .map_err(database_error("starting a transaction"))
        },
        async {
            if plan.rows.nodes.is_empty() {
                return Ok(Vec::new());
            }
            client
                .query(
                    &statements.insert_reports_and_readings,
                    &[
                        &plan.rows.nodes,
                        &plan.rows.boots,
                        &plan.rows.seqs,
                        &plan.rows.received_at,
                        &columns.nodes,
                        &columns.boots,
                        &columns.seqs,
                        &columns.series_ids,
                        &columns.times,
                        &columns.values,
                    ],
                )
                .await
                .map_err(database_error("inserting reports"))
        },
        state_changes.insert(client, statements),
        events.insert(client, statements),
    );
    begun?;
    let inserted = inserted?;
    changes_stored?;
    events_stored?;
    let inserted: HashSet<(String, i64, i64)> = inserted
        .iter()
        .filter_map(|row| {
            let boot: Option<i64> = row.get(1);
            boot.map(|boot| (row.get(0), boot, row.get(2)))
        })
        .collect();
    let is_inserted =
        |(node, boot, seq): Identity<'_>| inserted.contains(&(node.to_owned(), boot, seq));
    let new: Vec<bool> = plan
        .first_occurrence
        .iter()
        .map(|occurrence| match occurrence {
            None => true,
            Some((identity, first)) => *first && is_inserted(*identity),
        })
        .collect();

    let mut deferred = Deferred::default();
    for (report, _) in reports.iter().zip(&new).filter(|(_, is_new)| **is_new) {
        let late = report
            .readings
            .iter()
            .filter(|reading| is_rolled_up(rolled_up_before, reading.at_ms));
        for reading in late {
            let id = series.get(&report.node, &reading.sensor).ok_or_else(|| {
                StoreError::Database(format!(
                    "series {}/{} was not created",
                    report.node, reading.sensor
                ))
            })?;
            deferred.hourly.add(id, reading.at_ms, reading.value);
        }
    }
    for (identity, &row) in &plan.row_of_identity {
        if !is_inserted(*identity) {
            deferred.retried.nodes.push(identity.0.to_owned());
            deferred.retried.boots.push(Some(identity.1));
            deferred.retried.seqs.push(identity.2);
            deferred
                .retried
                .received_at
                .push(plan.rows.received_at[row]);
        }
    }
    let mut new = new.into_iter();
    let receipts = batches
        .iter()
        .map(|batch| WriteReceipt {
            duplicate: new
                .by_ref()
                .take(batch.reports.len())
                .map(|is_new| !is_new)
                .collect(),
        })
        .collect();
    Ok((receipts, deferred))
}

/// Adds a group's new readings to the hourly rollup in one statement (one row per series and
/// hour, so `ON CONFLICT DO UPDATE` never meets the same row twice), in key order; nothing is
/// sent when there are none (the statement is sent when the future is first polled).
async fn upsert_rollup(
    client: &(impl GenericClient + Sync),
    statements: &Statements,
    hourly: &HourlyAggregates,
) -> Result<(), StoreError> {
    let mut columns = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    for ((series_id, hour), aggregate) in hourly.iter() {
        columns.0.push(*series_id);
        columns.1.push(*hour);
        columns.2.push(aggregate.samples);
        columns.3.push(aggregate.sum);
        columns.4.push(aggregate.min);
        columns.5.push(aggregate.max);
    }
    if columns.0.is_empty() {
        return Ok(());
    }
    client
        .execute(
            &statements.upsert_rollup,
            &[
                &columns.0, &columns.1, &columns.2, &columns.3, &columns.4, &columns.5,
            ],
        )
        .await
        .map(drop)
        .map_err(database_error("updating the hourly rollup"))
}

/// A report's identity when it has a boot number: `(node, boot, seq)`.
type Identity<'a> = (&'a str, i64, i64);

/// The reports of a group as rows to insert: each identity once (with the latest receive time:
/// the node was alive then), bootless reports all. A report is new when it is the first with
/// its identity in the group and the insert stored it; a report without `boot` is always new.
struct ReportPlan<'a> {
    rows: ReportRows<'a>,
    row_of_identity: HashMap<Identity<'a>, usize>,
    /// Per report: `None` without boot, else its identity and whether it is the first with it.
    first_occurrence: Vec<Option<(Identity<'a>, bool)>>,
}

impl<'a> ReportPlan<'a> {
    fn of(reports: &[&'a ReportRecord]) -> ReportPlan<'a> {
        let mut rows = ReportRows::default();
        let mut row_of_identity: HashMap<Identity<'_>, usize> = HashMap::new();
        let mut first_occurrence = Vec::with_capacity(reports.len());
        for report in reports {
            let Some(boot) = report.boot else {
                rows.push(&report.node, None, report.seq, report.received_at_ms);
                first_occurrence.push(None);
                continue;
            };
            let identity = (report.node.as_str(), i64::from(boot), i64::from(report.seq));
            match row_of_identity.get(&identity) {
                Some(&row) => {
                    rows.received_at[row] = rows.received_at[row].max(report.received_at_ms);
                    first_occurrence.push(Some((identity, false)));
                }
                None => {
                    row_of_identity.insert(identity, rows.len());
                    rows.push(&report.node, Some(boot), report.seq, report.received_at_ms);
                    first_occurrence.push(Some((identity, true)));
                }
            }
        }
        ReportPlan {
            rows,
            row_of_identity,
            first_occurrence,
        }
    }

    /// The reports whose readings may be stored: the first of each identity, and bootless ones.
    fn first_occurrences<'r>(
        &'r self,
        reports: &'r [&'a ReportRecord],
    ) -> impl Iterator<Item = &'a ReportRecord> + 'r {
        reports
            .iter()
            .zip(&self.first_occurrence)
            .filter(|(_, occurrence)| occurrence.is_none_or(|(_, first)| first))
            .map(|(report, _)| *report)
    }
}

/// Report identities as one array per column.
#[derive(Default)]
struct ReportRows<'a> {
    nodes: Vec<&'a str>,
    boots: Vec<Option<i64>>,
    seqs: Vec<i64>,
    received_at: Vec<i64>,
}

impl<'a> ReportRows<'a> {
    fn push(&mut self, node: &'a str, boot: Option<u32>, seq: u32, received_at_ms: i64) {
        self.nodes.push(node);
        self.boots.push(boot.map(i64::from));
        self.seqs.push(i64::from(seq));
        self.received_at.push(received_at_ms);
    }

    fn len(&self) -> usize {
        self.nodes.len()
    }
}

/// The readings of a group's first occurrences, one array per column, each with its report's
/// identity: the statement stores a reading only if its report was inserted (or has no boot).
#[derive(Default)]
struct ReadingColumns<'a> {
    nodes: Vec<&'a str>,
    boots: Vec<Option<i64>>,
    seqs: Vec<i64>,
    series_ids: Vec<i64>,
    times: Vec<i64>,
    values: Vec<f64>,
}

impl<'a> ReadingColumns<'a> {
    /// The columns; every series must be known to `series` already.
    fn of(
        series: &SeriesIds,
        plan: &ReportPlan<'a>,
        reports: &[&'a ReportRecord],
    ) -> Result<ReadingColumns<'a>, StoreError> {
        let mut columns = ReadingColumns::default();
        for report in plan.first_occurrences(reports) {
            for reading in &report.readings {
                let id = series.get(&report.node, &reading.sensor).ok_or_else(|| {
                    StoreError::Database(format!(
                        "series {}/{} was not created",
                        report.node, reading.sensor
                    ))
                })?;
                columns.nodes.push(&report.node);
                columns.boots.push(report.boot.map(i64::from));
                columns.seqs.push(i64::from(report.seq));
                columns.series_ids.push(id);
                columns.times.push(reading.at_ms);
                columns.values.push(reading.value);
            }
        }
        Ok(columns)
    }
}

/// The state changes of a group, one array per column.
struct StateChangeColumns<'a> {
    times: Vec<i64>,
    nodes: Vec<&'a str>,
    outputs: Vec<&'a str>,
    powers: Vec<bool>,
    reasons: Vec<&'a str>,
}

impl<'a> StateChangeColumns<'a> {
    fn of(batches: &[&'a WriteBatch]) -> StateChangeColumns<'a> {
        let changes: Vec<_> = batches
            .iter()
            .flat_map(|batch| &batch.state_changes)
            .collect();
        StateChangeColumns {
            times: changes.iter().map(|change| change.at_ms).collect(),
            nodes: changes.iter().map(|change| change.node.as_str()).collect(),
            outputs: changes
                .iter()
                .map(|change| change.output.as_str())
                .collect(),
            powers: changes.iter().map(|change| change.power).collect(),
            reasons: changes
                .iter()
                .map(|change| change.reason.as_str())
                .collect(),
        }
    }

    /// Inserts them in one statement (nothing to send when there are none).
    async fn insert(
        &self,
        client: &(impl GenericClient + Sync),
        statements: &Statements,
    ) -> Result<(), StoreError> {
        if self.times.is_empty() {
            return Ok(());
        }
        client
            .execute(
                &statements.insert_state_changes,
                &[
                    &self.times,
                    &self.nodes,
                    &self.outputs,
                    &self.powers,
                    &self.reasons,
                ],
            )
            .await
            .map(drop)
            .map_err(database_error("inserting state changes"))
    }
}

/// The events of a group, one array per column.
struct EventColumns<'a> {
    times: Vec<i64>,
    kinds: Vec<&'a str>,
    nodes: Vec<Option<&'a str>>,
    outputs: Vec<Option<&'a str>>,
    messages: Vec<&'a str>,
}

impl<'a> EventColumns<'a> {
    fn of(batches: &[&'a WriteBatch]) -> EventColumns<'a> {
        let events: Vec<_> = batches.iter().flat_map(|batch| &batch.events).collect();
        EventColumns {
            times: events.iter().map(|event| event.at_ms).collect(),
            kinds: events.iter().map(|event| event.kind.as_str()).collect(),
            nodes: events.iter().map(|event| event.node.as_deref()).collect(),
            outputs: events.iter().map(|event| event.output.as_deref()).collect(),
            messages: events.iter().map(|event| event.message.as_str()).collect(),
        }
    }

    /// Inserts them in one statement (nothing to send when there are none).
    async fn insert(
        &self,
        client: &(impl GenericClient + Sync),
        statements: &Statements,
    ) -> Result<(), StoreError> {
        if self.times.is_empty() {
            return Ok(());
        }
        client
            .execute(
                &statements.insert_events,
                &[
                    &self.times,
                    &self.kinds,
                    &self.nodes,
                    &self.outputs,
                    &self.messages,
                ],
            )
            .await
            .map(drop)
            .map_err(database_error("inserting an event"))
    }
}

/// Adds one to the stored epoch (a new database starts at 1) and returns it.
async fn next_epoch(
    client: &(impl GenericClient + Sync),
    statements: &Statements,
) -> Result<u64, StoreError> {
    let epoch: i64 = client
        .query_one(&statements.next_epoch, &[])
        .await
        .map_err(database_error("storing the epoch"))?
        .get(0);
    u64::try_from(epoch)
        .ok()
        .filter(|epoch| *epoch > 0)
        .ok_or_else(|| StoreError::Database(format!("the stored epoch {epoch} is invalid")))
}

/// The writer's cache of series ids by node, then sensor. Cloning it is cheap (the map is
/// shared until one of the clones changes it): the writer lends it to its lanes.
#[derive(Debug, Default, Clone)]
pub(crate) struct SeriesIds {
    by_node: Arc<HashMap<String, HashMap<String, i64>>>,
}

impl SeriesIds {
    /// The cached id of `(node, sensor)`.
    pub(crate) fn get(&self, node: &str, sensor: &str) -> Option<i64> {
        self.by_node
            .get(node)
            .and_then(|sensors| sensors.get(sensor))
            .copied()
    }

    /// Whether some pair is not cached yet.
    pub(crate) fn any_missing<'a>(
        &self,
        mut pairs: impl Iterator<Item = (&'a str, &'a str)>,
    ) -> bool {
        pairs.any(|(node, sensor)| self.get(node, sensor).is_none())
    }

    /// Makes every pair known: creates the missing series on `transaction` (a connection inside
    /// a transaction) and caches their ids.
    async fn resolve<'a>(
        &mut self,
        transaction: &(impl GenericClient + Sync),
        statements: &Statements,
        pairs: impl Iterator<Item = (&'a str, &'a str)>,
    ) -> Result<(), StoreError> {
        let missing: HashSet<(&str, &str)> = pairs
            .filter(|(node, sensor)| self.get(node, sensor).is_none())
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let (nodes, sensors): (Vec<&str>, Vec<&str>) = missing.into_iter().unzip();
        transaction
            .execute(&statements.insert_series, &[&nodes, &sensors])
            .await
            .map_err(database_error("creating series"))?;
        let rows = transaction
            .query(&statements.select_series, &[&nodes, &sensors])
            .await
            .map_err(database_error("looking up series"))?;
        let by_node = Arc::make_mut(&mut self.by_node);
        for row in rows {
            by_node
                .entry(row.get(1))
                .or_default()
                .insert(row.get(2), row.get(0));
        }
        Ok(())
    }

    /// Forgets every id: called when a transaction is rolled back, since a series created
    /// inside it no longer exists.
    pub(crate) fn forget_all(&mut self) {
        self.by_node = Arc::default();
    }
}
