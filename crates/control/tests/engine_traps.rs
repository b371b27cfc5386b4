//! The classic ways plant controllers go wrong, each pinned down by a test.

mod engine_common;

use std::sync::Arc;

use engine_common::{Garden, Run, bed_and_tank, local, rules};
use plantkeeper_control::Settings;
use plantkeeper_control::engine::{ReasonKind, RestoredUsage};

const PARIS: &str = "Europe/Paris";
const NEW_YORK: &str = "America/New_York";
const NOON: &str = "2024-05-15T12:00";

fn hysteresis_valve() -> Arc<Settings> {
    bed_and_tank(
        PARIS,
        rules()
            .on_when("soil_moisture < 30")
            .off_when("soil_moisture >= 45"),
    )
}

/// Steps `seconds` in 1-second evaluations while `node` keeps reporting `readings`.
fn keep_reporting(run: &mut Run, node: &str, readings: &[(&str, f64)], seconds: u64) {
    for _ in 0..seconds {
        run.advance(1);
        run.report(node, readings);
        run.evaluate();
    }
}

#[test]
fn valve_stays_off_between_thresholds_while_drying() {
    let mut run = Run::start(hysteresis_valve(), local(PARIS, NOON));
    for moisture in [44.0, 40.0, 35.0, 31.0, 30.0, 30.5, 33.0, 30.0] {
        run.advance(5);
        run.report("bed-1", &[("soil_moisture", moisture)]);
        let (power, reason) = run.power_and_reason("bed-1.valve");
        assert!(
            !power,
            "an OFF valve must stay OFF at {moisture} (>= 30): {reason}"
        );
    }
    run.advance(5);
    run.report("bed-1", &[("soil_moisture", 29.9)]);
    assert!(
        run.decide("bed-1.valve").power,
        "29.9 < 30 must turn the valve ON"
    );
}

#[test]
fn valve_stays_on_between_thresholds_while_wetting() {
    let mut run = Run::start(hysteresis_valve(), local(PARIS, NOON));
    run.report("bed-1", &[("soil_moisture", 25.0)]);
    assert!(run.decide("bed-1.valve").power);
    for moisture in [29.0, 30.0, 35.0, 40.0, 44.9, 31.0, 44.99] {
        run.advance(5);
        run.report("bed-1", &[("soil_moisture", moisture)]);
        let (power, reason) = run.power_and_reason("bed-1.valve");
        assert!(
            power,
            "an ON valve must stay ON at {moisture} (< 45): {reason}"
        );
    }
    run.advance(5);
    run.report("bed-1", &[("soil_moisture", 45.0)]);
    let decision = run.decide("bed-1.valve");
    assert!(
        !decision.power && decision.changed,
        "45 >= 45 must turn the valve OFF"
    );
}

fn valves_and_pump() -> Arc<Settings> {
    Garden::new(PARIS)
        .node("bed-1", 20)
        .sensor("bed-1", "soil_moisture", 0.0, 100.0)
        .output("bed-1", "valve", rules().on_when("soil_moisture < 30"))
        .node("bed-2", 20)
        .sensor("bed-2", "soil_moisture", 0.0, 100.0)
        .output("bed-2", "valve", rules().on_when("soil_moisture < 35"))
        // Named so that it sorts before the beds: only the plan's topological order puts it last.
        .node("a-tank", 15)
        .sensor("a-tank", "level", 0.0, 100.0)
        .output(
            "a-tank",
            "pump",
            rules()
                .on_when("bed-1.valve or bed-2.valve")
                .require("level >= 20"),
        )
        .build()
}

