//! What both store benchmarks share: concurrent writers sending reports of 4 readings through
//! [`Store::write`] for a fixed time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use plantkeeper_store::{NewReading, ReportRecord, Store, WriteBatch};

/// The sensors of every benchmark report.
pub const SENSORS: [&str; 4] = ["temperature", "humidity", "soil_moisture", "level"];
/// How many concurrent writers each case runs.
pub const WRITER_COUNTS: [usize; 4] = [1, 10, 100, 1000];

/// Acknowledged reports per second of `writers` concurrent writers (one node each) on `store`
/// for `duration`; closes the store at the end.
pub async fn reports_per_second(store: Arc<dyn Store>, writers: usize, duration: Duration) -> f64 {
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for writer in 0..writers {
        let store = Arc::clone(&store);
        tasks.spawn(async move {
            let node = format!("node-{writer}");
            let mut sent: u64 = 0;
            for seq in 0u32.. {
                if Instant::now() >= deadline {
                    break;
                }
                let at = i64::from(seq) * 5000;
                store
                    .write(report_batch(&node, seq, at))
                    .await
                    .expect("bench write");
                sent += 1;
            }
            sent
        });
    }
    let mut reports: u64 = 0;
    while let Some(sent) = tasks.join_next().await {
        reports += sent.expect("bench writer task");
    }
    let elapsed = started.elapsed().as_secs_f64();
    store.close().await.expect("closing");
    reports as f64 / elapsed
}

/// One report of node `node` with a reading of every [`SENSORS`] at `at_ms`.
pub fn report_batch(node: &str, seq: u32, at_ms: i64) -> WriteBatch {
    let readings = SENSORS
        .iter()
        .map(|sensor| NewReading {
            sensor: (*sensor).to_owned(),
            at_ms,
            value: 21.5,
        })
        .collect();
    WriteBatch {
        reports: vec![ReportRecord {
            node: node.to_owned(),
            boot: Some(1),
            seq,
            received_at_ms: at_ms,
            readings,
        }],
        ..WriteBatch::default()
    }
}
