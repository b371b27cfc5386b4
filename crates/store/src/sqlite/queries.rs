//! The read queries, run on a read connection of the pool.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::database_error;
use crate::rollup::{EVERY_HOUR, PartialBucket, Plan, expired_hours, merge, with_expired_hours};
use crate::{
    EXPORT_CHUNK_ROWS, Event, EventRow, EventsQuery, ExportQuery, ExportRow, Point, ReadingsQuery,
    StateChange, StoreError,
};

/// Raw points of one series in `[from, to)`, oldest first.
const RAW_READINGS: &str = "SELECT ts, value FROM readings \
     WHERE series_id = ?1 AND ts >= ?2 AND ts < ?3 ORDER BY ts, rowid LIMIT ?4";

/// One averaged point per `step`-aligned bucket, labelled with the bucket's start. SQLite's `%`
/// keeps the sign of `ts`, so a negative remainder is shifted down one step: the start is the
/// floor, `-15` with step 10 falls in the bucket starting at `-20`. Written so that nothing
/// overflows for any `ts` whose bucket start is representable.
const BUCKETED_READINGS: &str = "SELECT \
         CASE WHEN ts % ?4 < 0 THEN ts - ts % ?4 - ?4 ELSE ts - ts % ?4 END AS bucket, \
         AVG(value) \
     FROM readings WHERE series_id = ?1 AND ts >= ?2 AND ts < ?3 \
     GROUP BY bucket ORDER BY bucket LIMIT ?5";

/// Readings of `query`'s series; an unknown node or sensor has none.
///
/// # Errors
/// [`StoreError::InvalidQuery`] for a `step_ms` that is not positive.
/// With `use_rollup`, a whole-hour step is answered from the hourly rollup ([`Plan`]), and
/// another step over hours whose raw readings expired gets those hours' averages
/// ([`expired_hours`]).
pub(crate) fn readings(
    connection: &Connection,
    query: &ReadingsQuery,
    use_rollup: bool,
) -> Result<Vec<Point>, StoreError> {
    validate_step(query.step_ms)?;
    if query.limit == 0 || query.from_ms >= query.to_ms {
        return Ok(Vec::new());
    }
    let Some(series_id) = series_id(connection, &query.node, &query.sensor)? else {
        return Ok(Vec::new());
    };
    if let Some(plan) = Plan::of(query, EVERY_HOUR).filter(|_| use_rollup) {
        return rollup_readings(connection, series_id, &plan, query.limit);
    }
    let limit = sql_limit(query.limit);
    let point = |row: &Row<'_>| Ok((row.get(0)?, row.get(1)?));
    let points = match query.step_ms {
        None => connection
            .prepare_cached(RAW_READINGS)
            .and_then(|mut select| {
                select
                    .query_map(params![series_id, query.from_ms, query.to_ms, limit], point)?
                    .collect()
            }),
        Some(step) => connection
            .prepare_cached(BUCKETED_READINGS)
            .and_then(|mut select| {
                select
                    .query_map(
                        params![series_id, query.from_ms, query.to_ms, step, limit],
                        point,
                    )?
                    .collect()
            }),
    };
    let points: Vec<Point> = points.map_err(database_error("reading readings"))?;
    let expired = expired_hours(
        query.from_ms,
        query.to_ms,
        points.first().map(|point| point.0),
    )
    .filter(|_| use_rollup && query.step_ms.is_some());
    let Some((from, to)) = expired else {
        return Ok(points);
    };
    let hourly: Vec<Point> = connection
        .prepare_cached(ROLLUP_HOURS)
        .and_then(|mut select| {
            select
                .query_map(params![series_id, from, to, limit], point)?
                .collect()
        })
        .map_err(database_error("reading the hourly rollup"))?;
    Ok(with_expired_hours(hourly, points, query.limit))
}

/// The average of each rollup hour starting in `[from, to)`, oldest first.
const ROLLUP_HOURS: &str = "SELECT hour, sum_value / samples FROM readings_rollup \
     WHERE series_id = ?1 AND hour >= ?2 AND hour < ?3 AND samples > 0 ORDER BY hour LIMIT ?4";

