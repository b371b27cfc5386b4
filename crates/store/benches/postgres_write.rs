//! Write throughput of the PostgreSQL store, for docs/BENCHMARKS.md, against the server of
//! `PLANTKEEPER_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`), in a
//! schema of its own that it drops at the end.
//!
//! Part 1 chose how the writer inserts readings: rows per second of three ways to insert
//! `(series_id, ts, value)` rows in one transaction per batch — `unnest` of one array per
//! column (what the store uses), a multi-row `VALUES` list, and binary `COPY` — for batch
//! sizes from 4 rows (one lone report) to 4000 (a full group).
//!
//! Part 2 is the store itself: writers each sending reports of 4 readings for a fixed time,
//! acknowledged reports counted, as in `sqlite_write`, with its rows per second (the report
//! row and its readings rows) as a ratio to the best `COPY` of the run. Each case runs with one
//! write connection (the writer alone) and with the default two lanes, side by side.
//!
//! Part 3 measures `COPY` again after the store, the server's speed drifting over a run
//! (checkpoints, autovacuum): the 4000-row readings `COPY` of part 1, whose best of the run is
//! the strict ceiling (bare rows, one index), and `COPY` of the same rows as the store writes
//! (per report one `reports` row and its 4 readings rows, 400 reports per transaction) into
//! tables with the store's columns and indexes, the ceiling of the same work. Each store case
//! is printed as a ratio to both.
//!
//! ```text
//! cargo bench -p plantkeeper-store --bench postgres_write [-- SECONDS_PER_CASE]
//! ```

mod common;

use common::{SENSORS, WRITER_COUNTS};
use std::sync::Arc;
use std::time::{Duration, Instant};

use plantkeeper_store::postgres::{PostgresOptions, PostgresStore};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, NoTls};

const SCHEMA: &str = "pk_bench_postgres_write";
const BATCH_ROWS: [usize; 4] = [4, 40, 400, 4000];

#[derive(Debug, Clone, Copy)]
enum Method {
    Unnest,
    Values,
    Copy,
}

fn main() {
    let seconds = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse::<f64>().ok())
        .unwrap_or(3.0);
    let duration = Duration::from_secs_f64(seconds);
    let url = std::env::var("PLANTKEEPER_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("building the tokio runtime");
    runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(&url, NoTls)
            .await
            .expect("connecting to the benchmark server");
        tokio::spawn(connection);
        println!("{seconds} s per case, server {url}");
        println!("part 1: readings rows/s by insert method and rows per transaction");
        println!(
            "{:>8} {:>12} {:>12} {:>12}",
            "rows/tx", "unnest", "values", "copy"
        );
        let mut copy_ceiling = 0.0_f64;
        for rows in BATCH_ROWS {
            let mut line = format!("{rows:>8}");
            for method in [Method::Unnest, Method::Values, Method::Copy] {
                let rate = raw_run(&client, method, rows, duration).await;
                if matches!(method, Method::Copy) {
                    copy_ceiling = copy_ceiling.max(rate);
                }
                line.push_str(&format!(" {rate:>12.0}"));
            }
            println!("{line}");
        }
        println!(
            "part 2: the store, reports of 4 readings, with 1 write connection and with 2 lanes \
             (the default); rows/s counts the report row and its 4 readings rows"
        );
        println!(
            "{:>8} {:>6} {:>12} {:>14} {:>12}",
            "writers", "conns", "reports/s", "readings/s", "rows/s"
        );
        let mut cases = Vec::new();
        for writers in WRITER_COUNTS {
            for connections in [1, 2] {
                reset_schema(&client).await;
                let reports_per_s = store_run(&url, writers, connections, duration).await;
                let rows_per_s = reports_per_s * (1 + SENSORS.len()) as f64;
                println!(
                    "{writers:>8} {connections:>6} {reports_per_s:>12.0} {:>14.0} {rows_per_s:>12.0}",
                    reports_per_s * SENSORS.len() as f64,
                );
                cases.push((writers, connections, rows_per_s));
            }
        }
        let copy_again = raw_run(&client, Method::Copy, 4000, duration).await;
        copy_ceiling = copy_ceiling.max(copy_again);
        let same_rows = same_rows_copy(&client, duration).await;
        println!(
            "part 3: COPY of 4000 readings rows per transaction again: {copy_again:.0} rows/s, \
             best of the run {copy_ceiling:.0} rows/s; COPY of the store's rows into its \
             tables: {same_rows:.0} rows/s"
        );
        println!(
            "{:>8} {:>26} {:>26} {:>8}",
            "", "1 conn: / COPY, / same", "2 lanes: / COPY, / same", ""
        );
        println!(
            "{:>8} {:>13} {:>12} {:>13} {:>12} {:>8}",
            "writers", "best COPY", "same rows", "best COPY", "same rows", "lanes/1"
        );
        for writers in WRITER_COUNTS {
            let rate = |connections| {
                cases
                    .iter()
                    .find(|case| case.0 == writers && case.1 == connections)
                    .map_or(0.0, |case| case.2)
            };
            println!(
                "{writers:>8} {:>13.3} {:>12.3} {:>13.3} {:>12.3} {:>8.2}",
                rate(1) / copy_ceiling,
                rate(1) / same_rows,
                rate(2) / copy_ceiling,
                rate(2) / same_rows,
                rate(2) / rate(1)
            );
        }
        client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
            .await
            .expect("dropping the benchmark schema");
    });
}

