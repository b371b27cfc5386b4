//! `serve`'s logs: `log_format = "json"` on stdout, and with `[telemetry] loki_url` logs and
//! events reaching a real HTTP receiver with bounded labels and node ids in the lines, in
//! batches; a Loki that is down or hangs never slows reports, and what cannot be delivered is
//! counted in `/metrics`.

mod loki_receiver;
mod master_process;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use loki_receiver::{HangingLoki, Receiver, down_loki};
use master_process::{MasterProcess, garden_toml};
use serde_json::{Value, json};

/// The garden of the harness, logging at `info` in `format` and pushing to `loki_url`.
fn garden_with_loki(port: u16, loki_url: &str, format: &str) -> String {
    garden_toml(port, "").replace(
        "[telemetry]\nlog = \"warn\"",
        &format!(
            "[telemetry]\nlog = \"info\"\nlog_format = \"{format}\"\nloki_url = \"{loki_url}\"\nloki_labels = {{ site = \"greenhouse\" }}"
        ),
    )
}

/// `name value` of one sample in a `/metrics` scrape.
async fn metric(master: &MasterProcess, sample: &str) -> f64 {
    let text = master
        .http
        .get(format!("{}/metrics", master.base))
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("metrics body");
    text.lines()
        .find_map(|line| line.strip_prefix(sample)?.strip_prefix(' '))
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no sample `{sample}` in:\n{text}"))
}

/// Reports that switch both outputs ON: tank low (pump ON), bed-1 dry (valve ON).
async fn switch_both_on(master: &MasterProcess) {
    let (status, answer) = master
        .report(
            "tank",
            &json!({"seq": 1, "boot": 5, "readings": {"level": 40.0}}),
        )
        .await
        .expect("tank report");
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = master
        .report(
            "bed-1",
            &json!({"seq": 1, "boot": 6, "readings": {"soil_moisture": 20.0}}),
        )
        .await
        .expect("bed-1 report");
    assert_eq!(status, 200, "{answer}");
}

fn event_lines(pushes: &[loki_receiver::Push]) -> Vec<Value> {
    pushes
        .iter()
        .flat_map(loki_receiver::Push::streams)
        .filter(|(labels, _)| labels["kind"] == "event")
        .flat_map(|(_, lines)| lines)
        .map(|(_, line)| serde_json::from_str(&line).expect("every line is a JSON object"))
        .collect()
}

