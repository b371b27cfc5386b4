//! Runs the real `plantkeeper` binary for integration tests: a guard that kills the child on
//! drop (so a failing test never leaves a process behind), one-shot runs with a time limit, and
//! a `serve` master on a free loopback port with its settings and SQLite database in a temporary
//! directory.
#![allow(dead_code)] // each test file uses a different part of this harness

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub const BINARY: &str = env!("CARGO_BIN_EXE_plantkeeper");

/// The admin bearer token of every test garden.
pub const ADMIN_TOKEN: &str = "admin-token-for-itests-0123456789";
/// `printf %s "$ADMIN_TOKEN" | sha256sum`, written out so the test does not trust the product's
/// own hashing.
pub const ADMIN_TOKEN_SHA256: &str =
    "ba88bd99cf86b06ff113d66102e4243c9bd7e7395d99fa841203bf5eb0a20cbc";

/// How long a master may take from spawn to a healthy `/healthz`.
pub const START_TIMEOUT: Duration = Duration::from_secs(15);

/// The plain bearer token of a test node (at least 16 characters, as `check` demands).
pub fn node_token(node: &str) -> String {
    format!("token-of-{node}-0123456789")
}

/// A child process that is killed (SIGKILL) and reaped when dropped, even if the test panics.
pub struct ChildGuard {
    child: Child,
}

impl ChildGuard {
    /// Spawns `command`, guarded.
    pub fn spawn(command: &mut Command) -> ChildGuard {
        let child = command
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {command:?}: {error}"));
        ChildGuard { child }
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The exit status if the process has ended.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        self.child
            .try_wait()
            .unwrap_or_else(|error| panic!("cannot poll the child process: {error}"))
    }

    /// Waits at most `limit` for the process to end; `None` if it is still running.
    pub fn wait_for_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.try_status() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sends SIGKILL (what `Child::kill` does on unix) and reaps the process.
    pub fn kill_9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM through `kill -TERM PID`.
    pub fn sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.id().to_string()])
            .status()
            .unwrap_or_else(|error| panic!("cannot run `kill -TERM`: {error}"));
        assert!(status.success(), "`kill -TERM {}` failed", self.id());
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill_9();
    }
}

/// What a finished run of the binary printed.
#[derive(Debug)]
pub struct Finished {
    /// Its exit status.
    pub status: ExitStatus,
    /// Everything it wrote to stdout.
    pub stdout: String,
    /// Everything it wrote to stderr.
    pub stderr: String,
}

impl Finished {
    /// The exit code (panics if a signal ended the process).
    pub fn code(&self) -> i32 {
        self.status
            .code()
            .unwrap_or_else(|| panic!("the process was ended by a signal: {self:?}"))
    }

    /// The lines of stderr.
    pub fn stderr_lines(&self) -> Vec<&str> {
        self.stderr.lines().collect()
    }
}

/// Runs the binary with `args` in the working directory `cwd` and waits at most `limit` for it
/// to end; the output goes through temporary files, so a chatty process can never block on a
/// full pipe.
pub fn run_to_exit(cwd: &Path, args: &[&str], limit: Duration) -> Finished {
    let logs = tempfile::tempdir().unwrap_or_else(|error| panic!("no temporary dir: {error}"));
    let out_path = logs.path().join("stdout.log");
    let err_path = logs.path().join("stderr.log");
    let mut child = ChildGuard::spawn(
        Command::new(BINARY)
            .args(args)
            .current_dir(cwd)
            .stdin(Stdio::null())
            .stdout(create_file(&out_path))
            .stderr(create_file(&err_path)),
    );
    let Some(status) = child.wait_for_exit(limit) else {
        panic!(
            "`plantkeeper {}` did not exit within {limit:?}",
            args.join(" ")
        )
    };
    Finished {
        status,
        stdout: read_text(&out_path),
        stderr: read_text(&err_path),
    }
}

