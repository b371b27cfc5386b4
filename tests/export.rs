//! `plantkeeper export` with the real binary: CSV and JSON Lines from SQLite and the real
//! PostgreSQL, time order, range bounds, sensor filter, one-line usage errors, and the memory
//! of a one-million-row export.

mod master_process;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use master_process::{BINARY, ChildGuard, run_to_exit};
use plantkeeper_store::Store;
use plantkeeper_store::postgres::{PostgresOptions, PostgresStore};
use plantkeeper_store::sqlite::{SqliteOptions, SqliteStore};
use plantkeeper_store::testsuite::{reading, report, reports_batch, require_service};

const LIMIT: Duration = Duration::from_secs(60);
/// 2026-05-01T00:00:00Z in ms.
const MAY_1: i64 = 1_777_593_600_000;
const POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Readings of `bed-1` (`temp`, `soil`) every minute for 10 minutes from [`MAY_1`], written
/// newest first so that the export has to order them; and one reading of another node.
async fn fill(store: Arc<dyn Store>) {
    let mut reports = Vec::new();
    for minute in (0..10u32).rev() {
        let at = MAY_1 + i64::from(minute) * 60_000;
        reports.push(report(
            "bed-1",
            Some(1),
            minute,
            at,
            vec![
                reading("temp", at, 20.0 + f64::from(minute)),
                reading("soil", at, 0.5),
            ],
        ));
    }
    reports.push(report(
        "tank",
        Some(1),
        1,
        MAY_1,
        vec![reading("level", MAY_1, 1.0)],
    ));
    store
        .write(reports_batch(reports))
        .await
        .expect("writing readings");
    store.close().await.expect("closing");
}

fn export(dir: &Path, args: &[&str]) -> master_process::Finished {
    let mut all = vec!["export", "--config", "pk.toml"];
    all.extend_from_slice(args);
    run_to_exit(dir, &all, LIMIT)
}

