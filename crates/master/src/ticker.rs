//! The ticker: re-evaluates every output at least once a second of clock time, so staleness,
//! schedules, `max_on`, budgets and silent nodes take effect without any report.

use std::sync::Arc;
use std::time::Duration;

use plantkeeper_control::engine::Scope;
use tokio::sync::watch;

use crate::master::Master;

/// Clock time between two evaluations of every output.
pub const TICK: Duration = Duration::from_secs(1);
/// The shortest real pause between ticks, however fast the clock runs.
pub const MIN_REAL_TICK: Duration = Duration::from_millis(2);

/// Runs until `shutdown` turns true.
pub async fn run_ticker(master: Arc<Master>, mut shutdown: watch::Receiver<bool>) {
    let period = master.clock().real_duration(TICK).max(MIN_REAL_TICK);
    let mut interval = tokio::time::interval(period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            return;
        }
        tick(&master).await;
    }
}

/// One evaluation of every output; state changes are stored and logged, then the alert rules
/// are checked.
pub async fn tick(master: &Master) {
    let changes = {
        let mut live = master.live();
        master.evaluate_locked(&mut live, Scope::All).changes
    };
    if let Err(error) = master.record_changes(changes).await {
        tracing::error!(%error, "could not store state changes; decisions go on from memory");
    }
    master.check_alerts().await;
}
