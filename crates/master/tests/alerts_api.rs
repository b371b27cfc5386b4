//! Alerts end to end: a real master (manual clock, SQLite) notifies real receivers — an HTTP
//! server for webhook and ntfy, aiosmtpd for e-mail — and records alerts as events.

mod alerts_support;
mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use alerts_support::{HttpReceiver, SmtpMode, SmtpReceiver, black_hole, settle};
use common::{TestMaster, garden_toml};
use plantkeeper_master::ticker::tick;
use serde_json::json;

/// The test garden with an `[alerts]` section appended.
fn garden_with_alerts(alerts: &str) -> String {
    format!("{}\n{alerts}", garden_toml(""))
}

async fn soil(master: &TestMaster, seq: u32, moisture: f64) {
    let (status, body) = master
        .report(
            "bed-1",
            json!({"seq": seq, "readings": {"soil_moisture": moisture}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

async fn tank(master: &TestMaster, seq: u32, level: f64) {
    let (status, body) = master
        .report("tank", json!({"seq": seq, "readings": {"level": level}}))
        .await;
    assert_eq!(status, 200, "{body}");
}

fn rules(requests: &[alerts_support::Received]) -> Vec<(String, String)> {
    requests
        .iter()
        .map(|request| {
            let body = request.json();
            (
                body["rule"].as_str().unwrap_or_default().to_owned(),
                body["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn webhook_and_ntfy_get_one_firing_and_one_resolved_notice() {
    let receiver = HttpReceiver::start(0).await;
    let master = TestMaster::start_manual(&garden_with_alerts(&format!(
        r#"
[alerts]
channels = [
  {{ type = "webhook", url = "{base}/hook" }},
  {{ type = "ntfy", url = "{base}/plants" }},
]
[[alerts.rules]]
name = "bed-1-dry"
node = "bed-1"
when = "soil_moisture < 20"
for = "2s"
severity = "critical"
"#,
        base = receiver.base
    )))
    .await;
    // The start is announced.
    let hooks = receiver
        .wait_for("/hook", |requests| !requests.is_empty())
        .await;
    assert_eq!(
        rules(&hooks),
        [("master_restarted".to_owned(), "firing".to_owned())]
    );

    tank(&master, 1, 80.0).await;
    soil(&master, 1, 10.0).await;
    tick(&master.master).await;
    assert!(
        master.master.firing_alerts().is_empty(),
        "`for` has not passed yet"
    );
    master.clock().advance(Duration::from_secs(2));
    soil(&master, 2, 11.0).await;
    tick(&master.master).await;
    tick(&master.master).await;
    let firing = master.master.firing_alerts();
    assert_eq!(firing.len(), 1, "{firing:?}");
    assert_eq!(firing[0].key.rule, "bed-1-dry");

    let hooks = receiver.wait_for("/hook", |r| r.len() >= 2).await;
    let body = hooks[1].json();
    assert_eq!(body["status"], "firing");
    assert_eq!(body["rule"], "bed-1-dry");
    assert_eq!(body["severity"], "critical");
    assert_eq!(body["node"], "bed-1");
    assert_eq!(body["output"], serde_json::Value::Null);
    assert_eq!(body["sensor"], serde_json::Value::Null);
    assert_eq!(body["started_at"], "2026-06-01T10:00:02Z");
    assert_eq!(body["resolved_at"], serde_json::Value::Null);
    assert_eq!(body["repeat"], false);
    assert!(
        body["message"].as_str().is_some_and(
            |m| m.contains("soil_moisture < 20") && m.contains("bed-1.soil_moisture = 11")
        ),
        "{body}"
    );
    assert!(body["master"].as_str().is_some_and(|m| !m.is_empty()));
    assert_eq!(hooks[1].headers["content-type"], "application/json");

    let ntfy = receiver.wait_for("/plants", |r| r.len() >= 2).await;
    assert_eq!(ntfy[1].headers["title"], "[critical] bed-1-dry bed-1");
    assert_eq!(ntfy[1].headers["priority"], "5");
    assert_eq!(ntfy[1].headers["tags"], "rotating_light,critical,bed-1-dry");
    assert!(
        ntfy[1].body.contains("soil_moisture < 20"),
        "{}",
        ntfy[1].body
    );

    // Wet again: one resolved notice.
    master.clock().advance(Duration::from_secs(3));
    soil(&master, 3, 50.0).await;
    tick(&master.master).await;
    tick(&master.master).await;
    assert!(master.master.firing_alerts().is_empty());
    let hooks = receiver.wait_for("/hook", |r| r.len() >= 3).await;
    let resolved = hooks[2].json();
    assert_eq!(resolved["status"], "resolved");
    assert_eq!(resolved["started_at"], "2026-06-01T10:00:02Z");
    assert_eq!(resolved["resolved_at"], "2026-06-01T10:00:05Z");
    let ntfy = receiver.wait_for("/plants", |r| r.len() >= 3).await;
    assert_eq!(ntfy[2].headers["title"], "[resolved] bed-1-dry bed-1");
    assert_eq!(ntfy[2].headers["priority"], "3");

    // Deduplicated: nothing more arrives.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(receiver.at("/hook").len(), 3, "{:#?}", receiver.at("/hook"));
    assert_eq!(receiver.at("/plants").len(), 3);

    // The history is in the events, kind "alert".
    let (status, events) = master.admin_get("/api/v1/events").await;
    assert_eq!(status, 200);
    let alerts: Vec<&str> = events["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|event| event["kind"] == "alert")
        .filter_map(|event| event["message"].as_str())
        .collect();
    assert_eq!(alerts.len(), 3, "{events}");
    assert!(
        alerts[0].starts_with("resolved critical bed-1-dry: "),
        "{alerts:?}"
    );
    assert!(
        alerts[1].starts_with("firing critical bed-1-dry: "),
        "{alerts:?}"
    );
    assert!(
        alerts[2].starts_with("firing info master_restarted: "),
        "{alerts:?}"
    );
    master.stop().await;
}

#[tokio::test]
async fn repeats_are_rate_limited_per_channel_and_filtered_by_severity() {
    let receiver = HttpReceiver::start(0).await;
    let master = TestMaster::start_manual(&garden_with_alerts(&format!(
        r#"
[alerts]
node_silent_after = "5s"
repeat_every = "10s"
channels = [
  {{ type = "webhook", url = "{base}/limited", max_per_hour = 3 }},
  {{ type = "webhook", url = "{base}/critical", min_severity = "critical" }},
]
"#,
        base = receiver.base
    )))
    .await;
    receiver.wait_for("/limited", |r| r.len() == 1).await;
    // Neither node ever reports: both fall silent 5 s after the start.
    master.clock().advance(Duration::from_secs(5));
    tick(&master.master).await;
    let first = receiver.wait_for("/limited", |r| r.len() == 3).await;
    let mut silent: Vec<(String, String)> = first[1..]
        .iter()
        .map(|r| {
            let body = r.json();
            (body["rule"].to_string(), body["node"].to_string())
        })
        .collect();
    silent.sort();
    assert_eq!(
        silent,
        [
            ("\"node_silent\"".to_owned(), "\"bed-1\"".to_owned()),
            ("\"node_silent\"".to_owned(), "\"tank\"".to_owned())
        ]
    );
    assert!(
        first[1].json()["message"]
            .as_str()
            .is_some_and(|m| m.contains("since the master started 5s ago"))
    );
    // 10 s later both repeat, but the channel allows 3 an hour: both are dropped and counted.
    master.clock().advance(Duration::from_secs(10));
    tick(&master.master).await;
    let stats = &master.master.alerts().channels()[0].stats;
    assert_eq!(settle(&stats.dropped_rate_limited, 2).await, 2);
    assert_eq!(receiver.at("/limited").len(), 3);
    // An hour on, the window has room again: the next repeats go through, marked as repeats.
    master.clock().advance(Duration::from_secs(3600));
    tick(&master.master).await;
    let all = receiver.wait_for("/limited", |r| r.len() == 5).await;
    assert!(
        all[3..].iter().all(|r| r.json()["repeat"] == true),
        "{all:#?}"
    );
    assert_eq!(settle(&stats.sent, 5).await, 5);
    // Nothing was critical: the second channel never heard a thing.
    assert!(receiver.at("/critical").is_empty());
    master.stop().await;
}

#[tokio::test]
async fn a_failing_receiver_gets_retries_with_back_off() {
    let receiver = HttpReceiver::start(2).await;
    let started = Instant::now();
    let master = TestMaster::start_manual(&garden_with_alerts(&format!(
        "[alerts]\nchannels = [{{ type = \"webhook\", url = \"{}/hook\" }}]\n",
        receiver.base
    )))
    .await;
    let hooks = receiver.wait_for("/hook", |r| !r.is_empty()).await;
    // Two 500s, then success after 0.5 s and 1 s of back-off.
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(receiver.attempts(), 3);
    assert_eq!(
        rules(&hooks),
        [("master_restarted".to_owned(), "firing".to_owned())]
    );
    let stats = &master.master.alerts().channels()[0].stats;
    assert_eq!(stats.retried.load(Ordering::SeqCst), 2);
    assert_eq!(settle(&stats.sent, 1).await, 1);
    master.stop().await;
}

#[tokio::test]
async fn a_hanging_receiver_never_slows_control() {
    let hole = black_hole().await;
    let master = TestMaster::start_manual(&garden_with_alerts(&format!(
        r#"
[alerts]
channels = [{{ type = "webhook", url = "{hole}/hook" }}]
[[alerts.rules]]
name = "flapping"
when = "bed-1.soil_moisture < 20"
"#
    )))
    .await;
    tank(&master, 1, 80.0).await;
    // 100 reports flip the rule each time: 100 notices for a receiver stuck on the first.
    let started = Instant::now();
    for seq in 1..=100u32 {
        soil(&master, seq, if seq % 2 == 1 { 10.0 } else { 50.0 }).await;
        tick(&master.master).await;
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(5),
        "control waited: {elapsed:?}"
    );
    let stats = &master.master.alerts().channels()[0].stats;
    assert!(
        stats.dropped_queue_full.load(Ordering::SeqCst) > 0,
        "a full queue drops and counts"
    );
    assert_eq!(stats.sent.load(Ordering::SeqCst), 0);
    master.stop().await;
}

#[tokio::test]
async fn email_goes_through_a_real_smtp_server() {
    let Some(smtp) = SmtpReceiver::start(SmtpMode::Plain).await else {
        return;
    };
    let master = TestMaster::start_manual(&garden_with_alerts(&format!(
        r#"
[alerts]
channels = [{{ type = "email", smtp = "smtp://127.0.0.1:{port}", from = "pk@example.org", to = ["me@example.org", "you@example.org"] }}]
[[alerts.rules]]
name = "tank-low"
node = "tank"
when = "level < 20"
"#,
        port = smtp.port
    )))
    .await;
    tank(&master, 1, 10.0).await;
    tick(&master.master).await;
    tank(&master, 2, 60.0).await;
    tick(&master.master).await;
    let mails = smtp.wait_for(3).await;
    let subjects: Vec<&str> = mails
        .iter()
        .map(|mail| {
            mail.data
                .lines()
                .find_map(|line| line.strip_prefix("Subject: "))
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(
        subjects,
        [
            "[info] master_restarted",
            "[warning] tank-low tank",
            "[resolved] tank-low tank"
        ]
    );
    for mail in &mails {
        assert_eq!((mail.login.as_deref(), mail.tls), (None, false));
        assert_eq!(mail.from, "pk@example.org");
        assert_eq!(mail.to, ["me@example.org", "you@example.org"]);
    }
    assert!(
        mails[1].data.contains("status: firing"),
        "{}",
        mails[1].data
    );
    assert!(
        mails[1].data.contains("tank.level = 10"),
        "{}",
        mails[1].data
    );
    assert!(
        mails[2].data.contains("status: resolved"),
        "{}",
        mails[2].data
    );
    assert!(
        mails[2].data.contains("resolved at: 2026-06-01T10:00:00Z"),
        "{}",
        mails[2].data
    );
    master.stop().await;
}
