//! The read and override routes (admin token) and `/healthz`, against a real master.

mod common;

use common::{ADMIN_TOKEN, TestMaster, garden_toml};
use serde_json::json;

#[tokio::test]
async fn read_routes_need_the_admin_token() {
    let master = TestMaster::start_manual(&garden_toml("")).await;
    for path in [
        "/api/v1/nodes",
        "/api/v1/events",
        "/api/v1/nodes/bed-1/readings?sensor=soil_moisture",
    ] {
        let response = master
            .http
            .get(format!("{}{path}", master.base))
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status().as_u16(), 401, "{path} without token");
        let response = master
            .http
            .get(format!("{}{path}", master.base))
            .bearer_auth("nope")
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status().as_u16(), 401, "{path} with a wrong token");
        let (status, _) = master.admin_get(path).await;
        assert_eq!(status, 200, "{path} with the admin token");
    }
    master.stop().await;
}

#[tokio::test]
async fn nodes_list_shows_status_readings_and_outputs_with_reasons() {
    let master = TestMaster::start_manual(&garden_toml("")).await;
    master
        .report("tank", json!({"seq": 1, "readings": {"level": 80.0}}))
        .await;
    master
        .report(
            "bed-1",
            json!({"seq": 1, "readings": {"soil_moisture": 20.0}, "outputs": {"valve": false}}),
        )
        .await;
    let (status, body) = master.admin_get("/api/v1/nodes").await;
    assert_eq!(status, 200);
    let nodes = body["nodes"].as_array().expect("nodes array");
    let bed = nodes
        .iter()
        .find(|node| node["id"] == "bed-1")
        .expect("bed-1 listed");
    assert_eq!(bed["status"], "online");
    assert_eq!(bed["readings"]["soil_moisture"]["value"], 20.0);
    assert_eq!(bed["readings"]["soil_moisture"]["unit"], "%");
    assert_eq!(bed["outputs"]["valve"]["power"], true);
    assert_eq!(bed["outputs"]["valve"]["reason"], "soil_moisture 20.0 < 30");
    assert_eq!(bed["outputs"]["valve"]["relay_reported"], false);
    master.stop().await;
}

#[tokio::test]
async fn readings_query_downsamples_with_step() {
    let master = TestMaster::start_manual(&garden_toml("")).await;
    // 10:00:00 now; backlog at -50s .. -10s plus now.
    let backlog: Vec<_> = [50_000, 40_000, 30_000, 20_000, 10_000]
        .iter()
        .zip([10.0, 20.0, 30.0, 40.0, 50.0])
        .map(|(age, value)| json!({"age_ms": age, "readings": {"soil_moisture": value}}))
        .collect();
    master
        .report(
            "bed-1",
            json!({"seq": 1, "readings": {"soil_moisture": 60.0}, "backlog": backlog}),
        )
        .await;
    let (status, body) = master
        .admin_get("/api/v1/nodes/bed-1/readings?sensor=soil_moisture&from=2026-06-01T09:59:00Z&to=2026-06-01T10:01:00Z&step=30s")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["points"],
        json!([
            ["2026-06-01T09:59:00Z", 15.0],
            ["2026-06-01T09:59:30Z", 40.0],
            ["2026-06-01T10:00:00Z", 60.0]
        ]),
        "one averaged point per 30 s bucket"
    );
    master.stop().await;
}

#[tokio::test]
async fn readings_query_refuses_bad_parameters_by_name() {
    let master = TestMaster::start_manual(&garden_toml("")).await;
    let cases = [
        ("/api/v1/nodes/bed-1/readings", 422, "sensor"),
        (
            "/api/v1/nodes/bed-1/readings?sensor=soil_moisture&from=yesterday",
            422,
            "from",
        ),
        (
            "/api/v1/nodes/bed-1/readings?sensor=soil_moisture&step=0s",
            422,
            "step",
        ),
        (
            "/api/v1/nodes/bed-1/readings?sensor=soil_moisture&from=2026-06-02T00:00:00Z&to=2026-06-01T00:00:00Z",
            422,
            "from",
        ),
        (
            "/api/v1/nodes/bed-1/readings?sensor=soil_moisture&colour=red",
            422,
            "colour",
        ),
        ("/api/v1/events?limit=0", 422, "limit"),
        (
            "/api/v1/nodes/bed-1/readings?sensor=soil_moisture&step=1M",
            422,
            "step",
        ),
        ("/api/v1/events?node=nope", 422, "node"),
    ];
    for (path, expected, field) in cases {
        let (status, body) = master.admin_get(path).await;
        assert_eq!(status, expected, "{path}: {body}");
        assert_eq!(body["error"]["field"], field, "{path}: {body}");
    }
    let (status, _) = master
        .admin_get("/api/v1/nodes/nope/readings?sensor=x")
        .await;
    assert_eq!(status, 404);
    master.stop().await;
}

