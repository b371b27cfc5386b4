//! A simulated node: it reports its garden readings to the master over real HTTP, exactly as
//! firmware would (CONTRACT §4), and drives its relays through the protocol's
//! [`LeaseKeeper`], so it honours leases, epochs and its own local `max_on`.
//!
//! Every `report_every` of *clock* time it POSTs `/api/v1/nodes/{id}/report` with its bearer
//! token, an incrementing `seq`, the `boot` number it picked at start, its readings, the relay
//! states it actually has, and the backlog of readings it could not deliver. A failed report
//! switches every relay OFF (rule 1), keeps its readings for the next report and backs off.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use plantkeeper_master::clock::SharedClock;
use plantkeeper_protocol::{AnswerBody, BacklogEntry, LeaseKeeper, ReportBody};
use rand::RngExt;
use tokio::task::JoinHandle;

use crate::garden::Garden;
use crate::shutdown::Shutdown;

/// How many recent requests each node remembers answers for.
const RECENT_REQUESTS: usize = 8;
/// The most failed reports kept for the backlog; older ones are dropped first. Small enough
/// that a full backlog stays far below the master's 64 KiB body limit.
pub const BACKLOG_CAPACITY: usize = 256;
/// Report period until the master says otherwise (its answers carry `report_every_ms`).
const DEFAULT_REPORT_EVERY: Duration = Duration::from_secs(5);
/// Bounds applied to the master's `report_every_ms`.
const REPORT_EVERY_BOUNDS: (Duration, Duration) =
    (Duration::from_millis(100), Duration::from_secs(600));
/// The longest wait between retries after failures, in clock time.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How long one HTTP request may take, in real time.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// The node's monotonic clock starts this close (at most) before its u32 wrap, so every demo
/// run exercises the wrap-around within its first two hours of clock time.
const MAX_MS_BEFORE_WRAP: u32 = 2 * 3_600_000;

/// One relay of a simulated node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputSpec {
    /// The output's name in the config (e.g. `valve`).
    pub name: &'static str,
    /// The node's own hard cap on one run (CONTRACT §4 rule 5), `None` for none.
    pub local_max_on: Option<Duration>,
}

/// What a simulated node is: its id, token and `N` relays.
#[derive(Clone, PartialEq, Eq)]
pub struct NodeSpec<const N: usize> {
    /// The node id, as in the config.
    pub id: String,
    /// The plaintext bearer token.
    pub token: String,
    /// The relays, in output-index order.
    pub outputs: [OutputSpec; N],
}

/// What every node of a garden shares.
#[derive(Clone)]
pub struct NodeContext {
    /// HTTP client (shared connection pool).
    pub client: reqwest::Client,
    /// The master's base URL, e.g. `http://127.0.0.1:8001`.
    pub base_url: String,
    /// The clock that paces reports and feeds node time.
    pub clock: SharedClock,
    /// The garden the node reads its sensors from.
    pub garden: Arc<Mutex<Garden>>,
    /// Fires when the node must stop.
    pub shutdown: Shutdown,
}

/// Counters of one node's reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeStats {
    /// Reports sent (including those that failed).
    pub reports_sent: u64,
    /// Reports answered 200 with a well-formed body.
    pub reports_answered: u64,
    /// Reports that failed (error status, timeout, unreachable, malformed answer).
    pub failures: u64,
    /// Well-formed answers the lease keeper ignored (unknown seq or older epoch).
    pub answers_ignored: u64,
    /// Readings waiting in the backlog.
    pub backlog_len: usize,
    /// The last failure, in words.
    pub last_error: Option<String>,
}

/// The relays of a running node, readable at any time without waiting for the node's task.
pub trait RelayView: Send + Sync {
    /// Whether the relay of output `name` is ON now; unknown outputs are OFF.
    fn relay_on(&self, name: &str) -> bool;
}

/// A node task started by [`spawn_node`].
pub struct RunningNode {
    /// The node id.
    pub id: String,
    /// Its relays as they physically are.
    pub relays: Arc<dyn RelayView>,
    stats: Arc<Mutex<NodeStats>>,
    task: JoinHandle<()>,
}

impl RunningNode {
    /// A copy of the node's counters.
    pub fn stats(&self) -> NodeStats {
        lock(&self.stats).clone()
    }

    /// Waits for the node's task to end (after its shutdown signal fired).
    pub async fn join(self) {
        if let Err(error) = self.task.await {
            tracing::error!(node = %self.id, %error, "simulated node task failed");
        }
    }
}