fn switched(lines: &[Value], node: &str) -> bool {
    lines
        .iter()
        .any(|line| line["message"] == "output switched" && line["node"] == node)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_and_events_reach_loki_with_bounded_labels_and_node_ids_in_lines() {
    let loki = Receiver::start(&[]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let master =
        MasterProcess::start(dir.path(), |port| garden_with_loki(port, &loki.url, "json")).await;
    switch_both_on(&master).await;
    let pushes = loki
        .wait_for(Duration::from_secs(10), |pushes| {
            let events = event_lines(pushes);
            switched(&events, "bed-1") && switched(&events, "tank")
        })
        .await;

    let allowed: BTreeSet<&str> = ["app", "host", "level", "kind", "site"].into();
    let mut kinds = BTreeSet::new();
    for push in &pushes {
        assert_eq!(push.path, "/loki/api/v1/push");
        assert_eq!(push.content_type, "application/json");
        for (labels, lines) in push.streams() {
            let names: BTreeSet<&str> = labels.keys().map(String::as_str).collect();
            assert_eq!(names, allowed, "labels {labels:?}");
            assert_eq!(labels["app"], "plantkeeper");
            assert_eq!(labels["site"], "greenhouse");
            assert!(!labels["host"].as_str().unwrap_or_default().is_empty());
            assert!(
                ["error", "warn", "info", "debug", "trace"]
                    .contains(&labels["level"].as_str().unwrap_or_default()),
                "level {labels:?}"
            );
            kinds.insert(labels["kind"].as_str().unwrap_or_default().to_owned());
            for value in labels.values() {
                assert!(
                    value != "bed-1" && value != "tank",
                    "a node id became a label: {labels:?}"
                );
            }
            for (at_ns, _) in &lines {
                let at: u128 = at_ns.parse().expect("nanoseconds as a decimal string");
                assert!(at > 1_600_000_000_000_000_000, "not nanoseconds: {at_ns}");
            }
        }
    }
    assert_eq!(kinds, ["event".to_owned(), "log".to_owned()].into());
    let events = event_lines(&pushes);
    let valve = events
        .iter()
        .find(|line| line["message"] == "output switched" && line["node"] == "bed-1")
        .expect("the valve's switch");
    assert_eq!(valve["output"], "valve");
    assert_eq!(valve["power"], "ON");
    assert!(
        valve["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("soil_moisture"),
        "{valve}"
    );
    assert!(
        events.iter().any(|line| line["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("master started")),
        "no master-started event in {events:?}"
    );
    // Batching: lines logged together travel together.
    let lines: usize = pushes.iter().map(loki_receiver::Push::line_count).sum();
    assert!(
        pushes.len() < lines && pushes.iter().any(|push| push.line_count() >= 2),
        "{} pushes for {lines} lines",
        pushes.len()
    );
    assert!(metric(&master, "plantkeeper_loki_pushed_lines_total").await >= lines as f64);

    // log_format = "json": stdout holds one JSON object per line, the event's fields at the top.
    let stdout = master.stdout();
    let logged: Vec<Value> = stdout
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|error| panic!("not JSON ({error}): {line}"))
        })
        .collect();
    let valve_log = logged
        .iter()
        .find(|line| line["message"] == "output switched" && line["node"] == "bed-1")
        .unwrap_or_else(|| panic!("no valve switch on stdout:\n{stdout}"));
    assert_eq!(valve_log["level"], "INFO");
    assert_eq!(valve_log["output"], "valve");
    assert!(valve_log["timestamp"].is_string(), "{valve_log}");
    assert_eq!(
        metric(
            &master,
            "plantkeeper_loki_dropped_lines_total{reason=\"queue_full\"}"
        )
        .await,
        0.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loki_that_is_down_costs_reports_nothing_and_its_lines_are_counted_as_dropped() {
    let url = down_loki();
    let dir = tempfile::tempdir().expect("tempdir");
    let master =
        MasterProcess::start(dir.path(), |port| garden_with_loki(port, &url, "text")).await;
    switch_both_on(&master).await;
    assert_reports_stay_fast(&master).await;
    // One batch: 4 attempts with back-off (0.25 + 0.5 + 1 s) after up to 1 s of batching.
    let deadline = Instant::now() + Duration::from_secs(10);
    let dropped = loop {
        let dropped = metric(
            &master,
            "plantkeeper_loki_dropped_lines_total{reason=\"push_failed\"}",
        )
        .await;
        if dropped > 0.0 || Instant::now() > deadline {
            break dropped;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(dropped > 0.0, "no dropped lines counted");
    assert!(metric(&master, "plantkeeper_loki_push_failures_total").await >= 4.0);
    assert_eq!(
        metric(&master, "plantkeeper_loki_pushed_lines_total").await,
        0.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_loki_slows_neither_reports_nor_shutdown() {
    let hanging = HangingLoki::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut master = MasterProcess::start(dir.path(), |port| {
        garden_with_loki(port, &hanging.url, "text")
    })
    .await;
    switch_both_on(&master).await;
    assert_reports_stay_fast(&master).await;
    master.child.sigterm();
    let stopped = Instant::now();
    let status = master
        .child
        .wait_for_exit(Duration::from_secs(10))
        .expect("the master stops despite Loki hanging");
    assert!(status.success(), "exit status {status}");
    assert!(
        stopped.elapsed() < Duration::from_secs(5),
        "stopping took {:?}",
        stopped.elapsed()
    );
}

/// 40 reports, each answered within 500 ms (they take a few ms; Loki's push timeout is 5 s).
async fn assert_reports_stay_fast(master: &MasterProcess) {
    let mut slowest = Duration::ZERO;
    for seq in 2..42_u32 {
        let moisture = if seq % 2 == 0 { 20.0 } else { 60.0 };
        let started = Instant::now();
        let (status, answer) = master
            .report(
                "bed-1",
                &json!({"seq": seq, "boot": 6, "readings": {"soil_moisture": moisture}}),
            )
            .await
            .expect("report");
        assert_eq!(status, 200, "{answer}");
        slowest = slowest.max(started.elapsed());
    }
    assert!(
        slowest < Duration::from_millis(500),
        "the slowest report took {slowest:?}"
    );
}
