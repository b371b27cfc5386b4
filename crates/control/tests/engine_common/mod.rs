//! Builds settings, readings and clocks for the engine tests without the TOML loader.
//!
//! Conditions and windows are written as in a config file and read by a deliberately tiny
//! reader that covers what these tests use: `sensor OP number`, `node.sensor OP number`,
//! `node.output`, `not`, and `and`/`or` chains without parentheses; windows with an optional
//! day prefix and `HH:MM`, `sunrise[±Nm]` or `sunset[±Nm]` ends.

#![allow(dead_code)] // each test file uses a different part of this kit

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use plantkeeper_control::Settings;
use plantkeeper_control::condition::{CompareOp, Condition, ConditionExpr, OutputRef, SensorRef};
use plantkeeper_control::engine::{
    ControlState, Decision, Engine, Inputs, OutputId, Override, RestoredUsage, Sample, Scope,
};
use plantkeeper_control::schedule::{DaySet, Location, Schedule, TimeOfDay, Window};
use plantkeeper_control::settings::{
    AlertSettings, Defaults, LogFormat, MasterSettings, NodeSettings, OutputSettings,
    SensorSettings, TelemetrySettings,
};

/// The rules of one output, as strings and seconds.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    pub on_when: Option<String>,
    pub off_when: Option<String>,
    pub require: Vec<String>,
    pub schedule: Option<Vec<String>>,
    pub max_on: Option<Duration>,
    pub min_off: Option<Duration>,
    pub min_on: Option<Duration>,
    pub max_on_per_day: Option<Duration>,
}

/// An output with no rules at all.
pub fn rules() -> Rules {
    Rules::default()
}

impl Rules {
    pub fn on_when(mut self, condition: impl Into<String>) -> Self {
        self.on_when = Some(condition.into());
        self
    }
    pub fn off_when(mut self, condition: impl Into<String>) -> Self {
        self.off_when = Some(condition.into());
        self
    }
    pub fn require(mut self, condition: impl Into<String>) -> Self {
        self.require.push(condition.into());
        self
    }
    pub fn schedule(mut self, windows: &[&str]) -> Self {
        self.schedule = Some(windows.iter().map(|w| (*w).to_owned()).collect());
        self
    }
    pub fn max_on(mut self, seconds: u64) -> Self {
        self.max_on = Some(Duration::from_secs(seconds));
        self
    }
    pub fn min_off(mut self, seconds: u64) -> Self {
        self.min_off = Some(Duration::from_secs(seconds));
        self
    }
    pub fn min_on(mut self, seconds: u64) -> Self {
        self.min_on = Some(Duration::from_secs(seconds));
        self
    }
    pub fn max_on_per_day(mut self, seconds: u64) -> Self {
        self.max_on_per_day = Some(Duration::from_secs(seconds));
        self
    }

    fn resolve(&self, node: &str) -> OutputSettings {
        OutputSettings {
            on_when: self.on_when.as_deref().map(|text| condition(node, text)),
            off_when: self.off_when.as_deref().map(|text| condition(node, text)),
            require: self
                .require
                .iter()
                .map(|text| condition(node, text))
                .collect(),
            schedule: self.schedule.as_ref().map(|windows| Schedule {
                windows: windows.iter().map(|text| window(text)).collect(),
            }),
            max_on: self.max_on,
            min_off: self.min_off,
            min_on: self.min_on,
            max_on_per_day: self.max_on_per_day,
        }
    }
}

/// Builds [`Settings`] node by node.
pub struct Garden {
    settings: Settings,
}

