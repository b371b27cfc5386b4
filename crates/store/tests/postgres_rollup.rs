//! The PostgreSQL hourly rollup behind its watermark (`meta.rollup_before`, see
//! `src/postgres/rollup_watermark.rs`), against the real server: the rollup holds exactly the
//! raw readings before the watermark while writes on lanes and roll-ups interleave, late
//! readings are added to hours already rolled up, raw readings not rolled up yet outlive
//! `keep_raw`, and the upgrade migration places the watermark of an existing database.
//!
//! Skipped with one line when the server cannot be reached, unless
//! `PLANTKEEPER_REQUIRE_SERVICES=1`.

mod postgres_support;

use std::sync::Arc;

use plantkeeper_store::postgres::{PostgresOptions, PostgresStore};
use plantkeeper_store::testsuite::{raw_points, reading, report, reports_batch};
use plantkeeper_store::{HOUR_MS, Point, ReadingsQuery, Retention, Store};
use postgres_support::{TestSchema, admin_client, open_in, open_with};
use tokio_postgres::Client;

const MINUTE_MS: i64 = 60_000;

/// One rollup row or raw aggregate: `(series_id, hour, samples, sum, min, max)`.
type HourRow = (i64, i64, i64, f64, f64, f64);

/// The stored watermark, if any.
async fn watermark(admin: &Client, schema: &TestSchema) -> Option<i64> {
    admin
        .query_opt(
            &format!(
                "SELECT value FROM {}.meta WHERE key = 'rollup_before'",
                schema.name()
            ),
            &[],
        )
        .await
        .expect("reading the watermark")
        .map(|row| row.get(0))
}

/// Every rollup row, in key order.
async fn rollup_rows(admin: &Client, schema: &TestSchema) -> Vec<HourRow> {
    let sql = format!(
        "SELECT series_id, hour, samples, sum_value, min_value, max_value \
         FROM {}.readings_rollup ORDER BY 1, 2",
        schema.name()
    );
    rows_of(admin, &sql, &[]).await
}

/// The raw readings before `before` aggregated per series and hour, in key order.
async fn raw_hours_before(admin: &Client, schema: &TestSchema, before: i64) -> Vec<HourRow> {
    let sql = format!(
        "SELECT series_id, ts - ((ts % 3600000) + 3600000) % 3600000 AS hour, count(*), \
             sum(value), min(value), max(value) \
         FROM {}.readings WHERE ts < $1 GROUP BY 1, 2 ORDER BY 1, 2",
        schema.name()
    );
    rows_of(admin, &sql, &[&before]).await
}