/// A loopback port that was free a moment ago (the caller retries if it was taken since).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap_or_else(|error| panic!("cannot bind 127.0.0.1:0: {error}"));
    listener
        .local_addr()
        .unwrap_or_else(|error| panic!("no local address: {error}"))
        .port()
}

/// Settings for a small garden on `port`: a SQLite database `garden.db` beside the settings,
/// the admin token, and two nodes with plain tokens — `bed-1` (soil moisture, a valve with
/// hysteresis 30/45) and `tank` (level, a pump ON below 50). `defaults` is the body of the
/// `[defaults]` table.
pub fn garden_toml(port: u16, defaults: &str) -> String {
    format!(
        r#"[master]
listen = "127.0.0.1:{port}"
database = "sqlite://garden.db"
timezone = "UTC"
admin_token_sha256 = "{ADMIN_TOKEN_SHA256}"

[telemetry]
log = "warn"

[defaults]
{defaults}

[nodes.bed-1]
token = "{bed}"
sensors.soil_moisture = {{ min = 0, max = 100, unit = "%" }}
[nodes.bed-1.outputs.valve]
on_when = "soil_moisture < 30"
off_when = "soil_moisture >= 45"

[nodes.tank]
token = "{tank}"
sensors.level = {{ min = 0, max = 100, unit = "%" }}
[nodes.tank.outputs.pump]
on_when = "level < 50"
"#,
        bed = node_token("bed-1"),
        tank = node_token("tank"),
    )
}

/// A running `plantkeeper serve` process, killed when dropped.
pub struct MasterProcess {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The process.
    pub child: ChildGuard,
    /// Where its stderr goes.
    pub stderr_path: PathBuf,
    /// Where its stdout (the logs) goes.
    pub stdout_path: PathBuf,
    /// An HTTP client for it.
    pub http: reqwest::Client,
}

impl MasterProcess {
    /// Writes `settings(port)` to `dir/plantkeeper.toml` for a free port and starts
    /// `plantkeeper serve` on it, retrying with another port if that one was taken meanwhile;
    /// returns once `/healthz` answers 200.
    pub async fn start(dir: &Path, settings: impl Fn(u16) -> String) -> MasterProcess {
        Self::start_with_env(dir, &[], settings).await
    }

    /// Like [`MasterProcess::start`], with the variables `env` added to the process's
    /// environment.
    pub async fn start_with_env(
        dir: &Path,
        env: &[(&str, &str)],
        settings: impl Fn(u16) -> String,
    ) -> MasterProcess {
        let mut last_failure = String::new();
        for _attempt in 0..3 {
            match Self::try_start_on_port(dir, free_port(), env, &settings).await {
                Ok(master) => return master,
                Err(failure) if failure.contains("cannot listen") => last_failure = failure,
                Err(failure) => panic!("the master did not start: {failure}"),
            }
        }
        panic!("the master did not start on any free port: {last_failure}")
    }

    /// Like [`MasterProcess::start`] but on `port` exactly, without retrying: for a restart on
    /// the port that nodes already know (the previous master must be gone).
    pub async fn start_on_port(
        dir: &Path,
        port: u16,
        settings: impl Fn(u16) -> String,
    ) -> MasterProcess {
        Self::try_start_on_port(dir, port, &[], &settings)
            .await
            .unwrap_or_else(|failure| panic!("the master did not start on port {port}: {failure}"))
    }

    async fn try_start_on_port(
        dir: &Path,
        port: u16,
        env: &[(&str, &str)],
        settings: &impl Fn(u16) -> String,
    ) -> Result<MasterProcess, String> {
        let config = dir.join("plantkeeper.toml");
        std::fs::write(&config, settings(port))
            .unwrap_or_else(|error| panic!("cannot write {}: {error}", config.display()));
        let stderr_path = unique_path(dir, "serve-stderr");
        let stdout_path = unique_path(dir, "serve-stdout");
        let child = ChildGuard::spawn(
            Command::new(BINARY)
                .args(["serve", "--config"])
                .arg(&config)
                .envs(env.iter().copied())
                .current_dir(dir)
                .stdin(Stdio::null())
                .stdout(create_file(&stdout_path))
                .stderr(create_file(&stderr_path)),
        );
        let mut master = MasterProcess {
            base: format!("http://127.0.0.1:{port}"),
            child,
            stderr_path,
            stdout_path,
            http: reqwest::Client::new(),
        };
        master.wait_until_healthy().await.map(|()| master)
    }

