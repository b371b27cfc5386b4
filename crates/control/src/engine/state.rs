//! [`ControlState`]: what the engine remembers between evaluations, per output.

use std::time::Duration;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use super::OutputId;
use super::reason::Reason;
use super::time::{elapsed, start_of_day};

/// A manual override (CONTRACT §3.7 and §4): `power` until `until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    /// The power asked for.
    pub power: bool,
    /// When the override ends (exclusive).
    pub until: Timestamp,
}

/// What the master recovered from its stored state changes for one output, so a restart never
/// resets `max_on_per_day` or `min_off` (rule 8).
///
/// If the output was ON when the master stopped, pass the moment the master stopped (or the
/// restart time) as `last_off`: the relay went OFF then, at the latest, and `min_off` should rest
/// from there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoredUsage {
    /// The output.
    pub output: OutputId,
    /// When it last went OFF.
    pub last_off: Option<Timestamp>,
    /// ON-time already spent in the local day containing `now`.
    pub used_today: Duration,
}

/// The engine's memory of one output.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputState {
    /// Whether the output is ON.
    pub power: bool,
    /// When `power` last changed (or when the master started).
    pub since: Timestamp,
    /// Why it has this power, as of the last evaluation.
    pub reason: Reason,
    /// The active manual override, if any (removed once expired).
    pub override_: Option<Override>,
    /// While ON: the moment the last decision's [`super::Decision::on_time_left`] runs out.
    pub(super) on_until: Option<Timestamp>,
    last_off: Option<Timestamp>,
    budget_day: Date,
    used_today: Duration,
    /// ON-time of the current run, counted evaluation by evaluation (so a clock set back
    /// cannot stretch the run past `max_on`).
    run_counted: Duration,
    counted_until: Timestamp,
}

impl OutputState {
    fn started(now: Timestamp, tz: &TimeZone) -> OutputState {
        OutputState::off_since(now, tz, Reason::master_started())
    }

    /// OFF since `now` for `reason`, with no usage.
    pub(super) fn off_since(now: Timestamp, tz: &TimeZone, reason: Reason) -> OutputState {
        OutputState {
            power: false,
            since: now,
            reason,
            override_: None,
            on_until: None,
            last_off: None,
            budget_day: tz.to_datetime(now).date(),
            used_today: Duration::ZERO,
            run_counted: Duration::ZERO,
            counted_until: now,
        }
    }

    /// When the output last went OFF after a run (`None` if it has not run since it was tracked).
    pub fn last_off(&self) -> Option<Timestamp> {
        self.last_off
    }

    /// ON-time spent in the local day of the last evaluation.
    pub fn used_today(&self) -> Duration {
        self.used_today
    }

    /// The local calendar day [`Self::used_today`] belongs to.
    pub fn budget_day(&self) -> Date {
        self.budget_day
    }

    /// How long the current run has lasted at `now` (zero when OFF): the ON-time counted at
    /// each evaluation, plus the time since the last one. Unlike `now - since`, a clock set back
    /// mid-run does not make the run younger.
    pub fn run_length(&self, now: Timestamp) -> Duration {
        if self.power {
            self.run_counted
                .saturating_add(elapsed(self.counted_until, now))
        } else {
            Duration::ZERO
        }
    }

    /// Adds the ON-time since the last evaluation to the current run and to the budget of the
    /// local day of `now`; a run crossing local midnight counts toward each day for its own
    /// part. When the clock went backwards, that step adds nothing and counting resumes from
    /// `now`: a clock set back stretches a run or the budget by one evaluation step at most,
    /// and never resets the budget.
    pub(super) fn account_until(&mut self, now: Timestamp, tz: &TimeZone) {
        if now < self.counted_until {
            self.counted_until = now;
            return;
        }
        if self.power {
            self.run_counted = self
                .run_counted
                .saturating_add(elapsed(self.counted_until, now));
        }
        let today = tz.to_datetime(now).date();
        if today > self.budget_day {
            let counted_from = start_of_day(today, tz).map_or(self.counted_until, |day_start| {
                day_start.max(self.counted_until)
            });
            self.used_today = Duration::ZERO;
            self.counted_until = counted_from;
            self.budget_day = today;
        }
        if self.power {
            self.used_today = self
                .used_today
                .saturating_add(elapsed(self.counted_until, now));
        }
        self.counted_until = now;
    }

    /// Records the decided power at `now`.
    pub(super) fn apply(&mut self, power: bool, reason: Reason, now: Timestamp) -> bool {
        let changed = power != self.power;
        if changed {
            self.power = power;
            self.since = now;
            self.run_counted = Duration::ZERO;
            if !power {
                self.last_off = Some(now);
            }
        }
        self.reason = reason;
        changed
    }
}

/// The engine's memory of every output, indexed by [`OutputId`].
#[derive(Debug, Clone, PartialEq)]
pub struct ControlState {
    outputs: Vec<OutputState>,
}

impl ControlState {
    /// Every output OFF since `now` with reason `master started`, with restored usage applied.
    pub(super) fn started(
        count: usize,
        now: Timestamp,
        tz: &TimeZone,
        restored: &[RestoredUsage],
    ) -> ControlState {
        let mut outputs = vec![OutputState::started(now, tz); count];
        for usage in restored {
            if let Some(state) = outputs.get_mut(usage.output.0) {
                state.last_off = usage.last_off;
                state.used_today = usage.used_today;
            }
        }
        ControlState { outputs }
    }

    /// A state made of these outputs' states, indexed by [`OutputId`].
    pub(super) fn from_outputs(outputs: Vec<OutputState>) -> ControlState {
        ControlState { outputs }
    }

    /// The state of output `id`.
    ///
    /// # Panics
    /// If `id` does not come from the engine that made this state.
    pub fn output(&self, id: OutputId) -> &OutputState {
        &self.outputs[id.0]
    }

    /// The state of output `id`, or `None` if there is no such output.
    pub fn get(&self, id: OutputId) -> Option<&OutputState> {
        self.outputs.get(id.0)
    }

    /// Every output's state, indexed by [`OutputId`].
    pub fn outputs(&self) -> &[OutputState] {
        &self.outputs
    }

    /// Starts (or replaces) a manual override of output `id` (CONTRACT §3.7). It takes effect at
    /// the next evaluation of that output; an unknown `id` is ignored.
    pub fn set_override(&mut self, id: OutputId, ov: Override) {
        if let Some(state) = self.outputs.get_mut(id.0) {
            state.override_ = Some(ov);
        }
    }

    /// Ends the manual override of output `id`, if any; the next evaluation decides by the rules.
    pub fn clear_override(&mut self, id: OutputId) {
        if let Some(state) = self.outputs.get_mut(id.0) {
            state.override_ = None;
        }
    }

    pub(super) fn output_mut(&mut self, id: OutputId) -> Option<&mut OutputState> {
        self.outputs.get_mut(id.0)
    }
}
