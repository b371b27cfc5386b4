//! The hourly rollup's payoff, for docs/BENCHMARKS.md: one sensor's readings over 30 days with
//! a 1 h step, answered from the rollup (`Store::readings`) and, as the baseline in the same
//! run, from the raw readings (`readings_without_rollup`), on a garden of `NODES` nodes × 4
//! sensors reporting every 10 s for 30 days (259 200 readings per sensor; 20 nodes: 20.7 M
//! rows). The data is bulk-loaded with SQL in time order (as reports arrive), the rollup
//! computed from it with the same statement as the migrations' backfill (PostgreSQL: and its
//! watermark set after the last hour, as the writer's roll-up leaves it); the queries go
//! through the store. Each query runs once to warm the cache, then `REPEATS` times: the
//! median is printed, with the ratio raw / rollup and the largest difference of the answers.
//!
//! ```text
//! cargo bench -p plantkeeper-store --bench readings_rollup [-- sqlite|postgres ... [NODES]]
//! ```
//! PostgreSQL: `PLANTKEEPER_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`), schema `pk_bench_rollup`, dropped at the end.

use std::time::{Duration, Instant};

use plantkeeper_store::postgres::{PostgresOptions, PostgresStore};
use plantkeeper_store::sqlite::{SqliteOptions, SqliteStore};
use plantkeeper_store::{HOUR_MS, Point, ReadingsQuery, Store};
use tokio_postgres::NoTls;

const SENSORS: i64 = 4;
const DAYS: i64 = 30;
const EVERY_MS: i64 = 10_000;
const REPEATS: usize = 15;
/// 2026-05-01T00:00:00Z.
const START_MS: i64 = 1_777_593_600_000;
const SCHEMA: &str = "pk_bench_rollup";

fn points_per_series() -> i64 {
    DAYS * 24 * HOUR_MS / EVERY_MS
}

/// The query of the bench: the third sensor of the eighth node (or of the last, if fewer).
fn query(nodes: i64) -> ReadingsQuery {
    ReadingsQuery {
        node: format!("node-{:02}", nodes.min(8) - 1),
        sensor: "sensor_2".to_owned(),
        from_ms: START_MS,
        to_ms: START_MS + DAYS * 24 * HOUR_MS,
        step_ms: Some(HOUR_MS),
        limit: 10_000,
    }
}

/// The median time of `REPEATS` runs of `run` after one warm-up run, and the warm-up's answer.
async fn timed<F, Fut>(mut run: F) -> (Duration, Vec<Point>)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Vec<Point>>,
{
    let answer = run().await;
    let mut times = Vec::with_capacity(REPEATS);
    for _ in 0..REPEATS {
        let started = Instant::now();
        std::hint::black_box(run().await);
        times.push(started.elapsed());
    }
    times.sort_unstable();
    (times[REPEATS / 2], answer)
}

fn report(
    engine: &str,
    nodes: i64,
    load: Duration,
    raw: (Duration, Vec<Point>),
    rolled: (Duration, Vec<Point>),
) {
    assert_eq!(raw.1.len(), rolled.1.len(), "both answers have every hour");
    let largest_difference = raw
        .1
        .iter()
        .zip(&rolled.1)
        .map(|(a, b)| {
            assert_eq!(a.0, b.0, "same buckets");
            (a.1 - b.1).abs()
        })
        .fold(0.0, f64::max);
    let ms = |duration: Duration| duration.as_secs_f64() * 1000.0;
    println!(
        "{engine:<10} {:>6} {:>12} {:>9.1} {:>12.2} {:>14.3} {:>9.0}x {:>10.1e}",
        nodes * SENSORS,
        nodes * SENSORS * points_per_series(),
        load.as_secs_f64(),
        ms(raw.0),
        ms(rolled.0),
        raw.0.as_secs_f64() / rolled.0.as_secs_f64(),
        largest_difference
    );
}