/// The checks every engine must pass, on a config in `dir`.
fn check_exports(dir: &Path) {
    let csv = export(
        dir,
        &[
            "--node",
            "bed-1",
            "--from",
            "2026-05-01T00:02:00Z",
            "--to",
            "2026-05-01T00:04:00Z",
        ],
    );
    assert_eq!(csv.code(), 0, "export succeeds: {}", csv.stderr);
    assert_eq!(
        csv.stdout,
        "time,node,sensor,value\n\
         2026-05-01T00:02:00.000Z,bed-1,soil,0.5\n\
         2026-05-01T00:02:00.000Z,bed-1,temp,22\n\
         2026-05-01T00:03:00.000Z,bed-1,soil,0.5\n\
         2026-05-01T00:03:00.000Z,bed-1,temp,23\n",
        "header, oldest first, sensors in name order, --from inclusive, --to exclusive"
    );

    let out = dir.join("temp.jsonl");
    let jsonl = export(
        dir,
        &[
            "--node",
            "bed-1",
            "--sensor",
            "temp",
            "--format",
            "jsonl",
            "--output",
            "temp.jsonl",
        ],
    );
    assert_eq!(jsonl.code(), 0, "jsonl export succeeds: {}", jsonl.stderr);
    assert!(jsonl.stdout.is_empty(), "--output leaves stdout empty");
    let text = std::fs::read_to_string(&out).expect("reading the output file");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is JSON"))
        .collect();
    assert_eq!(lines.len(), 10, "every temp reading, no bounds: {text}");
    assert_eq!(
        lines[0],
        serde_json::json!({"time": "2026-05-01T00:00:00.000Z", "node": "bed-1", "sensor": "temp", "value": 20.0})
    );
    let times: Vec<&str> = lines
        .iter()
        .map(|line| line["time"].as_str().expect("time"))
        .collect();
    let mut sorted = times.clone();
    sorted.sort_unstable();
    assert_eq!(times, sorted, "time order");
    assert!(
        lines.iter().all(|line| line["sensor"] == "temp"),
        "only --sensor"
    );

    let unknown = export(dir, &["--node", "nobody"]);
    assert_eq!(
        (unknown.code(), unknown.stdout.as_str()),
        (0, "time,node,sensor,value\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_from_sqlite_is_ordered_bounded_and_filtered() {
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::write(
        dir.path().join("pk.toml"),
        "[master]\ndatabase = \"sqlite://pk.db\"\n",
    )
    .expect("writing settings");
    let store = SqliteStore::open(&dir.path().join("pk.db"), SqliteOptions::default())
        .await
        .expect("opening SQLite");
    fill(Arc::new(store)).await;
    check_exports(dir.path());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_from_postgresql_is_ordered_bounded_and_filtered() {
    let url =
        std::env::var("PLANTKEEPER_TEST_POSTGRES_URL").unwrap_or_else(|_| POSTGRES_URL.to_owned());
    let connected = tokio_postgres::connect(&url, tokio_postgres::NoTls).await;
    let client = match connected {
        Ok((client, connection)) => {
            tokio::spawn(connection);
            client
        }
        Err(error) => {
            require_service("PostgreSQL", &url, Err(error.to_string()));
            return;
        }
    };
    let schema = format!("pk_export_{}", std::process::id());
    let options = PostgresOptions {
        schema: Some(schema.clone()),
        ..PostgresOptions::default()
    };
    let store = PostgresStore::open(&url, options)
        .await
        .expect("opening PostgreSQL");
    fill(Arc::new(store)).await;
    let dir = tempfile::tempdir().expect("temporary directory");
    let separator = if url.contains('?') { '&' } else { '?' };
    std::fs::write(
        dir.path().join("pk.toml"),
        format!("[master]\ndatabase = \"{url}{separator}options=-csearch_path%3D{schema}\"\n"),
    )
    .expect("writing settings");
    let outcome = std::panic::catch_unwind(|| check_exports(dir.path()));
    client
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .expect("dropping the test schema");
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn bad_options_exit_2_with_one_line_naming_the_option() {
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::write(
        dir.path().join("pk.toml"),
        "[master]\ndatabase = \"sqlite://pk.db\"\n",
    )
    .expect("writing settings");
    for (args, option) in [
        (&["--node", "bed-1", "--from", "yesterday"][..], "--from"),
        (&["--node", "bed-1", "--to", "2026-05-01"][..], "--to"),
        (&["--node", "bed-1", "--format", "xml"][..], "--format"),
        (
            &["--node", "bed-1", "--output", "no/such/dir/x.csv"][..],
            "--output",
        ),
    ] {
        let run = export(dir.path(), args);
        assert_eq!(run.code(), 2, "{args:?}: {}", run.stderr);
        let lines = run.stderr_lines();
        assert_eq!(lines.len(), 1, "{args:?}: one line: {}", run.stderr);
        assert!(
            lines[0].starts_with(&format!("error: {option}: ")),
            "{args:?}: {}",
            lines[0]
        );
    }
    assert!(
        !dir.path().join("pk.db").exists(),
        "no database is created by a usage error"
    );
}

/// `VmHWM` (peak resident size, KiB) of a running process, if it is still there.
fn peak_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// One million readings exported as CSV: every row arrives and the process's peak memory stays
/// small (rows are streamed; holding them would take well over 50 MiB).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_row_export_streams_in_bounded_memory() {
    const ROWS: i64 = 1_000_000;
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::write(
        dir.path().join("pk.toml"),
        "[master]\ndatabase = \"sqlite://pk.db\"\n",
    )
    .expect("writing settings");
    let path = dir.path().join("pk.db");
    let store = SqliteStore::open(&path, SqliteOptions::default())
        .await
        .expect("creating");
    store.close().await.expect("closing");
    // Bulk-filled directly (the store's write path is not what is tested here): 4 series of
    // 250 000 readings, 10 s apart.
    let mut db = rusqlite::Connection::open(&path).expect("opening the file");
    let fill = db.transaction().expect("transaction");
    for sensor in 0..4 {
        fill.execute(
            "INSERT INTO series (id, node, sensor) VALUES (?1, 'bed-1', ?2)",
            rusqlite::params![sensor + 1, format!("sensor_{sensor}")],
        )
        .expect("series");
    }
    fill.execute(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?1) \
         INSERT INTO readings (series_id, ts, value) \
         SELECT i % 4 + 1, ?2 + (i / 4) * 10000, (i % 1000) / 10.0 FROM n",
        rusqlite::params![ROWS, MAY_1],
    )
    .expect("readings");
    fill.commit().expect("committing");
    drop(db);

    let started = Instant::now();
    let mut child = ChildGuard::spawn(
        Command::new(BINARY)
            .args([
                "export", "--config", "pk.toml", "--node", "bed-1", "--output", "all.csv",
            ])
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let pid = child.id();
    let mut peak = 0;
    let status = loop {
        if let Some(kib) = peak_kib(pid) {
            peak = peak.max(kib);
        }
        if let Some(status) = child.try_status() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "export took too long"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let elapsed = started.elapsed();
    assert!(status.success(), "export succeeded: {status:?}");
    let text = std::fs::read_to_string(dir.path().join("all.csv")).expect("output");
    let lines = text.lines().count();
    eprintln!(
        "exported {ROWS} rows ({} MiB of CSV) in {elapsed:.1?}, peak RSS {} KiB",
        text.len() / (1024 * 1024),
        peak
    );
    assert_eq!(lines as i64, ROWS + 1, "header and every row");
    assert!(peak > 0, "the peak was measured");
    assert!(peak < 40 * 1024, "peak RSS {peak} KiB stays under 40 MiB");
}
