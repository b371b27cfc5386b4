//! Invariants of the decision engine over random settings, readings and clocks.
//!
//! Each case builds a garden (valve on `bed-1` with random thresholds and optional schedule,
//! `require`, `max_on`, `min_off`, `min_on`, daily budget and override; a pump on `tank` that
//! follows the valve), then plays random steps: clock advances of 0..3× stale_after (sometimes
//! hours, across midnight and DST changes), reports with valid, missing, NaN, infinite or
//! out-of-range values, and silences. After every evaluation the safety rules are checked
//! against the world as the test itself recorded it.

mod engine_common;

use std::sync::Arc;
use std::time::Duration;

use engine_common::{Garden, Run, local, rules, window};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use plantkeeper_control::Settings;
use plantkeeper_control::engine::{Decision, Engine, Override, Scope};
use proptest::prelude::*;

const WINDOWS: [&str; 5] = [
    "22:00-06:00",
    "06:00-21:00",
    "01:30-03:30",
    "mon-fri 07:00-20:00",
    "sat,sun 23:00-02:00",
];

/// (zone, local start) pairs near midnight and DST changes.
const STARTS: [(&str, &str); 6] = [
    ("UTC", "2024-05-15T23:40"),
    ("Europe/Paris", "2024-03-30T23:50"),
    ("Europe/Paris", "2024-03-31T01:40"),
    ("Europe/Paris", "2024-10-27T01:50"),
    ("America/New_York", "2024-03-10T01:30"),
    ("America/New_York", "2024-11-03T00:50"),
];

#[derive(Debug, Clone)]
struct Config {
    start: usize,
    bed_stale: u64,
    tank_stale: u64,
    on_below: f64,
    off_gap: Option<f64>,
    require_level: Option<f64>,
    schedule: Option<usize>,
    max_on: Option<u64>,
    min_off: Option<u64>,
    min_on: Option<u64>,
    budget: Option<u64>,
}

#[derive(Debug, Clone)]
enum Reading {
    Value(f64),
    Missing,
}

#[derive(Debug, Clone)]
struct Step {
    /// Clock advance in thousandths of the bed's stale_after (0..=3×), unless `long_hours`.
    advance_permille: u64,
    long_hours: Option<u64>,
    bed: Option<Reading>,
    tank: Option<Reading>,
    override_: Option<(bool, u64)>,
    clear_override: bool,
}

fn reading() -> impl Strategy<Value = Reading> {
    prop_oneof![
        24 => (0.0f64..100.0).prop_map(Reading::Value),
        1 => Just(Reading::Value(f64::NAN)),
        1 => Just(Reading::Value(f64::INFINITY)),
        1 => prop_oneof![Just(-5.0), Just(150.0), Just(-1e300)].prop_map(Reading::Value),
        1 => Just(Reading::Missing),
    ]
}

fn config() -> impl Strategy<Value = Config> {
    (
        0..STARTS.len(),
        5u64..60,
        20u64..90,
        10.0f64..60.0,
        proptest::option::of(0.0f64..30.0),
        proptest::option::of(0.0f64..60.0),
        proptest::option::of(0..WINDOWS.len()),
        proptest::option::of(10u64..600),
        proptest::option::of(10u64..600),
        proptest::option::of(1u64..60),
        proptest::option::of(60u64..1800),
    )
        .prop_map(
            |(
                start,
                bed_stale,
                tank_stale,
                on_below,
                off_gap,
                require_level,
                schedule,
                max_on,
                min_off,
                min_on,
                budget,
            )| {
                Config {
                    start,
                    bed_stale,
                    tank_stale,
                    on_below,
                    off_gap,
                    require_level,
                    schedule,
                    max_on,
                    min_off,
                    min_on,
                    budget,
                }
            },
        )
}

fn step() -> impl Strategy<Value = Step> {
    (
        prop_oneof![3 => 0u64..900, 1 => 0u64..=3000],
        prop_oneof![12 => Just(None), 1 => (1u64..30).prop_map(Some)],
        proptest::option::weighted(0.85, reading()),
        proptest::option::weighted(0.85, reading()),
        proptest::option::weighted(0.05, (any::<bool>(), 1u64..3600)),
        proptest::bool::weighted(0.03),
    )
        .prop_map(
            |(advance_permille, long_hours, bed, tank, override_, clear_override)| Step {
                advance_permille,
                long_hours,
                bed,
                tank,
                override_,
                clear_override,
            },
        )
}

