//! The settings routes (admin token) against a real master with a real SQLite store: read,
//! replace, history, diff, rollback, refusals, hot apply, and which version runs across a
//! restart.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{ADMIN_TOKEN, TestMaster, garden_toml, garden_with_threshold};
use plantkeeper_master::clock::ManualClock;
use serde_json::{Value, json};

/// What a settings request answered.
struct Answer {
    status: u16,
    version_header: Option<String>,
    content_type: Option<String>,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
}

async fn send(request: reqwest::RequestBuilder) -> Answer {
    let response = request.send().await.expect("request sent");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|value| value.to_str().expect("ASCII header").to_owned())
    };
    Answer {
        status: response.status().as_u16(),
        version_header: header("x-settings-version"),
        content_type: header("content-type"),
        text: response.text().await.expect("body read"),
    }
}

async fn get_settings(master: &TestMaster) -> Answer {
    send(
        master
            .http
            .get(format!("{}/api/v1/settings", master.base))
            .bearer_auth(ADMIN_TOKEN),
    )
    .await
}

async fn put_settings(master: &TestMaster, text: impl Into<reqwest::Body>) -> Answer {
    send(
        master
            .http
            .put(format!("{}/api/v1/settings", master.base))
            .bearer_auth(ADMIN_TOKEN)
            .header("content-type", "application/toml")
            .body(text),
    )
    .await
}

async fn post_admin(master: &TestMaster, path: &str) -> Answer {
    send(
        master
            .http
            .post(format!("{}{path}", master.base))
            .bearer_auth(ADMIN_TOKEN),
    )
    .await
}

const EVENTS_TODAY: &str = "/api/v1/events?from=2026-06-01T00:00:00Z&to=2026-06-02T00:00:00Z";

#[tokio::test]
async fn put_replaces_the_settings_lists_the_history_and_rollback_restores_a_version() {
    let master = TestMaster::start_manual(&garden_toml("")).await;
    let original = garden_toml("");

    let first = get_settings(&master).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.version_header.as_deref(), Some("1"));
    assert_eq!(first.content_type.as_deref(), Some("application/toml"));
    assert_eq!(first.text, original, "the running text exactly as imported");

    let changed = garden_with_threshold(40);
    let put = put_settings(&master, changed.clone()).await;
    assert_eq!(put.status, 200, "{}", put.text);
    assert_eq!(put.json(), json!({"version": 2, "changed": true}));
    let second = get_settings(&master).await;
    assert_eq!(second.version_header.as_deref(), Some("2"));
    assert_eq!(second.text, changed);

    let (status, history) = master.admin_get("/api/v1/settings/versions").await;
    assert_eq!(status, 200, "{history}");
    assert_eq!(history["running"], 2);
    let versions = history["versions"].as_array().expect("versions array");
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0]["version"], 2, "newest first");
    assert_eq!(versions[0]["author"], "admin token");
    assert_eq!(versions[0]["source"], "api");
    assert_eq!(versions[0]["summary"], "+1 -1 lines");
    assert_eq!(versions[0]["time"], "2026-06-01T10:00:00Z");
    assert_eq!(versions[1]["version"], 1);
    assert_eq!(versions[1]["source"], "file");
    assert_eq!(versions[1]["author"], "settings file test.toml");

    let (status, version) = master.admin_get("/api/v1/settings/versions/2").await;
    assert_eq!(status, 200, "{version}");
    assert_eq!(version["text"], changed.as_str());
    let diff = version["diff"].as_str().expect("diff text");
    assert!(diff.starts_with("--- previous\n+++ new\n@@ "), "{diff}");
    assert!(
        diff.contains("\n-on_when = \"soil_moisture < 30\"\n+on_when = \"soil_moisture < 40\"\n"),
        "{diff}"
    );
    let (status, missing) = master.admin_get("/api/v1/settings/versions/9").await;
    assert_eq!(status, 404, "{missing}");
    assert_eq!(missing["error"]["code"], "unknown_version");

    // The same text again changes nothing and stores nothing.
    let same = put_settings(&master, changed.clone()).await;
    assert_eq!(same.json(), json!({"version": 2, "changed": false}));

    let stale = send(
        master
            .http
            .post(format!("{}/api/v1/settings/rollback/1", master.base))
            .bearer_auth(ADMIN_TOKEN)
            .header("if-match", "1"),
    )
    .await;
    assert_eq!(
        stale.status, 409,
        "If-Match names a version no longer running"
    );
    assert_eq!(stale.json()["error"]["code"], "version_conflict");
    let rollback = post_admin(&master, "/api/v1/settings/rollback/1").await;
    assert_eq!(rollback.status, 200, "{}", rollback.text);
    assert_eq!(rollback.json()["version"], 3);
    let third = get_settings(&master).await;
    assert_eq!(third.version_header.as_deref(), Some("3"));
    assert_eq!(third.text, original, "version 1's text runs again");
    let (_, history) = master.admin_get("/api/v1/settings/versions").await;
    assert_eq!(
        history["versions"][0]["author"],
        "rollback of 1 by admin token"
    );
    assert_eq!(history["versions"][0]["source"], "rollback");
    let rollback_missing = post_admin(&master, "/api/v1/settings/rollback/42").await;
    assert_eq!(rollback_missing.status, 404);

    let (_, events) = master.admin_get(EVENTS_TODAY).await;
    let messages: Vec<&str> = events["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|event| event["kind"] == "settings")
        .filter_map(|event| event["message"].as_str())
        .collect();
    assert_eq!(
        messages,
        vec![
            "settings version 3 by rollback of 1 by admin token (rollback): +1 -1 lines",
            "settings version 2 by admin token (api): +1 -1 lines",
        ],
        "every change is an event, newest first"
    );
    master.stop().await;
}

