//! Replacing the settings while running: `Engine::carry_over` keeps what the rules need
//! (run, budget, rest) for outputs both versions have, starts new outputs OFF, and the new
//! rules decide at the next evaluation; `restart_required` names what cannot change live.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use plantkeeper_control::Settings;
use plantkeeper_control::engine::{Engine, Inputs, Reason, ReasonKind, Sample, Scope};
use plantkeeper_control::load::{load_settings, restart_required};

fn settings(text: &str) -> Arc<Settings> {
    Arc::new(load_settings("test.toml", text).unwrap_or_else(|errors| panic!("{errors:#?}")))
}

const TOKEN: &str = "token-of-a-node-0123456789";

fn garden(threshold: u32, max_on: &str, extra: &str) -> String {
    format!(
        r#"[master]
listen = "0.0.0.0:8001"

[nodes.bed]
token = "{TOKEN}"
[nodes.bed.outputs.valve]
on_when = "soil < {threshold}"
off_when = "soil >= 45"
max_on = "{max_on}"
{extra}"#
    )
}

/// One node, `bed`, reporting `soil` at `at`.
struct Soil {
    value: f64,
    at: Timestamp,
}

impl Inputs for Soil {
    fn sensor(&self, node: &str, sensor: &str) -> Option<Sample> {
        (node == "bed" && sensor == "soil").then_some(Sample {
            value: self.value,
            at: self.at,
        })
    }

    fn last_report(&self, node: &str) -> Option<Timestamp> {
        (node == "bed").then_some(self.at)
    }
}

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_780_000_000 + seconds).expect("valid time")
}

#[test]
fn a_kept_output_keeps_its_run_and_a_new_output_starts_off() {
    let old = Engine::new(settings(&garden(30, "10m", "")));
    let mut state = old.initial_state(at(0), &[]);
    let decisions = old.evaluate(
        &mut state,
        &Soil {
            value: 20.0,
            at: at(0),
        },
        at(0),
        Scope::All,
    );
    assert!(decisions[0].power, "dry soil opens the valve");

    let new = Engine::new(settings(&garden(
        30,
        "1m",
        "[nodes.bed.outputs.lamp]\nschedule = [\"00:00-23:59\"]\n",
    )));
    let added = Reason::new(ReasonKind::SettingsChanged, "added by settings version 2");
    let carried = new.carry_over(&old, &state, at(50), &added);
    let valve = new.output_id("bed", "valve").expect("valve kept");
    let lamp = new.output_id("bed", "lamp").expect("lamp added");
    assert!(carried.output(valve).power, "the valve is still ON");
    assert_eq!(carried.output(valve).since, at(0), "its run goes on");
    assert!(!carried.output(lamp).power, "a new output starts OFF");
    assert_eq!(carried.output(lamp).reason, added);

    // The new max_on (1 min) counts the run from its start, not from the change.
    let mut carried = carried;
    let soil = Soil {
        value: 20.0,
        at: at(61),
    };
    new.evaluate(&mut carried, &soil, at(50), Scope::All);
    let decisions = new.evaluate(&mut carried, &soil, at(61), Scope::All);
    let valve_decision = decisions
        .iter()
        .find(|decision| decision.output == valve)
        .expect("valve decided");
    assert!(
        !valve_decision.power,
        "cut at the new max_on: {valve_decision:?}"
    );
    assert_eq!(valve_decision.reason.kind, ReasonKind::MaxOn);
}

#[test]
fn a_new_threshold_decides_at_the_next_evaluation() {
    let old = Engine::new(settings(&garden(30, "10m", "")));
    let mut state = old.initial_state(at(0), &[]);
    let soil = Soil {
        value: 35.0,
        at: at(0),
    };
    assert!(!old.evaluate(&mut state, &soil, at(0), Scope::All)[0].power);
    let new = Engine::new(settings(&garden(40, "10m", "")));
    let reason = Reason::new(ReasonKind::SettingsChanged, "added");
    let mut carried = new.carry_over(&old, &state, at(1), &reason);
    let decision = &new.evaluate(&mut carried, &soil, at(1), Scope::All)[0];
    assert!(decision.power && decision.changed, "{decision:?}");
    assert_eq!(decision.reason.to_string(), "soil 35.0 < 40");
    assert!(decision.on_time_left <= Some(Duration::from_secs(600)));
}

#[test]
fn listen_database_mdns_and_telemetry_need_a_restart_positioned() {
    let running = settings(&garden(30, "10m", ""));
    let text = garden(40, "10m", "").replace(
        "listen = \"0.0.0.0:8001\"",
        "listen = \"0.0.0.0:8002\"\nmdns = true",
    ) + "\n[telemetry]\nlog = \"debug\"\n";
    let new = settings(&text);
    let errors = restart_required("new.toml", &text, &running, &new);
    let fields: Vec<&str> = errors.iter().map(|error| error.field.as_str()).collect();
    assert_eq!(fields, vec!["master.listen", "master.mdns", "telemetry"]);
    assert_eq!((errors[0].line, errors[0].column), (2, 1));
    assert_eq!((errors[1].line, errors[1].column), (3, 1));
    let telemetry_line = text
        .lines()
        .position(|line| line == "[telemetry]")
        .expect("section")
        + 1;
    assert_eq!(errors[2].line, telemetry_line);
    assert_eq!(
        errors[0].to_string(),
        "new.toml:2:1: master.listen: changing `listen` (0.0.0.0:8001 → 0.0.0.0:8002) needs a restart: edit the settings file and restart the master"
    );
    let same_fixed = garden(40, "10m", "");
    assert!(
        restart_required("new.toml", &same_fixed, &running, &settings(&same_fixed)).is_empty(),
        "a rule change alone is applied live"
    );
}

#[test]
fn alert_channels_and_repeat_every_need_a_restart_but_alert_rules_do_not() {
    let running = settings(&garden(30, "10m", ""));
    let text = garden(30, "10m", "") + "\n[alerts]\nrepeat_every = \"1h\"\n";
    let errors = restart_required("new.toml", &text, &running, &settings(&text));
    let fields: Vec<&str> = errors.iter().map(|error| error.field.as_str()).collect();
    assert_eq!(fields, vec!["alerts.repeat_every"]);
    let repeat_line = text
        .lines()
        .position(|line| line.starts_with("repeat_every"))
        .expect("line")
        + 1;
    assert_eq!((errors[0].line, errors[0].column), (repeat_line, 1));
}

#[test]
fn storage_options_need_a_restart() {
    let running = settings(&garden(30, "10m", ""));
    let text = garden(30, "10m", "") + "\n[storage]\nkeep_raw = \"60d\"\n";
    let errors = restart_required("new.toml", &text, &running, &settings(&text));
    let fields: Vec<&str> = errors.iter().map(|error| error.field.as_str()).collect();
    assert_eq!(fields, vec!["storage"]);
    let section_line = text
        .lines()
        .position(|line| line == "[storage]")
        .expect("line")
        + 1;
    assert_eq!(errors[0].line, section_line);
}
