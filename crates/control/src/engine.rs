//! The pure decision engine (CONTRACT §3).
//!
//! `(settings, state, inputs, now) → decisions + new state`: no I/O, no clock, no async. The
//! [`Engine`] compiles [`Settings`] once into a plan (outputs in evaluation order, inputs
//! resolved, which outputs each node's report affects); [`Engine::evaluate`] then decides
//! outputs at a given moment and updates the [`ControlState`].
//!
//! For one output, in this order:
//! 1. **Node silent** (rule 6): its node has not reported within its `stale_after` → OFF.
//! 2. **Inputs** (rules 1–2): a referenced sensor that is missing, stale (age ≥ the *reporting*
//!    node's `stale_after`) or invalid (not finite, or outside that node's declared
//!    `sensors.NAME` range) → OFF. A referenced output's value is the power decided for it
//!    earlier in the same pass.
//! 3. **`require`** false → OFF; **schedule** set and outside every window → OFF, unless an
//!    override is active (rule 7).
//! 4. **Wanted power**: an active override's power; else hysteresis (rule 4): while OFF, ON when
//!    `on_when` is true; while ON, OFF when `off_when` (default `not on_when`) is true. Without
//!    `on_when`, a schedule alone means ON inside a window; with neither, OFF.
//! 5. **Protections** (rule 5): a run is cut at `max_on`, and when today's ON-time reaches
//!    `max_on_per_day` (even under an override, which the cut ends); a condition-driven OFF is
//!    held until the run lasted `min_on`; no ON before `min_off` since the last OFF (overrides
//!    included), nor once the daily budget is spent. Safety OFFs (1–3) are never delayed.
//!
//! A `max_on` cut is an OFF like any other: `min_off` rests after it, and without `min_off` the
//! hysteresis may start a new run at the next evaluation.
//!
//! The daily budget counts real elapsed ON-time per local calendar day of
//! `settings.master.timezone` (a 23-hour or 25-hour DST day has that many hours); a run crossing
//! midnight counts toward each day for its part. A reading or report stamped in the future
//! counts as fresh (age zero). All time arithmetic saturates, so no input makes the engine panic.

mod decide;
mod explain;
mod plan;
mod reason;
mod state;
pub(crate) mod time;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;

use crate::condition::OutputRef;
use crate::settings::Settings;

use decide::{Moment, decide};
use plan::Plan;

pub use reason::{Reason, ReasonKind};
pub use state::{ControlState, OutputState, Override, RestoredUsage};

/// An output's index in [`Engine::outputs`]; ids are in evaluation order.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OutputId(pub usize);

/// An output's name: `node.output`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OutputKey {
    /// The node id.
    pub node: String,
    /// The output name within the node.
    pub output: String,
}

impl OutputKey {
    /// The key of `node`'s `output`.
    pub fn new(node: &str, output: &str) -> OutputKey {
        OutputKey {
            node: node.to_owned(),
            output: output.to_owned(),
        }
    }
}

impl fmt::Display for OutputKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.node, self.output)
    }
}

/// One sensor reading as the engine sees it.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Sample {
    /// The value as reported (may be non-finite: the engine treats that as invalid).
    pub value: f64,
    /// When it was measured.
    pub at: Timestamp,
}

/// What the engine reads about the world: newest readings and report times.
pub trait Inputs {
    /// Newest reading of `node`'s `sensor`.
    fn sensor(&self, node: &str, sensor: &str) -> Option<Sample>;
    /// When `node` last reported (any report), or `None` if never since start.
    fn last_report(&self, node: &str) -> Option<Timestamp>;
}

/// Which outputs [`Engine::evaluate`] decides.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// Every output.
    All,
    /// These outputs (any order, repeats and unknown ids ignored); they are decided in
    /// evaluation order.
    Outputs(&'a [OutputId]),
}

/// The decision for one output at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The output decided.
    pub output: OutputId,
    /// Whether it is ON.
    pub power: bool,
    /// Whether the power differs from before this evaluation.
    pub changed: bool,
    /// Why.
    pub reason: Reason,
    /// When ON: how long the output may still stay ON before the engine turns it OFF with no
    /// new report — `max_on` or the daily budget cutting the run, one of its sensor inputs or
    /// its node going stale, its schedule window closing, its override ending, or an output it
    /// reads running out of its own time. The master caps the node's lease with it, so the
    /// relay itself never stays ON past the moment the master would say OFF. `None` when the
    /// output is OFF or nothing bounds it.
    pub on_time_left: Option<Duration>,
}

/// The compiled decision engine for one version of the settings.
#[derive(Debug, Clone)]
pub struct Engine {
    settings: Arc<Settings>,
    plan: Plan,
}

