//! Original PlantKeeper nodes (CONTRACT §5) against a real master: requests shaped exactly like
//! the original MicroPython firmware's, quirks included (integers, `null`, trailing slash, both
//! prefixes, the firmware's own type names).

mod common;

use std::time::Duration;

use common::{ADMIN_TOKEN, TestMaster, garden_toml, node_token, sha256_hex};
use serde_json::{Value, json};

/// Every original type mapped to a node whose single output follows that type's readings.
fn legacy_garden(allow: &str) -> String {
    let token = |node: &str| node_token(node);
    format!(
        r#"
[master]
listen = "127.0.0.1:0"
timezone = "UTC"
admin_token_sha256 = "{admin}"

[legacy]
enabled = true
{allow}
map = {{ "sprinkler/plant-1" = "bed-1", "water" = "tank", "enclosure" = "box", "cooler" = "cooler", "heater" = "heater", "humidifier" = "fogger" }}

[nodes.bed-1]
token = "{bed1}"
sensors.soil_humidity = {{ min = 0, max = 100, unit = "%" }}
[nodes.bed-1.outputs.valve]
on_when = "soil_humidity < 30"
off_when = "soil_humidity >= 45"
require = ["tank.level >= 20"]

[nodes.tank]
token = "{tank}"
[nodes.tank.outputs.pump]
on_when = "bed-1.valve"
require = ["level >= 20"]

[nodes.box]
token = "{box_}"

[nodes.cooler]
token = "{cooler}"
[nodes.cooler.outputs.fan]
on_when = "air_in_temperature > 28"

[nodes.heater]
token = "{heater}"
[nodes.heater.outputs.heat]
on_when = "air_in_temperature < 18"

[nodes.fogger]
token = "{fogger}"
[nodes.fogger.outputs.mist]
on_when = "air_in_humidity < 40"
"#,
        admin = sha256_hex(ADMIN_TOKEN),
        bed1 = token("bed-1"),
        tank = token("tank"),
        box_ = token("box"),
        cooler = token("cooler"),
        heater = token("heater"),
        fogger = token("fogger"),
    )
}

