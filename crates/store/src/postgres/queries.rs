//! The read queries, run on a connection of the read pool. They are the SQLite engine's
//! queries in PostgreSQL's dialect, so both engines answer identically.

use deadpool_postgres::Client;
use tokio_postgres::Row;

use super::database_error;
use crate::rollup::{EVERY_HOUR, PartialBucket, Plan, expired_hours, merge, with_expired_hours};
use crate::{
    EXPORT_CHUNK_ROWS, Event, EventRow, EventsQuery, ExportQuery, ExportRow, Point, ReadingsQuery,
    StateChange, StoreError,
};

/// Raw points of one series in `[from, to)`, oldest first.
const RAW_READINGS: &str = "SELECT ts, value FROM readings \
     WHERE series_id = (SELECT id FROM series WHERE node = $1 AND sensor = $2) \
         AND ts >= $3 AND ts < $4 \
     ORDER BY ts LIMIT $5";

/// One averaged point per `step`-aligned bucket, labelled with the bucket's start: floor
/// division, written as in SQLite (`%` keeps the sign of `ts` in both), so `-15` with step 10
/// falls in the bucket starting at `-20`.
const BUCKETED_READINGS: &str = "SELECT \
         CASE WHEN ts % $5 < 0 THEN ts - ts % $5 - $5 ELSE ts - ts % $5 END AS bucket, \
         avg(value) \
     FROM readings \
     WHERE series_id = (SELECT id FROM series WHERE node = $1 AND sensor = $2) \
         AND ts >= $3 AND ts < $4 \
     GROUP BY bucket ORDER BY bucket LIMIT $6";

/// State changes (`source` 0) and events (`source` 1) in `[from, to)`, newest first; at the
/// same millisecond, state changes first, then the later-inserted row. `$4` NULL means every
/// node.
const EVENTS: &str = "SELECT ts, node, output, power, reason, NULL::text AS kind, 0 AS source, id \
         FROM state_changes WHERE ts >= $1 AND ts < $2 AND ($4::text IS NULL OR node = $4) \
     UNION ALL \
     SELECT ts, node, output, NULL::boolean, message, kind, 1 AS source, id \
         FROM events WHERE ts >= $1 AND ts < $2 AND ($4::text IS NULL OR node = $4) \
     ORDER BY ts DESC, source, id DESC LIMIT $3";

/// Readings of `query`'s series; an unknown node or sensor has none.
///
/// # Errors
/// [`StoreError::InvalidQuery`] for a `step_ms` that is not positive.
/// With `use_rollup`, a whole-hour step is answered from the hourly rollup ([`Plan`]), and
/// another step over hours whose raw readings expired gets those hours' averages
/// ([`expired_hours`]).
pub(crate) async fn readings(
    client: &Client,
    query: &ReadingsQuery,
    use_rollup: bool,
) -> Result<Vec<Point>, StoreError> {
    if let Some(step) = query.step_ms.filter(|step| *step <= 0) {
        return Err(StoreError::InvalidQuery(format!(
            "step must be positive, got {step} ms"
        )));
    }
    if query.limit == 0 || query.from_ms >= query.to_ms {
        return Ok(Vec::new());
    }
    if use_rollup && Plan::of(query, EVERY_HOUR).is_some() {
        let lookup = client
            .prepare_cached(SERIES_AND_WATERMARK)
            .await
            .map_err(database_error("looking up a series"))?;
        let Some(row) = client
            .query_opt(&lookup, &[&query.node, &query.sensor])
            .await
            .map_err(database_error("looking up a series"))?
        else {
            return Ok(Vec::new());
        };
        let rolled_up_before: Option<i64> = row.get(1);
        if let Some(plan) = Plan::of(query, rolled_up_before.unwrap_or(i64::MIN)) {
            return rollup_readings(client, row.get(0), query, &plan).await;
        }
    }
    let limit = sql_limit(query.limit);
    let common = (&query.node, &query.sensor, &query.from_ms, &query.to_ms);
    let rows = match query.step_ms {
        None => {
            let statement = client.prepare_cached(RAW_READINGS).await;
            match statement {
                Ok(statement) => {
                    client
                        .query(
                            &statement,
                            &[common.0, common.1, common.2, common.3, &limit],
                        )
                        .await
                }
                Err(error) => Err(error),
            }
        }
        Some(step) => {
            let statement = client.prepare_cached(BUCKETED_READINGS).await;
            match statement {
                Ok(statement) => {
                    client
                        .query(
                            &statement,
                            &[common.0, common.1, common.2, common.3, &step, &limit],
                        )
                        .await
                }
                Err(error) => Err(error),
            }
        }
    }
    .map_err(database_error("reading readings"))?;
    let points: Vec<Point> = rows.iter().map(|row| (row.get(0), row.get(1))).collect();
    let expired = expired_hours(
        query.from_ms,
        query.to_ms,
        points.first().map(|point| point.0),
    )
    .filter(|_| use_rollup && query.step_ms.is_some());
    let Some((from, to)) = expired else {
        return Ok(points);
    };
    let statement = client
        .prepare_cached(ROLLUP_HOURS)
        .await
        .map_err(database_error("reading the hourly rollup"))?;
    let hourly = client
        .query(
            &statement,
            &[&query.node, &query.sensor, &from, &to, &limit],
        )
        .await
        .map_err(database_error("reading the hourly rollup"))?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    Ok(with_expired_hours(hourly, points, query.limit))
}