fn settings(config: &Config) -> Arc<Settings> {
    let mut valve = rules().on_when(format!("soil_moisture < {}", config.on_below));
    if let Some(gap) = config.off_gap {
        valve = valve.off_when(format!("soil_moisture >= {}", config.on_below + gap));
    }
    if let Some(level) = config.require_level {
        valve = valve.require(format!("tank.level >= {level}"));
    }
    if let Some(index) = config.schedule {
        valve = valve.schedule(&[WINDOWS[index]]);
    }
    if let Some(seconds) = config.max_on {
        valve = valve.max_on(seconds);
    }
    if let Some(seconds) = config.min_off {
        valve = valve.min_off(seconds);
    }
    if let Some(seconds) = config.min_on {
        valve = valve.min_on(seconds);
    }
    if let Some(seconds) = config.budget {
        valve = valve.max_on_per_day(seconds);
    }
    Garden::new(STARTS[config.start].0)
        .node("bed-1", config.bed_stale)
        .sensor("bed-1", "soil_moisture", 0.0, 100.0)
        .output("bed-1", "valve", valve)
        .node("tank", config.tank_stale)
        .sensor("tank", "level", 0.0, 100.0)
        .output("tank", "pump", rules().on_when("bed-1.valve"))
        .build()
}

/// What the test itself remembers, independently of the engine.
#[derive(Default)]
struct Record {
    /// ON intervals of the valve: start and (once OFF) end.
    runs: Vec<(Timestamp, Option<Timestamp>)>,
    last_off: Option<Timestamp>,
}

impl Record {
    fn observe(&mut self, decision: &Decision, now: Timestamp) {
        if !decision.changed {
            return;
        }
        if decision.power {
            self.runs.push((now, None));
        } else {
            if let Some(run) = self.runs.last_mut() {
                run.1 = Some(now);
            }
            self.last_off = Some(now);
        }
    }

    /// ON time between `from` and `to` (runs still open count until `to`).
    fn on_time_between(&self, from: Timestamp, to: Timestamp) -> Duration {
        self.runs
            .iter()
            .map(|(start, end)| {
                let start = (*start).max(from);
                let end = end.unwrap_or(to).min(to);
                Duration::try_from(end.duration_since(start)).unwrap_or(Duration::ZERO)
            })
            .sum()
    }
}

fn seconds(value: u64) -> Duration {
    Duration::from_secs(value)
}

fn start_of_local_day(at: Timestamp, tz: &TimeZone) -> Timestamp {
    at.to_zoned_datetime(tz.clone())
        .start_of_day()
        .expect("test days have a start")
        .timestamp()
}

/// Plays `steps` and checks every invariant after each evaluation; returns every decision.
fn play(config: &Config, steps: &[Step]) -> Result<Vec<Vec<Decision>>, TestCaseError> {
    let (zone, start) = STARTS[config.start];
    let settings = settings(config);
    let tz = settings.master.timezone.clone();
    let mut run = Run::start(settings.clone(), local(zone, start));
    let valve = run.id("bed-1.valve");
    let mut record = Record::default();
    let mut all = Vec::new();
    for step in steps {
        let advance = match step.long_hours {
            Some(hours) => seconds(hours * 3600),
            None => Duration::from_millis(config.bed_stale * step.advance_permille),
        };
        run.now = run
            .now
            .checked_add(advance)
            .expect("test clocks stay in range");
        let now = run.now;
        for (node, sensor, value) in [
            ("bed-1", "soil_moisture", &step.bed),
            ("tank", "level", &step.tank),
        ] {
            match value {
                Some(Reading::Value(v)) => run.world.report(node, now, &[(sensor, *v)]),
                Some(Reading::Missing) => run.world.report(node, now, &[]),
                None => {}
            }
        }
        if step.clear_override {
            run.state.clear_override(valve);
        }
        if let Some((power, secs)) = step.override_ {
            let until = now.checked_add(seconds(secs)).expect("in range");
            run.state.set_override(valve, Override { power, until });
        }
        let decisions = run.evaluate();
        let decision = decisions
            .iter()
            .find(|d| d.output == valve)
            .expect("Scope::All decides the valve")
            .clone();
        record.observe(&decision, now);
        check(config, &settings, &run, &record, &decision, advance, &tz)?;
        all.push(decisions);
    }
    Ok(all)
}

