//! `plantkeeper serve` as a real process: durability across SIGKILL, a clean SIGTERM and the
//! restart after it (CONTRACT §3.8), staleness switching OFF on the clock, and start-up failures
//! with their exit codes (CONTRACT §1).

mod broken_settings;
mod master_process;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use broken_settings::{BROKEN_SETTINGS, assert_broken_settings_errors};
use master_process::{MasterProcess, garden_toml, post_report, run_to_exit};
use serde_json::json;

/// The tests of this file run one at a time: the load of one would otherwise skew the timing
/// of another on a small machine.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A range holding every timestamp these tests can produce.
const ALL_TIME: &str = "from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z";

/// How long a clean stop may take.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// Concurrent node clients of the durability test.
const CLIENTS: u32 = 8;
/// Acknowledged reports after which the master is killed.
const KILL_AFTER_ACKS: usize = 300;
/// Upper bound of reports per client, so the load stops by itself even if the kill fails.
const MAX_REPORTS_PER_CLIENT: u32 = 5_000;

fn default_garden(port: u16) -> String {
    garden_toml(port, "")
}

/// The value client `client` sends as `probe` in its report `seq`: every report's reading is
/// distinct, so the stored points say exactly which reports were stored.
fn probe_value(client: u32, seq: u32) -> f64 {
    f64::from(client) * 100_000.0 + f64::from(seq)
}

/// What the load clients saw.
#[derive(Default)]
struct Acks {
    /// `(node, probe value)` of every report answered 200.
    acknowledged: Vec<(String, f64)>,
    /// Answers other than 200 (none is expected before the kill).
    refused: Vec<(u16, serde_json::Value)>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_readings_survive_kill_9() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().expect("temporary dir");
    let mut master = MasterProcess::start(dir.path(), default_garden).await;

    let acks = Arc::new(Mutex::new(Acks::default()));
    let ack_count = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for client in 0..CLIENTS {
        let (http, base) = (master.http.clone(), master.base.clone());
        let (acks, ack_count) = (Arc::clone(&acks), Arc::clone(&ack_count));
        let node = if client % 2 == 0 { "bed-1" } else { "tank" };
        clients.push(tokio::spawn(async move {
            for seq in 0..MAX_REPORTS_PER_CLIENT {
                let value = probe_value(client, seq);
                let body = json!({"seq": seq, "boot": client + 1, "readings": {"probe": value}});
                let Ok((status, answer)) = post_report(&http, &base, node, &body).await else {
                    return; // the master is gone
                };
                let mut acks = acks
                    .lock()
                    .expect("no client panics while holding the lock");
                if status == 200 && answer["acked_seq"] == seq {
                    acks.acknowledged.push((node.to_owned(), value));
                    ack_count.fetch_add(1, Ordering::SeqCst);
                } else {
                    acks.refused.push((status, answer));
                }
            }
        }));
    }

    let load_started = Instant::now();
    while ack_count.load(Ordering::SeqCst) < KILL_AFTER_ACKS {
        assert!(
            load_started.elapsed() < Duration::from_secs(30),
            "only {} reports acknowledged in 30 s",
            ack_count.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    master.child.kill_9();
    for client in clients {
        client.await.expect("a load client panicked");
    }
    drop(master);

    let acks = std::mem::take(&mut *acks.lock().expect("the clients are done"));
    assert!(
        acks.refused.is_empty(),
        "the master refused reports before it was killed: {:?}",
        acks.refused
    );
    assert!(acks.acknowledged.len() >= KILL_AFTER_ACKS);

    let restarted = MasterProcess::start(dir.path(), default_garden).await;
    let mut acknowledged_per_node: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (node, value) in acks.acknowledged {
        acknowledged_per_node.entry(node).or_default().push(value);
    }
    for (node, acknowledged) in acknowledged_per_node {
        let readings = restarted
            .admin_get(&format!(
                "/api/v1/nodes/{node}/readings?sensor=probe&{ALL_TIME}"
            ))
            .await;
        assert_eq!(readings["truncated"], false, "{readings}");
        let stored: Vec<u64> = readings["points"]
            .as_array()
            .unwrap_or_else(|| panic!("no points array: {readings}"))
            .iter()
            .map(|point| point[1].as_f64().expect("a point is [time, number]") as u64)
            .collect();
        let distinct: BTreeSet<u64> = stored.iter().copied().collect();
        assert_eq!(
            distinct.len(),
            stored.len(),
            "a report of {node} was stored twice"
        );
        let lost: Vec<u64> = acknowledged
            .iter()
            .map(|value| *value as u64)
            .filter(|value| !distinct.contains(value))
            .collect();
        assert!(
            lost.is_empty(),
            "{} of {} acknowledged readings of {node} were lost by kill -9: {lost:?}",
            lost.len(),
            acknowledged.len()
        );
    }
}

#[tokio::test]
async fn sigterm_drains_and_the_next_start_begins_with_every_output_off() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().expect("temporary dir");
    let mut master = MasterProcess::start(dir.path(), default_garden).await;

    let dry_bed = json!({"seq": 1, "boot": 7, "readings": {"soil_moisture": 20.0}});
    let (status, answer) = master.report("bed-1", &dry_bed).await.expect("report sent");
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["outputs"]["valve"]["power"], true,
        "a dry bed opens its valve: {answer}"
    );
    let low_tank = json!({"seq": 1, "boot": 7, "readings": {"level": 30.0}});
    let (status, tank_answer) = master.report("tank", &low_tank).await.expect("report sent");
    assert_eq!(status, 200, "{tank_answer}");
    assert_eq!(
        tank_answer["outputs"]["pump"]["power"], true,
        "a low tank starts its pump: {tank_answer}"
    );
    let epoch_before = answer["epoch"]
        .as_u64()
        .unwrap_or_else(|| panic!("no epoch in {answer}"));