#[tokio::test]
async fn put_reports_every_error_positioned_and_changes_nothing() {
    let master = TestMaster::start_manual(&garden_toml("")).await;
    let broken = garden_toml("report_evry = \"5s\"").replace(
        r#"on_when = "soil_moisture < 30""#,
        r#"on_when = "soil_moisture < ""#,
    );
    let put = put_settings(&master, broken.clone()).await;
    assert_eq!(put.status, 422, "{}", put.text);
    let body = put.json();
    assert_eq!(body["error"]["code"], "invalid_settings");
    assert_eq!(
        body["error"]["message"],
        "the settings have 2 errors; nothing changed"
    );
    let errors = body["error"]["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 2, "{body}");
    let line_of = |needle: &str| {
        broken
            .lines()
            .position(|line| line.contains(needle))
            .expect("line present")
            + 1
    };
    assert_eq!(errors[0]["line"], line_of("report_evry"));
    assert_eq!(errors[0]["column"], 1);
    assert_eq!(errors[0]["field"], "defaults.report_evry");
    assert!(
        errors[0]["message"]
            .as_str()
            .expect("message")
            .contains("report_every"),
        "a did-you-mean hint: {body}"
    );
    assert_eq!(errors[1]["line"], line_of("soil_moisture < \""));
    assert_eq!(errors[1]["field"], "nodes.bed-1.outputs.valve.on_when");
    assert_eq!(body["error"]["field"], "defaults.report_evry");

    let after = get_settings(&master).await;
    assert_eq!(
        after.version_header.as_deref(),
        Some("1"),
        "nothing changed"
    );
    let (_, history) = master.admin_get("/api/v1/settings/versions").await;
    assert_eq!(history["versions"].as_array().map(Vec::len), Some(1));
    master.stop().await;
}

#[tokio::test]
async fn put_refuses_a_listen_or_database_change_as_a_whole() {
    let master = TestMaster::start_manual(&garden_toml("")).await;
    let moved = garden_with_threshold(40)
        .replace(r#"listen = "127.0.0.1:0""#, r#"listen = "127.0.0.1:9999""#)
        .replace(
            r#"timezone = "UTC""#,
            "timezone = \"UTC\"\ndatabase = \"sqlite://elsewhere.db\"",
        );
    let put = put_settings(&master, moved.clone()).await;
    assert_eq!(put.status, 422, "{}", put.text);
    let body = put.json();
    assert_eq!(body["error"]["code"], "restart_required");
    assert_eq!(body["error"]["field"], "master.listen");
    assert_eq!(
        body["error"]["message"],
        "master.listen needs a restart and cannot change while the master runs; nothing changed"
    );
    let errors = body["error"]["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 2, "{body}");
    let line_of = |needle: &str| {
        moved
            .lines()
            .position(|l| l.starts_with(needle))
            .expect("line")
            + 1
    };
    assert_eq!(errors[0]["field"], "master.listen");
    assert_eq!(errors[0]["line"], line_of("listen"));
    assert_eq!(errors[1]["field"], "master.database");
    assert_eq!(errors[1]["line"], line_of("database"));
    assert!(
        errors[0]["message"]
            .as_str()
            .expect("message")
            .contains("127.0.0.1:0 → 127.0.0.1:9999"),
        "{body}"
    );
    // Nothing was half-applied: the threshold change in the same document did not run.
    let after = get_settings(&master).await;
    assert_eq!(after.version_header.as_deref(), Some("1"));
    assert!(after.text.contains("soil_moisture < 30"));
    master.stop().await;
}

#[tokio::test]
async fn settings_routes_need_the_admin_token_and_check_the_request() {
    let master = TestMaster::start_manual(&garden_toml("")).await;
    let base = &master.base;
    let http = &master.http;
    for (method, path) in [
        (reqwest::Method::GET, "/api/v1/settings"),
        (reqwest::Method::PUT, "/api/v1/settings"),
        (reqwest::Method::GET, "/api/v1/settings/versions"),
        (reqwest::Method::GET, "/api/v1/settings/versions/1"),
        (reqwest::Method::POST, "/api/v1/settings/rollback/1"),
    ] {
        let anonymous = send(
            http.request(method.clone(), format!("{base}{path}"))
                .header("content-type", "application/toml")
                .body(garden_toml("")),
        )
        .await;
        assert_eq!(anonymous.status, 401, "{method} {path} without a token");
        let wrong = send(
            http.request(method.clone(), format!("{base}{path}"))
                .bearer_auth("not-the-admin-token")
                .header("content-type", "application/toml")
                .body(garden_toml("")),
        )
        .await;
        assert_eq!(wrong.status, 401, "{method} {path} with a wrong token");
    }

    let json_body = send(
        http.put(format!("{base}/api/v1/settings"))
            .bearer_auth(ADMIN_TOKEN)
            .header("content-type", "application/json")
            .body("{}"),
    )
    .await;
    assert_eq!(json_body.status, 415);
    assert_eq!(
        json_body.json()["error"]["message"],
        "send the settings as `Content-Type: application/toml` (got `application/json`)"
    );
    let untyped = send(
        http.put(format!("{base}/api/v1/settings"))
            .bearer_auth(ADMIN_TOKEN)
            .body(garden_toml("")),
    )
    .await;
    assert_eq!(untyped.status, 415);

    let mut huge = garden_toml("");
    huge.push_str(&"# padding\n".repeat(7_000));
    let too_large = put_settings(&master, huge).await;
    assert_eq!(too_large.status, 413, "{}", too_large.text);
    assert_eq!(too_large.json()["error"]["code"], "body_too_large");

    let mut latin1 = garden_toml("").into_bytes();
    latin1.extend_from_slice(b"# caf\xe9\n");
    let not_utf8 = put_settings(&master, latin1).await;
    assert_eq!(not_utf8.status, 400, "{}", not_utf8.text);
    assert_eq!(not_utf8.json()["error"]["code"], "not_utf8");

    let with_version = |version: &str| {
        http.put(format!("{base}/api/v1/settings"))
            .bearer_auth(ADMIN_TOKEN)
            .header("content-type", "application/toml; charset=utf-8")
            .header("if-match", version.to_owned())
            .body(garden_with_threshold(35))
    };
    let stale = send(with_version("7")).await;
    assert_eq!(stale.status, 409, "{}", stale.text);
    assert_eq!(stale.json()["error"]["code"], "version_conflict");
    let garbled = send(with_version("latest")).await;
    assert_eq!(garbled.status, 400);
    let current = send(with_version("\"1\"")).await;
    assert_eq!(current.status, 200, "{}", current.text);
    assert_eq!(current.json()["version"], 2);
    master.stop().await;
}

async fn valve_and_pump(master: &TestMaster) -> (Value, Value) {
    let (status, nodes) = master.admin_get("/api/v1/nodes").await;
    assert_eq!(status, 200);
    let list = nodes["nodes"].as_array().expect("nodes");
    let output = |node: &str, output: &str| {
        list.iter()
            .find(|entry| entry["id"] == node)
            .map_or(Value::Null, |entry| entry["outputs"][output].clone())
    };
    (output("bed-1", "valve"), output("tank", "pump"))
}

#[tokio::test]
async fn a_change_decides_at_the_next_report_and_at_once_for_outputs_it_forbids() {
    let master = TestMaster::start_manual(&garden_toml("")).await;
    master
        .report("tank", json!({"seq": 1, "readings": {"level": 80.0}}))
        .await;
    let (status, answer) = master
        .report(
            "bed-1",
            json!({"seq": 1, "readings": {"soil_moisture": 35.0}}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["outputs"]["valve"]["power"], false, "35 is not < 30");

    // Raise the threshold: the master decides by it at once (every output is re-decided when
    // the settings change), and the next report's answer grants the valve a lease.
    assert_eq!(
        put_settings(&master, garden_with_threshold(40))
            .await
            .status,
        200
    );
    master.clock().advance(Duration::from_secs(1));
    let (_, answer) = master
        .report(
            "bed-1",
            json!({"seq": 2, "readings": {"soil_moisture": 35.0}}),
        )
        .await;
    assert_eq!(answer["outputs"]["valve"]["power"], true, "{answer}");
    assert!(
        answer["outputs"]["valve"]["lease_ms"].as_u64() > Some(0),
        "{answer}"
    );
    let (_, events) = master.admin_get(EVENTS_TODAY).await;
    let valve_on = events["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|event| event["kind"] == "state_change" && event["output"] == "valve")
        .expect("a valve state change")
        .clone();
    assert_eq!(valve_on["power"], true);
    assert_eq!(
        valve_on["reason"], "soil_moisture 35.0 < 40",
        "decided by the new threshold"
    );
    let (valve, pump) = valve_and_pump(&master).await;
    assert_eq!(valve["power"], true);
    assert_eq!(pump["power"], true, "the pump follows the valve");

    // A change whose rules now say OFF switches it OFF at once, before any report.
    master.clock().advance(Duration::from_secs(1));
    let stricter = garden_toml("").replace(
        r#"off_when = "soil_moisture >= 45""#,
        r#"off_when = "soil_moisture >= 33""#,
    );
    assert_eq!(put_settings(&master, stricter).await.status, 200);
    let (valve, _) = valve_and_pump(&master).await;
    assert_eq!(valve["power"], false, "{valve}");
    assert_eq!(valve["reason"], "soil_moisture 35.0 >= 33");

    // Back ON, then remove the pump: it goes OFF with a reason saying why.
    master.clock().advance(Duration::from_secs(1));
    assert_eq!(
        put_settings(&master, garden_with_threshold(40))
            .await
            .status,
        200
    );
    let (valve, pump) = valve_and_pump(&master).await;
    assert_eq!(
        (valve["power"].clone(), pump["power"].clone()),
        (json!(true), json!(true))
    );
    master.clock().advance(Duration::from_secs(1));
    let pumpless = garden_with_threshold(40).replace(
        "[nodes.tank.outputs.pump]\non_when = \"bed-1.valve\"\nrequire = [\"level >= 20\"]\n",
        "",
    );
    assert!(
        !pumpless.contains("outputs.pump"),
        "the pump block was removed"
    );
    let put = put_settings(&master, pumpless).await;
    assert_eq!(put.status, 200, "{}", put.text);
    let (_, pump) = valve_and_pump(&master).await;
    assert_eq!(pump, Value::Null, "the pump is gone");
    let (_, events) = master.admin_get(EVENTS_TODAY).await;
    let newest_pump = events["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|event| event["kind"] == "state_change" && event["output"] == "pump")
        .expect("a pump state change")
        .clone();
    assert_eq!(newest_pump["power"], false);
    assert_eq!(newest_pump["reason"], "removed by settings version 5");
    master.stop().await;
}

#[tokio::test]
async fn across_a_restart_the_newest_version_runs_until_the_file_changes() {
    let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
    let start = "2026-06-01T10:00:00Z".parse().expect("valid time");
    let clock = Arc::new(ManualClock::new(start));
    let file = garden_toml("");

    let master =
        TestMaster::start_in(Arc::clone(&dir), &file, clock.clone(), Some(clock.clone())).await;
    assert_eq!(
        put_settings(&master, garden_with_threshold(40))
            .await
            .status,
        200
    );
    master.stop().await;

    // The file did not change: the API's version 2 runs, nothing is imported.
    let master =
        TestMaster::start_in(Arc::clone(&dir), &file, clock.clone(), Some(clock.clone())).await;
    let running = get_settings(&master).await;
    assert_eq!(running.version_header.as_deref(), Some("2"));
    assert!(running.text.contains("soil_moisture < 40"));
    let (_, history) = master.admin_get("/api/v1/settings/versions").await;
    assert_eq!(history["versions"].as_array().map(Vec::len), Some(2));
    master.stop().await;

    // The file was edited: it is imported as version 3 and runs.
    let edited = garden_with_threshold(25);
    let master = TestMaster::start_in(Arc::clone(&dir), &edited, clock.clone(), Some(clock)).await;
    let running = get_settings(&master).await;
    assert_eq!(running.version_header.as_deref(), Some("3"));
    assert_eq!(running.text, edited);
    let (_, history) = master.admin_get("/api/v1/settings/versions").await;
    assert_eq!(history["versions"][0]["source"], "file");
    assert_eq!(
        history["versions"][0]["summary"], "+1 -1 lines",
        "diffed against version 2"
    );
    master.stop().await;
}
