//! `GET /metrics` of a real master (SQLite store, real HTTP): the values after accepted,
//! retried and rejected reports, the garden gauges computed at scrape time, the alert channels'
//! counters, and a strict check of the Prometheus text format and naming conventions.

mod alerts_support;
mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use alerts_support::{HttpReceiver, settle};
use common::{TestMaster, garden_toml};
use serde_json::json;

/// One scrape: every sample by `name{labels}` as printed, after checking every line.
struct Scrape {
    samples: BTreeMap<String, f64>,
}

impl Scrape {
    fn value(&self, key: &str) -> f64 {
        *self
            .samples
            .get(key)
            .unwrap_or_else(|| panic!("no sample `{key}` in {:#?}", self.samples.keys()))
    }
}

/// Parses the Prometheus text format strictly: every sample belongs to a family declared by
/// `# HELP` then `# TYPE` just before its samples, names are `plantkeeper_` snake case,
/// counters end in `_total`, histograms have `_bucket{le=...}` (ending in `+Inf` equal to
/// `_count`), `_sum` and `_count`, and every value is a number.
fn parse_exposition(text: &str) -> Scrape {
    let mut samples = BTreeMap::new();
    let mut family: Option<(String, String)> = None;
    let mut help_for: Option<String> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').expect("HELP has a name and a text");
            assert!(!help.trim().is_empty(), "empty help for {name}");
            help_for = Some(name.to_owned());
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE has a name and a type");
            assert_eq!(help_for.as_deref(), Some(name), "TYPE {name} without HELP");
            assert!(
                ["counter", "gauge", "histogram"].contains(&kind),
                "unexpected type {kind} for {name}"
            );
            assert!(
                name.starts_with("plantkeeper_")
                    && name
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "bad metric name {name}"
            );
            if kind == "counter" {
                assert!(
                    name.ends_with("_total"),
                    "counter {name} must end in _total"
                );
            } else {
                assert!(
                    !name.ends_with("_total"),
                    "{kind} {name} must not end in _total"
                );
            }
            family = Some((name.to_owned(), kind.to_owned()));
            continue;
        }
        assert!(!line.starts_with('#'), "unexpected comment line: {line}");
        assert!(!line.is_empty(), "empty line in the exposition");
        let (key, value) = line.rsplit_once(' ').expect("a sample is `name value`");
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("not a number in `{line}`"));
        let name = key.split('{').next().unwrap_or_default();
        if let Some(labels) = key.strip_prefix(name)
            && !labels.is_empty()
        {
            assert!(
                labels.starts_with('{') && labels.ends_with('}'),
                "bad labels in `{line}`"
            );
            for pair in labels[1..labels.len() - 1].split(',') {
                let (label, quoted) = pair.split_once('=').expect("label=\"value\"");
                assert!(
                    label.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                    "bad label name in `{line}`"
                );
                assert!(
                    quoted.len() >= 2 && quoted.starts_with('"') && quoted.ends_with('"'),
                    "unquoted label value in `{line}`"
                );
            }
        }
        let (family_name, kind) = family.as_ref().expect("a sample before any TYPE");
        let allowed = if kind == "histogram" {
            [
                format!("{family_name}_bucket"),
                format!("{family_name}_sum"),
                format!("{family_name}_count"),
            ]
            .contains(&name.to_owned())
        } else {
            name == family_name
        };
        assert!(allowed, "sample {name} outside its family {family_name}");
        assert!(
            samples.insert(key.to_owned(), value).is_none(),
            "duplicate sample {key}"
        );
    }
    let scrape = Scrape { samples };
    for (key, count) in scrape.samples.iter().filter(|(k, _)| k.ends_with("_count")) {
        let base = key.trim_end_matches("_count");
        assert_eq!(
            scrape.value(&format!("{base}_bucket{{le=\"+Inf\"}}")),
            *count,
            "+Inf bucket of {base} differs from its count"
        );
    }
    scrape
}

/// `GET /metrics` without any token (the garden has an admin token: the route needs none).
async fn scrape(master: &TestMaster) -> Scrape {
    let response = master
        .http
        .get(format!("{}/metrics", master.base))
        .send()
        .await
        .expect("GET /metrics");
    assert_eq!(response.status(), 200);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "content type {content_type}"
    );
    parse_exposition(&response.text().await.expect("body"))
}