fn fresh_valid(
    run: &Run,
    node: &str,
    sensor: &str,
    stale_after: u64,
    min: f64,
    max: f64,
) -> Option<f64> {
    use plantkeeper_control::engine::Inputs;
    let sample = run.world.sensor(node, sensor)?;
    let age = Duration::try_from(run.now.duration_since(sample.at)).unwrap_or(Duration::ZERO);
    (age < seconds(stale_after) && sample.value.is_finite() && (min..=max).contains(&sample.value))
        .then_some(sample.value)
}

fn check(
    config: &Config,
    settings: &Settings,
    run: &Run,
    record: &Record,
    decision: &Decision,
    step: Duration,
    tz: &TimeZone,
) -> Result<(), TestCaseError> {
    use plantkeeper_control::engine::Inputs;
    let now = run.now;
    let state = run.state.output(decision.output);
    if !decision.power {
        return Ok(());
    }
    let why = &decision.reason.text;
    let bed_age = run
        .world
        .last_report("bed-1")
        .map(|at| Duration::try_from(now.duration_since(at)).unwrap_or(Duration::ZERO));
    prop_assert!(
        bed_age.is_some_and(|age| age < seconds(config.bed_stale)),
        "ON while node bed-1 is silent ({why})"
    );
    prop_assert!(
        fresh_valid(run, "bed-1", "soil_moisture", config.bed_stale, 0.0, 100.0).is_some(),
        "ON with a stale, missing or invalid soil_moisture ({why})"
    );
    if let Some(level) = config.require_level {
        let tank = fresh_valid(run, "tank", "level", config.tank_stale, 0.0, 100.0);
        prop_assert!(
            tank.is_some(),
            "ON with a stale, missing or invalid tank.level ({why})"
        );
        prop_assert!(
            tank.is_some_and(|v| v >= level),
            "ON with a false require, even if overridden ({why})"
        );
    }
    if let Some(index) = config.schedule
        && state.override_.is_none()
    {
        prop_assert!(
            window(WINDOWS[index]).contains(now, tz, settings.master.location),
            "ON outside {} without an override ({why})",
            WINDOWS[index]
        );
    }
    let run_length = Duration::try_from(now.duration_since(state.since)).unwrap_or(Duration::ZERO);
    check_on_time_left(config, settings, run, decision, run_length, tz)?;
    if let Some(max_on) = config.max_on {
        prop_assert!(
            run_length <= seconds(max_on) + step,
            "run of {run_length:?} exceeds max_on {max_on}s plus one step {step:?} ({why})"
        );
    }
    if let Some(min_off) = config.min_off
        && decision.changed
        && let Some(last_off) = record.last_off
    {
        let rested = Duration::try_from(now.duration_since(last_off)).unwrap_or(Duration::ZERO);
        prop_assert!(
            rested >= seconds(min_off),
            "ON after resting only {rested:?} of min_off {min_off}s"
        );
    }
    if let Some(budget) = config.budget {
        let today = record.on_time_between(start_of_local_day(now, tz), now);
        prop_assert!(
            today <= seconds(budget) + step,
            "{today:?} ON today exceeds max_on_per_day {budget}s plus one step {step:?}"
        );
    }
    Ok(())
}

