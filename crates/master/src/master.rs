//! [`Master`]: the shared state behind every route and the ticker — settings, the engine, the
//! live view, the store and the clock — and the one place where decisions are made and recorded.
//!
//! The settings can be replaced while running ([`Master::replace_settings`]): the new engine and
//! its carried-over state are swapped in under the live view's lock, so every evaluation uses
//! one engine and the state made for it, never a mix.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use jiff::Timestamp;
use plantkeeper_control::Settings;
use plantkeeper_control::alerts::{Alert, AlertKey, Observation, one_off};
use plantkeeper_control::engine::{Decision, Engine, Reason, ReasonKind, Scope};
use plantkeeper_control::settings::Severity;
use plantkeeper_store::{Event, StateChange, Store, StoreError, WriteBatch};

use crate::alert_metrics::AlertChannelCounters;
use crate::alerts::observe::{Scene, observe};
use crate::alerts::{Alerts, alert_events};
use crate::clock::SharedClock;
use crate::dashboard::DashboardState;
use crate::dashboard::sessions::Sessions;
use crate::live::{Live, LiveReadings};
use crate::metered_store::MeteredStore;
use crate::metrics::Metrics;
use crate::restore::restored_usage;

/// The `tracing` target of state changes and events (override set, master started, ...), so
/// log sinks can tell them from other log lines (Loki labels them `kind="event"`).
pub const EVENT_TARGET: &str = "plantkeeper::event";

/// The running master.
pub struct Master {
    /// The engine in force and the version it came from, for readers that do not lock the
    /// live view. Written only while the live view is locked, together with `live.engine`.
    running: RwLock<Running>,
    /// Held by a settings change from its checks to its swap, so changes apply one at a time.
    settings_update: tokio::sync::Mutex<()>,
    /// The settings file's directory: relative paths in any version are taken from there.
    settings_dir: PathBuf,
    live: Mutex<Live>,
    store: Arc<dyn Store>,
    clock: SharedClock,
    epoch: u64,
    legacy_seq: AtomicU32,
    alerts: Alerts,
    metrics: Arc<Metrics>,
    dashboard: DashboardState,
}

/// The stored settings version in force: its number and its TOML text.
#[derive(Debug, Clone, PartialEq)]
pub struct RunningVersion {
    /// The version number in the store's settings history.
    pub number: u64,
    /// The TOML text, exactly as stored.
    pub text: Arc<str>,
}

/// The engine in force and, when the master keeps a settings history, its version.
#[derive(Debug, Clone)]
struct Running {
    engine: Arc<Engine>,
    version: Option<RunningVersion>,
}

/// Decisions taken in one evaluation, with the state changes among them ready to be stored.
#[derive(Debug)]
pub struct Evaluation {
    /// The engine that decided (its outputs name the decisions' ids).
    pub engine: Arc<Engine>,
    /// Every decision made (changed or not).
    pub decisions: Vec<Decision>,
    /// The decisions that changed an output, as store rows.
    pub changes: Vec<StateChange>,
}

impl Master {
    /// Starts a master without a settings history (benchmarks, embedding): the settings API
    /// answers that there is no version. See [`Master::start_versioned`].
    pub async fn start(
        settings: Arc<Settings>,
        store: Arc<dyn Store>,
        clock: SharedClock,
    ) -> Result<Arc<Master>, StoreError> {
        Master::start_inner(settings, None, PathBuf::new(), store, clock).await
    }

    /// Starts a master running stored settings version `version` (see
    /// `settings_history::adopt_at_start`): increments the persisted epoch, rebuilds today's
    /// ON-time budgets and rest periods from the stored state changes, starts every output OFF
    /// (CONTRACT §3.8) and records a `master_started` event.
    /// `settings_dir` is the settings file's directory, where relative paths of later
    /// versions are taken from.
    pub async fn start_versioned(
        settings: Arc<Settings>,
        version: RunningVersion,
        settings_dir: PathBuf,
        store: Arc<dyn Store>,
        clock: SharedClock,
    ) -> Result<Arc<Master>, StoreError> {
        Master::start_inner(settings, Some(version), settings_dir, store, clock).await
    }

