//! The decision for one output at one moment (CONTRACT §3), in the order the rules apply:
//! safety first (node silent, inputs, `require`, schedule), then the wanted power (override or
//! hysteresis), then the protections (`max_on`, `max_on_per_day`, `min_on`, `min_off`).

use std::time::Duration;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::condition::{ConditionInputs, OutputRef, SensorRef};
use crate::schedule::Location;

use super::explain::{explain, input_values};
use super::plan::{PlannedOutput, PlannedSensor};
use super::reason::{self, Reason, ReasonKind};
use super::state::OutputState;
use super::time::{elapsed, later};
use super::{Decision, Inputs, OutputId};

/// What one decision needs besides the output's own state.
pub(super) struct Moment<'a> {
    pub now: Timestamp,
    pub tz: &'a TimeZone,
    pub location: Option<Location>,
    pub inputs: &'a dyn Inputs,
}

/// The values a condition reads once every input has passed the safety checks.
struct CheckedValues<'a> {
    sensors: Vec<(&'a SensorRef, f64)>,
    outputs: &'a [(OutputRef, Option<bool>)],
}

impl ConditionInputs for CheckedValues<'_> {
    fn sensor_value(&self, sensor: &SensorRef) -> Option<f64> {
        self.sensors
            .iter()
            .find(|(known, _)| known.node == sensor.node && known.sensor == sensor.sensor)
            .map(|(_, value)| *value)
    }

    fn output_power(&self, output: &OutputRef) -> Option<bool> {
        self.outputs
            .iter()
            .find(|(known, _)| known == output)
            .and_then(|(_, power)| *power)
    }
}

/// The power asked for before protections, and whether an OFF is condition-driven (so
/// `min_on` may hold it).
struct Wanted {
    power: bool,
    reason: Reason,
    condition_driven: bool,
}

/// Decides output `id` at `moment.now` and records the result in `state`.
///
/// `output_powers` holds the power of every output this one reads, as decided earlier in the
/// same pass (or last known); `referenced_on_until` the earliest moment one of those that is ON
/// runs out of its time.
pub(super) fn decide(
    id: OutputId,
    plan: &PlannedOutput,
    state: &mut OutputState,
    output_powers: &[(OutputRef, Option<bool>)],
    referenced_on_until: Option<Timestamp>,
    moment: &Moment<'_>,
) -> Decision {
    let now = moment.now;
    if state.override_.as_ref().is_some_and(|ov| ov.until <= now) {
        state.override_ = None;
    }
    state.account_until(now, moment.tz);

    let (power, reason) = match safety_off(plan, state, output_powers, moment) {
        Err(reason) => (false, reason),
        Ok(values) => {
            let wanted = wanted(plan, state, &values, moment);
            protect(plan, state, wanted, moment)
        }
    };
    let changed = state.apply(power, reason.clone(), now);
    let on_time_left = if power {
        on_time_left(plan, state, referenced_on_until, moment)
    } else {
        None
    };
    state.on_until = on_time_left.map(|left| later(now, left));
    Decision {
        output: id,
        power,
        changed,
        reason,
        on_time_left,
    }
}

/// Rules 6, 2 and 3: `Err(reason)` when the output must be OFF for safety, else the checked
/// input values.
fn safety_off<'a>(
    plan: &'a PlannedOutput,
    state: &OutputState,
    output_powers: &'a [(OutputRef, Option<bool>)],
    moment: &Moment<'_>,
) -> Result<CheckedValues<'a>, Reason> {
    let now = moment.now;
    let node = &plan.key.node;
    match moment.inputs.last_report(node) {
        None => {
            return Err(Reason::new(
                ReasonKind::NodeSilent,
                format!("node {node} has not reported since the master started"),
            ));
        }
        Some(at) if elapsed(at, now) >= plan.node_stale_after => {
            return Err(Reason::new(
                ReasonKind::NodeSilent,
                format!("node {node} silent for {}", reason::age(elapsed(at, now))),
            ));
        }
        Some(_) => {}
    }

    let mut sensors = Vec::with_capacity(plan.sensors.len());
    for sensor in &plan.sensors {
        sensors.push((&sensor.reference, checked_reading(sensor, moment)?));
    }
    for (output, power) in output_powers {
        if power.is_none() {
            return Err(Reason::new(
                ReasonKind::InputMissing,
                format!("{}.{} is not a known output", output.node, output.output),
            ));
        }
    }
    let values = CheckedValues {
        sensors,
        outputs: output_powers,
    };

    for require in &plan.settings.require {
        if require.root.evaluate(&values) != Some(true) {
            return Err(Reason::new(
                ReasonKind::RequireFailed,
                format!(
                    "require {} failed ({})",
                    require.source,
                    input_values(require, &values)
                ),
            ));
        }
    }

    let overridden = state.override_.is_some();
    if let Some(schedule) = &plan.settings.schedule
        && !overridden
        && schedule
            .active_window(now, moment.tz, moment.location)
            .is_none()
    {
        let windows: Vec<&str> = schedule.windows.iter().map(|w| w.source.as_str()).collect();
        return Err(Reason::new(
            ReasonKind::OutsideSchedule,
            format!("outside {}", windows.join(", ")),
        ));
    }
    Ok(values)
}