#[test]
fn pump_follows_bed_valves_in_the_same_pass() {
    let mut run = Run::start(valves_and_pump(), local(PARIS, NOON));
    run.report("a-tank", &[("level", 80.0)]);
    run.report("bed-1", &[("soil_moisture", 50.0)]);
    run.report("bed-2", &[("soil_moisture", 50.0)]);
    run.evaluate();
    let pump = run.id("a-tank.pump");
    let valve = run.id("bed-2.valve");
    assert!(
        valve < pump,
        "a referenced output is evaluated before the output reading it"
    );

    run.advance(1);
    run.report("bed-2", &[("soil_moisture", 20.0)]);
    let decisions = run.evaluate();
    let pump_decision = decisions
        .iter()
        .find(|d| d.output == pump)
        .expect("pump decided");
    assert!(
        pump_decision.power,
        "pump must start in the pass that opened bed-2's valve"
    );
    assert_eq!(pump_decision.reason.text, "bed-2.valve is ON");

    run.advance(1);
    run.report("bed-2", &[("soil_moisture", 40.0)]);
    let decisions = run.evaluate();
    let pump_decision = decisions
        .iter()
        .find(|d| d.output == pump)
        .expect("pump decided");
    assert!(
        !pump_decision.power,
        "pump must stop in the pass that closed the last valve"
    );
    assert_eq!(
        pump_decision.reason.text,
        "bed-1.valve is OFF and bed-2.valve is OFF"
    );
}

#[test]
fn pump_stops_when_its_valves_node_goes_silent() {
    let mut run = Run::start(valves_and_pump(), local(PARIS, NOON));
    run.report("a-tank", &[("level", 80.0)]);
    run.report("bed-1", &[("soil_moisture", 20.0)]);
    assert!(run.decide("a-tank.pump").power);
    keep_reporting(&mut run, "a-tank", &[("level", 80.0)], 19);
    assert!(
        run.decide("a-tank.pump").power,
        "bed-1 is still within its stale_after"
    );
    run.advance(1);
    run.report("a-tank", &[("level", 80.0)]);
    let decisions = run.evaluate();
    let valve = decisions
        .iter()
        .find(|d| d.output == run.id("bed-1.valve"))
        .expect("valve decided");
    let pump = decisions
        .iter()
        .find(|d| d.output == run.id("a-tank.pump"))
        .expect("pump decided");
    assert_eq!(valve.reason.text, "node bed-1 silent for 20s");
    assert!(
        !pump.power,
        "the pump reads the valve's power of this same pass"
    );
}

#[test]
fn node_going_silent_mid_run_turns_off_exactly_at_stale_after() {
    let mut run = Run::start(hysteresis_valve(), local(PARIS, NOON));
    run.report("bed-1", &[("soil_moisture", 20.0)]);
    assert!(run.decide("bed-1.valve").power);
    for second in 1..20 {
        run.advance(1);
        assert!(
            run.decide("bed-1.valve").power,
            "still ON {second}s after the last report"
        );
    }
    run.advance(1);
    let decision = run.decide("bed-1.valve");
    assert!(!decision.power, "OFF once silent for stale_after (20s)");
    assert_eq!(decision.reason.text, "node bed-1 silent for 20s");
    assert_eq!(decision.reason.kind, ReasonKind::NodeSilent);
}

#[test]
fn stale_sensor_of_another_node_in_require_uses_that_nodes_stale_after() {
    let settings = bed_and_tank(
        PARIS,
        rules()
            .on_when("soil_moisture < 30")
            .require("tank.level >= 20"),
    );
    let mut run = Run::start(settings, local(PARIS, NOON));
    run.report("tank", &[("level", 80.0)]);
    run.report("bed-1", &[("soil_moisture", 20.0)]);
    assert!(run.decide("bed-1.valve").power);
    keep_reporting(&mut run, "bed-1", &[("soil_moisture", 20.0)], 14);
    assert!(
        run.decide("bed-1.valve").power,
        "tank.level is 14s old: fresh (tank's stale_after is 15s)"
    );
    run.advance(1);
    run.report("bed-1", &[("soil_moisture", 20.0)]);
    let decision = run.decide("bed-1.valve");
    assert!(
        !decision.power,
        "tank.level at 15s is stale although bed-1's own stale_after is 20s"
    );
    assert_eq!(decision.reason.text, "tank.level stale for 15s");
}

