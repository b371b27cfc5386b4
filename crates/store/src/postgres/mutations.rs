//! What the writer does inside a group transaction: every job of the group applied with a few
//! multi-row statements (all reports of the group in one insert, all their readings in one,
//! and so on). The functions never commit.

use std::collections::{HashMap, HashSet};

use tokio_postgres::Transaction;

use super::database_error;
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

/// Applies `works` in `transaction`, in order, and returns one outcome per work.
pub(crate) async fn apply(
    transaction: &Transaction<'_>,
    statements: &Statements,
    series: &mut SeriesIds,
    works: &[&Work],
) -> Result<Vec<Outcome>, StoreError> {
    let batches: Vec<&WriteBatch> = works
        .iter()
        .filter_map(|work| match work {
            Work::Write(batch) => Some(batch),
            _ => None,
        })
        .collect();
    let mut receipts = write_batches(transaction, statements, series, &batches)
        .await?
        .into_iter();
    let mut outcomes = Vec::with_capacity(works.len());
    for work in works {
        outcomes.push(match work {
            Work::Write(_) => Outcome::Written(receipts.next().unwrap_or_default()),
            Work::BeginEpoch => Outcome::Epoch(next_epoch(transaction, statements).await?),
            Work::CheckWritable => {
                transaction
                    .execute(&statements.beat_heart, &[])
                    .await
                    .map_err(database_error("writing the heartbeat"))?;
                Outcome::Writable
            }
            Work::AddSettingsVersion(version) => {
                Outcome::SettingsVersion(settings_versions::insert(transaction, version).await?)
            }
        });
    }
    Ok(outcomes)
}

/// Stores the batches together; one receipt per batch.
async fn write_batches(
    transaction: &Transaction<'_>,
    statements: &Statements,
    series: &mut SeriesIds,
    batches: &[&WriteBatch],
) -> Result<Vec<WriteReceipt>, StoreError> {
    let reports: Vec<&ReportRecord> = batches.iter().flat_map(|batch| &batch.reports).collect();
    let new = insert_reports(transaction, statements, &reports).await?;
    let new_reports = reports
        .iter()
        .zip(&new)
        .filter_map(|(report, is_new)| is_new.then_some(*report));
    insert_readings(transaction, statements, series, new_reports).await?;
    insert_state_changes(transaction, statements, batches).await?;
    insert_events(transaction, statements, batches).await?;
    let mut new = new.into_iter();
    Ok(batches
        .iter()
        .map(|batch| WriteReceipt {
            duplicate: new
                .by_ref()
                .take(batch.reports.len())
                .map(|is_new| !is_new)
                .collect(),
        })
        .collect())
}

/// A report's identity when it has a boot number: `(node, boot, seq)`.
type Identity<'a> = (&'a str, i64, i64);

/// Records the reports' identities; for each report, whether it is new. A report is not new
/// when its `(node, boot, seq)` was already stored, or appears earlier in `reports`; then the
/// stored receive time moves to the latest one seen (the node was alive then). A report
/// without `boot` is always new.
async fn insert_reports(
    transaction: &Transaction<'_>,
    statements: &Statements,
    reports: &[&ReportRecord],
) -> Result<Vec<bool>, StoreError> {
    if reports.is_empty() {
        return Ok(Vec::new());
    }
    // Each identity once (the latest receive time), bootless reports all.
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
    let inserted: HashSet<(String, i64, i64)> = transaction
        .query(
            &statements.insert_reports,
            &[&rows.nodes, &rows.boots, &rows.seqs, &rows.received_at],
        )
        .await
        .map_err(database_error("inserting reports"))?
        .iter()
        .filter_map(|row| {
            let boot: Option<i64> = row.get(1);
            boot.map(|boot| (row.get(0), boot, row.get(2)))
        })
        .collect();
    let is_inserted =
        |(node, boot, seq): Identity<'_>| inserted.contains(&(node.to_owned(), boot, seq));

    let mut retried = ReportRows::default();
    for (identity, &row) in &row_of_identity {
        if !is_inserted(*identity) {
            retried.nodes.push(identity.0);
            retried.boots.push(Some(identity.1));
            retried.seqs.push(identity.2);
            retried.received_at.push(rows.received_at[row]);
        }
    }
    if !retried.nodes.is_empty() {
        transaction
            .execute(
                &statements.touch_reports,
                &[
                    &retried.nodes,
                    &retried.boots,
                    &retried.seqs,
                    &retried.received_at,
                ],
            )
            .await
            .map_err(database_error("recording retried reports"))?;
    }
    Ok(first_occurrence
        .into_iter()
        .map(|occurrence| match occurrence {
            None => true,
            Some((identity, first)) => first && is_inserted(identity),
        })
        .collect())
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

/// Inserts every reading of `reports` in one statement.
async fn insert_readings<'a>(
    transaction: &Transaction<'_>,
    statements: &Statements,
    series: &mut SeriesIds,
    reports: impl Iterator<Item = &'a ReportRecord>,
) -> Result<(), StoreError> {
    let readings: Vec<(&str, &crate::NewReading)> = reports
        .flat_map(|report| {
            report
                .readings
                .iter()
                .map(|reading| (report.node.as_str(), reading))
        })
        .collect();
    if readings.is_empty() {
        return Ok(());
    }
    series
        .resolve(
            transaction,
            statements,
            readings
                .iter()
                .map(|(node, reading)| (*node, reading.sensor.as_str())),
        )
        .await?;
    let mut series_ids = Vec::with_capacity(readings.len());
    let mut times = Vec::with_capacity(readings.len());
    let mut values = Vec::with_capacity(readings.len());
    let mut hourly = HourlyAggregates::default();
    for (node, reading) in &readings {
        let id = series.get(node, &reading.sensor).ok_or_else(|| {
            StoreError::Database(format!("series {node}/{} was not created", reading.sensor))
        })?;
        series_ids.push(id);
        times.push(reading.at_ms);
        values.push(reading.value);
        hourly.add(id, reading.at_ms, reading.value);
    }
    transaction
        .execute(&statements.insert_readings, &[&series_ids, &times, &values])
        .await
        .map_err(database_error("inserting readings"))?;
    upsert_rollup(transaction, statements, &hourly).await
}

