//! [`Master`]: the shared state behind every route and the ticker — settings, the engine, the
//! live view, the store and the clock — and the one place where decisions are made and recorded.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use jiff::Timestamp;
use plantkeeper_control::Settings;
use plantkeeper_control::alerts::{Alert, AlertKey, Observation, one_off};
use plantkeeper_control::engine::{Decision, Engine, Scope};
use plantkeeper_control::settings::Severity;
use plantkeeper_store::{Event, StateChange, Store, StoreError, WriteBatch};

use crate::alert_metrics::AlertChannelCounters;
use crate::alerts::observe::{Scene, observe};
use crate::alerts::{Alerts, alert_events};
use crate::clock::SharedClock;
use crate::live::{Live, LiveReadings};
use crate::metered_store::MeteredStore;
use crate::metrics::Metrics;
use crate::restore::restored_usage;

/// The `tracing` target of state changes and events (override set, master started, ...), so
/// log sinks can tell them from other log lines (Loki labels them `kind="event"`).
pub const EVENT_TARGET: &str = "plantkeeper::event";

/// The running master.
pub struct Master {
    engine: Engine,
    live: Mutex<Live>,
    store: Arc<dyn Store>,
    clock: SharedClock,
    epoch: u64,
    legacy_seq: AtomicU32,
    alerts: Alerts,
    metrics: Arc<Metrics>,
}

/// Decisions taken in one evaluation, with the state changes among them ready to be stored.
#[derive(Debug, Default)]
pub struct Evaluation {
    /// Every decision made (changed or not).
    pub decisions: Vec<Decision>,
    /// The decisions that changed an output, as store rows.
    pub changes: Vec<StateChange>,
}

impl Master {
    /// Starts a master: increments the persisted epoch, rebuilds today's ON-time budgets and
    /// rest periods from the stored state changes, starts every output OFF (CONTRACT §3.8) and
    /// records a `master_started` event.
    pub async fn start(
        settings: Arc<Settings>,
        store: Arc<dyn Store>,
        clock: SharedClock,
    ) -> Result<Arc<Master>, StoreError> {
        let metrics = Arc::new(Metrics::new());
        let store: Arc<dyn Store> = Arc::new(MeteredStore::new(store, Arc::clone(&metrics)));
        let epoch = store.begin_epoch().await?;
        let engine = Engine::new(settings);
        let now = clock.now();
        let restored = restored_usage(&engine, store.as_ref(), now).await?;
        let control = engine.initial_state(now, &restored);
        let alerts = Alerts::start(engine.settings(), Arc::clone(&clock), now);
        metrics.register_collector(AlertChannelCounters::new(alerts.channels()));
        let master = Arc::new(Master {
            engine,
            live: Mutex::new(Live {
                readings: LiveReadings::default(),
                control,
            }),
            store,
            clock,
            epoch,
            legacy_seq: AtomicU32::new(0),
            alerts,
            metrics,
        });
        let started = Event {
            at_ms: now.as_millisecond(),
            kind: "master_started".to_owned(),
            node: None,
            output: None,
            message: format!("master started (epoch {epoch}); every output starts OFF"),
        };
        let restarted = vec![one_off(
            now,
            Observation {
                key: AlertKey {
                    rule: "master_restarted".to_owned(),
                    node: None,
                    output: None,
                    sensor: None,
                },
                severity: Severity::Info,
                message: format!(
                    "the master (re)started (epoch {epoch}); every output started OFF"
                ),
                hold_for: std::time::Duration::ZERO,
            },
        )];
        let mut events = vec![started];
        events.extend(alert_events(&restarted));
        master
            .store
            .write(WriteBatch {
                events,
                ..WriteBatch::default()
            })
            .await?;
        master.alerts.dispatch(restarted);
        tracing::info!(target: EVENT_TARGET, epoch, "master started; every output starts OFF");
        Ok(master)
    }

    /// The settings in force.
    pub fn settings(&self) -> &Arc<Settings> {
        self.engine.settings()
    }