fn lamp_with_limits() -> Arc<Settings> {
    Garden::new(PARIS)
        .node("bed-1", 3600)
        .sensor("bed-1", "soil_moisture", 0.0, 100.0)
        .output(
            "bed-1",
            "valve",
            rules()
                .on_when("soil_moisture < 30")
                .schedule(&["06:00-08:00"])
                .max_on(120)
                .max_on_per_day(180),
        )
        .build()
}

#[test]
fn override_on_outside_the_schedule_is_on() {
    let mut run = Run::start(lamp_with_limits(), local(PARIS, NOON));
    run.report("bed-1", &[("soil_moisture", 50.0)]);
    assert_eq!(
        run.power_and_reason("bed-1.valve"),
        (false, "outside 06:00-08:00".to_owned())
    );
    run.override_for("bed-1.valve", true, 60);
    assert_eq!(
        run.power_and_reason("bed-1.valve"),
        (true, "override ON until 12:01".to_owned())
    );
}

#[test]
fn override_on_with_a_stale_input_is_off() {
    let settings = bed_and_tank(
        PARIS,
        rules()
            .on_when("soil_moisture < 30")
            .require("tank.level >= 20"),
    );
    let mut run = Run::start(settings, local(PARIS, NOON));
    run.report("bed-1", &[("soil_moisture", 50.0)]);
    run.report("tank", &[("level", 80.0)]);
    run.advance(16);
    run.report("bed-1", &[("soil_moisture", 50.0)]);
    run.override_for("bed-1.valve", true, 600);
    assert_eq!(
        run.power_and_reason("bed-1.valve"),
        (false, "tank.level stale for 16s".to_owned())
    );
}

#[test]
fn override_on_with_a_false_require_is_off() {
    let settings = bed_and_tank(PARIS, rules().require("tank.level >= 20"));
    let mut run = Run::start(settings, local(PARIS, NOON));
    run.report("bed-1", &[]);
    run.report("tank", &[("level", 5.0)]);
    run.override_for("bed-1.valve", true, 600);
    let decision = run.decide("bed-1.valve");
    assert!(!decision.power, "require is never overridden");
    assert_eq!(decision.reason.kind, ReasonKind::RequireFailed);
}

#[test]
fn override_cannot_exceed_max_on_nor_chain_runs() {
    let mut run = Run::start(lamp_with_limits(), local(PARIS, NOON));
    run.report("bed-1", &[("soil_moisture", 50.0)]);
    run.override_for("bed-1.valve", true, 600);
    let first = run.decide("bed-1.valve");
    assert!(first.power);
    assert_eq!(
        first.on_time_left,
        Some(std::time::Duration::from_secs(120)),
        "the lease is capped by max_on"
    );
    for _ in 0..119 {
        run.advance(1);
        assert!(run.decide("bed-1.valve").power);
    }
    run.advance(1);
    assert_eq!(
        run.power_and_reason("bed-1.valve"),
        (false, "max_on 2m reached".to_owned())
    );
    run.advance(1);
    let after = run.decide("bed-1.valve");
    assert!(
        !after.power,
        "the cut ended the override, so it does not start a new run: {}",
        after.reason
    );
    assert_eq!(after.reason.text, "outside 06:00-08:00");
}

#[test]
fn override_cannot_exceed_the_daily_budget() {
    let mut run = Run::start(lamp_with_limits(), local(PARIS, NOON));
    run.report("bed-1", &[("soil_moisture", 50.0)]);
    run.override_for("bed-1.valve", true, 100);
    run.evaluate();
    run.advance(100);
    assert!(
        !run.decide("bed-1.valve").power,
        "the override expired after 100s"
    );
    run.override_for("bed-1.valve", true, 600);
    let second = run.decide("bed-1.valve");
    assert!(second.power);
    assert_eq!(
        second.on_time_left,
        Some(std::time::Duration::from_secs(80)),
        "180s budget minus 100s used"
    );
    run.advance(80);
    assert_eq!(
        run.power_and_reason("bed-1.valve"),
        (false, "max_on_per_day 3m spent".to_owned())
    );
}

