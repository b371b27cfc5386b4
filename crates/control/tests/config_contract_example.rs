//! CONTRACT §2's example config is the acceptance test of `check`: it must load, and mean what
//! the contract says it means.

use std::path::Path;
use std::time::Duration;

use plantkeeper_control::Settings;
use plantkeeper_control::condition::{CompareOp, Condition, OutputRef};
use plantkeeper_control::load::load_file;
use plantkeeper_control::schedule::parse::EVERY_DAY;
use plantkeeper_control::schedule::{DaySet, TimeOfDay};
use plantkeeper_control::settings::{AlertChannel, ChannelTarget, LogFormat, Severity};
use plantkeeper_control::summary::{node_summaries, settings_summary};

fn contract_example() -> Settings {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/contract_example.toml");
    match load_file(&path) {
        Ok(settings) => settings,
        Err(error) => panic!("the contract example must load:\n{error}"),
    }
}

#[test]
fn contract_example_loads_master_telemetry_and_alerts() {
    let settings = contract_example();
    assert_eq!(settings.master.listen.to_string(), "0.0.0.0:8001");
    assert_eq!(settings.master.database, "sqlite://plantkeeper.db");
    assert_eq!(settings.master.timezone_name, "Europe/Paris");
    assert_eq!(settings.master.timezone.iana_name(), Some("Europe/Paris"));
    let location = settings
        .master
        .location
        .expect("latitude and longitude are set");
    assert_eq!((location.latitude, location.longitude), (48.85, 2.35));
    assert_eq!(
        settings
            .master
            .admin_token_sha256
            .map(hex::encode)
            .as_deref(),
        Some("d2eadfb6e52d65b4bbf254e5046c0c495328b4d208f8b1591c229e62c5c6362f")
    );
    assert_eq!(settings.telemetry.log, "info");
    assert_eq!(settings.telemetry.log_format, LogFormat::Text);
    assert_eq!(
        settings.telemetry.loki_url.as_deref(),
        Some("http://127.0.0.1:3100")
    );
    assert_eq!(
        settings
            .telemetry
            .loki_labels
            .get("site")
            .map(String::as_str),
        Some("greenhouse")
    );
    assert_eq!(settings.alerts.node_silent_after, Duration::from_secs(120));
    assert_eq!(settings.alerts.channels.len(), 3);
    assert_eq!(
        settings.alerts.channels[2],
        AlertChannel {
            target: ChannelTarget::Email {
                smtp: "smtp://127.0.0.1:2525".into(),
                from: "pk@example.org".into(),
                to: vec!["me@example.org".into()],
                username: None,
                password_file: None,
            },
            min_severity: Severity::Info,
            max_per_hour: 30,
            ca_file: None,
        }
    );
    assert_eq!(settings.alerts.repeat_every, Duration::from_secs(4 * 3600));
    assert!(settings.alerts.rules.is_empty());
}

#[test]
fn contract_example_resolves_node_defaults_and_overrides() {
    let settings = contract_example();
    let ids: Vec<&str> = settings.nodes.keys().map(String::as_str).collect();
    assert_eq!(ids, ["bed-1", "bed-2", "lamp", "tank"]);
    let bed_1 = &settings.nodes["bed-1"];
    assert_eq!(
        bed_1.stale_after,
        Duration::from_secs(20),
        "bed-1 overrides stale_after"
    );
    assert_eq!(
        bed_1.report_every,
        Duration::from_secs(5),
        "bed-1 inherits report_every"
    );
    assert_eq!(bed_1.lease, Duration::from_secs(15), "bed-1 inherits lease");
    assert_eq!(settings.nodes["bed-2"].stale_after, Duration::from_secs(15));
    assert_eq!(
        hex::encode(bed_1.token_sha256),
        "8c1df692eb7f6246361c9a8e68ef87ed6a11af632a3bb938977d8bca8c9c405a"
    );
    let moisture = &bed_1.sensors["soil_moisture"];
    assert_eq!(
        (moisture.min, moisture.max, moisture.unit.as_deref()),
        (Some(0.0), Some(100.0), Some("%"))
    );
}