    async fn start_inner(
        settings: Arc<Settings>,
        version: Option<RunningVersion>,
        settings_dir: PathBuf,
        store: Arc<dyn Store>,
        clock: SharedClock,
    ) -> Result<Arc<Master>, StoreError> {
        let metrics = Arc::new(Metrics::new());
        let store: Arc<dyn Store> = Arc::new(MeteredStore::new(store, Arc::clone(&metrics)));
        let epoch = store.begin_epoch().await?;
        let engine = Arc::new(Engine::new(settings));
        let now = clock.now();
        let restored = restored_usage(&engine, store.as_ref(), now).await?;
        let control = engine.initial_state(now, &restored);
        let alerts = Alerts::start(engine.settings(), Arc::clone(&clock), now);
        metrics.register_collector(AlertChannelCounters::new(alerts.channels()));
        let master = Arc::new(Master {
            running: RwLock::new(Running {
                engine: Arc::clone(&engine),
                version,
            }),
            settings_update: tokio::sync::Mutex::new(()),
            settings_dir,
            live: Mutex::new(Live {
                readings: LiveReadings::default(),
                engine,
                control,
                override_authors: BTreeMap::new(),
            }),
            store,
            clock,
            epoch,
            legacy_seq: AtomicU32::new(0),
            alerts,
            metrics,
            dashboard: DashboardState::default(),
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

    /// The dashboard's sessions, login throttle and caches.
    pub fn dashboard(&self) -> &DashboardState {
        &self.dashboard
    }

    /// The dashboard's sessions.
    pub fn sessions(&self) -> &Sessions {
        &self.dashboard.sessions
    }

    /// The settings in force (a snapshot: a later change does not alter it).
    pub fn settings(&self) -> Arc<Settings> {
        Arc::clone(self.running().engine.settings())
    }

    /// The decision engine in force (a snapshot). While the live view is locked, use
    /// `live.engine`, which always matches `live.control`.
    pub fn engine(&self) -> Arc<Engine> {
        Arc::clone(&self.running().engine)
    }

    /// The stored settings version in force, `None` for a master without a settings history.
    pub fn settings_version(&self) -> Option<RunningVersion> {
        self.running().version.clone()
    }

    /// The settings file's directory (empty for a master without a settings history).
    pub fn settings_dir(&self) -> &Path {
        &self.settings_dir
    }

    fn running(&self) -> std::sync::RwLockReadGuard<'_, Running> {
        // The value is replaced whole; a panic elsewhere cannot leave it half-written.
        self.running
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits until no other settings change is in progress; hold the guard from the checks of
    /// a change (`If-Match`, the diff base) to its [`Master::replace_settings`].
    pub async fn lock_settings_update(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.settings_update.lock().await
    }

    /// Puts `settings` (stored as `version`) in force at once, atomically for every reader of
    /// the live view: outputs of both the old and new settings keep their state (run, budget,
    /// rest, override); outputs the change removes are switched OFF (recorded with the reason);
    /// new outputs start OFF; then every output is decided by the new settings right away, so a
    /// change can never leave an output ON that the new settings would not allow. An ON lease
    /// already sent stays capped as it was when sent (CONTRACT §4). A change of the admin token's
    /// digest or of the dashboard's password file closes every dashboard session.
    ///
    /// Returns after the resulting state changes are committed.
    pub async fn replace_settings(
        &self,
        settings: Arc<Settings>,
        version: RunningVersion,
    ) -> Result<(), StoreError> {
        let previous_settings = self.settings();
        if previous_settings.master.admin_token_sha256 != settings.master.admin_token_sha256
            || previous_settings.dashboard.password_file != settings.dashboard.password_file
        {
            self.dashboard.sessions.close_all();
            tracing::info!("login secrets changed: every dashboard session closed");
        }
        let engine = Arc::new(Engine::new(settings));
        let number = version.number;
        let changes = {
            let mut live = self.live();
            let now = self.clock.now();
            let previous = Arc::clone(&live.engine);
            let added = Reason::new(
                ReasonKind::SettingsChanged,
                format!("added by settings version {number}"),
            );
            let control = engine.carry_over(&previous, &live.control, now, &added);
            let mut changes: Vec<StateChange> = previous
                .outputs()
                .iter()
                .zip(live.control.outputs())
                .filter(|(key, state)| {
                    state.power && engine.output_id(&key.node, &key.output).is_none()
                })
                .map(|(key, _)| StateChange {
                    at_ms: now.as_millisecond(),
                    node: key.node.clone(),
                    output: key.output.clone(),
                    power: false,
                    reason: format!("removed by settings version {number}"),
                })
                .collect();
            self.alerts.remap_outputs(|id| {
                let key = previous.outputs().get(id.0)?;
                engine.output_id(&key.node, &key.output)
            });
            live.engine = Arc::clone(&engine);
            live.control = control;
            *self
                .running
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) = Running {
                engine,
                version: Some(version),
            };
            changes.extend(self.evaluate_locked(&mut live, Scope::All).changes);
            changes
        };
        self.record_changes(changes).await
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
        let engine = Arc::clone(&live.engine);
        let decisions = engine.evaluate(&mut live.control, &live.readings, now, scope);
        self.alerts.observe_decisions(&decisions, now);
        let changes = decisions
            .iter()
            .filter(|decision| decision.changed)
            .map(|decision| {
                let key = &engine.outputs()[decision.output.0];
                StateChange {
                    at_ms: now.as_millisecond(),
                    node: key.node.clone(),
                    output: key.output.clone(),
                    power: decision.power,
                    reason: decision.reason.to_string(),
                }
            })
            .collect();
        Evaluation {
            engine,
            decisions,
            changes,
        }
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
                engine: &live.engine,
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