/// Sums and counts per `step` bucket of the rollup's whole hours in `[from, to)`.
const ROLLUP_BUCKETS: &str = "SELECT \
         CASE WHEN hour % ?4 < 0 THEN hour - hour % ?4 - ?4 ELSE hour - hour % ?4 END AS bucket, \
         sum(sum_value), sum(samples) \
     FROM readings_rollup WHERE series_id = ?1 AND hour >= ?2 AND hour < ?3 \
     GROUP BY bucket ORDER BY bucket LIMIT ?5";

/// Sums and counts per `step` bucket of raw readings in `[from, to)` (the partial hours).
const RAW_BUCKETS: &str = "SELECT \
         CASE WHEN ts % ?4 < 0 THEN ts - ts % ?4 - ?4 ELSE ts - ts % ?4 END AS bucket, \
         sum(value), count(*) \
     FROM readings WHERE series_id = ?1 AND ts >= ?2 AND ts < ?3 \
     GROUP BY bucket ORDER BY bucket LIMIT ?5";

/// A whole-hour `step` query answered from the rollup, the partial end hours from raw readings.
fn rollup_readings(
    connection: &Connection,
    series_id: i64,
    plan: &Plan,
    limit: usize,
) -> Result<Vec<Point>, StoreError> {
    let sql_limit = sql_limit(limit);
    let parts = std::iter::once((ROLLUP_BUCKETS, plan.hourly))
        .chain(plan.raw.iter().map(|range| (RAW_BUCKETS, *range)));
    let mut buckets: Vec<PartialBucket> = Vec::new();
    for (sql, (from, to)) in parts {
        connection
            .prepare_cached(sql)
            .and_then(|mut select| {
                let rows = select
                    .query_map(params![series_id, from, to, plan.step, sql_limit], |row| {
                        Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                    })?;
                for row in rows {
                    buckets.push(row?);
                }
                Ok(())
            })
            .map_err(database_error("reading the hourly rollup"))?;
    }
    Ok(merge(buckets, limit))
}

/// A step must be a positive number of milliseconds.
fn validate_step(step_ms: Option<i64>) -> Result<(), StoreError> {
    match step_ms {
        Some(step) if step <= 0 => Err(StoreError::InvalidQuery(format!(
            "step must be positive, got {step} ms"
        ))),
        _ => Ok(()),
    }
}

fn series_id(connection: &Connection, node: &str, sensor: &str) -> Result<Option<i64>, StoreError> {
    connection
        .prepare_cached("SELECT id FROM series WHERE node = ?1 AND sensor = ?2")
        .and_then(|mut select| {
            select
                .query_row(params![node, sensor], |row| row.get(0))
                .optional()
        })
        .map_err(database_error("looking up a series"))
}

/// State changes (`source` 0) and events (`source` 1) in `[from, to)`, newest first. At the
/// same millisecond, state changes come first (an override event causes the state change
/// that follows it), then the later-inserted row.
const EVENTS: &str = "SELECT ts, node, output, power, reason, NULL AS kind, 0 AS source, id \
         FROM state_changes WHERE ts >= ?1 AND ts < ?2 \
     UNION ALL \
     SELECT ts, node, output, NULL, message, kind, 1 AS source, id \
         FROM events WHERE ts >= ?1 AND ts < ?2 \
     ORDER BY ts DESC, source, id DESC LIMIT ?3";

/// [`EVENTS`] for one node (a separate text so that SQLite uses the `(node, ts)` indexes).
const NODE_EVENTS: &str = "SELECT ts, node, output, power, reason, NULL AS kind, 0 AS source, id \
         FROM state_changes WHERE node = ?4 AND ts >= ?1 AND ts < ?2 \
     UNION ALL \
     SELECT ts, node, output, NULL, message, kind, 1 AS source, id \
         FROM events WHERE node = ?4 AND ts >= ?1 AND ts < ?2 \
     ORDER BY ts DESC, source, id DESC LIMIT ?3";

/// State changes and events of `query`, newest first, at most `limit`.
pub(crate) fn events(
    connection: &Connection,
    query: &EventsQuery,
) -> Result<Vec<EventRow>, StoreError> {
    if query.limit == 0 || query.from_ms >= query.to_ms {
        return Ok(Vec::new());
    }
    let limit = sql_limit(query.limit);
    let rows = match &query.node {
        None => connection.prepare_cached(EVENTS).and_then(|mut select| {
            select
                .query_map(params![query.from_ms, query.to_ms, limit], event_row)?
                .collect()
        }),
        Some(node) => connection
            .prepare_cached(NODE_EVENTS)
            .and_then(|mut select| {
                select
                    .query_map(params![query.from_ms, query.to_ms, limit, node], event_row)?
                    .collect()
            }),
    };
    rows.map_err(database_error("reading events"))
}

