//! The compiled plan: evaluation order, lookups and which outputs a report affects.

mod engine_common;

use engine_common::{Garden, Run, local, rules};
use plantkeeper_control::engine::{OutputId, Scope};

fn garden() -> std::sync::Arc<plantkeeper_control::Settings> {
    Garden::new("UTC")
        .node("bed-1", 20)
        .output("bed-1", "valve", rules().on_when("soil_moisture < 30"))
        .node("bed-2", 20)
        .output(
            "bed-2",
            "valve",
            rules()
                .on_when("soil_moisture < 30")
                .require("weather.rain < 1"),
        )
        .node("a-tank", 15)
        .output(
            "a-tank",
            "pump",
            rules()
                .on_when("bed-1.valve or bed-2.valve")
                .require("level >= 20"),
        )
        .node("alarm", 15)
        .output("alarm", "siren", rules().on_when("a-tank.pump"))
        .node("weather", 60)
        .node("lamp", 15)
        .output("lamp", "light", rules().schedule(&["06:00-21:00"]))
        .build()
}

fn keys(run: &Run, ids: &[OutputId]) -> Vec<String> {
    ids.iter()
        .map(|id| run.engine.outputs()[id.0].to_string())
        .collect()
}

#[test]
fn referenced_outputs_come_first_in_evaluation_order() {
    let run = Run::start(garden(), local("UTC", "2024-05-15T12:00"));
    let order: Vec<String> = run
        .engine
        .outputs()
        .iter()
        .map(ToString::to_string)
        .collect();
    let position = |key: &str| {
        order
            .iter()
            .position(|k| k == key)
            .expect("every output is planned")
    };
    assert!(
        position("bed-1.valve") < position("a-tank.pump"),
        "order: {order:?}"
    );
    assert!(
        position("bed-2.valve") < position("a-tank.pump"),
        "order: {order:?}"
    );
    assert!(
        position("a-tank.pump") < position("alarm.siren"),
        "order: {order:?}"
    );
    assert_eq!(order.len(), 5);
}

#[test]
fn lookups_find_outputs_by_name_and_node() {
    let run = Run::start(garden(), local("UTC", "2024-05-15T12:00"));
    let pump = run
        .engine
        .output_id("a-tank", "pump")
        .expect("a-tank.pump exists");
    assert_eq!(run.engine.outputs()[pump.0].to_string(), "a-tank.pump");
    assert_eq!(run.engine.output_id("a-tank", "valve"), None);
    assert_eq!(run.engine.output_id("nowhere", "pump"), None);
    assert_eq!(keys(&run, run.engine.node_outputs("lamp")), ["lamp.light"]);
    assert!(
        run.engine.node_outputs("weather").is_empty(),
        "weather has no outputs"
    );
    assert!(run.engine.node_outputs("nowhere").is_empty());
}

#[test]
fn a_report_affects_readers_of_its_sensors_and_their_dependents() {
    let run = Run::start(garden(), local("UTC", "2024-05-15T12:00"));
    assert_eq!(
        keys(&run, run.engine.affected_by("bed-1")),
        ["bed-1.valve", "a-tank.pump", "alarm.siren"],
        "bed-1's valve, the pump reading it, the siren reading the pump"
    );
    assert_eq!(
        keys(&run, run.engine.affected_by("weather")),
        ["bed-2.valve", "a-tank.pump", "alarm.siren"],
        "weather has no outputs, but bed-2 requires its rain sensor"
    );
    assert_eq!(keys(&run, run.engine.affected_by("lamp")), ["lamp.light"]);
    assert_eq!(keys(&run, run.engine.affected_by("alarm")), ["alarm.siren"]);
    assert!(run.engine.affected_by("nowhere").is_empty());
}

#[test]
fn scoped_evaluation_decides_only_those_outputs_in_evaluation_order() {
    let mut run = Run::start(garden(), local("UTC", "2024-05-15T12:00"));
    let pump = run.id("a-tank.pump");
    let valve = run.id("bed-1.valve");
    let ids = [pump, valve, pump, OutputId(999)];
    let decisions = run
        .engine
        .evaluate(&mut run.state, &run.world, run.now, Scope::Outputs(&ids));
    let decided: Vec<OutputId> = decisions.iter().map(|d| d.output).collect();
    assert_eq!(
        decided,
        [valve, pump],
        "sorted, deduplicated, unknown ids skipped"
    );
    let all = run
        .engine
        .evaluate(&mut run.state, &run.world, run.now, Scope::All);
    assert_eq!(all.len(), run.engine.outputs().len());
}
