//! A real `plantkeeper serve` on PostgreSQL while the database goes away: the master keeps
//! answering node reports with correct decisions (they come from memory), acknowledges them
//! after its local spool's commit, and once the database is back every acknowledged reading is
//! stored exactly once.
//!
//! The database is a cluster of the test's own ([`PrivateCluster`]: `initdb` + `pg_ctl` in a
//! temporary directory), so the shared server is never disturbed. Skipped without the
//! PostgreSQL binaries, unless `PLANTKEEPER_REQUIRE_SERVICES=1`.

mod master_process;

use std::time::{Duration, Instant};

use master_process::{MasterProcess, garden_toml};
use plantkeeper_store::testsuite::private_cluster::PrivateCluster;
use serde_json::json;

/// A range holding every timestamp this test can produce.
const ALL_TIME: &str = "from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z";
/// Reports sent before the outage, during it, and after it.
const BEFORE: u32 = 5;
const DURING: u32 = 30;
const AFTER: u32 = 5;

/// The soil moisture of report `seq`: distinct per report, and alternating between dry (< 30,
/// the valve opens) and wet (≥ 45, it closes) every 3 reports.
fn moisture(seq: u32) -> f64 {
    let base = if (seq / 3).is_multiple_of(2) {
        20.0
    } else {
        60.0
    };
    base + f64::from(seq) / 100.0
}

/// Sends report `seq` of `bed-1` and checks the answer: 200, acknowledged, and the valve's
/// decision that its moisture calls for.
async fn report_and_check(master: &MasterProcess, seq: u32, phase: &str) {
    let value = moisture(seq);
    let body = json!({"seq": seq, "boot": 7, "readings": {"soil_moisture": value}});
    let (status, answer) = master
        .report("bed-1", &body)
        .await
        .unwrap_or_else(|error| panic!("report {seq} {phase}: {error}"));
    assert_eq!(status, 200, "report {seq} {phase}: {answer}");
    assert_eq!(answer["acked_seq"], seq, "report {seq} {phase}: {answer}");
    let valve = &answer["outputs"]["valve"];
    assert_eq!(
        valve["power"],
        value < 30.0,
        "report {seq} {phase}: moisture {value} decides the valve: {answer}"
    );
    if value < 30.0 {
        assert!(
            valve["lease_ms"].as_u64().is_some_and(|lease| lease > 0),
            "an ON answer carries a lease: {answer}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_keeps_deciding_through_a_database_outage_and_loses_nothing_acknowledged() {
    let Some(cluster) = tokio::task::spawn_blocking(PrivateCluster::start)
        .await
        .expect("the cluster start did not panic")
    else {
        return;
    };
    let url = cluster.url();
    let dir = tempfile::tempdir().expect("temporary dir");
    let master = MasterProcess::start(dir.path(), |port| {
        garden_toml(port, "").replace("sqlite://garden.db", &url)
    })
    .await;

    for seq in 0..BEFORE {
        report_and_check(&master, seq, "before the outage").await;
    }
    tokio::task::block_in_place(|| cluster.stop_immediately());
    for seq in BEFORE..BEFORE + DURING {
        report_and_check(&master, seq, "during the outage").await;
    }
    let health = master
        .http
        .get(format!("{}/healthz", master.base))
        .send()
        .await
        .expect("GET /healthz");
    assert_eq!(
        health.status(),
        503,
        "health tells the database is unreachable"
    );
    assert!(
        dir.path().join("plantkeeper-spool.db").is_file(),
        "the default spool beside the settings file"
    );

    tokio::task::block_in_place(|| cluster.start_server());
    for seq in BEFORE + DURING..BEFORE + DURING + AFTER {
        report_and_check(&master, seq, "after the outage").await;
    }
    let mut expected: Vec<f64> = (0..BEFORE + DURING + AFTER).map(moisture).collect();
    expected.sort_by(f64::total_cmp);
    let deadline = Instant::now() + Duration::from_secs(20);
    let stored = loop {
        let response = master
            .http
            .get(format!(
                "{}/api/v1/nodes/bed-1/readings?sensor=soil_moisture&{ALL_TIME}",
                master.base
            ))
            .bearer_auth(master_process::ADMIN_TOKEN)
            .send()
            .await
            .expect("GET readings");
        if response.status() == 200 {
            let readings: serde_json::Value = response.json().await.expect("JSON readings");
            let mut stored: Vec<f64> = readings["points"]
                .as_array()
                .unwrap_or_else(|| panic!("no points: {readings}"))
                .iter()
                .map(|point| point[1].as_f64().expect("a point is [time, number]"))
                .collect();
            stored.sort_by(f64::total_cmp);
            if stored.len() >= expected.len() {
                break stored;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the outage's readings did not reach PostgreSQL within 20 s; stderr:\n{}",
            master.stderr()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(stored, expected, "every acknowledged reading exactly once");
}