#[tokio::test]
async fn events_list_state_changes_with_reasons_newest_first() {
    let master = TestMaster::start_manual(&garden_toml("")).await;
    master
        .report("tank", json!({"seq": 1, "readings": {"level": 80.0}}))
        .await;
    master
        .report(
            "bed-1",
            json!({"seq": 1, "readings": {"soil_moisture": 20.0}}),
        )
        .await;
    master.clock().advance(std::time::Duration::from_secs(5));
    master
        .report(
            "bed-1",
            json!({"seq": 2, "readings": {"soil_moisture": 50.0}}),
        )
        .await;
    let (status, body) = master.admin_get("/api/v1/events?node=bed-1").await;
    assert_eq!(status, 200);
    let events = body["events"].as_array().expect("events array");
    let changes: Vec<_> = events
        .iter()
        .filter(|event| event["kind"] == "state_change")
        .collect();
    assert_eq!(changes.len(), 2, "{body}");
    assert_eq!(changes[0]["power"], false, "newest first");
    assert_eq!(changes[0]["reason"], "soil_moisture 50.0 >= 45");
    assert_eq!(changes[1]["power"], true);
    let (_, all) = master.admin_get("/api/v1/events").await;
    assert!(
        all["events"]
            .as_array()
            .expect("events")
            .iter()
            .any(|event| event["kind"] == "master_started"),
        "{all}"
    );
    master.stop().await;
}

#[tokio::test]
async fn override_switches_an_output_but_never_past_staleness() {
    let master = TestMaster::start_manual(&garden_toml("")).await;
    master
        .report("tank", json!({"seq": 1, "readings": {"level": 80.0}}))
        .await;
    master
        .report(
            "bed-1",
            json!({"seq": 1, "readings": {"soil_moisture": 40.0}}),
        )
        .await;
    let url = format!("{}/api/v1/nodes/bed-1/outputs/valve/override", master.base);
    let response = master
        .http
        .post(&url)
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"power": true, "for": "10m"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 200);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["power"], true, "{body}");
    assert!(
        body["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("override"),
        "{body}"
    );

    master.clock().advance(std::time::Duration::from_secs(20));
    plantkeeper_master::ticker::tick(&master.master).await;
    let (_, nodes) = master.admin_get("/api/v1/nodes").await;
    let bed = nodes["nodes"]
        .as_array()
        .and_then(|n| n.iter().find(|node| node["id"] == "bed-1").cloned())
        .expect("bed-1");
    assert_eq!(
        bed["outputs"]["valve"]["power"], false,
        "stale input wins over the override: {bed}"
    );

    let response = master
        .http
        .delete(&url)
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 200);
    master.stop().await;
}

#[tokio::test]
async fn bad_overrides_are_refused() {
    let master = TestMaster::start_manual(&garden_toml("")).await;
    let post = |path: &str, body: serde_json::Value, token: Option<&str>| {
        let mut request = master
            .http
            .post(format!("{}{path}", master.base))
            .json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let valve = "/api/v1/nodes/bed-1/outputs/valve/override";
    let cases = [
        (
            valve,
            json!({"power": true, "for": "25h"}),
            Some(ADMIN_TOKEN),
            422,
        ),
        (
            valve,
            json!({"power": true, "for": "soon"}),
            Some(ADMIN_TOKEN),
            422,
        ),
        (valve, json!({"power": true}), Some(ADMIN_TOKEN), 422),
        (
            valve,
            json!({"power": "yes", "for": "1m"}),
            Some(ADMIN_TOKEN),
            400,
        ),
        (
            valve,
            json!({"power": true, "for": "1m", "colour": 1}),
            Some(ADMIN_TOKEN),
            400,
        ),
        (
            "/api/v1/nodes/bed-1/outputs/sprinkler/override",
            json!({"power": true, "for": "1m"}),
            Some(ADMIN_TOKEN),
            404,
        ),
        (valve, json!({"power": true, "for": "1m"}), None, 401),
    ];
    for (path, body, token, expected) in cases {
        let response = post(path, body.clone(), token).await.expect("sent");
        assert_eq!(response.status().as_u16(), expected, "{path} {body}");
    }
    master.stop().await;
}

#[tokio::test]
async fn healthz_is_ok_while_the_store_is_writable() {
    let master = TestMaster::start_manual(&garden_toml("")).await;
    let response = master
        .http
        .get(format!("{}/healthz", master.base))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 200);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["status"], "ok");
    master.stop().await;
}
