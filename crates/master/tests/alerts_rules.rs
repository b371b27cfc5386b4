//! The built-in alert rules, observed by a real master from real reports (manual clock).

mod common;

use std::time::Duration;

use common::{ADMIN_TOKEN, TestMaster, node_token, sha256_hex};
use plantkeeper_master::ticker::tick;
use serde_json::json;

fn garden() -> String {
    format!(
        r#"
[master]
listen = "127.0.0.1:0"
timezone = "UTC"
admin_token_sha256 = "{admin}"

[alerts]
node_silent_after = "30s"

[nodes.bed-1]
token = "{bed1}"
sensors.soil_moisture = {{ min = 0, max = 100, unit = "%" }}
[nodes.bed-1.outputs.valve]
on_when = "soil_moisture < 30"
off_when = "soil_moisture >= 45"
require = ["tank.level >= 20"]
max_on = "10s"

[nodes.tank]
token = "{tank}"
sensors.level = {{ min = 0, max = 100, unit = "%" }}
"#,
        admin = sha256_hex(ADMIN_TOKEN),
        bed1 = node_token("bed-1"),
        tank = node_token("tank"),
    )
}

struct Garden {
    master: TestMaster,
    seq: u32,
}

impl Garden {
    async fn report(&mut self, node: &str, sensor: &str, value: f64) {
        self.seq += 1;
        let (status, body) = self
            .master
            .report(node, json!({"seq": self.seq, "readings": {sensor: value}}))
            .await;
        assert_eq!(status, 200, "{body}");
    }

    async fn soil(&mut self, value: f64) {
        self.report("bed-1", "soil_moisture", value).await;
    }

    async fn tank(&mut self, value: f64) {
        self.report("tank", "level", value).await;
    }

    /// `rule node.output.sensor` of every firing alert, after a tick.
    async fn firing(&self) -> Vec<String> {
        tick(&self.master.master).await;
        self.master
            .master
            .firing_alerts()
            .iter()
            .map(|alert| {
                let key = &alert.key;
                let subject: Vec<&str> = [&key.node, &key.output, &key.sensor]
                    .into_iter()
                    .flatten()
                    .map(String::as_str)
                    .collect();
                format!("{} {}", key.rule, subject.join("."))
                    .trim_end()
                    .to_owned()
            })
            .collect()
    }

    fn message(&self, rule: &str) -> String {
        self.master
            .master
            .firing_alerts()
            .into_iter()
            .find(|alert| alert.key.rule == rule)
            .map(|alert| alert.message)
            .unwrap_or_default()
    }
}

#[tokio::test]
async fn built_in_rules_fire_and_resolve_from_the_live_view() {
    let mut garden = Garden {
        master: TestMaster::start_manual(&garden()).await,
        seq: 0,
    };
    assert!(garden.firing().await.is_empty(), "a fresh master is quiet");

    // Dry bed, low tank: the valve is wanted ON but the interlock holds it OFF.
    garden.tank(10.0).await;
    garden.soil(20.0).await;
    assert_eq!(garden.firing().await, ["require_blocking bed-1.valve"]);
    assert_eq!(
        garden.message("require_blocking"),
        "bed-1.valve is wanted ON but held OFF: require tank.level >= 20 failed (tank.level 10.0)"
    );

    // Tank refilled: the valve runs, the interlock alert resolves.
    garden.tank(80.0).await;
    garden.soil(21.0).await;
    assert!(garden.firing().await.is_empty());

    // The bed stays dry for the whole max_on: the run is cut, and that is an alert.
    garden.master.clock().advance(Duration::from_secs(10));
    garden.tank(80.0).await;
    garden.soil(22.0).await;
    assert_eq!(garden.firing().await, ["output_max_on bed-1.valve"]);

    // A probe reading 140 % is invalid.
    garden.soil(140.0).await;
    let firing = garden.firing().await;
    assert!(
        firing.contains(&"sensor_invalid bed-1.soil_moisture".to_owned()),
        "{firing:?}"
    );
    assert!(
        garden.message("sensor_invalid").contains("reads 140"),
        "{}",
        garden.message("sensor_invalid")
    );

    // Three safety OFFs within the hour: the tank keeps dropping out under a running valve.
    for _ in 0..3 {
        garden.tank(80.0).await;
        garden.soil(20.0).await;
        tick(&garden.master.master).await;
        garden.tank(10.0).await;
        tick(&garden.master.master).await;
    }
    let firing = garden.firing().await;
    assert!(
        firing.contains(&"safety_off_repeats bed-1.valve".to_owned()),
        "{firing:?}"
    );
    assert!(
        !firing.contains(&"sensor_invalid bed-1.soil_moisture".to_owned()),
        "a valid reading resolves it: {firing:?}"
    );

    // A run that ends by its off condition clears the max_on alert.
    garden.tank(80.0).await;
    garden.soil(20.0).await;
    tick(&garden.master.master).await;
    garden.soil(50.0).await;
    let firing = garden.firing().await;
    assert!(
        !firing.contains(&"output_max_on bed-1.valve".to_owned()),
        "{firing:?}"
    );

    // An hour later the safety OFFs have aged out, and both nodes, silent for 30 s, alert.
    garden.master.clock().advance(Duration::from_secs(3600));
    let firing = garden.firing().await;
    assert_eq!(firing, ["node_silent bed-1", "node_silent tank"]);
    assert!(
        garden
            .message("node_silent")
            .contains("has not reported for 1h"),
        "{}",
        garden.message("node_silent")
    );
    garden.master.stop().await;
}

#[tokio::test]
async fn a_failing_store_raises_storage_error_until_a_write_succeeds() {
    let mut garden = Garden {
        master: TestMaster::start_manual(&garden()).await,
        seq: 0,
    };
    // A real SQLite failure: a trigger makes every stored report abort.
    let database = garden.master.dir.path().join("test.db");
    let sql = rusqlite::Connection::open(&database).expect("open the test database");
    sql.execute_batch(
        "CREATE TRIGGER refuse BEFORE INSERT ON reports BEGIN SELECT RAISE(ABORT, 'disk is on fire'); END;",
    )
    .expect("create trigger");
    garden.seq += 1;
    let (status, body) = garden
        .master
        .report(
            "tank",
            json!({"seq": garden.seq, "readings": {"level": 50.0}}),
        )
        .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(garden.firing().await, ["storage_error"]);
    assert!(
        garden.message("storage_error").contains("disk is on fire"),
        "{}",
        garden.message("storage_error")
    );
    assert_eq!(
        garden.firing().await,
        ["storage_error"],
        "its own alert event does not resolve it"
    );

    sql.execute_batch("DROP TRIGGER refuse;")
        .expect("drop trigger");
    garden.tank(50.0).await;
    assert!(garden.firing().await.is_empty());
    garden.master.stop().await;
}