#[test]
fn expired_override_falls_back_to_the_rules() {
    let mut run = Run::start(hysteresis_valve(), local(PARIS, NOON));
    run.report("bed-1", &[("soil_moisture", 50.0)]);
    run.override_for("bed-1.valve", true, 30);
    assert!(run.decide("bed-1.valve").power);
    keep_reporting(&mut run, "bed-1", &[("soil_moisture", 50.0)], 29);
    assert!(
        run.decide("bed-1.valve").power,
        "override still active at 29s"
    );
    run.advance(1);
    run.report("bed-1", &[("soil_moisture", 50.0)]);
    let decision = run.decide("bed-1.valve");
    assert_eq!(
        (decision.power, decision.reason.text.as_str()),
        (false, "soil_moisture 50.0 >= 45")
    );
    assert_eq!(
        run.state.output(run.id("bed-1.valve")).override_,
        None,
        "expired override removed"
    );
}

#[test]
fn override_off_is_immediate_even_within_min_on() {
    let settings = bed_and_tank(PARIS, rules().on_when("soil_moisture < 30").min_on(60));
    let mut run = Run::start(settings, local(PARIS, NOON));
    run.report("bed-1", &[("soil_moisture", 20.0)]);
    assert!(run.decide("bed-1.valve").power);
    run.advance(5);
    run.override_for("bed-1.valve", false, 600);
    assert_eq!(
        run.power_and_reason("bed-1.valve"),
        (false, "override OFF until 12:10:05".to_owned())
    );
}

fn protected_valve(min_off: Option<u64>) -> Arc<Settings> {
    let mut valve = rules()
        .on_when("soil_moisture < 30")
        .off_when("soil_moisture >= 45")
        .min_on(30)
        .max_on(120);
    if let Some(seconds) = min_off {
        valve = valve.min_off(seconds);
    }
    Garden::new(PARIS)
        .node("bed-1", 20)
        .sensor("bed-1", "soil_moisture", 0.0, 100.0)
        .output("bed-1", "valve", valve)
        .build()
}

#[test]
fn min_on_holds_a_condition_off_but_not_a_safety_off() {
    let mut run = Run::start(protected_valve(None), local(PARIS, NOON));
    run.report("bed-1", &[("soil_moisture", 20.0)]);
    assert!(run.decide("bed-1.valve").power);
    keep_reporting(&mut run, "bed-1", &[("soil_moisture", 50.0)], 29);
    assert_eq!(
        run.power_and_reason("bed-1.valve"),
        (true, "min_on 30s: holding until 12:00:30".to_owned())
    );
    run.advance(1);
    run.report("bed-1", &[("soil_moisture", 50.0)]);
    assert_eq!(
        run.power_and_reason("bed-1.valve"),
        (false, "soil_moisture 50.0 >= 45".to_owned())
    );

    let mut run = Run::start(protected_valve(None), local(PARIS, NOON));
    run.report("bed-1", &[("soil_moisture", 20.0)]);
    assert!(run.decide("bed-1.valve").power);
    run.advance(5);
    run.report("bed-1", &[("soil_moisture", f64::NAN)]);
    assert_eq!(
        run.power_and_reason("bed-1.valve"),
        (false, "soil_moisture is not a finite number".to_owned()),
        "a safety OFF is never delayed by min_on"
    );
}