impl Garden {
    /// An empty garden in the IANA time zone `zone`.
    pub fn new(zone: &str) -> Garden {
        let timezone = TimeZone::get(zone).expect("the bundled tzdb knows the test's zone");
        let defaults = Defaults {
            report_every: Duration::from_secs(5),
            stale_after: Duration::from_secs(15),
            lease: Duration::from_secs(15),
        };
        Garden {
            settings: Settings {
                master: MasterSettings {
                    listen: "127.0.0.1:8001".parse().expect("a literal socket address"),
                    database: "sqlite://test.db".to_owned(),
                    timezone_name: zone.to_owned(),
                    timezone,
                    location: None,
                    admin_token_sha256: None,
                    mdns: false,
                    mdns_name: "plantkeeper".to_owned(),
                },
                telemetry: TelemetrySettings {
                    log: "info".to_owned(),
                    log_format: LogFormat::Text,
                    loki_url: None,
                    loki_labels: BTreeMap::new(),
                },
                alerts: AlertSettings {
                    node_silent_after: Duration::from_secs(120),
                    repeat_every: Duration::from_secs(4 * 3600),
                    channels: Vec::new(),
                    rules: Vec::new(),
                },
                defaults,
                nodes: BTreeMap::new(),
                legacy: Default::default(),
                storage: Default::default(),
                dashboard: Default::default(),
            },
        }
    }

    /// Sets the garden's location (for sunrise/sunset windows).
    pub fn location(mut self, latitude: f64, longitude: f64) -> Garden {
        self.settings.master.location = Some(Location {
            latitude,
            longitude,
        });
        self
    }

    /// Adds a node whose readings go stale after `stale_after_seconds`.
    pub fn node(mut self, id: &str, stale_after_seconds: u64) -> Garden {
        self.settings.nodes.insert(
            id.to_owned(),
            NodeSettings {
                id: id.to_owned(),
                token_sha256: [0; 32],
                report_every: Duration::from_secs(5),
                stale_after: Duration::from_secs(stale_after_seconds),
                lease: Duration::from_secs(15),
                sensors: BTreeMap::new(),
                outputs: BTreeMap::new(),
            },
        );
        self
    }

    /// Declares `node`'s sensor `name` valid within `min..=max`.
    pub fn sensor(mut self, node: &str, name: &str, min: f64, max: f64) -> Garden {
        self.node_mut(node).sensors.insert(
            name.to_owned(),
            SensorSettings {
                min: Some(min),
                max: Some(max),
                unit: None,
            },
        );
        self
    }

    /// Adds `node`'s output `name` with `rules`.
    pub fn output(mut self, node: &str, name: &str, rules: Rules) -> Garden {
        let resolved = rules.resolve(node);
        self.node_mut(node)
            .outputs
            .insert(name.to_owned(), resolved);
        self
    }

    /// The finished settings.
    pub fn build(self) -> Arc<Settings> {
        Arc::new(self.settings)
    }

    fn node_mut(&mut self, node: &str) -> &mut NodeSettings {
        self.settings
            .nodes
            .get_mut(node)
            .expect("tests add a node before its sensors and outputs")
    }
}

/// The garden most rules tests use, in `zone`: node `bed-1` (stale after 20 s, `soil_moisture`
/// 0..100) with output `valve` driven by `valve`, and node `tank` (stale after 15 s, `level`
/// 0..100) without outputs.
pub fn bed_and_tank(zone: &str, valve: Rules) -> Arc<Settings> {
    Garden::new(zone)
        .node("bed-1", 20)
        .sensor("bed-1", "soil_moisture", 0.0, 100.0)
        .output("bed-1", "valve", valve)
        .node("tank", 15)
        .sensor("tank", "level", 0.0, 100.0)
        .build()
}

/// Reads a condition the way the loader resolves it for an output of `node`.
pub fn condition(node: &str, text: &str) -> ConditionExpr {
    ConditionExpr {
        source: text.to_owned(),
        root: parse_or(node, text),
    }
}

fn parse_or(node: &str, text: &str) -> Condition {
    let mut terms: Vec<Condition> = text.split(" or ").map(|t| parse_and(node, t)).collect();
    if terms.len() == 1 {
        terms.remove(0)
    } else {
        Condition::Or(terms)
    }
}

fn parse_and(node: &str, text: &str) -> Condition {
    let mut terms: Vec<Condition> = text
        .split(" and ")
        .map(|t| parse_unary(node, t.trim()))
        .collect();
    if terms.len() == 1 {
        terms.remove(0)
    } else {
        Condition::And(terms)
    }
}