#[tokio::test]
async fn metrics_count_reports_rejections_readings_and_the_garden() {
    let master = TestMaster::start_manual(&garden_toml("")).await;
    let start = scrape(&master).await;
    assert_eq!(start.value("plantkeeper_reports_received_total"), 0.0);
    assert_eq!(start.value("plantkeeper_nodes{status=\"never_seen\"}"), 2.0);
    assert_eq!(start.value("plantkeeper_nodes{status=\"online\"}"), 0.0);
    assert_eq!(start.value("plantkeeper_outputs_on"), 0.0);
    assert_eq!(
        start.value("plantkeeper_state_changes_total{power=\"on\"}"),
        0.0
    );

    let (status, _) = master
        .report(
            "tank",
            json!({"seq": 1, "boot": 7, "readings": {"level": 80.0}}),
        )
        .await;
    assert_eq!(status, 200);
    let dry = json!({"seq": 1, "boot": 9, "readings": {"soil_moisture": 25.0},
                     "backlog": [{"age_ms": 1000, "readings": {"soil_moisture": 26.0}}]});
    let (status, answer) = master.report("bed-1", dry.clone()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["outputs"]["valve"]["power"], true, "{answer}");
    // A retry: answered again, stored once.
    let (status, _) = master.report("bed-1", dry).await;
    assert_eq!(status, 200);
    // Rejections: wrong token, unknown node, broken JSON, a value out of the limits.
    let (status, _) = master
        .report_with("bed-1", "wrong-token-0123456789", "{}".to_owned())
        .await;
    assert_eq!(status, 401);
    let (status, _) = master.report("nowhere", json!({"seq": 1})).await;
    assert_eq!(status, 404);
    let (status, _) = master
        .report_with("tank", &common::node_token("tank"), "{not json".to_owned())
        .await;
    assert_eq!(status, 400);
    let (status, _) = master
        .report(
            "tank",
            json!({"seq": 2, "boot": 7, "readings": {"Bad Name": 1.0}}),
        )
        .await;
    assert_eq!(status, 422);

    let after = scrape(&master).await;
    assert_eq!(after.value("plantkeeper_reports_received_total"), 7.0);
    assert_eq!(
        after.value("plantkeeper_reports_rejected_total{reason=\"unauthorized\"}"),
        1.0
    );
    assert_eq!(
        after.value("plantkeeper_reports_rejected_total{reason=\"unknown_node\"}"),
        1.0
    );
    assert_eq!(
        after.value("plantkeeper_reports_rejected_total{reason=\"invalid_json\"}"),
        1.0
    );
    assert_eq!(
        after.value("plantkeeper_reports_rejected_total{reason=\"invalid_value\"}"),
        1.0
    );
    assert_eq!(after.value("plantkeeper_reports_duplicate_total"), 1.0);
    // tank: 1 reading; bed-1: 1 + 1 backlog; the retry stores nothing.
    assert_eq!(after.value("plantkeeper_readings_stored_total"), 3.0);
    // valve ON, and the pump that follows it.
    assert_eq!(after.value("plantkeeper_outputs_on"), 2.0);
    assert_eq!(
        after.value("plantkeeper_state_changes_total{power=\"on\"}"),
        2.0
    );
    assert_eq!(after.value("plantkeeper_nodes{status=\"online\"}"), 2.0);
    assert_eq!(after.value("plantkeeper_nodes{status=\"never_seen\"}"), 0.0);
    // master_started, tank, bed-1, its state changes, the retry's write: every one committed.
    let writes = after.value("plantkeeper_store_write_duration_seconds_count");
    assert!(writes >= 5.0, "only {writes} store writes timed");
    assert!(after.value("plantkeeper_store_write_duration_seconds_sum") > 0.0);
    assert_eq!(after.value("plantkeeper_store_write_queue_depth"), 0.0);

    // 20 s later nobody has reported: both nodes are stale and every output is OFF.
    master.clock().advance(Duration::from_secs(20));
    plantkeeper_master::ticker::tick(&master.master).await;
    let stale = scrape(&master).await;
    assert_eq!(stale.value("plantkeeper_nodes{status=\"stale\"}"), 2.0);
    assert_eq!(stale.value("plantkeeper_nodes{status=\"online\"}"), 0.0);
    assert_eq!(stale.value("plantkeeper_outputs_on"), 0.0);
    assert_eq!(
        stale.value("plantkeeper_state_changes_total{power=\"off\"}"),
        2.0
    );
    master.stop().await;
}

#[tokio::test]
async fn alert_notifications_are_counted_per_channel() {
    let receiver = HttpReceiver::start(0).await;
    let toml = format!(
        "{}\n[alerts]\nchannels = [{{ type = \"webhook\", url = \"{}/hook\" }}]\n",
        garden_toml(""),
        receiver.base
    );
    let master = TestMaster::start_manual(&toml).await;
    // Every start raises `master_restarted`: one notification, delivered.
    let stats = &master.master.alerts().channels()[0].stats;
    assert_eq!(settle(&stats.sent, 1).await, 1);
    let scrape = scrape(&master).await;
    let channel = "channel=\"channels[0] (webhook)\"";
    assert_eq!(
        scrape.value(&format!("plantkeeper_alerts_sent_total{{{channel}}}")),
        1.0
    );
    assert_eq!(
        scrape.value(&format!("plantkeeper_alerts_failed_total{{{channel}}}")),
        0.0
    );
    for reason in ["queue_full", "rate_limited"] {
        assert_eq!(
            scrape.value(&format!(
                "plantkeeper_alerts_dropped_total{{{channel},reason=\"{reason}\"}}"
            )),
            0.0
        );
    }
    master.stop().await;
}