#[test]
fn contract_example_bed_1_valve_has_its_conditions_and_limits() {
    let settings = contract_example();
    let valve = &settings.nodes["bed-1"].outputs["valve"];
    let on_when = valve.on_when.as_ref().expect("valve has on_when");
    assert_eq!(on_when.source, "soil_moisture < 30");
    match &on_when.root {
        Condition::Compare { sensor, op, value } => {
            assert_eq!(
                (sensor.node.as_str(), sensor.sensor.as_str()),
                ("bed-1", "soil_moisture")
            );
            assert_eq!((*op, *value), (CompareOp::Lt, 30.0));
        }
        other => panic!("on_when should be one comparison, got {other:?}"),
    }
    let require = &valve.require[0].root;
    match require {
        Condition::Compare { sensor, op, value } => {
            assert_eq!(
                (
                    sensor.node.as_str(),
                    sensor.sensor.as_str(),
                    sensor.written.as_str()
                ),
                ("tank", "level", "tank.level")
            );
            assert_eq!((*op, *value), (CompareOp::Ge, 20.0));
        }
        other => panic!("require should be one comparison, got {other:?}"),
    }
    assert_eq!(valve.max_on, Some(Duration::from_secs(120)));
    assert_eq!(valve.min_off, Some(Duration::from_secs(600)));
    assert_eq!(valve.min_on, Some(Duration::from_secs(10)));
    assert_eq!(valve.max_on_per_day, Some(Duration::from_secs(1200)));
    let schedule = valve.schedule.as_ref().expect("valve has a schedule");
    assert_eq!(schedule.windows.len(), 1);
    assert_eq!(schedule.windows[0].start, TimeOfDay::Clock { minutes: 360 });
    assert_eq!(schedule.windows[0].end, TimeOfDay::Clock { minutes: 1260 });
}

#[test]
fn contract_example_tank_pump_references_both_valves() {
    let settings = contract_example();
    let pump = &settings.nodes["tank"].outputs["pump"];
    let on_when = pump.on_when.as_ref().expect("pump has on_when");
    let valve = |node: &str| {
        Condition::Output(OutputRef {
            node: node.into(),
            output: "valve".into(),
        })
    };
    assert_eq!(
        on_when.root,
        Condition::Or(vec![valve("bed-1"), valve("bed-2")])
    );
    match &pump.require[0].root {
        Condition::Compare { sensor, .. } => {
            assert_eq!(sensor.node, "tank", "bare `level` is the tank's own sensor")
        }
        other => panic!("require should be one comparison, got {other:?}"),
    }
}

#[test]
fn contract_example_lamp_schedule_has_three_windows() {
    let settings = contract_example();
    let light = &settings.nodes["lamp"].outputs["light"];
    assert!(light.on_when.is_none(), "the lamp is a pure timer");
    let windows = &light
        .schedule
        .as_ref()
        .expect("light has a schedule")
        .windows;
    let sources: Vec<&str> = windows.iter().map(|w| w.source.as_str()).collect();
    assert_eq!(
        sources,
        [
            "mon-fri 07:00-20:00",
            "sat,sun 09:00-18:00",
            "sunrise+30m-sunset"
        ]
    );
    assert_eq!(windows[0].days, DaySet(0b001_1111), "mon-fri");
    assert_eq!(windows[1].days, DaySet(0b110_0000), "sat,sun");
    assert_eq!(windows[2].days, EVERY_DAY);
    assert_eq!(
        windows[2].start,
        TimeOfDay::Sunrise {
            offset_seconds: 1800
        }
    );
    assert_eq!(windows[2].end, TimeOfDay::Sunset { offset_seconds: 0 });
}

#[test]
fn contract_example_summaries_describe_every_node() {
    let settings = contract_example();
    assert_eq!(
        settings_summary(&settings),
        "4 nodes, 4 outputs, timezone Europe/Paris"
    );
    let lines = node_summaries(&settings);
    assert_eq!(lines.len(), 4);
    assert_eq!(
        lines[0],
        "bed-1: sensors soil_moisture; outputs valve (on_when soil_moisture < 30; off_when soil_moisture >= 45; require tank.level >= 20; schedule 06:00-21:00; max_on 2m; min_off 10m; min_on 10s; max_on_per_day 20m)"
    );
    assert_eq!(
        lines[2],
        "lamp: no declared sensors; outputs light (schedule mon-fri 07:00-20:00, sat,sun 09:00-18:00, sunrise+30m-sunset)"
    );
}
