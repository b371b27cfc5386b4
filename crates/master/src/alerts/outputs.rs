//! What the alerts need to remember about outputs between ticks: whether the last run was cut
//! by `max_on`, and the recent safety OFFs.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use jiff::Timestamp;
use plantkeeper_control::engine::{Decision, OutputId, ReasonKind};

/// How far back safety OFFs are counted.
pub const SAFETY_OFF_WINDOW: Duration = Duration::from_secs(3600);
/// Safety OFFs of one output within [`SAFETY_OFF_WINDOW`] that make it an alert.
pub const SAFETY_OFF_REPEATS: usize = 3;

/// Per-output memory fed by every decision.
#[derive(Debug, Default)]
pub struct OutputWatch {
    outputs: BTreeMap<OutputId, Watched>,
}

#[derive(Debug, Default)]
struct Watched {
    cut: Option<String>,
    safety_offs: VecDeque<(Timestamp, String)>,
}

impl OutputWatch {
    /// Takes the decisions of one evaluation at `now`.
    pub fn observe(&mut self, decisions: &[Decision], now: Timestamp) {
        for decision in decisions.iter().filter(|d| d.changed && !d.power) {
            let watched = self.outputs.entry(decision.output).or_default();
            match decision.reason.kind {
                ReasonKind::MaxOn => watched.cut = Some(decision.reason.text.clone()),
                // A budget cut says nothing about whether the run would have ended by itself.
                ReasonKind::DailyBudget => {}
                _ => watched.cut = None,
            }
            if decision.reason.kind.is_safety() {
                watched
                    .safety_offs
                    .push_back((now, decision.reason.text.clone()));
            }
        }
    }

    /// Follows a settings change: each output's memory moves to its id in the new engine
    /// (`new_id`), and an output the change removed is forgotten.
    pub fn remap(&mut self, new_id: impl Fn(OutputId) -> Option<OutputId>) {
        self.outputs = std::mem::take(&mut self.outputs)
            .into_iter()
            .filter_map(|(id, watched)| new_id(id).map(|id| (id, watched)))
            .collect();
    }

    /// The reason of the `max_on` cut that ended the output's last run, while no run has
    /// ended normally since.
    pub fn cut_by_max_on(&self, output: OutputId) -> Option<&str> {
        self.outputs.get(&output)?.cut.as_deref()
    }

    /// The output's safety OFFs within [`SAFETY_OFF_WINDOW`] before `now` (older ones are
    /// forgotten), with the newest reason.
    pub fn recent_safety_offs(
        &mut self,
        output: OutputId,
        now: Timestamp,
    ) -> (usize, Option<&str>) {
        let Some(watched) = self.outputs.get_mut(&output) else {
            return (0, None);
        };
        while let Some((at, _)) = watched.safety_offs.front() {
            let age = Duration::try_from(now.duration_since(*at)).unwrap_or(Duration::ZERO);
            if age >= SAFETY_OFF_WINDOW {
                watched.safety_offs.pop_front();
            } else {
                break;
            }
        }
        (
            watched.safety_offs.len(),
            watched
                .safety_offs
                .back()
                .map(|(_, reason)| reason.as_str()),
        )
    }
}
