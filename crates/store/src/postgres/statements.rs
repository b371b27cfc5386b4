//! The writer's statements, prepared once per connection (each would otherwise cost a round
//! trip to prepare at every use). Every multi-row insert passes one array per column and lets
//! `unnest` turn them into rows: one statement and one round trip whatever the row count
//! (measured faster than multi-row `VALUES` and than binary `COPY` from 4 to 4000 rows, see
//! docs/BENCHMARKS.md).

use tokio_postgres::{Client, Statement};

use super::database_error;
use crate::StoreError;

/// The end of an insert into `readings_rollup` that adds its rows to those already there:
/// samples and sums added, minima and maxima widened.
macro_rules! add_to_rollup_row {
    () => {
        "ON CONFLICT (series_id, hour) DO UPDATE SET \
             samples = readings_rollup.samples + excluded.samples, \
             sum_value = readings_rollup.sum_value + excluded.sum_value, \
             min_value = LEAST(readings_rollup.min_value, excluded.min_value), \
             max_value = GREATEST(readings_rollup.max_value, excluded.max_value)"
    };
}

/// The prepared statements of the writer's connection.
pub(crate) struct Statements {
    /// Reports `($1..$4: node, boot, seq, received_at)` that are new, and the readings
    /// `($5..$10: report node, boot, seq, series_id, ts, value)` of those inserted (or without
    /// boot), in one statement; returns the inserted reports' identities.
    pub(crate) insert_reports_and_readings: Statement,
    /// Moves the receive time of already stored reports to a retry's, if later.
    pub(crate) touch_reports: Statement,
    /// Creates missing series `(node, sensor)`.
    pub(crate) insert_series: Statement,
    /// Ids of the given series `(node, sensor)`.
    pub(crate) select_series: Statement,
    /// State changes `(ts, node, output, power, reason)`, ids in array order.
    pub(crate) insert_state_changes: Statement,
    /// Events `(ts, kind, node, output, message)`, ids in array order.
    pub(crate) insert_events: Statement,
    /// Adds one to the epoch (1 for a new database) and returns it.
    pub(crate) next_epoch: Statement,
    /// Adds one to the heartbeat counter.
    pub(crate) beat_heart: Statement,
    /// Deletes at most `$2` reports received before `$1`.
    pub(crate) prune_reports: Statement,
    /// Records spooled batch `$2` of spool `$1` as replayed at `$3`; 0 rows when a batch of
    /// that spool at least as new was replayed already (so this one is stored).
    pub(crate) mark_drained: Statement,
    /// Adds `(series_id, hour, samples, sum, min, max)` rows to the hourly rollup.
    pub(crate) upsert_rollup: Statement,
    /// Adds the raw readings of `[$1, $2)` to the hourly rollup, found series by series through
    /// the `(series_id, ts)` index (see `rollup_watermark`).
    pub(crate) roll_up_hours: Statement,
    /// Sets the rollup watermark to `$1`.
    pub(crate) set_rollup_before: Statement,
    /// Deletes about `$2` raw readings older than `$1`, found series by series through the
    /// `(series_id, ts)` index. Rows are named by `(series_id, ts)`, not `ctid`, which is not
    /// unique across the chunks of a TimescaleDB hypertable (every row so named is expired).
    pub(crate) expire_readings: Statement,
    /// Deletes at most `$2` hourly rollup rows whose hour starts before `$1`.
    pub(crate) expire_rollup: Statement,
}

