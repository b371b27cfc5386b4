//! `Decision::on_time_left` is what the master caps a node's lease with, so it must end no later
//! than the moment the engine itself would say OFF without a new report. Otherwise the relay
//! stays ON for up to a whole lease after a require input went stale, the node fell silent or
//! the schedule window closed.

mod engine_common;

use std::time::Duration;

use engine_common::{Garden, Run, bed_and_tank, local, rules};

const PARIS: &str = "Europe/Paris";
const NOON: &str = "2024-05-15T12:00";

fn seconds(value: u64) -> Option<Duration> {
    Some(Duration::from_secs(value))
}

#[test]
fn on_time_ends_when_a_require_input_of_another_node_goes_stale() {
    let settings = bed_and_tank(
        PARIS,
        rules()
            .on_when("soil_moisture < 30")
            .require("tank.level >= 20"),
    );
    let mut run = Run::start(settings, local(PARIS, NOON));
    run.report("tank", &[("level", 80.0)]);
    run.advance(11);
    run.report("bed-1", &[("soil_moisture", 20.0)]);
    let decision = run.decide("bed-1.valve");
    assert!(
        decision.power,
        "dry bed, full tank: ON ({})",
        decision.reason
    );
    assert_eq!(
        decision.on_time_left,
        seconds(4),
        "tank.level is 11s old and goes stale at 15s: the lease must end then"
    );
    run.advance(4);
    assert!(
        !run.decide("bed-1.valve").power,
        "the engine says OFF exactly when on_time_left ran out"
    );
}

#[test]
fn on_time_ends_when_the_node_would_count_as_silent() {
    let settings = Garden::new(PARIS)
        .node("bed-1", 5)
        .output("bed-1", "valve", rules().schedule(&["06:00-21:00"]))
        .build();
    let mut run = Run::start(settings, local(PARIS, NOON));
    run.report("bed-1", &[]);
    run.advance(2);
    let decision = run.decide("bed-1.valve");
    assert!(
        decision.power,
        "inside the window: ON ({})",
        decision.reason
    );
    assert_eq!(
        decision.on_time_left,
        seconds(3),
        "stale_after 5s (shorter than the 15s lease), reported 2s ago"
    );
}

#[test]
fn on_time_ends_when_the_schedule_window_closes() {
    let settings = Garden::new(PARIS)
        .node("bed-1", 3600)
        .output("bed-1", "valve", rules().schedule(&["06:00-21:00"]))
        .build();
    let mut run = Run::start(settings, local(PARIS, "2024-05-15T20:59:50"));
    run.report("bed-1", &[]);
    let decision = run.decide("bed-1.valve");
    assert!(
        decision.power,
        "inside 06:00-21:00: ON ({})",
        decision.reason
    );
    assert_eq!(
        decision.on_time_left,
        seconds(10),
        "the window closes at 21:00"
    );
}

#[test]
fn on_time_of_overlapping_windows_runs_to_the_later_end() {
    let settings = Garden::new(PARIS)
        .node("bed-1", 100_000)
        .output(
            "bed-1",
            "valve",
            rules().schedule(&["06:00-12:00", "11:00-13:00"]),
        )
        .build();
    let mut run = Run::start(settings, local(PARIS, "2024-05-15T11:59:00"));
    run.report("bed-1", &[]);
    assert_eq!(
        run.decide("bed-1.valve").on_time_left,
        seconds(3600 + 60),
        "11:00-13:00 keeps the schedule open past 12:00"
    );
}

#[test]
fn on_time_ends_at_the_spring_forward_jump_when_the_window_ends_inside_it() {
    // Paris, 2024-03-31: the wall clock jumps from 02:00 to 03:00, so 01:00-02:30 closes at
    // 02:00 (the jump), ten seconds after 01:59:50.
    let settings = Garden::new(PARIS)
        .node("bed-1", 3600)
        .output("bed-1", "valve", rules().schedule(&["01:00-02:30"]))
        .build();
    let mut run = Run::start(settings, local(PARIS, "2024-03-31T01:59:50"));
    run.report("bed-1", &[]);
    let decision = run.decide("bed-1.valve");
    assert!(
        decision.power,
        "inside 01:00-02:30: ON ({})",
        decision.reason
    );
    assert_eq!(decision.on_time_left, seconds(10));
    run.advance(10);
    assert!(
        !run.decide("bed-1.valve").power,
        "after the jump the wall clock reads 03:00, outside 01:00-02:30"
    );
}

#[test]
fn on_time_of_an_override_ends_with_it_and_ignores_the_schedule() {
    let settings = Garden::new(PARIS)
        .node("bed-1", 3600)
        .output("bed-1", "valve", rules().schedule(&["06:00-07:00"]))
        .build();
    let mut run = Run::start(settings, local(PARIS, NOON));
    run.report("bed-1", &[]);
    run.override_for("bed-1.valve", true, 90);
    let decision = run.decide("bed-1.valve");
    assert!(decision.power, "override ON: ON ({})", decision.reason);
    assert_eq!(decision.on_time_left, seconds(90));
}

#[test]
fn pump_on_time_ends_with_the_valve_it_follows() {
    let settings = Garden::new(PARIS)
        .node("bed-1", 3600)
        .sensor("bed-1", "soil_moisture", 0.0, 100.0)
        .output(
            "bed-1",
            "valve",
            rules().on_when("soil_moisture < 30").max_on(40),
        )
        .node("tank", 3600)
        .output("tank", "pump", rules().on_when("bed-1.valve"))
        .build();
    let mut run = Run::start(settings, local(PARIS, NOON));
    run.report("tank", &[]);
    run.report("bed-1", &[("soil_moisture", 20.0)]);
    run.evaluate();
    run.advance(10);
    run.report("tank", &[]);
    let decisions = run.evaluate();
    let pump = run.id("tank.pump");
    let pump = decisions
        .iter()
        .find(|decision| decision.output == pump)
        .expect("Scope::All decides the pump");
    assert!(
        pump.power,
        "the valve is ON, so is the pump ({})",
        pump.reason
    );
    assert_eq!(
        pump.on_time_left,
        seconds(30),
        "the valve is cut by max_on 40s in 30s; the pump's lease must not outlast it"
    );
}