    master.child.sigterm();
    let status = master.child.wait_for_exit(STOP_TIMEOUT);
    assert!(
        status.is_some_and(|status| status.success()),
        "SIGTERM must stop the master with exit 0 within {STOP_TIMEOUT:?}, got {status:?}; stderr: {}",
        master.stderr()
    );
    drop(master);

    let restarted = MasterProcess::start(dir.path(), default_garden).await;
    let nodes = restarted.admin_get("/api/v1/nodes").await;
    let mut outputs_seen = 0;
    for node in nodes["nodes"].as_array().expect("a nodes array") {
        let id = node["id"].as_str().expect("a node id");
        for (name, output) in node["outputs"].as_object().expect("an outputs object") {
            outputs_seen += 1;
            assert_eq!(
                output["power"], false,
                "{id}.{name} must start OFF after a restart: {nodes}"
            );
            // The ticker decides afresh at once, so `master started` may already have been
            // replaced by the silence of a node that has not reported since the start.
            let reason = output["reason"].as_str().expect("a reason");
            assert!(
                reason == "master started"
                    || reason == format!("node {id} has not reported since the master started"),
                "{id}.{name} is OFF because the master started, got reason `{reason}`"
            );
        }
    }
    assert_eq!(outputs_seen, 2, "both outputs listed: {nodes}");

    let events = restarted
        .admin_get(&format!("/api/v1/events?{ALL_TIME}&limit=1000"))
        .await;
    let events = events["events"].as_array().expect("an events array");
    let starts = events
        .iter()
        .filter(|event| event["kind"] == "master_started")
        .count();
    assert_eq!(starts, 2, "one master_started per start: {events:?}");
    assert!(
        events.iter().any(|event| event["kind"] == "state_change"
            && event["node"] == "bed-1"
            && event["output"] == "valve"
            && event["power"] == true),
        "the valve's switch ON before SIGTERM was stored: {events:?}"
    );

    let again = json!({"seq": 2, "boot": 7, "readings": {"soil_moisture": 20.0}});
    let (status, answer) = restarted
        .report("bed-1", &again)
        .await
        .expect("report sent");
    assert_eq!(status, 200, "{answer}");
    let epoch_after = answer["epoch"]
        .as_u64()
        .unwrap_or_else(|| panic!("no epoch in {answer}"));
    assert!(
        epoch_after > epoch_before,
        "the epoch grows at every start: {epoch_before} then {epoch_after}"
    );
}

