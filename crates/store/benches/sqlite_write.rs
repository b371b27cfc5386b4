//! Write throughput of the SQLite store, for docs/BENCHMARKS.md.
//!
//! For each durability level and number of concurrent writers, every writer sends reports of
//! 4 readings (one node per writer) for a fixed time; we count acknowledged reports. The same
//! run measures a baseline: raw rusqlite inserts of readings rows in 1000-row transactions, on
//! the same schema, with the same durability level. Ratios compare readings/s.
//!
//! ```text
//! cargo bench -p plantkeeper-store --bench sqlite_write [-- SECONDS_PER_CASE]
//! ```

mod common;

use common::{SENSORS, WRITER_COUNTS};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use plantkeeper_store::sqlite::{SqliteOptions, SqliteStore, Synchronous};
use rusqlite::{Connection, params};

const BASELINE_TRANSACTION_ROWS: usize = 1000;

fn main() {
    // `cargo bench` passes `--bench`; the optional number is the seconds per case.
    let seconds = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse::<f64>().ok())
        .unwrap_or(3.0);
    let duration = Duration::from_secs_f64(seconds);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("building the tokio runtime");

    println!("{seconds} s per case; a report = 4 readings; rows/s below count readings");
    println!(
        "{:<8} {:>8} {:>12} {:>14} {:>16} {:>10}",
        "sync", "writers", "reports/s", "readings/s", "raw rows/s", "ratio"
    );
    for synchronous in [Synchronous::Full, Synchronous::Normal] {
        let raw_rows_per_s = raw_baseline(synchronous, duration);
        println!(
            "{:<8} {:>8} {:>12} {:>14} {:>16.0} {:>10}",
            format!("{synchronous:?}"),
            "raw",
            "-",
            "-",
            raw_rows_per_s,
            "1.00"
        );
        for writers in WRITER_COUNTS {
            let reports_per_s = runtime.block_on(store_run(synchronous, writers, duration));
            let readings_per_s = reports_per_s * SENSORS.len() as f64;
            println!(
                "{:<8} {:>8} {:>12.0} {:>14.0} {:>16.0} {:>10.2}",
                format!("{synchronous:?}"),
                writers,
                reports_per_s,
                readings_per_s,
                raw_rows_per_s,
                readings_per_s / raw_rows_per_s
            );
        }
    }
    println!("peak RSS of this process: {}", peak_rss());
}

/// `VmHWM` of /proc/self/status (Linux), for a rough idea of the store's memory under load.
fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmHWM:"))
                .map(str::to_owned)
        })
        .map_or_else(
            || "unknown".to_owned(),
            |line| line.trim_start_matches("VmHWM:").trim().to_owned(),
        )
}

/// Acknowledged reports per second with `writers` concurrent writers.
async fn store_run(synchronous: Synchronous, writers: usize, duration: Duration) -> f64 {
    let dir = tempfile::tempdir().expect("creating a temporary directory");
    let options = SqliteOptions {
        synchronous,
        ..SqliteOptions::default()
    };
    let store = Arc::new(
        SqliteStore::open(&dir.path().join("bench.db"), options)
            .await
            .expect("opening"),
    );
    common::reports_per_second(store, writers, duration).await
}

/// Raw rusqlite: readings rows inserted in 1000-row transactions on the readings table and
/// index of the schema, in WAL with `synchronous`; rows per second.
fn raw_baseline(synchronous: Synchronous, duration: Duration) -> f64 {
    let dir = tempfile::tempdir().expect("creating a temporary directory");
    let mut connection = raw_connection(&dir.path().join("raw.db"), synchronous);
    let started = Instant::now();
    let mut rows: u64 = 0;
    while started.elapsed() < duration {
        let transaction = connection.transaction().expect("begin");
        {
            let mut insert = transaction
                .prepare_cached("INSERT INTO readings (series_id, ts, value) VALUES (?1, ?2, ?3)")
                .expect("prepare");
            for _ in 0..BASELINE_TRANSACTION_ROWS {
                let series = (rows % 4000) as i64;
                insert
                    .execute(params![series, rows as i64, 21.5])
                    .expect("insert");
                rows += 1;
            }
        }
        transaction.commit().expect("commit");
    }
    rows as f64 / started.elapsed().as_secs_f64()
}

fn raw_connection(path: &Path, synchronous: Synchronous) -> Connection {
    let connection = Connection::open(path).expect("opening the baseline database");
    let level = match synchronous {
        Synchronous::Full => "FULL",
        Synchronous::Normal => "NORMAL",
    };
    connection
        .execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = {level};
             CREATE TABLE readings (series_id INTEGER NOT NULL, ts INTEGER NOT NULL,
                                    value REAL NOT NULL) STRICT;
             CREATE INDEX readings_by_series_time ON readings (series_id, ts);"
        ))
        .expect("creating the baseline schema");
    connection
}