/// Why a report did not get a usable answer.
#[derive(Debug, thiserror::Error)]
pub enum ReportFailure {
    /// The request could not be sent or its answer not read (unreachable, timeout, …).
    #[error("request failed: {0}")]
    Http(#[from] reqwest::Error),
    /// The master answered with an error status.
    #[error("master answered {status}: {body}")]
    Status {
        /// The HTTP status code.
        status: u16,
        /// The start of the answer body.
        body: String,
    },
    /// A 200 whose body is not an answer.
    #[error("malformed answer: {0}")]
    Malformed(#[from] serde_json::Error),
}

/// Locks a mutex, tolerating poisoning: every value behind these mutexes stays consistent
/// between statements, so a panicking holder cannot leave it half-updated.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The node's monotonic millisecond clock: clock time since boot plus an offset, truncated to
/// a wrapping `u32` like a microcontroller's tick counter.
#[derive(Clone)]
struct NodeClock {
    clock: SharedClock,
    boot: jiff::Timestamp,
    offset: u32,
}

impl NodeClock {
    fn now_ms(&self) -> u32 {
        let since_boot = self
            .clock
            .now()
            .duration_since(self.boot)
            .as_millis()
            .max(0);
        // Truncation to 32 bits is the wrap of the node's tick counter.
        self.offset.wrapping_add(since_boot as u32)
    }
}

/// The lease keeper and output names of one node, shared by its task and the physics.
struct NodeRelays<const N: usize> {
    keeper: Mutex<LeaseKeeper<N, RECENT_REQUESTS>>,
    names: [&'static str; N],
    clock: NodeClock,
}

impl<const N: usize> NodeRelays<N> {
    fn states(&self) -> BTreeMap<String, bool> {
        let relays = lock(&self.keeper).relays(self.clock.now_ms());
        self.names
            .iter()
            .map(|name| (*name).to_owned())
            .zip(relays)
            .collect()
    }
}

impl<const N: usize> RelayView for NodeRelays<N> {
    fn relay_on(&self, name: &str) -> bool {
        self.names
            .iter()
            .position(|candidate| *candidate == name)
            .is_some_and(|index| lock(&self.keeper).relay_on(index, self.clock.now_ms()))
    }
}

/// Starts node `spec` as a task on the current Tokio runtime.
pub fn spawn_node<const N: usize>(spec: NodeSpec<N>, context: NodeContext) -> RunningNode {
    let mut rng = rand::rng();
    let clock = NodeClock {
        clock: context.clock.clone(),
        boot: context.clock.now(),
        offset: u32::MAX - rng.random_range(0..MAX_MS_BEFORE_WRAP),
    };
    let local_max_on = spec.outputs.map(|output| {
        output
            .local_max_on
            .map(|max_on| u32::try_from(max_on.as_millis()).unwrap_or(u32::MAX))
    });
    let relays = Arc::new(NodeRelays {
        keeper: Mutex::new(LeaseKeeper::new(local_max_on)),
        names: spec.outputs.map(|output| output.name),
        clock,
    });
    let stats = Arc::new(Mutex::new(NodeStats::default()));
    let node = Node {
        url: format!(
            "{}/api/v1/nodes/{}/report",
            context.base_url.trim_end_matches('/'),
            spec.id
        ),
        id: spec.id.clone(),
        token: spec.token,
        boot: rng.random(),
        relays: Arc::clone(&relays),
        stats: Arc::clone(&stats),
        context,
    };
    RunningNode {
        id: spec.id,
        relays,
        stats,
        task: tokio::spawn(node.run()),
    }
}

/// The state of one node's task.
struct Node<const N: usize> {
    id: String,
    url: String,
    token: String,
    boot: u32,
    relays: Arc<NodeRelays<N>>,
    stats: Arc<Mutex<NodeStats>>,
    context: NodeContext,
}

/// Readings a node could not deliver, with the clock time they were taken.
struct Pending {
    taken_at: jiff::Timestamp,
    readings: BTreeMap<String, f64>,
}

impl<const N: usize> Node<N> {
    async fn run(self) {
        let mut shutdown = self.context.shutdown.clone();
        let mut report_every = DEFAULT_REPORT_EVERY;
        let mut consecutive_failures: u32 = 0;
        let mut seq: u32 = 0;
        let mut backlog: VecDeque<Pending> = VecDeque::new();
        loop {
            seq = seq.wrapping_add(1);
            let taken_at = self.context.clock.now();
            let readings = lock(&self.context.garden).readings(&self.id);
            let body = self.report(seq, &readings, taken_at, &backlog);
            lock(&self.relays.keeper).on_request_sent(seq, self.relays.clock.now_ms());
            let result = tokio::select! {
                result = self.post(&body) => result,
                () = shutdown.fired() => break,
            };
            let wait = match result {
                Ok(answer) => {
                    self.apply(&answer);
                    backlog.clear();
                    consecutive_failures = 0;
                    report_every = Duration::from_millis(answer.report_every_ms)
                        .clamp(REPORT_EVERY_BOUNDS.0, REPORT_EVERY_BOUNDS.1);
                    let spent = clock_elapsed(taken_at, self.context.clock.now());
                    report_every.saturating_sub(spent)
                }
                Err(failure) => {
                    // Rule 1: anything but a well-formed 200 switches every relay OFF.
                    lock(&self.relays.keeper).on_failure(self.relays.clock.now_ms());
                    if backlog.len() == BACKLOG_CAPACITY {
                        backlog.pop_front();
                    }
                    backlog.push_back(Pending { taken_at, readings });
                    consecutive_failures = consecutive_failures.saturating_add(1);
                    self.record_failure(&failure, consecutive_failures);
                    backoff(report_every, consecutive_failures)
                }
            };
            lock(&self.stats).backlog_len = backlog.len();
            tokio::select! {
                () = tokio::time::sleep(self.context.clock.real_duration(wait)) => {}
                () = shutdown.fired() => break,
            }
        }
        tracing::debug!(node = %self.id, "simulated node stopped");
    }

    fn report(
        &self,
        seq: u32,
        readings: &BTreeMap<String, f64>,
        now: jiff::Timestamp,
        backlog: &VecDeque<Pending>,
    ) -> ReportBody {
        ReportBody {
            seq,
            boot: Some(self.boot),
            readings: readings.clone(),
            outputs: (N > 0).then(|| self.relays.states()),
            backlog: backlog
                .iter()
                .map(|pending| BacklogEntry {
                    age_ms: u64::try_from(clock_elapsed(pending.taken_at, now).as_millis())
                        .unwrap_or(u64::MAX),
                    readings: pending.readings.clone(),
                })
                .collect(),
        }
    }

    async fn post(&self, body: &ReportBody) -> Result<AnswerBody, ReportFailure> {
        lock(&self.stats).reports_sent += 1;
        let response = self
            .context
            .client
            .post(&self.url)
            .bearer_auth(&self.token)
            .timeout(REQUEST_TIMEOUT)
            .json(body)
            .send()
            .await?;
        let status = response.status();
        let bytes = response.bytes().await?;
        if status != reqwest::StatusCode::OK {
            let text = String::from_utf8_lossy(&bytes);
            return Err(ReportFailure::Status {
                status: status.as_u16(),
                body: text.chars().take(200).collect(),
            });
        }
        Ok(serde_json::from_slice(&bytes)?)
    }

    fn apply(&self, answer: &AnswerBody) {
        let outcome = lock(&self.relays.keeper).on_answer(
            answer.acked_seq,
            answer.epoch,
            self.relays.clock.now_ms(),
            answer.commands(&self.relays.names),
        );
        let mut stats = lock(&self.stats);
        stats.reports_answered += 1;
        if outcome != plantkeeper_protocol::AnswerOutcome::Accepted {
            stats.answers_ignored += 1;
            tracing::debug!(node = %self.id, ?outcome, acked_seq = answer.acked_seq, "answer ignored");
        }
    }

    fn record_failure(&self, failure: &ReportFailure, consecutive: u32) {
        if consecutive == 1 {
            tracing::warn!(node = %self.id, %failure, "report failed; relays OFF, retrying");
        } else {
            tracing::debug!(node = %self.id, %failure, consecutive, "report failed again");
        }
        let mut stats = lock(&self.stats);
        stats.failures += 1;
        stats.last_error = Some(failure.to_string());
    }
}

/// The wait after `consecutive` failures: the report period, doubled per failure up to
/// [`MAX_BACKOFF`] of clock time.
fn backoff(report_every: Duration, consecutive: u32) -> Duration {
    let doublings = consecutive.saturating_sub(1).min(8);
    report_every.saturating_mul(1 << doublings).min(MAX_BACKOFF)
}

/// Clock time from `earlier` to `later`, zero if the clock went backwards.
fn clock_elapsed(earlier: jiff::Timestamp, later: jiff::Timestamp) -> Duration {
    Duration::try_from(later.duration_since(earlier)).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let every = Duration::from_secs(5);
        assert_eq!(backoff(every, 1), Duration::from_secs(5));
        assert_eq!(backoff(every, 2), Duration::from_secs(10));
        assert_eq!(backoff(every, 3), Duration::from_secs(20));
        assert_eq!(backoff(every, 4), MAX_BACKOFF);
        assert_eq!(backoff(every, u32::MAX), MAX_BACKOFF, "backoff overflowed");
    }
}