#[test]
fn min_off_blocks_a_restart_until_it_has_passed() {
    let mut run = Run::start(protected_valve(Some(300)), local(PARIS, NOON));
    run.report("bed-1", &[("soil_moisture", 20.0)]);
    assert!(run.decide("bed-1.valve").power);
    keep_reporting(&mut run, "bed-1", &[("soil_moisture", 50.0)], 30);
    assert!(
        !run.decide("bed-1.valve").power,
        "OFF after min_on at 12:00:30"
    );
    keep_reporting(&mut run, "bed-1", &[("soil_moisture", 20.0)], 299);
    assert_eq!(
        run.power_and_reason("bed-1.valve"),
        (false, "min_off 5m: resting until 12:05:30".to_owned())
    );
    run.advance(1);
    run.report("bed-1", &[("soil_moisture", 20.0)]);
    assert!(
        run.decide("bed-1.valve").power,
        "ON again once min_off has passed"
    );
}

#[test]
fn max_on_cut_without_min_off_lets_the_hysteresis_start_a_new_run() {
    let mut run = Run::start(protected_valve(None), local(PARIS, NOON));
    run.report("bed-1", &[("soil_moisture", 20.0)]);
    assert!(run.decide("bed-1.valve").power);
    keep_reporting(&mut run, "bed-1", &[("soil_moisture", 20.0)], 119);
    assert!(run.decide("bed-1.valve").power);
    run.advance(1);
    run.report("bed-1", &[("soil_moisture", 20.0)]);
    assert_eq!(
        run.power_and_reason("bed-1.valve"),
        (false, "max_on 2m reached".to_owned())
    );
    run.advance(1);
    let again = run.decide("bed-1.valve");
    assert!(
        again.power && again.changed,
        "without min_off a new run may start at the next evaluation"
    );
}

#[test]
fn max_on_cut_with_min_off_rests_before_a_new_run() {
    let mut run = Run::start(protected_valve(Some(600)), local(PARIS, NOON));
    run.report("bed-1", &[("soil_moisture", 20.0)]);
    assert!(run.decide("bed-1.valve").power);
    keep_reporting(&mut run, "bed-1", &[("soil_moisture", 20.0)], 120);
    assert_eq!(
        run.state.output(run.id("bed-1.valve")).reason.text,
        "max_on 2m reached"
    );
    keep_reporting(&mut run, "bed-1", &[("soil_moisture", 20.0)], 599);
    assert_eq!(
        run.power_and_reason("bed-1.valve"),
        (false, "min_off 10m: resting until 12:12".to_owned())
    );
    run.advance(1);
    run.report("bed-1", &[("soil_moisture", 20.0)]);
    assert!(run.decide("bed-1.valve").power);
}

fn budget_valve(zone: &str) -> Arc<Settings> {
    Garden::new(zone)
        .node("bed-1", 100_000)
        .sensor("bed-1", "soil_moisture", 0.0, 100.0)
        .output(
            "bed-1",
            "valve",
            rules()
                .on_when("soil_moisture < 30")
                .max_on_per_day(1200)
                .min_off(600),
        )
        .build()
}

#[test]
fn restart_restores_the_daily_budget_and_min_off() {
    let settings = budget_valve(PARIS);
    let probe = Run::start(settings.clone(), local(PARIS, NOON));
    let id = probe.id("bed-1.valve");
    let restored = [RestoredUsage {
        output: id,
        last_off: Some(local(PARIS, "2024-05-15T11:55")),
        used_today: std::time::Duration::from_secs(1140),
    }];
    let mut run = Run::restart(settings, local(PARIS, NOON), &restored);
    run.report("bed-1", &[("soil_moisture", 20.0)]);
    assert_eq!(
        run.power_and_reason("bed-1.valve"),
        (false, "min_off 10m: resting until 12:05".to_owned()),
        "min_off counts from the OFF stored before the restart"
    );
    run.advance(300);
    let decision = run.decide("bed-1.valve");
    assert!(decision.power);
    assert_eq!(
        decision.on_time_left,
        Some(std::time::Duration::from_secs(60)),
        "19 of 20 minutes were already used today"
    );
    run.advance(60);
    assert_eq!(
        run.power_and_reason("bed-1.valve"),
        (false, "max_on_per_day 20m spent".to_owned())
    );
}

