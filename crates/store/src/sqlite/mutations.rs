//! The statements the writer runs inside its group transaction, one function per kind of
//! command. They take a plain [`Connection`] (a transaction or savepoint dereferences to one)
//! and never commit themselves.

use rusqlite::{Connection, OptionalExtension, params};

use super::database_error;
use super::series_ids::SeriesIds;
use crate::rollup::HourlyAggregates;
use crate::{Event, ReportRecord, StateChange, StoreError, WriteBatch, WriteReceipt};

/// Inserts a batch: each report unless it is already stored (then its readings are skipped
/// and it is flagged duplicate), then the state changes and events.
pub(crate) fn insert_batch(
    connection: &Connection,
    series: &mut SeriesIds,
    batch: &WriteBatch,
) -> Result<WriteReceipt, StoreError> {
    let mut duplicate = Vec::with_capacity(batch.reports.len());
    let mut hourly = HourlyAggregates::default();
    for report in &batch.reports {
        let is_new = insert_report(connection, report)?;
        if is_new {
            insert_readings(connection, series, report, &mut hourly)?;
        }
        duplicate.push(!is_new);
    }
    upsert_rollup(connection, &hourly)?;
    for change in &batch.state_changes {
        insert_state_change(connection, change)?;
    }
    for event in &batch.events {
        insert_event(connection, event)?;
    }
    Ok(WriteReceipt { duplicate })
}

/// Records the report's identity; `false` when `(node, boot, seq)` is already there, in which
/// case the stored receive time moves to the retry's if later (the node was alive then).
fn insert_report(connection: &Connection, report: &ReportRecord) -> Result<bool, StoreError> {
    let identity = params![report.node, report.boot, report.seq, report.received_at_ms];
    let inserted = connection
        .prepare_cached(
            "INSERT INTO reports (node, boot, seq, received_at) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (node, boot, seq) DO NOTHING",
        )
        .and_then(|mut insert| insert.execute(identity))
        .map_err(database_error("inserting a report"))?;
    if inserted == 1 {
        return Ok(true);
    }
    connection
        .prepare_cached(
            "UPDATE reports SET received_at = max(received_at, ?4) \
             WHERE node = ?1 AND boot = ?2 AND seq = ?3",
        )
        .and_then(|mut update| update.execute(identity))
        .map_err(database_error("recording a retried report"))?;
    Ok(false)
}

fn insert_readings(
    connection: &Connection,
    series: &mut SeriesIds,
    report: &ReportRecord,
    hourly: &mut HourlyAggregates,
) -> Result<(), StoreError> {
    for reading in &report.readings {
        let series_id = series.id(connection, &report.node, &reading.sensor)?;
        connection
            .prepare_cached("INSERT INTO readings (series_id, ts, value) VALUES (?1, ?2, ?3)")
            .and_then(|mut insert| insert.execute(params![series_id, reading.at_ms, reading.value]))
            .map_err(database_error("inserting readings"))?;
        hourly.add(series_id, reading.at_ms, reading.value);
    }
    Ok(())
}

/// Adds a write's readings to the hourly rollup, one upsert per series and hour.
fn upsert_rollup(connection: &Connection, hourly: &HourlyAggregates) -> Result<(), StoreError> {
    for ((series_id, hour), aggregate) in hourly.iter() {
        connection
            .prepare_cached(
                "INSERT INTO readings_rollup \
                     (series_id, hour, samples, sum_value, min_value, max_value) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                 ON CONFLICT (series_id, hour) DO UPDATE SET \
                     samples = samples + excluded.samples, \
                     sum_value = sum_value + excluded.sum_value, \
                     min_value = min(min_value, excluded.min_value), \
                     max_value = max(max_value, excluded.max_value)",
            )
            .and_then(|mut upsert| {
                upsert.execute(params![
                    series_id,
                    hour,
                    aggregate.samples,
                    aggregate.sum,
                    aggregate.min,
                    aggregate.max
                ])
            })
            .map_err(database_error("updating the hourly rollup"))?;
    }
    Ok(())
}

fn insert_state_change(connection: &Connection, change: &StateChange) -> Result<(), StoreError> {
    connection
        .prepare_cached(
            "INSERT INTO state_changes (ts, node, output, power, reason) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .and_then(|mut insert| {
            insert.execute(params![
                change.at_ms,
                change.node,
                change.output,
                change.power,
                change.reason
            ])
        })
        .map_err(database_error("inserting a state change"))?;
    Ok(())
}