async fn sqlite(nodes: i64) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("bench.db");
    let store = SqliteStore::open(&path, SqliteOptions::default())
        .await
        .expect("creating");
    store.close().await.expect("closing");
    let started = Instant::now();
    let mut db = rusqlite::Connection::open(&path).expect("opening the file");
    let load = db.transaction().expect("transaction");
    load.execute_batch(&format!(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < {nodes}), \
             k(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM k WHERE j + 1 < {SENSORS}) \
         INSERT INTO series (id, node, sensor) \
         SELECT i * {SENSORS} + j + 1, printf('node-%02d', i), 'sensor_' || j FROM n, k; \
         WITH RECURSIVE t(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM t WHERE i + 1 < {points}) \
         INSERT INTO readings (series_id, ts, value) \
         SELECT s.id, {START_MS} + t.i * {EVERY_MS}, 20.0 + (t.i % 360) * 0.05 + s.id * 0.01 \
         FROM t CROSS JOIN series s; \
         INSERT INTO readings_rollup (series_id, hour, samples, sum_value, min_value, max_value) \
         SELECT series_id, ts - ((ts % 3600000) + 3600000) % 3600000 AS hour, \
                count(*), sum(value), min(value), max(value) \
         FROM readings GROUP BY series_id, hour;",
        points = points_per_series()
    ))
    .expect("loading the garden");
    load.commit().expect("committing");
    drop(db);
    let loaded = started.elapsed();
    let store = SqliteStore::open(&path, SqliteOptions::default())
        .await
        .expect("opening");
    let raw = timed(|| async {
        store
            .readings_without_rollup(query(nodes))
            .await
            .expect("raw query")
    })
    .await;
    let rolled =
        timed(|| async { store.readings(query(nodes)).await.expect("rollup query") }).await;
    report("sqlite", nodes, loaded, raw, rolled);
    store.close().await.expect("closing");
}

async fn postgres(nodes: i64) {
    let url = std::env::var("PLANTKEEPER_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let (client, connection) = tokio_postgres::connect(&url, NoTls)
        .await
        .expect("connecting");
    tokio::spawn(connection);
    client
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        .await
        .expect("dropping an old bench schema");
    let options = PostgresOptions {
        schema: Some(SCHEMA.to_owned()),
        ..PostgresOptions::default()
    };
    let store = PostgresStore::open(&url, options.clone())
        .await
        .expect("creating");
    store.close().await.expect("closing");
    let started = Instant::now();
    client
        .batch_execute(&format!(
            "SET search_path = {SCHEMA}; \
             INSERT INTO series (node, sensor) \
             SELECT format('node-%s', lpad(i::text, 2, '0')), 'sensor_' || j \
             FROM generate_series(0, {nodes} - 1) i, generate_series(0, {SENSORS} - 1) j \
             ORDER BY i, j; \
             INSERT INTO readings (series_id, ts, value) \
             SELECT s.id, {START_MS} + t * {EVERY_MS}, 20.0 + (t % 360) * 0.05 + s.id * 0.01 \
             FROM generate_series(0::bigint, {points} - 1) t CROSS JOIN series s ORDER BY t, s.id; \
             INSERT INTO readings_rollup (series_id, hour, samples, sum_value, min_value, max_value) \
             SELECT series_id, ts - ((ts % 3600000) + 3600000) % 3600000, \
                    count(*), sum(value), min(value), max(value) \
             FROM readings GROUP BY 1, 2; \
             INSERT INTO meta (key, value) \
             SELECT 'rollup_before', max(hour) + 3600000 FROM readings_rollup;",
            points = points_per_series()
        ))
        .await
        .expect("loading the garden");
    // One statement each: VACUUM cannot run in the implicit transaction of a batch.
    for table in ["readings", "readings_rollup", "series"] {
        client
            .batch_execute(&format!("VACUUM ANALYZE {table}"))
            .await
            .expect("vacuuming");
    }
    let loaded = started.elapsed();
    let store = PostgresStore::open(&url, options).await.expect("opening");
    let raw = timed(|| async {
        store
            .readings_without_rollup(query(nodes))
            .await
            .expect("raw query")
    })
    .await;
    let rolled =
        timed(|| async { store.readings(query(nodes)).await.expect("rollup query") }).await;
    report("postgres", nodes, loaded, raw, rolled);
    store.close().await.expect("closing");
    client
        .batch_execute(&format!("DROP SCHEMA {SCHEMA} CASCADE"))
        .await
        .expect("dropping the bench schema");
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| arg != "--bench")
        .collect();
    let nodes = args
        .iter()
        .find_map(|arg| arg.parse::<i64>().ok())
        .unwrap_or(20);
    let mut engines: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|arg| matches!(*arg, "sqlite" | "postgres"))
        .collect();
    if engines.is_empty() {
        engines = vec!["sqlite", "postgres"];
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("building the tokio runtime");
    println!(
        "one sensor, {DAYS} days of {EVERY_MS} ms readings ({} rows), step 1 h, median of {REPEATS}",
        points_per_series()
    );
    println!(
        "{:<10} {:>6} {:>12} {:>9} {:>12} {:>14} {:>10} {:>10}",
        "engine", "series", "rows", "load s", "raw ms", "rollup ms", "raw/rollup", "max diff"
    );
    runtime.block_on(async {
        for engine in engines {
            match engine {
                "sqlite" => sqlite(nodes).await,
                _ => postgres(nodes).await,
            }
        }
    });
}