async fn reset_schema(client: &Client) {
    client
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; CREATE SCHEMA {SCHEMA};"
        ))
        .await
        .expect("resetting the benchmark schema");
}

/// Rows per second inserting `rows`-row transactions with `method` into a readings table like
/// the store's (same columns and index).
async fn raw_run(client: &Client, method: Method, rows: usize, duration: Duration) -> f64 {
    reset_schema(client).await;
    client
        .batch_execute(&format!(
            "CREATE TABLE {SCHEMA}.readings (series_id BIGINT NOT NULL, ts BIGINT NOT NULL,
                 value DOUBLE PRECISION NOT NULL);
             CREATE INDEX ON {SCHEMA}.readings (series_id, ts);"
        ))
        .await
        .expect("creating the benchmark table");
    let table = format!("{SCHEMA}.readings");
    let statement = match method {
        Method::Unnest => format!(
            "INSERT INTO {table} (series_id, ts, value) \
             SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::float8[])"
        ),
        Method::Values => {
            let rows: Vec<String> = (0..rows)
                .map(|row| format!("(${}, ${}, ${})", 3 * row + 1, 3 * row + 2, 3 * row + 3))
                .collect();
            format!(
                "INSERT INTO {table} (series_id, ts, value) VALUES {}",
                rows.join(", ")
            )
        }
        Method::Copy => format!("COPY {table} (series_id, ts, value) FROM STDIN (FORMAT binary)"),
    };
    let prepared = match method {
        Method::Copy => None,
        _ => Some(client.prepare(&statement).await.expect("preparing")),
    };
    let started = Instant::now();
    let mut total: i64 = 0;
    while started.elapsed() < duration {
        let ids: Vec<i64> = (total..total + rows as i64).map(|n| n % 4000).collect();
        let times: Vec<i64> = (total..total + rows as i64).collect();
        let values = vec![21.5f64; rows];
        client.batch_execute("BEGIN").await.expect("beginning");
        match (method, &prepared) {
            (Method::Unnest, Some(prepared)) => {
                client
                    .execute(prepared, &[&ids, &times, &values])
                    .await
                    .expect("unnest insert");
            }
            (Method::Values, Some(prepared)) => {
                let params: Vec<&(dyn ToSql + Sync)> = (0..rows)
                    .flat_map(|row| [&ids[row] as &(dyn ToSql + Sync), &times[row], &values[row]])
                    .collect();
                client
                    .execute(prepared, &params)
                    .await
                    .expect("values insert");
            }
            _ => {
                let sink = client.copy_in(&statement).await.expect("starting COPY");
                let writer = BinaryCopyInWriter::new(sink, &[Type::INT8, Type::INT8, Type::FLOAT8]);
                let mut writer = std::pin::pin!(writer);
                for row in 0..rows {
                    writer
                        .as_mut()
                        .write(&[&ids[row], &times[row], &values[row]])
                        .await
                        .expect("COPY row");
                }
                writer.finish().await.expect("finishing COPY");
            }
        }
        client.batch_execute("COMMIT").await.expect("committing");
        total += rows as i64;
    }
    total as f64 / started.elapsed().as_secs_f64()
}

