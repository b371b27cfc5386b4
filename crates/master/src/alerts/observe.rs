//! The built-in alert rules and the user's `[[alerts.rules]]`, read from the live view: every
//! problem seen right now becomes an [`Observation`] for the alert book.

use std::time::Duration;

use jiff::Timestamp;
use plantkeeper_control::alerts::{AlertKey, Observation};
use plantkeeper_control::condition::{ConditionInput, ConditionInputs, OutputRef, SensorRef};
use plantkeeper_control::engine::{Engine, ReasonKind};
use plantkeeper_control::settings::{AlertRule, Severity};

use super::outputs::{OutputWatch, SAFETY_OFF_REPEATS, SAFETY_OFF_WINDOW};
use crate::live::Live;

/// Everything the rules read at one moment.
pub struct Scene<'a> {
    /// The engine (settings, outputs).
    pub engine: &'a Engine,
    /// The live view.
    pub live: &'a Live,
    /// When the master started (a node that never reported is silent since then).
    pub started_at: Timestamp,
    /// The newest store error, while writes fail.
    pub storage_error: Option<&'a str>,
    /// Now.
    pub now: Timestamp,
}

/// Every problem seen in `scene`, built-in rules first, then the user's rules.
pub fn observe(scene: &Scene<'_>, watch: &mut OutputWatch) -> Vec<Observation> {
    let mut seen = Vec::new();
    silent_nodes(scene, &mut seen);
    invalid_sensors(scene, &mut seen);
    outputs(scene, watch, &mut seen);
    if let Some(error) = scene.storage_error {
        seen.push(built_in(
            key("storage_error", None, None, None),
            Severity::Critical,
            format!("the store cannot write: {error}"),
        ));
    }
    for rule in &scene.engine.settings().alerts.rules {
        if let Some(observation) = user_rule(scene, rule) {
            seen.push(observation);
        }
    }
    seen
}

fn key(rule: &str, node: Option<&str>, output: Option<&str>, sensor: Option<&str>) -> AlertKey {
    AlertKey {
        rule: rule.to_owned(),
        node: node.map(str::to_owned),
        output: output.map(str::to_owned),
        sensor: sensor.map(str::to_owned),
    }
}

fn built_in(key: AlertKey, severity: Severity, message: String) -> Observation {
    Observation {
        key,
        severity,
        message,
        hold_for: Duration::ZERO,
    }
}

fn elapsed(from: Timestamp, to: Timestamp) -> Duration {
    Duration::try_from(to.duration_since(from)).unwrap_or(Duration::ZERO)
}

fn whole_seconds(duration: Duration) -> String {
    plantkeeper_control::duration::format_duration(Duration::from_secs(duration.as_secs()))
}

/// `node_silent`: no report for `node_silent_after` (counted from the master's start for a
/// node that never reported since).
fn silent_nodes(scene: &Scene<'_>, seen: &mut Vec<Observation>) {
    let settings = scene.engine.settings();
    for id in settings.nodes.keys() {
        let last = scene
            .live
            .readings
            .nodes
            .get(id)
            .and_then(|node| node.last_report);
        let silent_for = elapsed(last.unwrap_or(scene.started_at), scene.now);
        if silent_for < settings.alerts.node_silent_after {
            continue;
        }
        let message = match last {
            Some(_) => format!(
                "node {id} has not reported for {}",
                whole_seconds(silent_for)
            ),
            None => format!(
                "node {id} has not reported since the master started {} ago",
                whole_seconds(silent_for)
            ),
        };
        seen.push(built_in(
            key("node_silent", Some(id), None, None),
            Severity::Warning,
            message,
        ));
    }
}

/// `sensor_invalid`: the newest reading of a declared sensor is not finite or outside its
/// `min..max`.
fn invalid_sensors(scene: &Scene<'_>, seen: &mut Vec<Observation>) {
    for (id, node) in &scene.engine.settings().nodes {
        let Some(live) = scene.live.readings.nodes.get(id) else {
            continue;
        };
        for (name, range) in &node.sensors {
            let Some(sample) = live.readings.get(name) else {
                continue;
            };
            let value = sample.value;
            let below = range.min.is_some_and(|min| value < min);
            let above = range.max.is_some_and(|max| value > max);
            if value.is_finite() && !below && !above {
                continue;
            }
            let bound = |bound: Option<f64>| bound.map_or_else(String::new, |b| b.to_string());
            let message = format!(
                "{id}.{name} reads {value}, outside its valid range {}..{}",
                bound(range.min),
                bound(range.max)
            );
            seen.push(built_in(
                key("sensor_invalid", Some(id), None, Some(name)),
                Severity::Warning,
                message,
            ));
        }
    }
}