impl Statements {
    /// Prepares every statement on `client`.
    pub(crate) async fn prepare(client: &Client) -> Result<Statements, StoreError> {
        let prepare = |sql: &'static str| async move {
            client
                .prepare(sql)
                .await
                .map_err(database_error("preparing the writer's statements"))
        };
        Ok(Statements {
            insert_reports_and_readings: prepare(
                "WITH report AS ( \
                     INSERT INTO reports (node, boot, seq, received_at) \
                     SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[]) \
                     ON CONFLICT (node, boot, seq) DO NOTHING \
                     RETURNING node, boot, seq), \
                 reading AS ( \
                     INSERT INTO readings (series_id, ts, value) \
                     SELECT r.series_id, r.ts, r.value \
                     FROM unnest($5::text[], $6::bigint[], $7::bigint[], \
                         $8::bigint[], $9::bigint[], $10::float8[]) \
                         AS r (node, boot, seq, series_id, ts, value) \
                     WHERE r.boot IS NULL OR EXISTS (SELECT FROM report \
                         WHERE report.node = r.node AND report.boot = r.boot \
                             AND report.seq = r.seq)) \
                 SELECT node, boot, seq FROM report",
            )
            .await?,
            touch_reports: prepare(
                "UPDATE reports r SET received_at = GREATEST(r.received_at, u.received_at) \
                 FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[]) \
                     AS u (node, boot, seq, received_at) \
                 WHERE r.node = u.node AND r.boot = u.boot AND r.seq = u.seq",
            )
            .await?,
            insert_series: prepare(
                "INSERT INTO series (node, sensor) SELECT * FROM unnest($1::text[], $2::text[]) \
                 ON CONFLICT (node, sensor) DO NOTHING",
            )
            .await?,
            select_series: prepare(
                "SELECT s.id, s.node, s.sensor FROM series s \
                 JOIN unnest($1::text[], $2::text[]) AS wanted (node, sensor) \
                     ON s.node = wanted.node AND s.sensor = wanted.sensor",
            )
            .await?,
            insert_state_changes: prepare(
                "INSERT INTO state_changes (ts, node, output, power, reason) \
                 SELECT ts, node, output, power, reason \
                 FROM unnest($1::bigint[], $2::text[], $3::text[], $4::boolean[], $5::text[]) \
                     WITH ORDINALITY AS change (ts, node, output, power, reason, n) \
                 ORDER BY n",
            )
            .await?,
            insert_events: prepare(
                "INSERT INTO events (ts, kind, node, output, message) \
                 SELECT ts, kind, node, output, message \
                 FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[]) \
                     WITH ORDINALITY AS event (ts, kind, node, output, message, n) \
                 ORDER BY n",
            )
            .await?,
            next_epoch: prepare(
                "INSERT INTO meta (key, value) VALUES ('epoch', 1) \
                 ON CONFLICT (key) DO UPDATE SET value = meta.value + 1 RETURNING value",
            )
            .await?,
            beat_heart: prepare(
                "INSERT INTO meta (key, value) VALUES ('heartbeat', 1) \
                 ON CONFLICT (key) DO UPDATE SET value = meta.value + 1",
            )
            .await?,
            prune_reports: prepare(
                "DELETE FROM reports WHERE ctid IN \
                 (SELECT ctid FROM reports WHERE received_at < $1 LIMIT $2)",
            )
            .await?,
            mark_drained: prepare(
                "INSERT INTO spool_drained (spool, last_batch, drained_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (spool) DO UPDATE \
                 SET last_batch = EXCLUDED.last_batch, drained_at = EXCLUDED.drained_at \
                 WHERE spool_drained.last_batch < EXCLUDED.last_batch",
            )
            .await?,
            upsert_rollup: prepare(concat!(
                "INSERT INTO readings_rollup \
                     (series_id, hour, samples, sum_value, min_value, max_value) \
                 SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], \
                     $4::float8[], $5::float8[], $6::float8[]) \
                 ",
                add_to_rollup_row!()
            ))
            .await?,
            roll_up_hours: prepare(concat!(
                "INSERT INTO readings_rollup \
                     (series_id, hour, samples, sum_value, min_value, max_value) \
                 SELECT r.series_id, r.ts - ((r.ts % 3600000) + 3600000) % 3600000 AS hour, \
                     count(*), sum(r.value), min(r.value), max(r.value) \
                 FROM series s CROSS JOIN LATERAL (SELECT series_id, ts, value FROM readings \
                     WHERE series_id = s.id AND ts >= $1 AND ts < $2) r \
                 GROUP BY 1, 2 \
                 ",
                add_to_rollup_row!()
            ))
            .await?,
            set_rollup_before: prepare(
                "INSERT INTO meta (key, value) VALUES ('rollup_before', $1) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .await?,
            expire_readings: prepare(
                "WITH old AS (SELECT r.series_id, r.ts FROM series s CROSS JOIN LATERAL \
                     (SELECT series_id, ts FROM readings \
                      WHERE series_id = s.id AND ts < $1 LIMIT $2) r LIMIT $2) \
                 DELETE FROM readings d USING old \
                 WHERE d.series_id = old.series_id AND d.ts = old.ts",
            )
            .await?,
            expire_rollup: prepare(
                "DELETE FROM readings_rollup WHERE (series_id, hour) IN \
                 (SELECT h.series_id, h.hour FROM series s CROSS JOIN LATERAL \
                     (SELECT series_id, hour FROM readings_rollup \
                      WHERE series_id = s.id AND hour < $1 LIMIT $2) h LIMIT $2)",
            )
            .await?,
        })
    }
}