/// The average of each rollup hour starting in `[$3, $4)`, oldest first.
const ROLLUP_HOURS: &str = "SELECT hour, sum_value / samples FROM readings_rollup \
     WHERE series_id = (SELECT id FROM series WHERE node = $1 AND sensor = $2) \
         AND hour >= $3 AND hour < $4 AND samples > 0 \
     ORDER BY hour LIMIT $5";

/// Sums and counts per `step` bucket of the rollup's whole hours in `[$2, $3)`, bucketed with
/// `date_bin` (origin the Unix epoch; `to_timestamp` of a whole hour is exact).
const ROLLUP_BUCKETS: &str = "SELECT \
         (extract(epoch FROM date_bin($4::bigint::float8 * interval '1 millisecond', \
             to_timestamp(hour / 1000.0), timestamptz 'epoch')) * 1000)::bigint AS bucket, \
         sum(sum_value), sum(samples)::bigint \
     FROM readings_rollup WHERE series_id = $1 AND hour >= $2 AND hour < $3 \
     GROUP BY bucket ORDER BY bucket LIMIT $5";

/// Sums and counts per `step` bucket of raw readings in `[$2, $3)` (the partial end hours).
const RAW_BUCKETS: &str = "SELECT \
         CASE WHEN ts % $4 < 0 THEN ts - ts % $4 - $4 ELSE ts - ts % $4 END AS bucket, \
         sum(value), count(*) \
     FROM readings WHERE series_id = $1 AND ts >= $2 AND ts < $3 \
     GROUP BY bucket ORDER BY bucket LIMIT $5";

/// The id of series `($1, $2)` and the rollup's watermark (NULL: nothing rolled up), read
/// together so that the plan and the rollup rows it reads agree (the watermark only moves
/// forward, and the rows before it are committed with it).
const SERIES_AND_WATERMARK: &str = "SELECT id, \
         (SELECT value FROM meta WHERE key = 'rollup_before') \
     FROM series WHERE node = $1 AND sensor = $2";

/// A whole-hour `step` query of series `series_id` answered from the rollup for the hours
/// rolled up, from raw readings for the others.
async fn rollup_readings(
    client: &Client,
    series_id: i64,
    query: &ReadingsQuery,
    plan: &Plan,
) -> Result<Vec<Point>, StoreError> {
    let limit = sql_limit(query.limit);
    let parts = std::iter::once((ROLLUP_BUCKETS, plan.hourly))
        .chain(plan.raw.iter().map(|range| (RAW_BUCKETS, *range)));
    let mut buckets: Vec<PartialBucket> = Vec::new();
    for (sql, (from, to)) in parts {
        let rows = match client.prepare_cached(sql).await {
            Ok(statement) => {
                client
                    .query(&statement, &[&series_id, &from, &to, &plan.step, &limit])
                    .await
            }
            Err(failure) => Err(failure),
        };
        let rows = rows.map_err(database_error("reading the hourly rollup"))?;
        buckets.extend(rows.iter().map(|row| (row.get(0), row.get(1), row.get(2))));
    }
    Ok(merge(buckets, query.limit))
}

/// State changes and events of `query`, newest first, at most `limit`.
pub(crate) async fn events(
    client: &Client,
    query: &EventsQuery,
) -> Result<Vec<EventRow>, StoreError> {
    if query.limit == 0 || query.from_ms >= query.to_ms {
        return Ok(Vec::new());
    }
    let statement = client
        .prepare_cached(EVENTS)
        .await
        .map_err(database_error("reading events"))?;
    let limit = sql_limit(query.limit);
    let rows = client
        .query(
            &statement,
            &[&query.from_ms, &query.to_ms, &limit, &query.node],
        )
        .await
        .map_err(database_error("reading events"))?;
    rows.iter().map(event_row).collect()
}