/// `output_max_on`, `safety_off_repeats` and `require_blocking`, per output.
fn outputs(scene: &Scene<'_>, watch: &mut OutputWatch, seen: &mut Vec<Observation>) {
    let engine = scene.engine;
    for (index, output_key) in engine.outputs().iter().enumerate() {
        let id = plantkeeper_control::engine::OutputId(index);
        let (node, output) = (output_key.node.as_str(), output_key.output.as_str());
        if let Some(reason) = watch.cut_by_max_on(id) {
            seen.push(built_in(
                key("output_max_on", Some(node), Some(output), None),
                Severity::Warning,
                format!("{output_key} ran until max_on cut it ({reason}); its off condition was not reached"),
            ));
        }
        let (count, newest) = watch.recent_safety_offs(id, scene.now);
        if count >= SAFETY_OFF_REPEATS {
            seen.push(built_in(
                key("safety_off_repeats", Some(node), Some(output), None),
                Severity::Warning,
                format!(
                    "{output_key} was switched OFF for safety {count} times in the last {}; last: {}",
                    whole_seconds(SAFETY_OFF_WINDOW),
                    newest.unwrap_or_default()
                ),
            ));
        }
        let Some(state) = scene.live.control.get(id) else {
            continue;
        };
        if state.reason.kind == ReasonKind::RequireFailed && wants_on(scene, node, output) {
            seen.push(built_in(
                key("require_blocking", Some(node), Some(output), None),
                Severity::Warning,
                format!("{output_key} is wanted ON but held OFF: {}", state.reason),
            ));
        }
    }
}

/// Whether the output's `on_when` holds now (an output without `on_when` is driven by its
/// schedule, which the engine already checked, so it counts as wanted).
fn wants_on(scene: &Scene<'_>, node: &str, output: &str) -> bool {
    let settings = scene.engine.settings();
    let Some(output) = settings.nodes.get(node).and_then(|n| n.outputs.get(output)) else {
        return false;
    };
    match &output.on_when {
        Some(on_when) => on_when.root.evaluate(&LiveInputs { scene }) == Some(true),
        None => true,
    }
}

/// A user rule: observed while its `when` is true (an unknown input — missing, stale or invalid
/// — never makes it true).
fn user_rule(scene: &Scene<'_>, rule: &AlertRule) -> Option<Observation> {
    let inputs = LiveInputs { scene };
    if rule.when.root.evaluate(&inputs) != Some(true) {
        return None;
    }
    let mut values = Vec::new();
    rule.when.root.visit_inputs(&mut |input| {
        let text = match input {
            ConditionInput::Sensor(sensor) => inputs
                .sensor_value(sensor)
                .map(|value| format!("{}.{} = {value}", sensor.node, sensor.sensor)),
            ConditionInput::Output(output) => inputs.output_power(output).map(|power| {
                format!(
                    "{}.{} is {}",
                    output.node,
                    output.output,
                    if power { "ON" } else { "OFF" }
                )
            }),
        };
        if let Some(text) = text
            && !values.contains(&text)
        {
            values.push(text);
        }
    });
    Some(Observation {
        key: key(&rule.name, rule.node.as_deref(), None, None),
        severity: rule.severity,
        message: format!(
            "{}: `{}` ({})",
            rule.name,
            rule.when.source,
            values.join(", ")
        ),
        hold_for: rule.hold_for,
    })
}

/// Condition inputs from the live view: fresh, valid readings and decided output powers.
struct LiveInputs<'a, 'b> {
    scene: &'a Scene<'b>,
}

impl ConditionInputs for LiveInputs<'_, '_> {
    fn sensor_value(&self, sensor: &SensorRef) -> Option<f64> {
        let node = self.scene.engine.settings().nodes.get(&sensor.node)?;
        let sample = self
            .scene
            .live
            .readings
            .nodes
            .get(&sensor.node)?
            .readings
            .get(&sensor.sensor)?;
        if elapsed(sample.at, self.scene.now) >= node.stale_after || !sample.value.is_finite() {
            return None;
        }
        if let Some(range) = node.sensors.get(&sensor.sensor)
            && (range.min.is_some_and(|min| sample.value < min)
                || range.max.is_some_and(|max| sample.value > max))
        {
            return None;
        }
        Some(sample.value)
    }

    fn output_power(&self, output: &OutputRef) -> Option<bool> {
        let id = self.scene.engine.output_id(&output.node, &output.output)?;
        self.scene.live.control.get(id).map(|state| state.power)
    }
}