async fn rows_of(
    admin: &Client,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Vec<HourRow> {
    admin
        .query(sql, params)
        .await
        .expect("reading hour rows")
        .iter()
        .map(|row| {
            (
                row.get(0),
                row.get(1),
                row.get(2),
                row.get(3),
                row.get(4),
                row.get(5),
            )
        })
        .collect()
}

fn hourly(node: &str, sensor: &str, from_ms: i64, to_ms: i64, step_ms: i64) -> ReadingsQuery {
    ReadingsQuery {
        node: node.to_owned(),
        sensor: sensor.to_owned(),
        from_ms,
        to_ms,
        step_ms: Some(step_ms),
        limit: 10_000,
    }
}

/// Asserts two answers have the same buckets with values equal within float rounding.
fn assert_same_points(rolled: &[Point], raw: &[Point], what: &str) {
    assert_eq!(
        rolled.iter().map(|point| point.0).collect::<Vec<_>>(),
        raw.iter().map(|point| point.0).collect::<Vec<_>>(),
        "{what}: the same buckets"
    );
    for (rolled, raw) in rolled.iter().zip(raw) {
        assert!(
            (rolled.1 - raw.1).abs() < 1e-9,
            "{what}: bucket {} is {} from the rollup, {} raw",
            rolled.0,
            rolled.1,
            raw.1
        );
    }
}

/// Eight nodes write five hours of readings at once (on the writer's lanes), their receive
/// times crossing hour after hour, so roll-ups run between their groups; then a backlog
/// arrives for hours already rolled up. The rollup then holds exactly the raw readings before
/// the watermark (same samples, sums, minima and maxima; no row at or after it), and hourly
/// charts from the rollup equal the charts computed from raw readings.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rollup_holds_exactly_the_raw_readings_before_the_watermark() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let store = Arc::new(open_in(&schema).await);
    let writers: Vec<_> = (0..8u32)
        .map(|writer| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let node = format!("node-{writer}");
                for seq in 0..300u32 {
                    let at = i64::from(seq) * MINUTE_MS;
                    let value = f64::from((seq + writer) % 7);
                    let readings = vec![reading("t", at, value), reading("h", at, -value)];
                    store
                        .write(reports_batch(vec![report(
                            &node,
                            Some(1),
                            seq,
                            at + 500,
                            readings,
                        )]))
                        .await
                        .expect("a write");
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("a writer task");
    }
    let admin = admin_client().await;
    let rolled_up_before = watermark(&admin, &schema).await;
    assert_eq!(
        rolled_up_before,
        Some(4 * HOUR_MS),
        "the newest receive time is 299 min: the hours before 4 h are rolled up"
    );
    // A backlog for hours already rolled up: a new boot of node-0 and a node first seen now.
    let backlog: Vec<_> = (0..30u32)
        .map(|seq| {
            let at = HOUR_MS + i64::from(seq) * 2 * MINUTE_MS + 7;
            report(
                "node-0",
                Some(2),
                seq,
                300 * MINUTE_MS,
                vec![reading("t", at, 100.0)],
            )
        })
        .chain((0..10u32).map(|seq| {
            let at = 2 * HOUR_MS + i64::from(seq) * MINUTE_MS;
            report(
                "late",
                Some(1),
                seq,
                300 * MINUTE_MS,
                vec![reading("t", at, 3.5)],
            )
        }))
        .collect();
    store
        .write(reports_batch(backlog))
        .await
        .expect("the backlog");
    store.close().await.expect("closing");

    let before = rolled_up_before.unwrap_or_default();
    assert_eq!(
        watermark(&admin, &schema).await,
        rolled_up_before,
        "the backlog did not move the watermark"
    );
    let rollup = rollup_rows(&admin, &schema).await;
    assert_eq!(
        rollup,
        raw_hours_before(&admin, &schema, before).await,
        "the rollup is exactly the raw readings before the watermark"
    );
    assert_eq!(
        rollup.len(),
        8 * 2 * 4 + 1,
        "4 hours of 16 series, and the hour of the node first seen in the backlog"
    );

    let store = open_in(&schema).await;
    for (node, sensor) in [("node-0", "t"), ("node-3", "h"), ("late", "t")] {
        for (from, to, step) in [
            (0, 5 * HOUR_MS, HOUR_MS),
            (30 * MINUTE_MS, 4 * HOUR_MS + 30 * MINUTE_MS, 2 * HOUR_MS),
            (HOUR_MS + 30 * MINUTE_MS, 5 * HOUR_MS, HOUR_MS),
        ] {
            let query = hourly(node, sensor, from, to, step);
            let rolled = store.readings(query.clone()).await.expect("rollup query");
            let raw = store
                .readings_without_rollup(query)
                .await
                .expect("raw query");
            assert!(!raw.is_empty(), "{node}/{sensor} has readings");
            assert_same_points(&rolled, &raw, &format!("{node}/{sensor} {from}..{to}"));
        }
    }
    store.close().await.expect("closing");
}

/// With `keep_raw` shorter than the time an hour waits for its roll-up, the writer keeps the
/// raw readings not rolled up yet: every hour of a ten-hour chart keeps its exact average,
/// the expired ones from the rollup and the last one from raw readings. Also: a store opened
/// again continues from the stored watermark, adding a late reading to its hour.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readings_not_rolled_up_yet_outlive_keep_raw() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let options = PostgresOptions {
        retention: Retention {
            keep_raw_ms: MINUTE_MS,
            keep_hourly_ms: 1000 * HOUR_MS,
        },
        ..PostgresOptions::default()
    };
    let store: PostgresStore = open_with(&schema, options.clone()).await;
    // One value per minute for ten hours; hour h holds minutes 60h..60h+59, value = minute.
    for seq in 0..600u32 {
        let at = i64::from(seq) * MINUTE_MS;
        store
            .write(reports_batch(vec![report(
                "bed",
                Some(1),
                seq,
                at,
                vec![reading("t", at, f64::from(seq))],
            )]))
            .await
            .expect("a write");
    }
    let expected: Vec<Point> = (0..10)
        .map(|hour| (hour * HOUR_MS, (hour * 60) as f64 + 29.5))
        .collect();
    let chart = store
        .readings(hourly("bed", "t", 0, 10 * HOUR_MS, HOUR_MS))
        .await
        .expect("the chart");
    assert_eq!(chart, expected, "every hour keeps its exact average");
    let admin = admin_client().await;
    assert_eq!(watermark(&admin, &schema).await, Some(9 * HOUR_MS));
    let last_hour = raw_points(&store, "bed", "t", 9 * HOUR_MS, 10 * HOUR_MS).await;
    assert_eq!(
        last_hour.len(),
        60,
        "the hour after the watermark is kept raw although keep_raw is one minute"
    );
    let oldest = raw_points(&store, "bed", "t", 0, HOUR_MS).await;
    assert!(
        oldest.is_empty(),
        "rolled-up raw readings older than keep_raw were expired ({} left)",
        oldest.len()
    );
    store.close().await.expect("closing");

    let store = open_with(&schema, options).await;
    store
        .write(reports_batch(vec![report(
            "bed",
            Some(2),
            0,
            600 * MINUTE_MS,
            vec![reading("t", 30 * MINUTE_MS, 89.5)],
        )]))
        .await
        .expect("a late reading");
    let first_hour = store
        .readings(hourly("bed", "t", 0, HOUR_MS, HOUR_MS))
        .await
        .expect("the first hour");
    assert_eq!(
        first_hour,
        vec![(0, (29.5 * 60.0 + 89.5) / 61.0)],
        "the late reading was added to its rolled-up hour"
    );
    store.close().await.expect("closing");
}

/// The upgrade migration (V5): a database whose rollup was kept complete by the earlier
/// writer gets its watermark right after its newest rollup hour; a new database gets none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upgrade_migration_places_the_watermark_after_the_newest_rollup_hour() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    open_in(&schema).await.close().await.expect("closing");
    let admin = admin_client().await;
    assert_eq!(
        watermark(&admin, &schema).await,
        None,
        "a new database has nothing rolled up"
    );
    // As the earlier writer left it: rollup rows for every stored hour, and V5 not applied.
    admin
        .batch_execute(&format!(
            "SET search_path = {schema}; \
             INSERT INTO readings_rollup (series_id, hour, samples, sum_value, min_value, max_value) \
             VALUES (1, 10 * 3600000, 1, 1, 1, 1), (1, 12 * 3600000, 2, 4, 1, 3), \
                    (2, 11 * 3600000, 1, 5, 5, 5); \
             DELETE FROM refinery_schema_history WHERE version = 5; \
             RESET search_path;",
            schema = schema.name()
        ))
        .await
        .expect("setting up a database before V5");
    open_in(&schema).await.close().await.expect("closing");
    assert_eq!(
        watermark(&admin, &schema).await,
        Some(13 * HOUR_MS),
        "the watermark follows the newest rollup hour"
    );
}
