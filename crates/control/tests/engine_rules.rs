//! One table row per decision rule (CONTRACT §3): settings, readings, clock and prior state in,
//! power and the grower-facing reason out.

mod engine_common;

use std::sync::Arc;

use engine_common::{Garden, Run, bed_and_tank, local, rules};
use plantkeeper_control::Settings;
use plantkeeper_control::engine::ReasonKind;

const ZONE: &str = "Europe/Paris";
/// Wednesday 15 May 2024, 12:00 local time.
const START: &str = "2024-05-15T12:00";

/// Something that happens before the decision under test.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// A node reports these readings now.
    Report(&'static str, &'static [(&'static str, f64)]),
    /// Evaluate every output now.
    Evaluate,
    /// Move the clock forward, in seconds.
    Wait(u64),
    /// For this many seconds, every 10 s: both nodes repeat their last readings and every output
    /// is evaluated.
    Hold(
        u64,
        &'static [(&'static str, f64)],
        &'static [(&'static str, f64)],
    ),
    /// Override the output under test: power, for how many seconds.
    Override(bool, u64),
}

use Step::{Evaluate, Hold, Override, Report, Wait};

struct Row {
    name: &'static str,
    garden: fn() -> Arc<Settings>,
    output: &'static str,
    steps: &'static [Step],
    power: bool,
    reason: &'static str,
    kind: ReasonKind,
}

const DRY: &[(&str, f64)] = &[("soil_moisture", 28.1)];
const WET: &[(&str, f64)] = &[("soil_moisture", 46.0)];
const TANK_FULL: &[(&str, f64)] = &[("level", 80.0)];

fn hysteresis_valve() -> Arc<Settings> {
    bed_and_tank(
        ZONE,
        rules()
            .on_when("soil_moisture < 30")
            .off_when("soil_moisture >= 45")
            .require("tank.level >= 20"),
    )
}

fn default_off_when_valve() -> Arc<Settings> {
    bed_and_tank(ZONE, rules().on_when("soil_moisture < 30"))
}

fn day_valve() -> Arc<Settings> {
    bed_and_tank(
        ZONE,
        rules()
            .on_when("soil_moisture < 30")
            .schedule(&["07:00-20:00"]),
    )
}

fn weekday_valve() -> Arc<Settings> {
    bed_and_tank(
        ZONE,
        rules()
            .on_when("soil_moisture < 30")
            .schedule(&["mon-fri 07:00-20:00", "sat,sun 09:00-18:00"]),
    )
}

fn timer_valve() -> Arc<Settings> {
    bed_and_tank(ZONE, rules().schedule(&["06:00-21:00"]))
}

fn ruleless_valve() -> Arc<Settings> {
    bed_and_tank(ZONE, rules())
}

fn limited_valve() -> Arc<Settings> {
    bed_and_tank(
        ZONE,
        rules()
            .on_when("soil_moisture < 30")
            .off_when("soil_moisture >= 45")
            .max_on(120)
            .min_off(600)
            .min_on(10),
    )
}

fn budget_valve() -> Arc<Settings> {
    bed_and_tank(
        ZONE,
        rules().on_when("soil_moisture < 30").max_on_per_day(1200),
    )
}

fn valve_and_pump() -> Arc<Settings> {
    Garden::new(ZONE)
        .node("bed-1", 20)
        .sensor("bed-1", "soil_moisture", 0.0, 100.0)
        .output("bed-1", "valve", rules().on_when("soil_moisture < 30"))
        .node("tank", 15)
        .sensor("tank", "level", 0.0, 100.0)
        .output(
            "tank",
            "pump",
            rules().on_when("bed-1.valve").require("level >= 20"),
        )
        .build()
}

