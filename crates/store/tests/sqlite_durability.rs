//! Acknowledged means durable: a child process writes reports from several tasks and prints
//! each acknowledgement; it is killed with SIGKILL mid-stream; every acknowledged report must
//! be in the reopened file.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use plantkeeper_store::Store;
use plantkeeper_store::sqlite::{SqliteOptions, SqliteStore};
use plantkeeper_store::testsuite::{raw_points, reading, report, reports_batch};

/// Set in the child: the database it writes to.
const CHILD_DATABASE: &str = "PLANTKEEPER_STORE_DURABILITY_CHILD_DB";
const WRITER_TASKS: u32 = 8;
/// The parent kills the child after this many acknowledgements.
const ACKS_BEFORE_KILL: usize = 400;

#[test]
fn acknowledged_reports_survive_kill_9() {
    if let Some(database) = std::env::var_os(CHILD_DATABASE) {
        write_until_killed(Path::new(&database));
        return;
    }
    let dir = tempfile::tempdir().expect("creating a temporary directory");
    let database = dir.path().join("pk.db");
    let mut child = Command::new(std::env::current_exe().expect("the test binary's path"))
        .args([
            "--exact",
            "acknowledged_reports_survive_kill_9",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DATABASE, &database)
        .stdout(Stdio::piped())
        .spawn()
        .expect("starting the child writer");
    let stdout = child.stdout.take().expect("the child's stdout is piped");
    let (lines_tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });

    let mut acknowledged = BTreeSet::new();
    while acknowledged.len() < ACKS_BEFORE_KILL {
        let line = lines
            .recv_timeout(Duration::from_secs(60))
            .expect("the child keeps acknowledging");
        if let Some(ack) = parse_ack(&line) {
            acknowledged.insert(ack);
        }
    }
    child.kill().expect("SIGKILL to the child");
    child.wait().expect("reaping the child");
    // Acknowledgements printed before the kill but not read yet count too.
    acknowledged.extend(lines.try_iter().filter_map(|line| parse_ack(&line)));

    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    runtime.block_on(async {
        let store = SqliteStore::open(&database, SqliteOptions::default())
            .await
            .expect("reopening after the kill");
        for task in 0..WRITER_TASKS {
            let node = format!("node-{task}");
            let stored: BTreeSet<i64> = raw_points(&store, &node, "level", 0, i64::MAX)
                .await
                .into_iter()
                .map(|(at, _)| at)
                .collect();
            let missing: Vec<i64> = acknowledged
                .iter()
                .filter(|(acked_task, _)| *acked_task == task)
                .map(|(_, seq)| *seq)
                .filter(|seq| !stored.contains(seq))
                .collect();
            assert!(
                missing.is_empty(),
                "{node}: acknowledged but lost after kill -9: {missing:?}"
            );
        }
        store.close().await.expect("closing");
    });
}

/// `acked TASK SEQ`
fn parse_ack(line: &str) -> Option<(u32, i64)> {
    let mut words = line.strip_prefix("acked ")?.split(' ');
    Some((words.next()?.parse().ok()?, words.next()?.parse().ok()?))
}

/// The child: writes forever from several tasks, printing each acknowledgement after it.
fn write_until_killed(database: &Path) {
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime in the child");
    runtime.block_on(async {
        let store = std::sync::Arc::new(
            SqliteStore::open(database, SqliteOptions::default())
                .await
                .expect("opening in the child"),
        );
        let mut tasks = tokio::task::JoinSet::new();
        for task in 0..WRITER_TASKS {
            let store = std::sync::Arc::clone(&store);
            tasks.spawn(async move {
                for seq in 0u32.. {
                    let at = i64::from(seq);
                    let batch = reports_batch(vec![report(
                        &format!("node-{task}"),
                        Some(task),
                        seq,
                        at,
                        vec![reading("level", at, 1.0), reading("temperature", at, 2.0)],
                    )]);
                    store.write(batch).await.expect("child write");
                    println!("acked {task} {seq}");
                }
            });
        }
        while tasks.join_next().await.is_some() {}
    });
}