/// A row of [`EVENTS`]: `ts, node, output, power, reason|message, kind, source, id`.
fn event_row(row: &Row) -> Result<EventRow, StoreError> {
    let source: i32 = row.get(6);
    if source == 0 {
        let power: Option<bool> = row.get(3);
        Ok(EventRow::StateChange(StateChange {
            at_ms: row.get(0),
            node: row.get(1),
            output: row.get(2),
            power: power.ok_or_else(|| {
                StoreError::Database("a stored state change has no power".to_owned())
            })?,
            reason: row.get(4),
        }))
    } else {
        Ok(EventRow::Event(Event {
            at_ms: row.get(0),
            node: row.get(1),
            output: row.get(2),
            message: row.get(4),
            kind: row.get(5),
        }))
    }
}

/// State changes at or after `from_ms`, oldest first (insertion order within a millisecond).
pub(crate) async fn state_changes_since(
    client: &Client,
    from_ms: i64,
) -> Result<Vec<StateChange>, StoreError> {
    let statement = client
        .prepare_cached(
            "SELECT ts, node, output, power, reason FROM state_changes \
             WHERE ts >= $1 ORDER BY ts, id",
        )
        .await
        .map_err(database_error("reading state changes"))?;
    let rows = client
        .query(&statement, &[&from_ms])
        .await
        .map_err(database_error("reading state changes"))?;
    Ok(rows
        .iter()
        .map(|row| StateChange {
            at_ms: row.get(0),
            node: row.get(1),
            output: row.get(2),
            power: row.get(3),
            reason: row.get(4),
        })
        .collect())
}

/// The newest `received_at` of `node` in `reports` (which the writer prunes after two days).
pub(crate) async fn last_report_at(client: &Client, node: &str) -> Result<Option<i64>, StoreError> {
    let statement = client
        .prepare_cached("SELECT max(received_at) FROM reports WHERE node = $1")
        .await
        .map_err(database_error("reading the last report time"))?;
    let row = client
        .query_one(&statement, &[&node])
        .await
        .map_err(database_error("reading the last report time"))?;
    Ok(row.get(0))
}

/// A `usize` limit as PostgreSQL's BIGINT LIMIT (saturating: no answer is that long anyway).
fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// The raw readings of one node (`$2` NULL: every sensor) in `[$3, $4)`, oldest first.
const EXPORT: &str = "SELECT r.ts, s.sensor, r.value FROM series s \
     JOIN readings r ON r.series_id = s.id \
     WHERE s.node = $1 AND ($2::text IS NULL OR s.sensor = $2) AND r.ts >= $3 AND r.ts < $4 \
     ORDER BY r.ts, s.sensor";

/// Reads [`EXPORT`] through a portal in a read-only transaction, [`EXPORT_CHUNK_ROWS`] rows
/// per round trip, and sends each chunk before fetching the next.
pub(crate) async fn export(
    client: &mut Client,
    query: &ExportQuery,
    sink: &tokio::sync::mpsc::Sender<Vec<ExportRow>>,
) -> Result<u64, StoreError> {
    let failed = |error: tokio_postgres::Error| database_error("exporting readings")(error);
    let transaction = client
        .build_transaction()
        .read_only(true)
        .start()
        .await
        .map_err(failed)?;
    let statement = transaction.prepare(EXPORT).await.map_err(failed)?;
    let portal = transaction
        .bind(
            &statement,
            &[&query.node, &query.sensor, &query.from_ms, &query.to_ms],
        )
        .await
        .map_err(failed)?;
    let chunk_rows = i32::try_from(EXPORT_CHUNK_ROWS).unwrap_or(i32::MAX);
    let mut sent = 0u64;
    loop {
        let rows = transaction
            .query_portal(&portal, chunk_rows)
            .await
            .map_err(failed)?;
        let done = rows.len() < EXPORT_CHUNK_ROWS;
        let chunk: Vec<ExportRow> = rows
            .iter()
            .map(|row| ExportRow {
                at_ms: row.get(0),
                sensor: row.get(1),
                value: row.get(2),
            })
            .collect();
        sent += chunk.len() as u64;
        if !chunk.is_empty() && sink.send(chunk).await.is_err() {
            break;
        }
        if done {
            break;
        }
    }
    // Read-only: ending it either way changes nothing.
    transaction.rollback().await.map_err(failed)?;
    Ok(sent)
}