/// A row of [`EVENTS`]: `ts, node, output, power, reason|message, kind, source, id`.
fn event_row(row: &Row<'_>) -> rusqlite::Result<EventRow> {
    let source: i64 = row.get(6)?;
    Ok(if source == 0 {
        EventRow::StateChange(state_change(row)?)
    } else {
        EventRow::Event(Event {
            at_ms: row.get(0)?,
            node: row.get(1)?,
            output: row.get(2)?,
            message: row.get(4)?,
            kind: row.get(5)?,
        })
    })
}

/// A state change from a row whose first five columns are `ts, node, output, power, reason`
/// (the layout of the `state_changes` table, here and in the PostgreSQL engine's spool).
pub(crate) fn state_change(row: &Row<'_>) -> rusqlite::Result<StateChange> {
    Ok(StateChange {
        at_ms: row.get(0)?,
        node: row.get(1)?,
        output: row.get(2)?,
        power: row.get(3)?,
        reason: row.get(4)?,
    })
}

/// State changes at or after `from_ms`, oldest first (insertion order within a millisecond).
pub(crate) fn state_changes_since(
    connection: &Connection,
    from_ms: i64,
) -> Result<Vec<StateChange>, StoreError> {
    connection
        .prepare_cached(
            "SELECT ts, node, output, power, reason FROM state_changes \
             WHERE ts >= ?1 ORDER BY ts, id",
        )
        .and_then(|mut select| select.query_map([from_ms], state_change)?.collect())
        .map_err(database_error("reading state changes"))
}

/// The newest `received_at` of `node` in `reports` (which the writer prunes after two days).
pub(crate) fn last_report_at(
    connection: &Connection,
    node: &str,
) -> Result<Option<i64>, StoreError> {
    connection
        .prepare_cached("SELECT max(received_at) FROM reports WHERE node = ?1")
        .and_then(|mut select| select.query_row([node], |row| row.get(0)))
        .map_err(database_error("reading the last report time"))
}

/// A `usize` limit as SQLite's signed LIMIT (saturating: no answer is that long anyway).
fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// The raw readings of one node (`?2` NULL: every sensor) in `[?3, ?4)`, oldest first.
const EXPORT: &str = "SELECT r.ts, s.sensor, r.value FROM series s \
     JOIN readings r ON r.series_id = s.id \
     WHERE s.node = ?1 AND (?2 IS NULL OR s.sensor = ?2) AND r.ts >= ?3 AND r.ts < ?4 \
     ORDER BY r.ts, s.sensor, r.rowid";

/// Steps a cursor over [`EXPORT`] and sends its rows in chunks from this blocking thread.
pub(crate) fn export(
    connection: &Connection,
    query: &ExportQuery,
    sink: &tokio::sync::mpsc::Sender<Vec<ExportRow>>,
) -> Result<u64, StoreError> {
    let failed =
        |error: rusqlite::Error| StoreError::Database(format!("exporting readings: {error}"));
    let mut select = connection.prepare(EXPORT).map_err(&failed)?;
    let mut rows = select
        .query(params![
            query.node,
            query.sensor,
            query.from_ms,
            query.to_ms
        ])
        .map_err(&failed)?;
    let mut sent = 0u64;
    let mut chunk = Vec::with_capacity(EXPORT_CHUNK_ROWS);
    while let Some(row) = rows.next().map_err(&failed)? {
        chunk.push(ExportRow {
            at_ms: row.get(0).map_err(&failed)?,
            sensor: row.get(1).map_err(&failed)?,
            value: row.get(2).map_err(&failed)?,
        });
        if chunk.len() == EXPORT_CHUNK_ROWS {
            sent += chunk.len() as u64;
            if sink.blocking_send(std::mem::take(&mut chunk)).is_err() {
                return Ok(sent);
            }
        }
    }
    if !chunk.is_empty() {
        sent += chunk.len() as u64;
        // A receiver gone at the end loses nothing it still wanted.
        let _ = sink.blocking_send(chunk);
    }
    Ok(sent)
}