    /// The decision engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The Prometheus metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The store (every write is metered).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The current time of the master's clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The clock.
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// This start's epoch, sent in every answer.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// A fresh sequence number for a report from a legacy node, which sends none: every legacy
    /// report is a new one (wraps after 2^32 reports; legacy reports carry no `boot`, so the
    /// store never takes one for a retry of another).
    pub fn next_legacy_seq(&self) -> u32 {
        self.legacy_seq
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_add(1)
    }

    /// Locks the live view. The lock is never held across an `.await`.
    pub fn live(&self) -> MutexGuard<'_, Live> {
        // A panic while holding the lock cannot leave the live view half-updated in a way that
        // is unsafe: every output is re-decided from scratch at the next tick.
        self.live
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Evaluates `scope` now on an already locked live view. The clock is read under the lock,
    /// so evaluations (and the state changes they store) never go back in time between
    /// concurrent reports, overrides and the ticker.
    pub fn evaluate_locked(&self, live: &mut Live, scope: Scope<'_>) -> Evaluation {
        let now = self.clock.now();
        let decisions = self
            .engine
            .evaluate(&mut live.control, &live.readings, now, scope);
        self.alerts.observe_decisions(&decisions, now);
        let changes = decisions
            .iter()
            .filter(|decision| decision.changed)
            .map(|decision| {
                let key = &self.engine.outputs()[decision.output.0];
                StateChange {
                    at_ms: now.as_millisecond(),
                    node: key.node.clone(),
                    output: key.output.clone(),
                    power: decision.power,
                    reason: decision.reason.to_string(),
                }
            })
            .collect();
        Evaluation { decisions, changes }
    }

    /// Stores and logs state changes; returns after they are committed.
    pub async fn record_changes(&self, changes: Vec<StateChange>) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        for change in &changes {
            self.metrics.state_change(change.power);
            tracing::info!(
                target: EVENT_TARGET,
                node = %change.node,
                output = %change.output,
                power = if change.power { "ON" } else { "OFF" },
                reason = %change.reason,
                "output switched"
            );
        }
        let result = self
            .store
            .write(WriteBatch {
                state_changes: changes,
                ..WriteBatch::default()
            })
            .await;
        self.alerts.storage_result(&result);
        result.map(|_| ())
    }

    /// Records a non-state-change event (override set, ...).
    pub async fn record_event(&self, event: Event) -> Result<(), StoreError> {
        tracing::info!(target: EVENT_TARGET, event = %event.kind, node = event.node.as_deref(), output = event.output.as_deref(), "{}", event.message);
        let result = self
            .store
            .write(WriteBatch {
                events: vec![event],
                ..WriteBatch::default()
            })
            .await;
        self.alerts.storage_result(&result);
        result.map(|_| ())
    }

    /// The alerts subsystem (channels and their counters, store-error tracking).
    pub fn alerts(&self) -> &Alerts {
        &self.alerts
    }

    /// Every alert firing now, for the dashboard and the API.
    pub fn firing_alerts(&self) -> Vec<Alert> {
        self.alerts.firing()
    }

    /// Observes every alert rule now, stores first firings and resolutions as `alert` events,
    /// and queues the notifications (without waiting for any channel).
    pub async fn check_alerts(&self) {
        let storage_error = self.alerts.storage_error();
        let notices = {
            let live = self.live();
            let now = self.clock.now();
            let scene = Scene {
                engine: &self.engine,
                live: &live,
                started_at: self.alerts.started_at(),
                storage_error: storage_error.as_deref(),
                now,
            };
            self.alerts.update(now, |watch| observe(&scene, watch))
        };
        if notices.is_empty() {
            return;
        }
        for notice in &notices {
            let alert = &notice.alert;
            tracing::warn!(
                status = notice.status.as_str(),
                rule = %alert.key.rule,
                severity = %alert.severity,
                node = ?alert.key.node,
                repeat = notice.repeat,
                "{}",
                alert.message
            );
        }
        let events = alert_events(&notices);
        self.alerts.dispatch(notices);
        if !events.is_empty() {
            let result = self
                .store
                .write(WriteBatch {
                    events,
                    ..WriteBatch::default()
                })
                .await;
            // Not fed to `storage_result`: the alert's own event must not resolve it.
            if let Err(error) = &result {
                tracing::error!(%error, "could not store alert events");
            }
        }
    }
}