/// Evaluates `bed-1.valve` every minute from `from` (local) for `minutes`, dry soil, and returns
/// the real minutes (since `from`) at which it was ON.
fn minutes_on(run: &mut Run, minutes: u64) -> Vec<u64> {
    let mut on = Vec::new();
    for minute in 0..minutes {
        run.report("bed-1", &[("soil_moisture", 20.0)]);
        if run.decide("bed-1.valve").power {
            on.push(minute);
        }
        run.advance(60);
    }
    on
}

#[test]
fn daily_budget_counts_real_time_across_a_dst_jump() {
    // Budget 20 min. Paris springs forward at 02:00 → 03:00: a run from 01:50 is cut at 03:10
    // civil, 20 real minutes later. New York falls back at 02:00 → 01:00: a run from 01:50 EDT is
    // cut at 01:10 EST, again 20 real minutes later.
    for (zone, start) in [(PARIS, "2024-03-31T01:50"), (NEW_YORK, "2024-11-03T01:50")] {
        let mut run = Run::start(budget_valve(zone), local(zone, start));
        let on = minutes_on(&mut run, 40);
        assert_eq!(
            on,
            (0..20).collect::<Vec<_>>(),
            "{zone}: ON for exactly 20 real minutes from {start}"
        );
    }
}

#[test]
fn daily_budget_resets_at_local_midnight_after_23_and_25_hour_days() {
    for (zone, day, next_midnight, real_hours) in [
        (PARIS, "2024-03-31T00:00", "2024-04-01T00:00", 23),
        (PARIS, "2024-10-27T00:00", "2024-10-28T00:00", 25),
        (NEW_YORK, "2024-03-10T00:00", "2024-03-11T00:00", 23),
        (NEW_YORK, "2024-11-03T00:00", "2024-11-04T00:00", 25),
    ] {
        let start = local(zone, day);
        let midnight = local(zone, next_midnight);
        assert_eq!(
            midnight.duration_since(start).as_hours(),
            real_hours,
            "{zone} {day} has {real_hours} hours"
        );
        let mut run = Run::start(budget_valve(zone), start);
        run.report("bed-1", &[("soil_moisture", 20.0)]);
        assert!(run.decide("bed-1.valve").power);
        run.advance(1200);
        run.report("bed-1", &[("soil_moisture", 20.0)]);
        assert_eq!(
            run.decide("bed-1.valve").reason.kind,
            ReasonKind::DailyBudget
        );
        run.now = midnight
            .checked_sub(jiff::SignedDuration::from_secs(1))
            .expect("in range");
        run.report("bed-1", &[("soil_moisture", 20.0)]);
        let late = run.decide("bed-1.valve");
        assert!(
            !late.power,
            "{zone}: budget still spent one second before the local midnight after {day}"
        );
        run.now = midnight;
        run.report("bed-1", &[("soil_moisture", 20.0)]);
        assert!(
            run.decide("bed-1.valve").power,
            "{zone}: a new budget at local midnight after {day}"
        );
    }
}

#[test]
fn a_run_crossing_midnight_counts_toward_each_day() {
    let mut run = Run::start(budget_valve(PARIS), local(PARIS, "2024-05-15T23:50"));
    run.report("bed-1", &[("soil_moisture", 20.0)]);
    assert!(run.decide("bed-1.valve").power);
    run.now = local(PARIS, "2024-05-16T00:05");
    run.report("bed-1", &[("soil_moisture", 20.0)]);
    let decision = run.decide("bed-1.valve");
    assert!(decision.power);
    let state = run.state.output(run.id("bed-1.valve"));
    assert_eq!(
        state.used_today(),
        std::time::Duration::from_secs(300),
        "only the 5 minutes after midnight count for the new day"
    );
    assert_eq!(
        decision.on_time_left,
        Some(std::time::Duration::from_secs(900))
    );
}