/// Rule 2 for one sensor: its value when present, fresh and valid.
fn checked_reading(sensor: &PlannedSensor, moment: &Moment<'_>) -> Result<f64, Reason> {
    let reference = &sensor.reference;
    let name = &reference.written;
    let Some(sample) = moment.inputs.sensor(&reference.node, &reference.sensor) else {
        return Err(Reason::new(
            ReasonKind::InputMissing,
            format!("no {name} reading since the master started"),
        ));
    };
    let age = elapsed(sample.at, moment.now);
    if age >= sensor.stale_after {
        return Err(Reason::new(
            ReasonKind::InputStale,
            format!("{name} stale for {}", reason::age(age)),
        ));
    }
    let value = sample.value;
    if !value.is_finite() {
        return Err(Reason::new(
            ReasonKind::InputInvalid,
            format!("{name} is not a finite number"),
        ));
    }
    let below = sensor.min.is_some_and(|min| value < min);
    let above = sensor.max.is_some_and(|max| value > max);
    if below || above {
        let range = format!(
            "{}..{}",
            sensor.min.map(reason::number).unwrap_or_default(),
            sensor.max.map(reason::number).unwrap_or_default()
        );
        return Err(Reason::new(
            ReasonKind::InputInvalid,
            format!("{name} {} outside {range}", reason::number(value)),
        ));
    }
    Ok(value)
}

/// Rules 7 and 4: the power asked for by an override, the hysteresis or the schedule.
fn wanted(
    plan: &PlannedOutput,
    state: &OutputState,
    values: &CheckedValues<'_>,
    moment: &Moment<'_>,
) -> Wanted {
    let settings = &plan.settings;
    if let Some(ov) = &state.override_ {
        let power = if ov.power { "ON" } else { "OFF" };
        let until = reason::local_time(ov.until, moment.now, moment.tz);
        return Wanted {
            power: ov.power,
            reason: Reason::new(
                ReasonKind::Override,
                format!("override {power} until {until}"),
            ),
            condition_driven: false,
        };
    }
    if let Some(on_when) = &settings.on_when {
        let on_truth = on_when.root.evaluate(values) == Some(true);
        let (power, text) = if state.power {
            match &settings.off_when {
                Some(off_when) => {
                    let off_truth = off_when.root.evaluate(values) == Some(true);
                    (!off_truth, explain(&off_when.root, values, off_truth))
                }
                None => (on_truth, explain(&on_when.root, values, on_truth)),
            }
        } else {
            (on_truth, explain(&on_when.root, values, on_truth))
        };
        return Wanted {
            power,
            reason: Reason::new(ReasonKind::Condition, text),
            condition_driven: true,
        };
    }
    let open_window = settings
        .schedule
        .as_ref()
        .and_then(|schedule| schedule.active_window(moment.now, moment.tz, moment.location));
    match open_window {
        Some(window) => Wanted {
            power: true,
            reason: Reason::new(
                ReasonKind::InsideSchedule,
                format!("inside {}", window.source),
            ),
            condition_driven: false,
        },
        None => Wanted {
            power: false,
            reason: Reason::new(ReasonKind::NoRule, "no on_when or schedule"),
            condition_driven: false,
        },
    }
}

