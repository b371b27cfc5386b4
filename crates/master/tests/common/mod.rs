//! A real master on 127.0.0.1 with a SQLite store in a temporary directory, for API tests.
#![allow(dead_code)] // each test file uses a different part of this harness

pub mod browser;
pub mod forms;
pub mod session;

use std::sync::Arc;

use plantkeeper_control::load::load_settings;
use plantkeeper_master::Master;
use plantkeeper_master::app::serve;
use plantkeeper_master::clock::{ManualClock, SharedClock};
use plantkeeper_master::settings_history::adopt_at_start;
use plantkeeper_store::Store;
use plantkeeper_store::sqlite::{SqliteOptions, SqliteStore};
use tokio::sync::oneshot;

/// The admin token of every test config.
pub const ADMIN_TOKEN: &str = "admin-token-for-tests-0123456789";
/// Node tokens are `token-of-<node>-0123456789`.
pub fn node_token(node: &str) -> String {
    format!("token-of-{node}-0123456789")
}

/// A small garden: two beds, a tank whose pump follows the beds, a timer lamp.
pub fn garden_toml(extra_defaults: &str) -> String {
    format!(
        r#"
[master]
listen = "127.0.0.1:0"
timezone = "UTC"
admin_token_sha256 = "{admin}"

[defaults]
{extra_defaults}

[nodes.bed-1]
token = "{bed1}"
sensors.soil_moisture = {{ min = 0, max = 100, unit = "%" }}
[nodes.bed-1.outputs.valve]
on_when = "soil_moisture < 30"
off_when = "soil_moisture >= 45"
require = ["tank.level >= 20"]

[nodes.tank]
token = "{tank}"
sensors.level = {{ min = 0, max = 100, unit = "%" }}
[nodes.tank.outputs.pump]
on_when = "bed-1.valve"
require = ["level >= 20"]
"#,
        admin = sha256_hex(ADMIN_TOKEN),
        bed1 = node_token("bed-1"),
        tank = node_token("tank"),
    )
}

/// The garden with the bed's valve switching ON below `threshold` instead of 30.
pub fn garden_with_threshold(threshold: u32) -> String {
    garden_toml("").replace(
        r#"on_when = "soil_moisture < 30""#,
        &format!(r#"on_when = "soil_moisture < {threshold}""#),
    )
}

/// Hex SHA-256 of a token.
pub fn sha256_hex(token: &str) -> String {
    plantkeeper_master::auth::token_digest(token)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// A running test master.
pub struct TestMaster {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The master itself, for direct inspection.
    pub master: Arc<Master>,
    /// Its clock, when the test controls time.
    pub clock: Option<Arc<ManualClock>>,
    /// HTTP client.
    pub http: reqwest::Client,
    /// Where the database lives.
    pub dir: Arc<tempfile::TempDir>,
    stop: Option<oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestMaster {
    /// Starts a master with `toml` settings, a SQLite store in `dir` and the given clock.
    pub async fn start_in(
        dir: Arc<tempfile::TempDir>,
        toml: &str,
        clock: SharedClock,
        manual: Option<Arc<ManualClock>>,
    ) -> TestMaster {
        let mut settings = match load_settings("test.toml", toml) {
            Ok(settings) => settings,
            Err(errors) => panic!("test settings invalid: {errors:#?}"),
        };
        // As `serve` does: relative file paths are taken from the settings file's directory.
        settings.alerts.resolve_paths(dir.path());
        settings.dashboard.resolve_paths(dir.path());
        let store = SqliteStore::open(&dir.path().join("test.db"), SqliteOptions::default())
            .await
            .expect("open store");
        let store: Arc<dyn Store> = Arc::new(store);
        // As `serve` does: the file is imported if it changed, else the newest version runs.
        let adopted = adopt_at_start(
            store.as_ref(),
            "test.toml",
            toml,
            settings,
            dir.path(),
            clock.now(),
        )
        .await
        .expect("settings adopted");
        let master = Master::start_versioned(
            Arc::new(adopted.settings),
            adopted.version,
            dir.path().to_path_buf(),
            store,
            clock,
        )
        .await
        .expect("master starts");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("local addr"));
        let (stop, stopped) = oneshot::channel::<()>();
        let served = tokio::spawn(serve(Arc::clone(&master), listener, async {
            let _ = stopped.await;
        }));
        TestMaster {
            base,
            master,
            clock: manual,
            http: reqwest::Client::new(),
            dir,
            stop: Some(stop),
            served: Some(served),
        }
    }

    /// Starts a master whose clock only moves when the test says.
    pub async fn start_manual(toml: &str) -> TestMaster {
        let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
        let start = "2026-06-01T10:00:00Z".parse().expect("valid time");
        let clock = Arc::new(ManualClock::new(start));
        TestMaster::start_in(dir, toml, clock.clone(), Some(clock)).await
    }

    /// The manual clock.
    pub fn clock(&self) -> &ManualClock {
        self.clock
            .as_deref()
            .expect("this test master has a manual clock")
    }

    /// Stops the server and closes the store.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(served) = self.served.take() {
            served
                .await
                .expect("server task")
                .expect("server stops cleanly");
        }
    }

    /// POSTs a report for `node` with its right token.
    pub async fn report(&self, node: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        self.report_with(node, &node_token(node), body.to_string())
            .await
    }

    /// POSTs a raw report body with the given token.
    pub async fn report_with(
        &self,
        node: &str,
        token: &str,
        body: String,
    ) -> (u16, serde_json::Value) {
        let response = self
            .http
            .post(format!("{}/api/v1/nodes/{node}/report", self.base))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request sent");
        let status = response.status().as_u16();
        let json = response.json().await.unwrap_or(serde_json::Value::Null);
        (status, json)
    }

    /// GETs an admin route.
    pub async fn admin_get(&self, path_and_query: &str) -> (u16, serde_json::Value) {
        let response = self
            .http
            .get(format!("{}{path_and_query}", self.base))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("request sent");
        let status = response.status().as_u16();
        (
            status,
            response.json().await.unwrap_or(serde_json::Value::Null),
        )
    }
}