#[test]
fn schedule_window_on_spring_forward_night_is_an_hour_shorter() {
    for (zone, evening) in [(PARIS, "2024-03-30T21:00"), (NEW_YORK, "2024-03-09T21:00")] {
        let settings = Garden::new(zone)
            .node("bed-1", 1_000_000)
            .output("bed-1", "valve", rules().schedule(&["22:00-06:00"]))
            .build();
        let mut run = Run::start(settings, local(zone, evening));
        let on = minutes_on(&mut run, 10 * 60);
        assert_eq!(
            on.len(),
            7 * 60,
            "{zone}: 22:00-06:00 lasts 7 real hours on a spring-forward night"
        );
    }
}

#[test]
fn schedule_window_on_fall_back_night_is_an_hour_longer() {
    for (zone, evening) in [(PARIS, "2024-10-26T21:00"), (NEW_YORK, "2024-11-02T21:00")] {
        let settings = Garden::new(zone)
            .node("bed-1", 1_000_000)
            .output("bed-1", "valve", rules().schedule(&["22:00-06:00"]))
            .build();
        let mut run = Run::start(settings, local(zone, evening));
        let on = minutes_on(&mut run, 11 * 60);
        assert_eq!(
            on.len(),
            9 * 60,
            "{zone}: 22:00-06:00 lasts 9 real hours on a fall-back night"
        );
    }
}

/// Sets the clock back by `seconds` (an NTP correction, an admin fixing the date).
fn set_clock_back(run: &mut Run, seconds: i64) {
    run.now = run
        .now
        .checked_sub(jiff::SignedDuration::from_secs(seconds))
        .expect("test clocks stay within jiff's range");
}

#[test]
fn clock_set_back_mid_run_does_not_stretch_max_on() {
    let settings = Garden::new(PARIS)
        .node("bed-1", 20)
        .sensor("bed-1", "soil_moisture", 0.0, 100.0)
        .output(
            "bed-1",
            "valve",
            rules().on_when("soil_moisture < 30").max_on(120),
        )
        .build();
    let mut run = Run::start(settings, local(PARIS, NOON));
    run.report("bed-1", &[("soil_moisture", 20.0)]);
    assert!(run.decide("bed-1.valve").power, "dry soil: ON");
    keep_reporting(&mut run, "bed-1", &[("soil_moisture", 20.0)], 60);
    set_clock_back(&mut run, 3600);
    let mut seconds_on_after = 0;
    for _ in 0..3600 {
        run.report("bed-1", &[("soil_moisture", 20.0)]);
        let decision = run.decide("bed-1.valve");
        if !decision.power {
            assert_eq!(decision.reason.kind, ReasonKind::MaxOn);
            break;
        }
        assert!(
            decision
                .on_time_left
                .is_some_and(|left| left <= std::time::Duration::from_secs(61)),
            "the lease after the clock went back still ends at max_on: {:?}",
            decision.on_time_left
        );
        seconds_on_after += 1;
        run.advance(1);
    }
    assert!(
        seconds_on_after <= 61,
        "60s of the 120s run were left when the clock went back an hour; it ran {seconds_on_after}s more"
    );
}

#[test]
fn clock_set_back_does_not_stretch_the_daily_budget() {
    let mut run = Run::start(budget_valve(PARIS), local(PARIS, NOON));
    let on_before = minutes_on(&mut run, 10);
    assert_eq!(on_before.len(), 10, "ON for the first 10 minutes");
    set_clock_back(&mut run, 3 * 3600);
    let on_after = minutes_on(&mut run, 60);
    assert!(
        on_after.len() <= 11,
        "20m budget with 10m used: at most 10 more minutes (+1 step) after the clock went back 3h, got {}",
        on_after.len()
    );
}