/// Rule 5: `max_on`, `max_on_per_day`, `min_on` and `min_off` applied to the wanted power.
///
/// A run cut by `max_on` or the daily budget is an OFF like any other: `min_off` then applies,
/// and without `min_off` the hysteresis may start a new run at the next evaluation. A cut also
/// ends an active override, so an override cannot chain runs past `max_on`.
fn protect(
    plan: &PlannedOutput,
    state: &mut OutputState,
    wanted: Wanted,
    moment: &Moment<'_>,
) -> (bool, Reason) {
    let settings = &plan.settings;
    let now = moment.now;
    let budget_spent = settings
        .max_on_per_day
        .filter(|budget| state.used_today() >= *budget)
        .map(|budget| {
            Reason::new(
                ReasonKind::DailyBudget,
                format!("max_on_per_day {} spent", reason::duration(budget)),
            )
        });
    if state.power {
        let run = state.run_length(now);
        let cut = settings
            .max_on
            .filter(|max_on| run >= *max_on)
            .map(|max_on| {
                Reason::new(
                    ReasonKind::MaxOn,
                    format!("max_on {} reached", reason::duration(max_on)),
                )
            })
            .or(budget_spent);
        if let Some(reason) = cut {
            state.override_ = None;
            return (false, reason);
        }
        if wanted.power {
            return (true, wanted.reason);
        }
        if wanted.condition_driven
            && let Some(min_on) = settings.min_on.filter(|min_on| run < *min_on)
        {
            let until = reason::local_time(later(state.since, min_on), now, moment.tz);
            let text = format!("min_on {}: holding until {until}", reason::duration(min_on));
            return (true, Reason::new(ReasonKind::MinOn, text));
        }
        return (false, wanted.reason);
    }
    if !wanted.power {
        return (false, wanted.reason);
    }
    if let (Some(min_off), Some(last_off)) = (settings.min_off, state.last_off())
        && elapsed(last_off, now) < min_off
    {
        let until = reason::local_time(later(last_off, min_off), now, moment.tz);
        let text = format!(
            "min_off {}: resting until {until}",
            reason::duration(min_off)
        );
        return (false, Reason::new(ReasonKind::MinOff, text));
    }
    if let Some(reason) = budget_spent {
        return (false, reason);
    }
    (true, wanted.reason)
}

/// How long an ON output may still stay ON before the engine would turn it OFF without any new
/// report: `max_on`, the daily budget, the first of its inputs (or its node) going stale, the
/// schedule window closing (when not overridden), the override ending, or an output it reads
/// running out of time. The master caps the lease with it, so a relay never outlives the
/// master's ON by a lease (CONTRACT §3 rules 2, 3, 5 and 6 hold at the relay, not only here).
fn on_time_left(
    plan: &PlannedOutput,
    state: &OutputState,
    referenced_on_until: Option<Timestamp>,
    moment: &Moment<'_>,
) -> Option<Duration> {
    let settings = &plan.settings;
    let now = moment.now;
    let fresh_for =
        |at: Timestamp, stale_after: Duration| stale_after.saturating_sub(elapsed(at, now));
    let by_run = settings
        .max_on
        .map(|max_on| max_on.saturating_sub(state.run_length(now)));
    let by_budget = settings
        .max_on_per_day
        .map(|budget| budget.saturating_sub(state.used_today()));
    let by_node = moment
        .inputs
        .last_report(&plan.key.node)
        .map(|at| fresh_for(at, plan.node_stale_after));
    let by_sensors = plan
        .sensors
        .iter()
        .filter_map(|sensor| {
            let reference = &sensor.reference;
            let sample = moment.inputs.sensor(&reference.node, &reference.sensor)?;
            Some(fresh_for(sample.at, sensor.stale_after))
        })
        .min();
    let by_override = state.override_.as_ref().map(|ov| elapsed(now, ov.until));
    let by_schedule = match (&settings.schedule, &state.override_) {
        (Some(schedule), None) => schedule
            .open_until(now, moment.tz, moment.location)
            .map(|until| elapsed(now, until)),
        _ => None,
    };
    let by_referenced = referenced_on_until.map(|until| elapsed(now, until));
    [
        by_run,
        by_budget,
        by_node,
        by_sensors,
        by_override,
        by_schedule,
        by_referenced,
    ]
    .into_iter()
    .flatten()
    .min()
}