const ROWS: &[Row] = &[
    Row {
        name: "rule 4: dry soil turns the valve ON",
        garden: hysteresis_valve,
        output: "bed-1.valve",
        steps: &[Report("bed-1", DRY), Report("tank", TANK_FULL)],
        power: true,
        reason: "soil_moisture 28.1 < 30",
        kind: ReasonKind::Condition,
    },
    Row {
        name: "rule 4: wet soil turns a running valve OFF",
        garden: hysteresis_valve,
        output: "bed-1.valve",
        steps: &[
            Report("bed-1", DRY),
            Report("tank", TANK_FULL),
            Evaluate,
            Wait(5),
            Report("bed-1", WET),
            Report("tank", TANK_FULL),
        ],
        power: false,
        reason: "soil_moisture 46.0 >= 45",
        kind: ReasonKind::Condition,
    },
    Row {
        name: "rule 4: between the thresholds an OFF valve stays OFF",
        garden: hysteresis_valve,
        output: "bed-1.valve",
        steps: &[
            Report("bed-1", &[("soil_moisture", 35.0)]),
            Report("tank", TANK_FULL),
        ],
        power: false,
        reason: "soil_moisture 35.0 >= 30",
        kind: ReasonKind::Condition,
    },
    Row {
        name: "rule 4: between the thresholds an ON valve stays ON",
        garden: hysteresis_valve,
        output: "bed-1.valve",
        steps: &[
            Report("bed-1", DRY),
            Report("tank", TANK_FULL),
            Evaluate,
            Wait(5),
            Report("bed-1", &[("soil_moisture", 35.0)]),
            Report("tank", TANK_FULL),
        ],
        power: true,
        reason: "soil_moisture 35.0 < 45",
        kind: ReasonKind::Condition,
    },
    Row {
        name: "rule 4: without off_when the valve goes OFF when on_when is false",
        garden: default_off_when_valve,
        output: "bed-1.valve",
        steps: &[
            Report("bed-1", DRY),
            Evaluate,
            Wait(5),
            Report("bed-1", &[("soil_moisture", 31.0)]),
        ],
        power: false,
        reason: "soil_moisture 31.0 >= 30",
        kind: ReasonKind::Condition,
    },
    Row {
        name: "rule 2: a stale sensor of another node turns OFF",
        garden: hysteresis_valve,
        output: "bed-1.valve",
        steps: &[
            Report("bed-1", DRY),
            Report("tank", TANK_FULL),
            Evaluate,
            Wait(42),
            Report("bed-1", DRY),
        ],
        power: false,
        reason: "tank.level stale for 42s",
        kind: ReasonKind::InputStale,
    },
    Row {
        name: "rule 2: a sensor that never reported keeps the valve OFF",
        garden: hysteresis_valve,
        output: "bed-1.valve",
        steps: &[Report("bed-1", DRY)],
        power: false,
        reason: "no tank.level reading since the master started",
        kind: ReasonKind::InputMissing,
    },
    Row {
        name: "rule 2: a reading outside the declared range is invalid",
        garden: hysteresis_valve,
        output: "bed-1.valve",
        steps: &[
            Report("bed-1", &[("soil_moisture", 120.0)]),
            Report("tank", TANK_FULL),
        ],
        power: false,
        reason: "soil_moisture 120 outside 0..100",
        kind: ReasonKind::InputInvalid,
    },
    Row {
        name: "rule 2: NaN is invalid",
        garden: hysteresis_valve,
        output: "bed-1.valve",
        steps: &[
            Report("bed-1", &[("soil_moisture", f64::NAN)]),
            Report("tank", TANK_FULL),
        ],
        power: false,
        reason: "soil_moisture is not a finite number",
        kind: ReasonKind::InputInvalid,
    },
    Row {
        name: "rule 2: infinity is invalid",
        garden: hysteresis_valve,
        output: "bed-1.valve",
        steps: &[
            Report("bed-1", &[("soil_moisture", f64::NEG_INFINITY)]),
            Report("tank", TANK_FULL),
        ],
        power: false,
        reason: "soil_moisture is not a finite number",
        kind: ReasonKind::InputInvalid,
    },
    Row {
        name: "rule 6: a node silent for its stale_after has its outputs OFF",
        garden: hysteresis_valve,
        output: "bed-1.valve",
        steps: &[
            Report("bed-1", DRY),
            Report("tank", TANK_FULL),
            Evaluate,
            Wait(20),
            Report("tank", TANK_FULL),
        ],
        power: false,
        reason: "node bed-1 silent for 20s",
        kind: ReasonKind::NodeSilent,
    },
    Row {
        name: "rule 6: a node that never reported has its outputs OFF",
        garden: hysteresis_valve,
        output: "bed-1.valve",
        steps: &[Report("tank", TANK_FULL)],
        power: false,
        reason: "node bed-1 has not reported since the master started",
        kind: ReasonKind::NodeSilent,
    },
    Row {
        name: "rule 3: a false require turns OFF and shows the value",
        garden: hysteresis_valve,
        output: "bed-1.valve",
        steps: &[Report("bed-1", DRY), Report("tank", &[("level", 12.0)])],
        power: false,
        reason: "require tank.level >= 20 failed (tank.level 12.0)",
        kind: ReasonKind::RequireFailed,
    },
    Row {
        name: "rule 3: outside the schedule the valve is OFF even when dry",
        garden: day_valve,
        output: "bed-1.valve",
        steps: &[Wait(9 * 3600), Report("bed-1", DRY)],
        power: false,
        reason: "outside 07:00-20:00",
        kind: ReasonKind::OutsideSchedule,
    },
    Row {
        name: "rule 3: the reason lists every window",
        garden: weekday_valve,
        output: "bed-1.valve",
        steps: &[Wait(9 * 3600), Report("bed-1", DRY)],
        power: false,
        reason: "outside mon-fri 07:00-20:00, sat,sun 09:00-18:00",
        kind: ReasonKind::OutsideSchedule,
    },
    Row {
        name: "rule 4: a schedule alone is a timer",
        garden: timer_valve,
        output: "bed-1.valve",
        steps: &[Report("bed-1", &[])],
        power: true,
        reason: "inside 06:00-21:00",
        kind: ReasonKind::InsideSchedule,
    },
    Row {
        name: "rule 4: no on_when and no schedule is OFF",
        garden: ruleless_valve,
        output: "bed-1.valve",
        steps: &[Report("bed-1", DRY)],
        power: false,
        reason: "no on_when or schedule",
        kind: ReasonKind::NoRule,
    },
    Row {
        name: "rule 5: a run is cut at max_on",
        garden: limited_valve,
        output: "bed-1.valve",
        steps: &[
            Report("bed-1", DRY),
            Evaluate,
            Hold(110, DRY, TANK_FULL),
            Wait(10),
            Report("bed-1", DRY),
        ],
        power: false,
        reason: "max_on 2m reached",
        kind: ReasonKind::MaxOn,
    },
    Row {
        name: "rule 5: min_off rests after a run",
        garden: limited_valve,
        output: "bed-1.valve",
        steps: &[
            Report("bed-1", DRY),
            Evaluate,
            Hold(50, DRY, TANK_FULL),
            Wait(10),
            Report("bed-1", WET),
            Evaluate,
            Hold(50, WET, TANK_FULL),
            Wait(10),
            Report("bed-1", DRY),
        ],
        power: false,
        reason: "min_off 10m: resting until 12:11",
        kind: ReasonKind::MinOff,
    },
    Row {
        name: "rule 5: min_on holds a condition-driven OFF",
        garden: limited_valve,
        output: "bed-1.valve",
        steps: &[
            Report("bed-1", DRY),
            Evaluate,
            Wait(5),
            Report("bed-1", WET),
        ],
        power: true,
        reason: "min_on 10s: holding until 12:00:10",
        kind: ReasonKind::MinOn,
    },
    Row {
        name: "rule 5: the daily budget cuts a run",
        garden: budget_valve,
        output: "bed-1.valve",
        steps: &[
            Report("bed-1", DRY),
            Evaluate,
            Hold(1190, DRY, TANK_FULL),
            Wait(10),
            Report("bed-1", DRY),
        ],
        power: false,
        reason: "max_on_per_day 20m spent",
        kind: ReasonKind::DailyBudget,
    },
    Row {
        name: "rule 1: an output input is the power decided in the same pass",
        garden: valve_and_pump,
        output: "tank.pump",
        steps: &[Report("bed-1", DRY), Report("tank", TANK_FULL)],
        power: true,
        reason: "bed-1.valve is ON",
        kind: ReasonKind::Condition,
    },
    Row {
        name: "rule 7: an override replaces the hysteresis",
        garden: ruleless_valve,
        output: "bed-1.valve",
        steps: &[Report("bed-1", DRY), Override(true, 600)],
        power: true,
        reason: "override ON until 12:10",
        kind: ReasonKind::Override,
    },
];