/// POSTs a raw body the way the original firmware did (JSON, no token).
async fn post_raw(master: &TestMaster, path: &str, body: &str) -> (u16, Value) {
    let response = master
        .http
        .post(format!("{}{path}", master.base))
        .header("accept", "application/json")
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("request sent");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn post(master: &TestMaster, path: &str, body: Value) -> (u16, Value) {
    post_raw(master, path, &body.to_string()).await
}

/// Asserts a 201 acknowledgement and returns its power.
fn acknowledged_power(path: &str, status: u16, answer: &Value) -> u64 {
    assert_eq!(status, 201, "{path} should be acknowledged: {answer}");
    assert_eq!(answer["acknowledged"], true, "{path}: {answer}");
    let object = answer.as_object().expect("answer is an object");
    assert_eq!(object.len(), 2, "only acknowledged and power: {answer}");
    answer["power"]
        .as_u64()
        .unwrap_or_else(|| panic!("{path}: power must be the integer 0 or 1: {answer}"))
}

/// Asserts the original's error shape with power 0 and the given status.
fn assert_refused(path: &str, status: u16, answer: &Value, expected_status: u16, mentions: &str) {
    assert_eq!(status, expected_status, "{path}: {answer}");
    assert_eq!(
        answer["error"], true,
        "{path}: error must be true: {answer}"
    );
    assert_eq!(answer["power"], 0, "{path}: power must be 0: {answer}");
    let message = answer["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(mentions),
        "{path}: message should mention {mentions:?}: {answer}"
    );
}

async fn points(master: &TestMaster, node: &str, sensor: &str) -> Vec<f64> {
    let (status, body) = master
        .admin_get(&format!("/api/v1/nodes/{node}/readings?sensor={sensor}"))
        .await;
    assert_eq!(status, 200, "readings of {node}.{sensor}: {body}");
    body["points"]
        .as_array()
        .unwrap_or_else(|| panic!("no points array: {body}"))
        .iter()
        .map(|point| point[1].as_f64().expect("numeric value"))
        .collect()
}

#[tokio::test]
async fn sprinkler_power_follows_its_mapped_valve_on_every_path_spelling() {
    let master = TestMaster::start_manual(&legacy_garden("")).await;
    let (status, answer) = post(&master, "/water-pump/", json!({"level": 55})).await;
    assert_eq!(
        acknowledged_power("/water-pump/", status, &answer),
        0,
        "pump is OFF while no bed is dry"
    );
    let paths = [
        "/sprinkler-valve/",
        "/sprinkler-valve",
        "/sprinkler/",
        "/sprinkler",
        "/api-v1/sprinkler/",
        "/api-v1/sprinkler",
        "/api-v1/sprinkler-valve/",
        "/api-v1/sprinkler-valve",
    ];
    for (index, path) in paths.iter().enumerate() {
        // Alternate dry and wet so every spelling has to switch the valve.
        let dry = index % 2 == 0;
        let humidity = if dry { 22 } else { 50 };
        master.clock().advance(Duration::from_secs(1));
        let (status, answer) = post(
            &master,
            path,
            json!({"tag": "plant-1", "soil_humidity": humidity}),
        )
        .await;
        assert_eq!(
            acknowledged_power(path, status, &answer),
            u64::from(dry),
            "{path} with soil_humidity {humidity}"
        );
    }
    let stored = points(&master, "bed-1", "soil_humidity").await;
    assert_eq!(
        stored.len(),
        paths.len(),
        "every legacy report is stored, none taken for a retry: {stored:?}"
    );
    master.stop().await;
}

#[tokio::test]
async fn pump_power_follows_the_beds_through_the_water_route() {
    let master = TestMaster::start_manual(&legacy_garden("")).await;
    post(&master, "/water/", json!({"level": 55})).await;
    let (status, answer) = post(
        &master,
        "/sprinkler-valve/",
        json!({"tag": "plant-1", "soil_humidity": 22}),
    )
    .await;
    assert_eq!(acknowledged_power("/sprinkler-valve/", status, &answer), 1);
    let (status, answer) = post(&master, "/api-v1/water/", json!({"level": 55.5})).await;
    assert_eq!(
        acknowledged_power("/api-v1/water/", status, &answer),
        1,
        "the pump follows bed-1.valve"
    );
    let (status, answer) = post(&master, "/water-pump", json!({"level": 10})).await;
    assert_eq!(
        acknowledged_power("/water-pump", status, &answer),
        0,
        "require level >= 20 turns the pump OFF"
    );
    master.stop().await;
}

#[tokio::test]
async fn every_type_accepts_the_original_body_and_stores_the_original_names() {
    let master = TestMaster::start_manual(&legacy_garden("")).await;
    // (path, body, node, expected power, a stored sensor and its value)
    let cases = [
        (
            "/enclosure/",
            json!({"temperature": 24.5, "humidity": 61, "co2_ppm": 420, "uv_index": null, "cov_ppm": null}),
            "box",
            0,
            ("co2_ppm", 420.0),
        ),
        (
            "/api-v1/cooler/",
            json!({"air_in_temperature": 31, "air_out_temperature": 24, "air_in_humidity": 55, "air_out_humidity": 60, "power_status": 0}),
            "cooler",
            1,
            ("air_in_temperature", 31.0),
        ),
        (
            "/heater/",
            json!({"air_in_temperature": 15.5, "air_out_temperature": null, "hot_surface_temperature": 80}),
            "heater",
            1,
            ("hot_surface_temperature", 80.0),
        ),
        (
            "/humidifier/",
            json!({"air_in_humidity": 35}),
            "fogger",
            1,
            ("air_in_humidity", 35.0),
        ),
        (
            "/api-v1/air-humidifier",
            json!({"air_in_humidity": 70, "air_in_temperature": 21}),
            "fogger",
            0,
            ("air_in_temperature", 21.0),
        ),
    ];
    for (path, body, node, power, (sensor, value)) in cases {
        master.clock().advance(Duration::from_secs(1));
        let (status, answer) = post(&master, path, body.clone()).await;
        assert_eq!(
            acknowledged_power(path, status, &answer),
            power,
            "{path} {body}"
        );
        let stored = points(&master, node, sensor).await;
        assert_eq!(
            stored.last().copied(),
            Some(value),
            "{path}: {node}.{sensor} should be stored under its original name"
        );
    }
    master.stop().await;
}

#[tokio::test]
async fn null_fields_are_skipped_not_stored() {
    let master = TestMaster::start_manual(&legacy_garden("")).await;
    let (status, answer) = post_raw(
        &master,
        "/enclosure/",
        r#"{"temperature": 21, "humidity": null, "co2_ppm": 400}"#,
    )
    .await;
    acknowledged_power("/enclosure/", status, &answer);
    assert_eq!(points(&master, "box", "temperature").await, vec![21.0]);
    assert!(
        points(&master, "box", "humidity").await.is_empty(),
        "a null field must not be stored"
    );
    let (status, nodes) = master.admin_get("/api/v1/nodes").await;
    assert_eq!(status, 200);
    let text = nodes.to_string();
    assert!(
        text.contains("\"box\"") && text.contains("online"),
        "the legacy node shows as online: {nodes}"
    );
    master.stop().await;
}

#[tokio::test]
async fn bad_bodies_get_the_original_error_shape_with_power_zero() {
    let master = TestMaster::start_manual(&legacy_garden("")).await;
    let cases = [
        (
            "/sprinkler-valve/",
            r#"{"tag": "plant-1"}"#,
            "soil_humidity",
        ),
        ("/sprinkler-valve/", r#"{"soil_humidity": 42}"#, "tag"),
        (
            "/sprinkler-valve/",
            r#"{"tag": "plant-9", "soil_humidity": 42}"#,
            "sprinkler/plant-9",
        ),
        ("/water-pump/", r#"{}"#, "level"),
        ("/water-pump/", r#"{"level": "high"}"#, "level"),
        ("/enclosure/", r#"{"temperature": 20}"#, "humidity"),
        (
            "/cooler/",
            r#"{"air_in_temperature": 30}"#,
            "air_out_humidity",
        ),
        (
            "/heater/",
            r#"{"air_in_temperature": 30, "power_status": 7}"#,
            "power_status",
        ),
        ("/water/", r#"{"level": 55"#, "invalid JSON"),
        ("/water/", r#"[55]"#, "invalid JSON"),
    ];
    for (path, body, mentions) in cases {
        let (status, answer) = post_raw(&master, path, body).await;
        assert_refused(&format!("{path} {body}"), status, &answer, 400, mentions);
    }
    assert!(
        points(&master, "tank", "level").await.is_empty(),
        "a refused body stores nothing"
    );
    master.stop().await;
}

#[tokio::test]
async fn a_client_outside_allow_is_refused_with_403() {
    let master = TestMaster::start_manual(&legacy_garden("allow = [\"10.3.141.0/24\"]")).await;
    let (status, answer) = post(
        &master,
        "/sprinkler-valve/",
        json!({"tag": "plant-1", "soil_humidity": 20}),
    )
    .await;
    assert_refused("/sprinkler-valve/", status, &answer, 403, "127.0.0.1");
    assert!(points(&master, "bed-1", "soil_humidity").await.is_empty());
    master.stop().await;
}

#[tokio::test]
async fn legacy_routes_answer_404_while_disabled() {
    let master = TestMaster::start_manual(&garden_toml("")).await;
    for path in ["/water-pump/", "/api-v1/water/", "/sprinkler"] {
        let (status, answer) = post(&master, path, json!({"level": 55})).await;
        assert_eq!(
            status, 404,
            "{path} must not exist while disabled: {answer}"
        );
        assert_eq!(answer["error"]["code"], "no_route", "{path}: {answer}");
    }
    let (status, _) = master
        .report("tank", json!({"seq": 1, "readings": {"level": 80.0}}))
        .await;
    assert_eq!(status, 200, "the node API is unaffected");
    master.stop().await;
}

#[tokio::test]
async fn root_answers_200_for_the_original_firmware_check() {
    let master = TestMaster::start_manual(&legacy_garden("")).await;
    let response = master
        .http
        .get(format!("{}/", master.base))
        .send()
        .await
        .expect("request sent");
    assert_eq!(response.status().as_u16(), 200, "GET / must answer 200");
    master.stop().await;
}
