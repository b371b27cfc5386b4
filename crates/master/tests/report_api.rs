//! `POST /api/v1/nodes/{id}/report` against a real master with a SQLite store (CONTRACT §3-4).

mod common;

use std::time::Duration;

use common::{TestMaster, garden_toml, node_token};
use plantkeeper_master::ticker::tick;
use serde_json::json;

fn power(answer: &serde_json::Value, output: &str) -> bool {
    answer["outputs"][output]["power"]
        .as_bool()
        .unwrap_or_else(|| panic!("no power for {output} in {answer}"))
}

fn reason(answer: &serde_json::Value, output: &str) -> String {
    answer["outputs"][output]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn dry_bed_gets_its_valve_on_with_a_lease_and_a_reason() {
    let master = TestMaster::start_manual(&garden_toml("")).await;
    let (status, _) = master
        .report(
            "tank",
            json!({"seq": 1, "boot": 7, "readings": {"level": 80.0}}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, answer) = master
        .report(
            "bed-1",
            json!({"seq": 1, "boot": 9, "readings": {"soil_moisture": 28.1}}),
        )
        .await;
    assert_eq!(status, 200, "answer: {answer}");
    assert_eq!(answer["acked_seq"], 1);
    assert!(
        answer["epoch"].as_u64().unwrap_or(0) >= 1,
        "epoch missing: {answer}"
    );
    assert_eq!(answer["report_every_ms"], 5000);
    assert!(power(&answer, "valve"), "valve should be ON: {answer}");
    assert_eq!(answer["outputs"]["valve"]["lease_ms"], 15000);
    assert_eq!(reason(&answer, "valve"), "soil_moisture 28.1 < 30");
    master.stop().await;
}

#[tokio::test]
async fn hysteresis_holds_between_thresholds_across_reports() {
    let master = TestMaster::start_manual(&garden_toml("")).await;
    master
        .report("tank", json!({"seq": 1, "readings": {"level": 80.0}}))
        .await;
    let mut seq = 0;
    let mut send = |moisture: f64| {
        seq += 1;
        let body = json!({"seq": seq, "boot": 1, "readings": {"soil_moisture": moisture}});
        let master = &master;
        async move { master.report("bed-1", body).await.1 }
    };
    assert!(
        !power(&send(38.0).await, "valve"),
        "between thresholds while OFF stays OFF"
    );
    assert!(power(&send(29.0).await, "valve"), "below on_when turns ON");
    assert!(
        power(&send(38.0).await, "valve"),
        "between thresholds while ON stays ON"
    );
    let off = send(45.0).await;
    assert!(!power(&off, "valve"), "off_when turns OFF");
    assert_eq!(reason(&off, "valve"), "soil_moisture 45.0 >= 45");
    assert!(
        !power(&send(38.0).await, "valve"),
        "between thresholds while OFF stays OFF again"
    );
    master.stop().await;
}

#[tokio::test]
async fn pump_follows_the_valve_it_references() {
    let master = TestMaster::start_manual(&garden_toml("")).await;
    let (_, tank) = master
        .report("tank", json!({"seq": 1, "readings": {"level": 80.0}}))
        .await;
    assert!(!power(&tank, "pump"));
    master
        .report(
            "bed-1",
            json!({"seq": 1, "readings": {"soil_moisture": 20.0}}),
        )
        .await;
    let (_, tank) = master
        .report("tank", json!({"seq": 2, "readings": {"level": 80.0}}))
        .await;
    assert!(
        power(&tank, "pump"),
        "pump should follow bed-1.valve: {tank}"
    );
    assert_eq!(reason(&tank, "pump"), "bed-1.valve is ON");
    master
        .report(
            "bed-1",
            json!({"seq": 2, "readings": {"soil_moisture": 50.0}}),
        )
        .await;
    let (_, tank) = master
        .report("tank", json!({"seq": 3, "readings": {"level": 80.0}}))
        .await;
    assert!(
        !power(&tank, "pump"),
        "pump should stop with the valve: {tank}"
    );
    master.stop().await;
}

#[tokio::test]
async fn stale_input_turns_the_valve_off_at_the_next_tick_without_any_report() {
    let master = TestMaster::start_manual(&garden_toml("")).await;
    master
        .report("tank", json!({"seq": 1, "readings": {"level": 80.0}}))
        .await;
    let (_, answer) = master
        .report(
            "bed-1",
            json!({"seq": 1, "readings": {"soil_moisture": 20.0}}),
        )
        .await;
    assert!(power(&answer, "valve"));
    master.clock().advance(Duration::from_secs(14));
    tick(&master.master).await;
    assert!(valve_power(&master), "still fresh after 14 s");
    master.clock().advance(Duration::from_secs(2));
    tick(&master.master).await;
    assert!(
        !valve_power(&master),
        "OFF once its readings are 16 s old (stale_after 15s)"
    );
    let reason = valve_reason(&master);
    assert!(
        reason.contains("silent") || reason.contains("stale"),
        "reason should name staleness: {reason}"
    );
    master.stop().await;
}

fn valve_power(master: &TestMaster) -> bool {
    let id = master
        .master
        .engine()
        .output_id("bed-1", "valve")
        .expect("valve exists");
    master.master.live().control.output(id).power
}

fn valve_reason(master: &TestMaster) -> String {
    let id = master
        .master
        .engine()
        .output_id("bed-1", "valve")
        .expect("valve exists");
    master.master.live().control.output(id).reason.to_string()
}

#[tokio::test]
async fn a_stale_tank_reading_blocks_the_valve_through_require() {
    let master = TestMaster::start_manual(&garden_toml("")).await;
    master
        .report("tank", json!({"seq": 1, "readings": {"level": 80.0}}))
        .await;
    master.clock().advance(Duration::from_secs(20));
    let (_, answer) = master
        .report(
            "bed-1",
            json!({"seq": 1, "readings": {"soil_moisture": 20.0}}),
        )
        .await;
    assert!(!power(&answer, "valve"), "tank level is 20 s old: {answer}");
    assert!(
        reason(&answer, "valve").contains("tank"),
        "reason names the tank: {answer}"
    );
    master.stop().await;
}

#[tokio::test]
async fn retried_report_is_stored_once_and_answered_again() {
    let master = TestMaster::start_manual(&garden_toml("")).await;
    let body = json!({"seq": 5, "boot": 42, "readings": {"soil_moisture": 33.0}});
    let (first, answer1) = master.report("bed-1", body.clone()).await;
    let (second, answer2) = master.report("bed-1", body).await;
    assert_eq!((first, second), (200, 200));
    assert_eq!(answer1["acked_seq"], answer2["acked_seq"]);
    let (_, readings) = master
        .admin_get("/api/v1/nodes/bed-1/readings?sensor=soil_moisture")
        .await;
    assert_eq!(
        readings["points"].as_array().map(Vec::len),
        Some(1),
        "stored once: {readings}"
    );
    master.stop().await;
}

#[tokio::test]
async fn seq_going_backwards_is_accepted_because_nodes_reboot() {
    let master = TestMaster::start_manual(&garden_toml("")).await;
    let (a, _) = master
        .report(
            "bed-1",
            json!({"seq": 100, "boot": 1, "readings": {"soil_moisture": 33.0}}),
        )
        .await;
    let (b, answer) = master
        .report(
            "bed-1",
            json!({"seq": 1, "boot": 2, "readings": {"soil_moisture": 34.0}}),
        )
        .await;
    assert_eq!((a, b), (200, 200));
    assert_eq!(answer["acked_seq"], 1);
    master.stop().await;
}

#[tokio::test]
async fn backlog_readings_are_stored_at_their_real_time() {
    let master = TestMaster::start_manual(&garden_toml("")).await;
    let body = json!({"seq": 3, "boot": 1, "readings": {"soil_moisture": 40.0},
        "backlog": [{"age_ms": 60000, "readings": {"soil_moisture": 44.0}}, {"age_ms": 30000, "readings": {"soil_moisture": 42.0}}]});
    let (status, _) = master.report("bed-1", body).await;
    assert_eq!(status, 200);
    let (_, readings) = master
        .admin_get("/api/v1/nodes/bed-1/readings?sensor=soil_moisture&from=2026-06-01T09:00:00Z&to=2026-06-01T11:00:00Z")
        .await;
    assert_eq!(
        readings["points"],
        json!([
            ["2026-06-01T09:59:00Z", 44.0],
            ["2026-06-01T09:59:30Z", 42.0],
            ["2026-06-01T10:00:00Z", 40.0]
        ]),
        "backlog at now - age_ms"
    );
    master.stop().await;
}

#[tokio::test]
async fn bad_tokens_and_unknown_nodes_are_refused() {
    let master = TestMaster::start_manual(&garden_toml("")).await;
    let body = json!({"seq": 1, "readings": {"soil_moisture": 20.0}}).to_string();
    let (status, error) = master
        .report_with("bed-1", "wrong-token", body.clone())
        .await;
    assert_eq!(status, 401);
    assert_eq!(error["error"]["code"], "unauthorized");
    let (status, _) = master
        .report_with("bed-1", &node_token("tank"), body.clone())
        .await;
    assert_eq!(status, 401, "another node's token is not this node's");
    let response = master
        .http
        .post(format!("{}/api/v1/nodes/bed-1/report", master.base))
        .body(body.clone())
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 401, "missing token");
    let (status, error) = master
        .report_with("bed-9", &node_token("bed-9"), body)
        .await;
    assert_eq!(status, 404);
    assert_eq!(error["error"]["code"], "unknown_node");
    master.stop().await;
}

/// Every malformed body: status, error field, and nothing stored.
#[tokio::test]
async fn malformed_reports_get_a_clear_error_and_change_nothing() {
    let master = TestMaster::start_manual(&garden_toml("")).await;
    let many: serde_json::Map<String, serde_json::Value> =
        (0..65).map(|i| (format!("s{i}"), json!(1.0))).collect();
    let backlog: Vec<serde_json::Value> = (0..1001)
        .map(|_| json!({"age_ms": 1, "readings": {}}))
        .collect();
    let cases: Vec<(&str, String, u16, Option<&str>)> = vec![
        ("not json", "{seq: 1".into(), 400, None),
        ("trailing garbage", r#"{"seq": 1} x"#.into(), 400, None),
        (
            "wrong seq type",
            r#"{"seq": "one"}"#.into(),
            400,
            Some("seq"),
        ),
        (
            "seq too large",
            r#"{"seq": 4294967296}"#.into(),
            400,
            Some("seq"),
        ),
        ("missing seq", r#"{"readings": {}}"#.into(), 400, None),
        (
            "string reading",
            r#"{"seq": 1, "readings": {"soil_moisture": "wet"}}"#.into(),
            400,
            Some("readings.soil_moisture"),
        ),
        (
            "infinite reading",
            r#"{"seq": 1, "readings": {"soil_moisture": 1e999}}"#.into(),
            400,
            Some("readings.soil_moisture"),
        ),
        (
            "huge reading",
            r#"{"seq": 1, "readings": {"soil_moisture": 1e300}}"#.into(),
            422,
            Some("readings.soil_moisture"),
        ),
        (
            "bad sensor name",
            r#"{"seq": 1, "readings": {"Soil Moisture": 3}}"#.into(),
            422,
            Some("readings.Soil Moisture"),
        ),
        (
            "sensor name too long",
            format!(r#"{{"seq": 1, "readings": {{"{}": 3}}}}"#, "a".repeat(65)),
            422,
            None,
        ),
        (
            "65 readings",
            json!({"seq": 1, "readings": many}).to_string(),
            422,
            Some("readings"),
        ),
        (
            "1001 backlog entries",
            json!({"seq": 1, "backlog": backlog}).to_string(),
            422,
            Some("backlog"),
        ),
        (
            "negative age",
            r#"{"seq": 1, "backlog": [{"age_ms": -5, "readings": {"soil_moisture": 3}}]}"#.into(),
            400,
            Some("backlog[0].age_ms"),
        ),
        (
            "age over 7 days",
            r#"{"seq": 1, "backlog": [{"age_ms": 604800001, "readings": {}}]}"#.into(),
            422,
            Some("backlog[0].age_ms"),
        ),
    ];
    for (name, body, expected_status, expected_field) in cases {
        let (status, error) = master
            .report_with("bed-1", &node_token("bed-1"), body)
            .await;
        assert_eq!(status, expected_status, "{name}: {error}");
        assert!(
            error["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{name}: no message in {error}"
        );
        if let Some(field) = expected_field {
            assert_eq!(error["error"]["field"], field, "{name}: {error}");
        }
    }
    let (_, nodes) = master.admin_get("/api/v1/nodes").await;
    assert_eq!(nodes["nodes"][0]["id"], "bed-1");
    assert_eq!(
        nodes["nodes"][0]["status"], "never_seen",
        "no bad report counted as a report: {nodes}"
    );
    let (_, readings) = master
        .admin_get("/api/v1/nodes/bed-1/readings?sensor=soil_moisture")
        .await;
    assert_eq!(readings["points"], json!([]), "nothing stored");
    master.stop().await;
}

#[tokio::test]
async fn body_over_64_kib_is_refused_with_413() {
    let master = TestMaster::start_manual(&garden_toml("")).await;
    let body = format!(r#"{{"seq": 1, "pad": "{}"}}"#, "x".repeat(70 * 1024));
    let (status, error) = master
        .report_with("bed-1", &node_token("bed-1"), body)
        .await;
    assert_eq!(status, 413, "{error}");
    assert_eq!(error["error"]["code"], "body_too_large");
    master.stop().await;
}

#[tokio::test]
async fn every_answer_carries_an_epoch_that_grows_at_every_start() {
    let dir = std::sync::Arc::new(tempfile::tempdir().expect("tempdir"));
    let mut epochs = Vec::new();
    for _ in 0..3 {
        let clock = std::sync::Arc::new(plantkeeper_master::clock::SystemClock);
        let master = TestMaster::start_in(dir.clone(), &garden_toml(""), clock, None).await;
        let (_, answer) = master
            .report(
                "bed-1",
                json!({"seq": 1, "readings": {"soil_moisture": 40.0}}),
            )
            .await;
        epochs.push(answer["epoch"].as_u64().expect("epoch in answer"));
        master.stop().await;
    }
    assert!(
        epochs[0] < epochs[1] && epochs[1] < epochs[2],
        "epochs must grow: {epochs:?}"
    );
}

#[tokio::test]
async fn a_backlog_entry_of_age_zero_never_hides_the_current_reading() {
    let master = TestMaster::start_manual(&garden_toml("")).await;
    master
        .report("tank", json!({"seq": 1, "readings": {"level": 80.0}}))
        .await;
    let body = json!({"seq": 1, "boot": 1, "readings": {"soil_moisture": 40.0},
        "backlog": [{"age_ms": 0, "readings": {"soil_moisture": 20.0}}]});
    let (status, answer) = master.report("bed-1", body).await;
    assert_eq!(status, 200, "{answer}");
    assert!(
        !power(&answer, "valve"),
        "the current 40 % decides, not the backlog's 20 %: {answer}"
    );
    master.stop().await;
}