fn run_row(row: &Row) -> Run {
    let mut run = Run::start((row.garden)(), local(ZONE, START));
    for step in row.steps {
        match *step {
            Report(node, readings) => run.report(node, readings),
            Evaluate => {
                run.evaluate();
            }
            Wait(seconds) => run.advance(seconds),
            Hold(seconds, bed, tank) => {
                for _ in 0..seconds / 10 {
                    run.advance(10);
                    run.report("bed-1", bed);
                    run.report("tank", tank);
                    run.evaluate();
                }
            }
            Override(power, seconds) => run.override_for(row.output, power, seconds),
        }
    }
    run
}

#[test]
fn every_rule_decides_power_and_explains_why() {
    let mut failures = Vec::new();
    for row in ROWS {
        let mut run = run_row(row);
        let decision = run.decide(row.output);
        let got = (
            decision.power,
            decision.reason.text.as_str(),
            decision.reason.kind,
        );
        if got != (row.power, row.reason, row.kind) {
            failures.push(format!(
                "{}: expected {} `{}` ({:?}), got {} `{}` ({:?})",
                row.name,
                if row.power { "ON" } else { "OFF" },
                row.reason,
                row.kind,
                if got.0 { "ON" } else { "OFF" },
                got.1,
                got.2,
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "rules decided wrongly:\n{}",
        failures.join("\n")
    );
}

#[test]
fn every_output_starts_off_because_the_master_started() {
    let run = Run::start(hysteresis_valve(), local(ZONE, START));
    let state = run.state.output(run.id("bed-1.valve"));
    assert!(!state.power, "rule 8: outputs start OFF");
    assert_eq!(state.reason.to_string(), "master started");
    assert_eq!(state.since, local(ZONE, START));
}

#[test]
fn safety_reasons_are_marked_as_safety() {
    for kind in [
        ReasonKind::NodeSilent,
        ReasonKind::InputStale,
        ReasonKind::RequireFailed,
        ReasonKind::OutsideSchedule,
    ] {
        assert!(kind.is_safety(), "{kind} is a safety OFF");
    }
    for kind in [
        ReasonKind::Condition,
        ReasonKind::MinOn,
        ReasonKind::Override,
        ReasonKind::MaxOn,
    ] {
        assert!(!kind.is_safety(), "{kind} is not a safety OFF");
    }
}