impl Engine {
    /// Compiles `settings` (already validated: no reference cycles) into an engine.
    pub fn new(settings: Arc<Settings>) -> Engine {
        let plan = Plan::compile(&settings);
        Engine { settings, plan }
    }

    /// The settings this engine decides by.
    pub fn settings(&self) -> &Arc<Settings> {
        &self.settings
    }

    /// Every output, indexed by [`OutputId`], in evaluation order.
    pub fn outputs(&self) -> &[OutputKey] {
        &self.plan.keys
    }

    /// The id of `node`'s `output`, if it exists.
    pub fn output_id(&self, node: &str, output: &str) -> Option<OutputId> {
        self.plan.nodes.get(node)?.by_name.get(output).copied()
    }

    /// That node's own outputs, in evaluation order (empty for an unknown node).
    pub fn node_outputs(&self, node: &str) -> &[OutputId] {
        self.plan.nodes.get(node).map_or(&[], |n| n.own.as_slice())
    }

    /// Outputs whose decision can change when `node` reports: its own outputs, outputs that
    /// reference its sensors, and (transitively) outputs referencing those outputs — in
    /// evaluation order.
    pub fn affected_by(&self, node: &str) -> &[OutputId] {
        self.plan
            .nodes
            .get(node)
            .map_or(&[], |n| n.affected.as_slice())
    }

    /// Every output OFF with reason "master started" (rule 8). `restored` lets the master
    /// restore today's ON-time used and the last OFF time per output from the stored state
    /// changes, so a restart never resets max_on_per_day or min_off.
    pub fn initial_state(&self, now: Timestamp, restored: &[RestoredUsage]) -> ControlState {
        ControlState::started(
            self.plan.outputs.len(),
            now,
            &self.settings.master.timezone,
            restored,
        )
    }

    /// The state this engine starts from when it replaces `previous` while running (the
    /// settings changed): an output both engines have keeps its whole state (power, since,
    /// override, current run, today's ON-time, last OFF), so protections and budgets go on
    /// across the change; an output new to this engine starts OFF for `reason`. Outputs only
    /// `previous` had are dropped (the caller records those that were ON as switched OFF).
    /// Evaluate every output right after, so the new settings decide at once.
    pub fn carry_over(
        &self,
        previous: &Engine,
        state: &ControlState,
        now: Timestamp,
        reason: &Reason,
    ) -> ControlState {
        let tz = &self.settings.master.timezone;
        let outputs = self
            .plan
            .keys
            .iter()
            .map(|key| {
                previous
                    .output_id(&key.node, &key.output)
                    .and_then(|id| state.get(id))
                    .cloned()
                    .unwrap_or_else(|| OutputState::off_since(now, tz, reason.clone()))
            })
            .collect();
        ControlState::from_outputs(outputs)
    }

    /// Evaluates the given outputs (or all, in evaluation order) at `now`, updates `state`,
    /// returns every decision made (changed or not).
    ///
    /// `state` must come from this engine's [`Engine::initial_state`]; outputs it does not
    /// cover are skipped.
    pub fn evaluate(
        &self,
        state: &mut ControlState,
        inputs: &dyn Inputs,
        now: Timestamp,
        scope: Scope<'_>,
    ) -> Vec<Decision> {
        let ids: Vec<OutputId> = match scope {
            Scope::All => (0..self.plan.outputs.len()).map(OutputId).collect(),
            Scope::Outputs(ids) => {
                let mut ids = ids.to_vec();
                ids.sort_unstable();
                ids.dedup();
                ids
            }
        };
        let moment = Moment {
            now,
            tz: &self.settings.master.timezone,
            location: self.settings.master.location,
            inputs,
        };
        let mut decisions = Vec::with_capacity(ids.len());
        for id in ids {
            let Some(plan) = self.plan.outputs.get(id.0) else {
                continue;
            };
            let output_powers: Vec<(OutputRef, Option<bool>)> = plan
                .outputs
                .iter()
                .map(|(reference, referenced)| {
                    let power = referenced.and_then(|r| state.get(r)).map(|s| s.power);
                    (reference.clone(), power)
                })
                .collect();
            let referenced_on_until = plan
                .outputs
                .iter()
                .filter_map(|(_, referenced)| referenced.and_then(|r| state.get(r)))
                .filter_map(|referenced| referenced.on_until)
                .min();
            let Some(output_state) = state.output_mut(id) else {
                continue;
            };
            decisions.push(decide(
                id,
                plan,
                output_state,
                &output_powers,
                referenced_on_until,
                &moment,
            ));
        }
        decisions
    }
}