#[tokio::test]
async fn stale_readings_switch_off_within_stale_after_plus_one_second() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().expect("temporary dir");
    let fast_garden = |port| {
        garden_toml(
            port,
            "report_every = \"1s\"\nstale_after = \"2s\"\nlease = \"2s\"",
        )
    };
    let master = MasterProcess::start(dir.path(), fast_garden).await;

    let sent = Instant::now();
    let dry_bed = json!({"seq": 1, "boot": 1, "readings": {"soil_moisture": 20.0}});
    let (status, answer) = master.report("bed-1", &dry_bed).await.expect("report sent");
    let answered = Instant::now();
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["outputs"]["valve"]["power"], true, "{answer}");
    let lease_ms = answer["outputs"]["valve"]["lease_ms"]
        .as_u64()
        .expect("lease_ms in the answer");
    assert!(
        (1_900..=2_000).contains(&lease_ms),
        "the lease is the node's 2 s, cut only by the milliseconds its reading aged before the \
         decision (the reading goes stale at 2 s): {answer}"
    );

    let deadline = answered + Duration::from_millis(3_200);
    let valve = loop {
        let valve = master.output_view("bed-1", "valve").await;
        if valve["power"] == false {
            break valve;
        }
        assert!(
            Instant::now() < deadline,
            "the valve is still ON 3.2 s after the only report was answered: {valve}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let off_after = sent.elapsed();
    assert!(
        off_after >= Duration::from_millis(1_900),
        "the valve went OFF {off_after:?} after the report, before its reading could be stale: {valve}"
    );
    let reason = valve["reason"].as_str().expect("a reason");
    assert!(
        reason.contains("silent") || reason.contains("stale"),
        "the reason names the silence or staleness, got `{reason}`"
    );
}

#[test]
fn a_wrong_database_url_fails_at_start_with_one_clear_line() {
    let _serial = ONE_AT_A_TIME.blocking_lock();
    let dir = tempfile::tempdir().expect("temporary dir");
    std::fs::write(dir.path().join("not-a-dir"), "a plain file").expect("write a file");
    let config = dir.path().join("plantkeeper.toml");
    let settings = garden_toml(master_process::free_port(), "")
        .replace("sqlite://garden.db", "sqlite://not-a-dir/garden.db");
    std::fs::write(&config, settings).expect("write the settings");

    let run = serve(dir.path(), &config);
    assert_eq!(
        run.code(),
        1,
        "a store that cannot open is a runtime failure: {run:?}"
    );
    let lines = run.stderr_lines();
    assert_eq!(lines.len(), 1, "one line on stderr: {run:?}");
    assert!(
        lines[0].contains("not-a-dir"),
        "the line names the bad path: {run:?}"
    );
}

#[test]
fn an_unreachable_postgres_url_fails_at_start_with_one_line_naming_the_server() {
    let _serial = ONE_AT_A_TIME.blocking_lock();
    let dir = tempfile::tempdir().expect("temporary dir");
    // A loopback port nobody listens on: the connection is refused at once.
    let closed = master_process::free_port();
    let url = format!("postgres://plantkeeper:secret-pw@127.0.0.1:{closed}/plants");
    let config = dir.path().join("plantkeeper.toml");
    let settings = garden_toml(master_process::free_port(), "").replace("sqlite://garden.db", &url);
    std::fs::write(&config, settings).expect("write the settings");

    let run = serve(dir.path(), &config);
    assert_eq!(
        run.code(),
        1,
        "a database that cannot be reached is a runtime failure: {run:?}"
    );
    let lines = run.stderr_lines();
    assert_eq!(lines.len(), 1, "one line on stderr: {run:?}");
    assert!(
        lines[0].contains(&format!("127.0.0.1:{closed}")) && lines[0].contains("PostgreSQL"),
        "the line names the server: {run:?}"
    );
    assert!(
        !lines[0].contains("secret-pw"),
        "the line hides the password: {run:?}"
    );
}

#[test]
fn a_listen_address_already_taken_fails_at_start_with_one_line_naming_it() {
    let _serial = ONE_AT_A_TIME.blocking_lock();
    let dir = tempfile::tempdir().expect("temporary dir");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a port");
    let port = taken.local_addr().expect("local address").port();
    let config = dir.path().join("plantkeeper.toml");
    std::fs::write(&config, garden_toml(port, "")).expect("write the settings");

    let run = serve(dir.path(), &config);
    drop(taken);
    assert_eq!(run.code(), 1, "a taken port is a runtime failure: {run:?}");
    let lines = run.stderr_lines();
    assert_eq!(lines.len(), 1, "one line on stderr: {run:?}");
    assert!(
        lines[0].contains(&format!("127.0.0.1:{port}")),
        "the line names the address: {run:?}"
    );
}

#[test]
fn invalid_settings_make_serve_exit_2() {
    let _serial = ONE_AT_A_TIME.blocking_lock();
    let run = run_to_exit(
        Path::new(env!("CARGO_MANIFEST_DIR")),
        &["serve", "--config", BROKEN_SETTINGS],
        STOP_TIMEOUT,
    );
    assert_eq!(run.code(), 2, "invalid settings exit 2: {run:?}");
    assert_broken_settings_errors(BROKEN_SETTINGS, &run.stderr);
}

/// Runs `serve` on `config`, expecting it to give up at start.
fn serve(dir: &Path, config: &Path) -> master_process::Finished {
    let config = config.to_str().expect("temporary paths are UTF-8");
    run_to_exit(dir, &["serve", "--config", config], STOP_TIMEOUT)
}