/// Adds the group's readings to the hourly rollup in one statement (one row per series and
/// hour, so `ON CONFLICT DO UPDATE` never meets the same row twice).
async fn upsert_rollup(
    transaction: &Transaction<'_>,
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
    transaction
        .execute(
            &statements.upsert_rollup,
            &[
                &columns.0, &columns.1, &columns.2, &columns.3, &columns.4, &columns.5,
            ],
        )
        .await
        .map_err(database_error("updating the hourly rollup"))?;
    Ok(())
}

async fn insert_state_changes(
    transaction: &Transaction<'_>,
    statements: &Statements,
    batches: &[&WriteBatch],
) -> Result<(), StoreError> {
    let changes: Vec<_> = batches
        .iter()
        .flat_map(|batch| &batch.state_changes)
        .collect();
    if changes.is_empty() {
        return Ok(());
    }
    let times: Vec<i64> = changes.iter().map(|change| change.at_ms).collect();
    let nodes: Vec<&str> = changes.iter().map(|change| change.node.as_str()).collect();
    let outputs: Vec<&str> = changes
        .iter()
        .map(|change| change.output.as_str())
        .collect();
    let powers: Vec<bool> = changes.iter().map(|change| change.power).collect();
    let reasons: Vec<&str> = changes
        .iter()
        .map(|change| change.reason.as_str())
        .collect();
    transaction
        .execute(
            &statements.insert_state_changes,
            &[&times, &nodes, &outputs, &powers, &reasons],
        )
        .await
        .map_err(database_error("inserting state changes"))?;
    Ok(())
}

async fn insert_events(
    transaction: &Transaction<'_>,
    statements: &Statements,
    batches: &[&WriteBatch],
) -> Result<(), StoreError> {
    let events: Vec<_> = batches.iter().flat_map(|batch| &batch.events).collect();
    if events.is_empty() {
        return Ok(());
    }
    let times: Vec<i64> = events.iter().map(|event| event.at_ms).collect();
    let kinds: Vec<&str> = events.iter().map(|event| event.kind.as_str()).collect();
    let nodes: Vec<Option<&str>> = events.iter().map(|event| event.node.as_deref()).collect();
    let outputs: Vec<Option<&str>> = events.iter().map(|event| event.output.as_deref()).collect();
    let messages: Vec<&str> = events.iter().map(|event| event.message.as_str()).collect();
    transaction
        .execute(
            &statements.insert_events,
            &[&times, &kinds, &nodes, &outputs, &messages],
        )
        .await
        .map_err(database_error("inserting an event"))?;
    Ok(())
}

/// Adds one to the stored epoch (a new database starts at 1) and returns it.
async fn next_epoch(
    transaction: &Transaction<'_>,
    statements: &Statements,
) -> Result<u64, StoreError> {
    let epoch: i64 = transaction
        .query_one(&statements.next_epoch, &[])
        .await
        .map_err(database_error("storing the epoch"))?
        .get(0);
    u64::try_from(epoch)
        .ok()
        .filter(|epoch| *epoch > 0)
        .ok_or_else(|| StoreError::Database(format!("the stored epoch {epoch} is invalid")))
}

/// The writer's cache of series ids by node, then sensor.
#[derive(Debug, Default)]
pub(crate) struct SeriesIds {
    by_node: HashMap<String, HashMap<String, i64>>,
}

impl SeriesIds {
    /// The cached id of `(node, sensor)`.
    pub(crate) fn get(&self, node: &str, sensor: &str) -> Option<i64> {
        self.by_node
            .get(node)
            .and_then(|sensors| sensors.get(sensor))
            .copied()
    }

    /// Makes every pair known: creates the missing series in `transaction` and caches their ids.
    async fn resolve<'a>(
        &mut self,
        transaction: &Transaction<'_>,
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
        for row in rows {
            self.by_node
                .entry(row.get(1))
                .or_default()
                .insert(row.get(2), row.get(0));
        }
        Ok(())
    }

    /// Forgets every id: called when a transaction is rolled back, since a series created
    /// inside it no longer exists.
    pub(crate) fn forget_all(&mut self) {
        self.by_node.clear();
    }
}