/// Reports per `COPY` transaction of [`same_rows_copy`]: the writer's largest group.
const REPORTS_PER_COPY: i64 = 400;
/// Nodes whose reports [`same_rows_copy`] writes, one series per node and sensor.
const COPY_NODES: i64 = 1000;

/// Rows per second of binary `COPY` of what the store writes for reports of 4 readings (one
/// `reports` row, 4 `readings` rows each), [`REPORTS_PER_COPY`] reports per transaction, into
/// tables with the columns and indexes of the store's `reports` and `readings`
/// (migrations/postgres/V1__init.sql).
async fn same_rows_copy(client: &Client, duration: Duration) -> f64 {
    reset_schema(client).await;
    client
        .batch_execute(&format!(
            "CREATE TABLE {SCHEMA}.reports (node TEXT NOT NULL, boot BIGINT, seq BIGINT NOT NULL,
                 received_at BIGINT NOT NULL, UNIQUE (node, boot, seq));
             CREATE INDEX ON {SCHEMA}.reports (received_at);
             CREATE INDEX ON {SCHEMA}.reports (node, received_at);
             CREATE TABLE {SCHEMA}.readings (series_id BIGINT NOT NULL, ts BIGINT NOT NULL,
                 value DOUBLE PRECISION NOT NULL);
             CREATE INDEX ON {SCHEMA}.readings (series_id, ts);"
        ))
        .await
        .expect("creating the same-rows tables");
    let copy_reports =
        format!("COPY {SCHEMA}.reports (node, boot, seq, received_at) FROM STDIN (FORMAT binary)");
    let copy_readings =
        format!("COPY {SCHEMA}.readings (series_id, ts, value) FROM STDIN (FORMAT binary)");
    let nodes: Vec<String> = (0..COPY_NODES).map(|node| format!("node-{node}")).collect();
    let sensors = SENSORS.len() as i64;
    let started = Instant::now();
    let mut next: i64 = 0;
    while started.elapsed() < duration {
        let batch = next..next + REPORTS_PER_COPY;
        next += REPORTS_PER_COPY;
        client.batch_execute("BEGIN").await.expect("beginning");
        let sink = client.copy_in(&copy_reports).await.expect("COPY reports");
        let writer =
            BinaryCopyInWriter::new(sink, &[Type::TEXT, Type::INT8, Type::INT8, Type::INT8]);
        let mut writer = std::pin::pin!(writer);
        for report in batch.clone() {
            let node = &nodes[(report % COPY_NODES) as usize];
            let seq = report / COPY_NODES;
            let at = seq * 5000;
            writer
                .as_mut()
                .write(&[node, &1i64, &seq, &at])
                .await
                .expect("COPY a report row");
        }
        writer.finish().await.expect("finishing COPY reports");
        let sink = client.copy_in(&copy_readings).await.expect("COPY readings");
        let writer = BinaryCopyInWriter::new(sink, &[Type::INT8, Type::INT8, Type::FLOAT8]);
        let mut writer = std::pin::pin!(writer);
        for report in batch {
            let node = report % COPY_NODES;
            let at = report / COPY_NODES * 5000;
            for sensor in 0..sensors {
                writer
                    .as_mut()
                    .write(&[&(node * sensors + sensor), &at, &21.5f64])
                    .await
                    .expect("COPY a reading row");
            }
        }
        writer.finish().await.expect("finishing COPY readings");
        client.batch_execute("COMMIT").await.expect("committing");
    }
    (next * (1 + sensors)) as f64 / started.elapsed().as_secs_f64()
}

/// Acknowledged reports per second with `writers` concurrent writers and
/// `write_connections`.
async fn store_run(url: &str, writers: usize, write_connections: usize, duration: Duration) -> f64 {
    let options = PostgresOptions {
        schema: Some(SCHEMA.to_owned()),
        write_connections,
        ..PostgresOptions::default()
    };
    let store = Arc::new(
        PostgresStore::open(url, options)
            .await
            .expect("opening the store"),
    );
    common::reports_per_second(store, writers, duration).await
}