fn insert_event(connection: &Connection, event: &Event) -> Result<(), StoreError> {
    connection
        .prepare_cached(
            "INSERT INTO events (ts, kind, node, output, message) VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .and_then(|mut insert| {
            insert.execute(params![
                event.at_ms,
                event.kind,
                event.node,
                event.output,
                event.message
            ])
        })
        .map_err(database_error("inserting an event"))?;
    Ok(())
}

/// Reads `epoch` (0 if absent), stores it plus one and returns the new value.
pub(crate) fn next_epoch(connection: &Connection) -> Result<u64, StoreError> {
    let current: Option<i64> = connection
        .prepare_cached("SELECT value FROM meta WHERE key = 'epoch'")
        .and_then(|mut select| select.query_row([], |row| row.get(0)).optional())
        .map_err(database_error("reading the epoch"))?;
    let invalid = || StoreError::Database(format!("the stored epoch {current:?} is invalid"));
    let next = current.unwrap_or(0).checked_add(1).ok_or_else(invalid)?;
    let epoch = u64::try_from(next)
        .ok()
        .filter(|epoch| *epoch > 0)
        .ok_or_else(invalid)?;
    connection
        .prepare_cached(
            "INSERT INTO meta (key, value) VALUES ('epoch', ?1) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .and_then(|mut upsert| upsert.execute([next]))
        .map_err(database_error("storing the epoch"))?;
    Ok(epoch)
}

/// Counts one more heartbeat in `meta`: the smallest write that proves the database writable.
pub(crate) fn beat_heart(connection: &Connection) -> Result<(), StoreError> {
    connection
        .prepare_cached(
            "INSERT INTO meta (key, value) VALUES ('heartbeat', 1) \
             ON CONFLICT (key) DO UPDATE SET value = value + 1",
        )
        .and_then(|mut upsert| upsert.execute([]))
        .map_err(database_error("writing the heartbeat"))?;
    Ok(())
}

/// Deletes at most `limit` reports received before `before_ms`; returns how many it deleted.
pub(crate) fn prune_reports(
    connection: &Connection,
    before_ms: i64,
    limit: usize,
) -> Result<usize, StoreError> {
    connection
        .prepare_cached(
            "DELETE FROM reports WHERE rowid IN \
             (SELECT rowid FROM reports WHERE received_at < ?1 LIMIT ?2)",
        )
        .and_then(|mut delete| {
            delete.execute(params![before_ms, i64::try_from(limit).unwrap_or(i64::MAX)])
        })
        .map_err(database_error("pruning old reports"))
}

/// Deletes at most `limit` raw readings older than `before_ms`; returns how many it deleted.
/// The series are the outer loop (`CROSS JOIN` fixes SQLite's join order), so each series' old
/// rows are found through the `(series_id, ts)` index instead of a scan of the whole table.
pub(crate) fn expire_readings(
    connection: &Connection,
    before_ms: i64,
    limit: usize,
) -> Result<usize, StoreError> {
    connection
        .prepare_cached(
            "DELETE FROM readings WHERE rowid IN \
             (SELECT r.rowid FROM series s CROSS JOIN readings r \
                  ON r.series_id = s.id AND r.ts < ?1 LIMIT ?2)",
        )
        .and_then(|mut delete| {
            delete.execute(params![before_ms, i64::try_from(limit).unwrap_or(i64::MAX)])
        })
        .map_err(database_error("deleting expired readings"))
}

/// Deletes at most `limit` hourly rollup rows whose hour starts before `before_ms`.
pub(crate) fn expire_rollup(
    connection: &Connection,
    before_ms: i64,
    limit: usize,
) -> Result<usize, StoreError> {
    connection
        .prepare_cached(
            "DELETE FROM readings_rollup WHERE (series_id, hour) IN \
             (SELECT h.series_id, h.hour FROM series s CROSS JOIN readings_rollup h \
                  ON h.series_id = s.id AND h.hour < ?1 LIMIT ?2)",
        )
        .and_then(|mut delete| {
            delete.execute(params![before_ms, i64::try_from(limit).unwrap_or(i64::MAX)])
        })
        .map_err(database_error("deleting expired hourly rollups"))
}