/// The lease an ON answer carries (capped by `on_time_left`) never outlives what the engine
/// itself allows without a new report: the inputs' freshness, the window, `max_on`.
fn check_on_time_left(
    config: &Config,
    settings: &Settings,
    run: &Run,
    decision: &Decision,
    run_length: Duration,
    tz: &TimeZone,
) -> Result<(), TestCaseError> {
    use plantkeeper_control::engine::Inputs;
    let why = &decision.reason.text;
    let left = decision.on_time_left;
    prop_assert!(left.is_some(), "ON without any bound on its lease ({why})");
    let left = left.unwrap_or_default();
    let fresh_for = |node: &str, sensor: &str, stale_after: u64| {
        run.world.sensor(node, sensor).map(|sample| {
            let age = Duration::try_from(run.now.duration_since(sample.at)).unwrap_or_default();
            seconds(stale_after).saturating_sub(age)
        })
    };
    let bed = fresh_for("bed-1", "soil_moisture", config.bed_stale);
    prop_assert!(
        bed.is_some_and(|fresh| left <= fresh),
        "on_time_left {left:?} outlives soil_moisture's freshness {bed:?} ({why})"
    );
    if config.require_level.is_some() {
        let tank = fresh_for("tank", "level", config.tank_stale);
        prop_assert!(
            tank.is_some_and(|fresh| left <= fresh),
            "on_time_left {left:?} outlives tank.level's freshness {tank:?} ({why})"
        );
    }
    if let Some(max_on) = config.max_on {
        prop_assert!(
            run_length + left <= seconds(max_on),
            "run {run_length:?} plus on_time_left {left:?} exceeds max_on {max_on}s ({why})"
        );
    }
    let overridden = run.state.output(decision.output).override_.is_some();
    if let Some(index) = config.schedule
        && !overridden
        && !left.is_zero()
    {
        let last_moment = run
            .now
            .checked_add(left - Duration::from_millis(1))
            .expect("test clocks stay in range");
        prop_assert!(
            window(WINDOWS[index]).contains(last_moment, tz, settings.master.location),
            "on_time_left {left:?} runs past the end of {} ({why})",
            WINDOWS[index]
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn safety_and_protections_hold_for_any_history(config in config(), steps in proptest::collection::vec(step(), 1..80)) {
        play(&config, &steps)?;
    }

    #[test]
    fn same_inputs_give_the_same_decisions(config in config(), steps in proptest::collection::vec(step(), 1..40)) {
        let first = play(&config, &steps)?;
        let second = play(&config, &steps)?;
        prop_assert_eq!(first, second);
    }

    #[test]
    fn never_panics_at_extreme_times_and_durations(
        at in prop_oneof![Just(Timestamp::MIN), Just(Timestamp::MAX), (-377_705_023_201i64..=253_402_207_200).prop_map(|s| Timestamp::from_second(s).expect("within jiff's range"))],
        reading_at in prop_oneof![Just(Timestamp::MIN), Just(Timestamp::MAX), Just(Timestamp::UNIX_EPOCH)],
        value in prop_oneof![Just(f64::NAN), Just(f64::MAX), Just(f64::MIN), Just(20.0)],
        huge in prop_oneof![Just(Duration::MAX), Just(Duration::from_secs(u64::MAX / 2)), Just(Duration::from_nanos(1))],
    ) {
        let settings = {
            let mut valve = rules().on_when("soil_moisture < 30").schedule(&["sunrise-sunset", "22:00-06:00"]);
            valve.max_on = Some(huge);
            valve.min_off = Some(huge);
            valve.min_on = Some(huge);
            valve.max_on_per_day = Some(huge);
            Garden::new("Europe/Paris")
                .location(48.85, 2.35)
                .node("bed-1", 15)
                .sensor("bed-1", "soil_moisture", 0.0, 100.0)
                .output("bed-1", "valve", valve)
                .build()
        };
        let engine = Engine::new(settings);
        let mut state = engine.initial_state(reading_at, &[]);
        let mut world = engine_common::World::default();
        world.report("bed-1", reading_at, &[("soil_moisture", value)]);
        let id = engine.output_id("bed-1", "valve").expect("the valve exists");
        state.set_override(id, Override { power: true, until: Timestamp::MAX });
        for now in [at, reading_at, at] {
            let decisions = engine.evaluate(&mut state, &world, now, Scope::All);
            prop_assert_eq!(decisions.len(), 1);
        }
    }
}