fn parse_unary(node: &str, text: &str) -> Condition {
    if let Some(rest) = text.strip_prefix("not ") {
        return Condition::Not(Box::new(parse_unary(node, rest.trim())));
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    match words.as_slice() {
        [operand, op, number] => {
            let (sensor_node, sensor) = operand.split_once('.').unwrap_or((node, operand));
            Condition::Compare {
                sensor: SensorRef {
                    node: sensor_node.to_owned(),
                    sensor: sensor.to_owned(),
                    written: (*operand).to_owned(),
                },
                op: match *op {
                    "<" => CompareOp::Lt,
                    "<=" => CompareOp::Le,
                    ">" => CompareOp::Gt,
                    ">=" => CompareOp::Ge,
                    "==" => CompareOp::Eq,
                    "!=" => CompareOp::Ne,
                    other => panic!("test condition has unknown operator {other}"),
                },
                value: number
                    .parse()
                    .expect("test condition compares with a number"),
            }
        }
        [output] => {
            let (output_node, output) = output
                .split_once('.')
                .expect("a test output reference is written node.output");
            Condition::Output(OutputRef {
                node: output_node.to_owned(),
                output: output.to_owned(),
            })
        }
        _ => panic!("test condition `{text}` is not in the supported subset"),
    }
}

/// Reads a window such as `fri 22:00-06:00`, `mon-fri 07:00-20:00` or `sunrise+30m-sunset`.
pub fn window(text: &str) -> Window {
    let (days, span) = match text.split_once(' ') {
        Some((days, span)) => (day_set(days), span),
        None => (DaySet(0x7f), text),
    };
    let (start, end) = split_span(span);
    Window {
        source: text.to_owned(),
        days,
        start: time_of_day(start),
        end: time_of_day(end),
    }
}

fn split_span(span: &str) -> (&str, &str) {
    // The separating '-' is the first one that is not an offset sign (`sunrise-30m`).
    let bytes = span.as_bytes();
    for (index, &byte) in bytes.iter().enumerate() {
        let after_sun = span[..index].ends_with("sunrise") || span[..index].ends_with("sunset");
        let offset_follows = bytes.get(index + 1).is_some_and(u8::is_ascii_digit);
        if byte == b'-' && !(after_sun && offset_follows) {
            return (&span[..index], &span[index + 1..]);
        }
    }
    panic!("test window span `{span}` has no '-'");
}

fn day_set(text: &str) -> DaySet {
    const NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let index = |name: &str| {
        NAMES
            .iter()
            .position(|n| *n == name)
            .expect("a test day name")
    };
    let mut bits = 0u8;
    for part in text.split(',') {
        match part.split_once('-') {
            Some((from, to)) => {
                for day in index(from)..=index(to) {
                    bits |= 1 << day;
                }
            }
            None => bits |= 1 << index(part),
        }
    }
    DaySet(bits)
}

fn time_of_day(text: &str) -> TimeOfDay {
    let offset = |rest: &str| -> i32 {
        if rest.is_empty() {
            return 0;
        }
        let (sign, minutes) = rest.split_at(1);
        let minutes: i32 = minutes
            .trim_end_matches('m')
            .parse()
            .expect("a test offset in minutes");
        if sign == "-" {
            -minutes * 60
        } else {
            minutes * 60
        }
    };
    if let Some(rest) = text.strip_prefix("sunrise") {
        return TimeOfDay::Sunrise {
            offset_seconds: offset(rest),
        };
    }
    if let Some(rest) = text.strip_prefix("sunset") {
        return TimeOfDay::Sunset {
            offset_seconds: offset(rest),
        };
    }
    let (hours, minutes) = text.split_once(':').expect("a test time HH:MM");
    let hours: u16 = hours.parse().expect("test hours");
    let minutes: u16 = minutes.parse().expect("test minutes");
    TimeOfDay::Clock {
        minutes: hours * 60 + minutes,
    }
}

/// The instant of local civil time `civil` (`2024-03-31T01:30`) in `zone` (the earlier one when
/// it occurs twice, the later side of a gap when it does not occur).
pub fn local(zone: &str, civil: &str) -> Timestamp {
    let tz = TimeZone::get(zone).expect("the bundled tzdb knows the test's zone");
    civil
        .parse::<DateTime>()
        .expect("a test civil time like 2024-03-31T01:30")
        .to_zoned_datetime(tz)
        .expect("test times are within jiff's range")
        .timestamp()
}

/// What the nodes have reported, as the engine's [`Inputs`].
#[derive(Debug, Clone, Default)]
pub struct World {
    readings: BTreeMap<(String, String), Sample>,
    reports: BTreeMap<String, Timestamp>,
}

impl World {
    /// `node` reports `readings` at `at`.
    pub fn report(&mut self, node: &str, at: Timestamp, readings: &[(&str, f64)]) {
        self.reports.insert(node.to_owned(), at);
        for (sensor, value) in readings {
            self.readings.insert(
                (node.to_owned(), (*sensor).to_owned()),
                Sample { value: *value, at },
            );
        }
    }
}

impl Inputs for World {
    fn sensor(&self, node: &str, sensor: &str) -> Option<Sample> {
        self.readings
            .get(&(node.to_owned(), sensor.to_owned()))
            .copied()
    }

    fn last_report(&self, node: &str) -> Option<Timestamp> {
        self.reports.get(node).copied()
    }
}

/// An engine, its state, the world and a clock, stepped by a test.
pub struct Run {
    pub engine: Engine,
    pub state: ControlState,
    pub world: World,
    pub now: Timestamp,
}

impl Run {
    /// Starts the master at `at` with nothing restored.
    pub fn start(settings: Arc<Settings>, at: Timestamp) -> Run {
        Run::restart(settings, at, &[])
    }

    /// Starts the master at `at` with `restored` usage.
    pub fn restart(settings: Arc<Settings>, at: Timestamp, restored: &[RestoredUsage]) -> Run {
        let engine = Engine::new(settings);
        let state = engine.initial_state(at, restored);
        Run {
            engine,
            state,
            world: World::default(),
            now: at,
        }
    }

    /// The id of `key` (`node.output`).
    pub fn id(&self, key: &str) -> OutputId {
        let (node, output) = key.split_once('.').expect("an output key node.output");
        self.engine
            .output_id(node, output)
            .unwrap_or_else(|| panic!("the test garden has output {key}"))
    }

    /// Moves the clock forward.
    pub fn advance(&mut self, seconds: u64) {
        self.now = self
            .now
            .checked_add(Duration::from_secs(seconds))
            .expect("test clocks stay within jiff's range");
    }

    /// `node` reports `readings` now.
    pub fn report(&mut self, node: &str, readings: &[(&str, f64)]) {
        self.world.report(node, self.now, readings);
    }

    /// Starts an override of `key` for `seconds`.
    pub fn override_for(&mut self, key: &str, power: bool, seconds: u64) {
        let id = self.id(key);
        let until = self
            .now
            .checked_add(Duration::from_secs(seconds))
            .expect("test clocks stay within jiff's range");
        self.state.set_override(id, Override { power, until });
    }

    /// Evaluates every output now.
    pub fn evaluate(&mut self) -> Vec<Decision> {
        self.engine
            .evaluate(&mut self.state, &self.world, self.now, Scope::All)
    }

    /// Evaluates every output now and returns the decision for `key`.
    pub fn decide(&mut self, key: &str) -> Decision {
        let id = self.id(key);
        self.evaluate()
            .into_iter()
            .find(|decision| decision.output == id)
            .expect("Scope::All decides every output")
    }

    /// Evaluates every output now and returns `key`'s power and reason text.
    pub fn power_and_reason(&mut self, key: &str) -> (bool, String) {
        let decision = self.decide(key);
        (decision.power, decision.reason.text)
    }
}
