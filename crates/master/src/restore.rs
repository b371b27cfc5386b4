//! Rebuilding what a restart must not forget (CONTRACT §3.8): today's ON time per output and
//! when each output last went OFF, from the stored state changes. Outputs still start OFF; this
//! only makes sure a restart never resets `max_on_per_day` or `min_off`.

use std::collections::HashMap;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use plantkeeper_control::engine::{Engine, OutputId, RestoredUsage};
use plantkeeper_store::{StateChange, Store, StoreError};

/// Today's usage and last OFF time of every output that has stored state changes.
///
/// A run whose OFF was never recorded (the master stopped while it was ON) is counted until
/// the node's relay must have dropped: its last stored report plus its lease, or `now` if that
/// is earlier. Its OFF time is taken as that same moment, so `min_off` rest starts there.
pub async fn restored_usage(
    engine: &Engine,
    store: &dyn Store,
    now: Timestamp,
) -> Result<Vec<RestoredUsage>, StoreError> {
    let settings = engine.settings();
    let day_start = start_of_local_day(now, &settings.master.timezone);
    let longest_rest = settings
        .nodes
        .values()
        .flat_map(|node| node.outputs.values())
        .filter_map(|output| output.min_off)
        .max()
        .unwrap_or_default();
    let lookback = Duration::from_secs(24 * 3600).max(longest_rest);
    let from = day_start.min(
        now.saturating_sub(SignedDuration::try_from(lookback).unwrap_or(SignedDuration::MAX))
            .unwrap_or(Timestamp::MIN),
    );
    let changes = store.state_changes_since(from.as_millisecond()).await?;

    let mut runs: HashMap<OutputId, RunHistory> = HashMap::new();
    for change in &changes {
        if let Some(id) = engine.output_id(&change.node, &change.output) {
            runs.entry(id).or_default().apply(change, day_start, now);
        }
    }

    let mut restored = Vec::with_capacity(runs.len());
    for (id, mut history) in runs {
        if let Some(on_since) = history.on_since.take() {
            let key = &engine.outputs()[id.0];
            let lease = settings
                .nodes
                .get(&key.node)
                .map(|node| node.lease)
                .unwrap_or_default();
            let relay_dropped_by = match store.last_report_at(&key.node).await? {
                Some(last_report_ms) => Timestamp::from_millisecond(last_report_ms)
                    .unwrap_or(now)
                    .saturating_add(SignedDuration::try_from(lease).unwrap_or(SignedDuration::MAX))
                    .unwrap_or(now)
                    .clamp(on_since, now),
                None => on_since,
            };
            history.close_run(on_since, relay_dropped_by, day_start);
        }
        restored.push(RestoredUsage {
            output: id,
            last_off: history.last_off,
            used_today: history.used_today,
        });
    }
    restored.sort_by_key(|usage| usage.output);
    Ok(restored)
}

/// The start of the local calendar day containing `now`.
fn start_of_local_day(now: Timestamp, tz: &jiff::tz::TimeZone) -> Timestamp {
    now.to_zoned_datetime(tz.clone())
        .start_of_day()
        .map(|zoned| zoned.timestamp())
        .unwrap_or(now)
}

/// ON/OFF history of one output, folded chronologically.
#[derive(Debug, Default)]
struct RunHistory {
    on_since: Option<Timestamp>,
    last_off: Option<Timestamp>,
    used_today: Duration,
}

impl RunHistory {
    fn apply(&mut self, change: &StateChange, day_start: Timestamp, now: Timestamp) {
        let Ok(at) = Timestamp::from_millisecond(change.at_ms) else {
            return;
        };
        let at = at.min(now);
        match (change.power, self.on_since) {
            (true, None) => self.on_since = Some(at),
            (false, Some(on_since)) => {
                self.close_run(on_since, at, day_start);
                self.on_since = None;
            }
            (false, None) => self.last_off = Some(at),
            (true, Some(_)) => {}
        }
    }

    fn close_run(&mut self, on_since: Timestamp, off_at: Timestamp, day_start: Timestamp) {
        let counted_from = on_since.max(day_start);
        if off_at > counted_from {
            self.used_today +=
                Duration::try_from(off_at.duration_since(counted_from)).unwrap_or_default();
        }
        self.last_off = Some(off_at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).expect("valid test timestamp")
    }

    fn change(at_s: i64, power: bool) -> StateChange {
        StateChange {
            at_ms: at_s * 1000,
            node: "bed-1".into(),
            output: "valve".into(),
            power,
            reason: "test".into(),
        }
    }

    #[test]
    fn runs_are_counted_only_inside_today() {
        let day_start = ts(86_400);
        let now = ts(86_400 + 7200);
        let mut history = RunHistory::default();
        for c in [
            change(86_400 - 60, true),
            change(86_400 + 60, false),
            change(86_400 + 600, true),
            change(86_400 + 700, false),
        ] {
            history.apply(&c, day_start, now);
        }
        assert_eq!(
            history.used_today,
            Duration::from_secs(60 + 100),
            "the part before midnight belongs to yesterday"
        );
        assert_eq!(history.last_off, Some(ts(86_400 + 700)));
        assert_eq!(history.on_since, None);
    }
}