    async fn wait_until_healthy(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_status() {
                return Err(format!(
                    "it exited with {status}; stderr: {}",
                    read_text(&self.stderr_path)
                ));
            }
            let health = self
                .http
                .get(format!("{}/healthz", self.base))
                .timeout(Duration::from_secs(1))
                .send()
                .await;
            if health.is_ok_and(|response| response.status() == 200) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!("/healthz not 200 within {START_TIMEOUT:?}"));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Everything the process wrote to stderr so far.
    pub fn stderr(&self) -> String {
        read_text(&self.stderr_path)
    }

    /// Everything the process wrote to stdout (its logs) so far.
    pub fn stdout(&self) -> String {
        read_text(&self.stdout_path)
    }

    /// POSTs a report for `node` with its token; see [`post_report`].
    pub async fn report(
        &self,
        node: &str,
        body: &serde_json::Value,
    ) -> reqwest::Result<(u16, serde_json::Value)> {
        post_report(&self.http, &self.base, node, body).await
    }

    /// GETs an admin route and expects 200 with JSON.
    pub async fn admin_get(&self, path_and_query: &str) -> serde_json::Value {
        let response = self
            .http
            .get(format!("{}{path_and_query}", self.base))
            .bearer_auth(ADMIN_TOKEN)
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .unwrap_or_else(|error| panic!("GET {path_and_query} failed: {error}"));
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert_eq!(
            status, 200,
            "GET {path_and_query} answered {status}: {text}"
        );
        serde_json::from_str(&text)
            .unwrap_or_else(|error| panic!("GET {path_and_query} is not JSON ({error}): {text}"))
    }

    /// The view of node `node` in `GET /api/v1/nodes`.
    pub async fn node_view(&self, node: &str) -> serde_json::Value {
        let nodes = self.admin_get("/api/v1/nodes").await;
        nodes["nodes"]
            .as_array()
            .and_then(|nodes| nodes.iter().find(|view| view["id"] == node))
            .cloned()
            .unwrap_or_else(|| panic!("no node {node} in GET /api/v1/nodes: {nodes}"))
    }

    /// The `outputs.NAME` object of node `node` in `GET /api/v1/nodes`.
    pub async fn output_view(&self, node: &str, output: &str) -> serde_json::Value {
        let view = self.node_view(node).await;
        let output_view = view["outputs"][output].clone();
        assert!(
            !output_view.is_null(),
            "no output {output} in node {node}: {view}"
        );
        output_view
    }
}

/// POSTs a report for `node` with its token to the master at `base`; returns the status and the
/// JSON answer (`Null` if the body was not JSON).
pub async fn post_report(
    http: &reqwest::Client,
    base: &str,
    node: &str,
    body: &serde_json::Value,
) -> reqwest::Result<(u16, serde_json::Value)> {
    let response = http
        .post(format!("{base}/api/v1/nodes/{node}/report"))
        .bearer_auth(node_token(node))
        .json(body)
        .timeout(Duration::from_secs(5))
        .send()
        .await?;
    let status = response.status().as_u16();
    let json = response.json().await.unwrap_or(serde_json::Value::Null);
    Ok((status, json))
}

/// `dir/NAME-N.log` for the first N not yet used.
fn unique_path(dir: &Path, name: &str) -> PathBuf {
    (0..)
        .map(|n| dir.join(format!("{name}-{n}.log")))
        .find(|path| !path.exists())
        .expect("an unbounded range always yields an unused name")
}

fn create_file(path: &Path) -> File {
    File::create(path).unwrap_or_else(|error| panic!("cannot create {}: {error}", path.display()))
}

fn read_text(path: &Path) -> String {
    std::fs::read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}
