//! The writer's lanes: connections that commit groups of plain writes, several at once, while
//! the writer's own connection commits what must stay in order. One connection is one server
//! process on one core: with lanes the server works on several groups at the same time.
//!
//! Only jobs that cannot break an ordering go to a lane ([`suits_a_lane`]): reports and their
//! readings whose series all exist (committed). State changes, events, epochs, settings
//! versions and new series stay on the writer's connection, one group after another, so a row
//! with a lower id is never committed after a higher one and no group uses a series created by
//! a transaction that is still open. The writer takes a group from its queue only once a lane
//! is idle ([`Lanes::idle_lane`]), so the queue fills while every lane works and groups stay
//! large. It waits for every lane to be idle before it moves the rollup watermark
//! ([`Lanes::wait_idle`]).
//!
//! A lane answers its jobs after its commit. A group it cannot commit (an error, a broken
//! connection) is rolled back and handed back to the writer ([`LaneReport::Returned`]), which
//! applies it as any other group: per-job savepoints, or the spool while the database is
//! unreachable. A lane whose connection broke connects again when it gets its next group, and
//! after a failed attempt hands groups straight back for [`RETRY_CONNECT_AFTER`].

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::time::Instant;
use tokio_postgres::Config;
use tracing::{debug, warn};

use super::mutations::{SeriesIds, Work, newest_received_at};
use super::writer::{Connection, JobReply, group_transaction, is_usable};

/// After a failed connection attempt, a lane hands groups back without trying again for this
/// long.
const RETRY_CONNECT_AFTER: Duration = Duration::from_secs(1);

/// What a lane tells the writer after a group.
pub(crate) enum LaneReport {
    /// The group is committed and its jobs answered; its newest receive time, if any.
    Committed { newest_received_at_ms: Option<i64> },
    /// The group could not be committed (nothing of it is, or it cannot be known): the writer
    /// applies it.
    Returned {
        works: Vec<Work>,
        replies: Vec<JobReply>,
    },
}

/// The group a lane is given, with what it needs from the writer.
struct LaneGroup {
    works: Vec<Work>,
    replies: Vec<JobReply>,
    /// The writer's series ids; every series of the group is among them.
    series: SeriesIds,
    /// The rollup watermark while the group runs (it does not move while a lane is busy).
    rolled_up_before: Option<i64>,
    /// Held while a lane works on the group: the lane is idle once it is dropped.
    busy: OwnedSemaphorePermit,
}

/// An idle lane reserved by the writer ([`Lanes::idle_lane`]) for its next group.
pub(crate) struct IdleLane(OwnedSemaphorePermit);

/// The writer's lanes and their reports.
pub(crate) struct Lanes {
    count: u32,
    /// One permit per lane without a group.
    idle: Arc<Semaphore>,
    /// Groups for the lanes; each idle lane takes the next.
    groups: mpsc::Sender<LaneGroup>,
    reports: mpsc::UnboundedReceiver<LaneReport>,
}

/// Whether `work` may be committed on a lane: a write without state changes or events, whose
/// series are all in `series`.
pub(crate) fn suits_a_lane(work: &Work, series: &SeriesIds) -> bool {
    match work {
        Work::Write(batch) => {
            batch.state_changes.is_empty()
                && batch.events.is_empty()
                && !series.any_missing(batch.reports.iter().flat_map(|report| {
                    report
                        .readings
                        .iter()
                        .map(|reading| (report.node.as_str(), reading.sensor.as_str()))
                }))
        }
        _ => false,
    }
}

impl Lanes {
    /// Starts `count` lanes (none: the writer commits every group itself); each connects with
    /// `config` when it gets its first group.
    pub(crate) fn start(count: usize, config: &Config) -> Lanes {
        let count = u32::try_from(count).unwrap_or(u32::MAX);
        let (report_sender, reports) = mpsc::unbounded_channel();
        let (groups, receiver) = mpsc::channel(count.max(1) as usize);
        let receiver = Arc::new(Mutex::new(receiver));
        for _ in 0..count {
            let lane = Lane {
                config: config.clone(),
                connection: None,
                connect_not_before: None,
            };
            tokio::spawn(lane.run(Arc::clone(&receiver), report_sender.clone()));
        }
        Lanes {
            count,
            idle: Arc::new(Semaphore::new(count as usize)),
            groups,
            reports,
        }
    }

    /// Waits for a lane without a group and reserves it; `None` without lanes.
    pub(crate) async fn idle_lane(&self) -> Option<IdleLane> {
        if self.count == 0 {
            return None;
        }
        // The semaphore is never closed.
        Arc::clone(&self.idle)
            .acquire_owned()
            .await
            .ok()
            .map(IdleLane)
    }

    /// Gives the group to the reserved lane; hands it back if that lane is gone.
    #[allow(clippy::type_complexity)]
    pub(crate) fn give(
        &self,
        lane: IdleLane,
        works: Vec<Work>,
        replies: Vec<JobReply>,
        series: &SeriesIds,
        rolled_up_before: Option<i64>,
    ) -> Result<(), (Vec<Work>, Vec<JobReply>)> {
        let group = LaneGroup {
            works,
            replies,
            series: series.clone(),
            rolled_up_before,
            busy: lane.0,
        };
        // There is room: the channel holds one group per lane, and at most `count` groups are
        // reserved or in work.
        self.groups.try_send(group).map_err(|error| {
            let group = error.into_inner();
            (group.works, group.replies)
        })
    }

    /// Waits until no lane has a group. Their reports are queued by then.
    pub(crate) async fn wait_idle(&self) {
        // The semaphore is never closed.
        let _all = self.idle.acquire_many(self.count).await;
    }

    /// The next report of a lane, waiting for one; pending forever without lanes.
    pub(crate) async fn next_report(&mut self) -> Option<LaneReport> {
        if self.count == 0 {
            return std::future::pending().await;
        }
        self.reports.recv().await
    }

    /// A report already queued, if any.
    pub(crate) fn try_report(&mut self) -> Option<LaneReport> {
        self.reports.try_recv().ok()
    }
}

/// A lane task's state.
struct Lane {
    config: Config,
    connection: Option<Connection>,
    /// No connection attempt before this, after a failed one.
    connect_not_before: Option<Instant>,
}

impl Lane {
    async fn run(
        mut self,
        groups: Arc<Mutex<mpsc::Receiver<LaneGroup>>>,
        reports: mpsc::UnboundedSender<LaneReport>,
    ) {
        loop {
            let next = groups.lock().await.recv().await;
            let Some(group) = next else {
                break;
            };
            let LaneGroup {
                works,
                replies,
                mut series,
                rolled_up_before,
                busy,
            } = group;
            let report = match self.commit(&mut series, rolled_up_before, &works).await {
                Some(outcomes) => {
                    for (reply, outcome) in replies.into_iter().zip(outcomes) {
                        reply.send(Ok(outcome));
                    }
                    LaneReport::Committed {
                        newest_received_at_ms: newest_received_at(&works),
                    }
                }
                None => LaneReport::Returned { works, replies },
            };
            // The writer is gone only after its last wait for idle lanes: nothing to hand over.
            let _ = reports.send(report);
            drop(busy);
        }
    }

    /// Commits the works in one transaction; `None` when that failed (rolled back).
    async fn commit(
        &mut self,
        series: &mut SeriesIds,
        rolled_up_before: Option<i64>,
        works: &[Work],
    ) -> Option<Vec<super::mutations::Outcome>> {
        let connection = self.connected().await?;
        let all: Vec<&Work> = works.iter().collect();
        let error = match group_transaction(connection, series, rolled_up_before, &all).await {
            Ok(outcomes) => return Some(outcomes),
            Err(error) => error,
        };
        debug!(%error, "a lane's group failed; the writer applies it");
        if connection.client.batch_execute("ROLLBACK").await.is_err()
            || !is_usable(&connection.client).await
        {
            warn!(%error, "a writer lane lost its connection");
            self.connection = None;
        }
        None
    }

    /// The lane's connection, connecting if needed and allowed.
    async fn connected(&mut self) -> Option<&Connection> {
        if self
            .connection
            .as_ref()
            .is_some_and(|connection| connection.client.is_closed())
        {
            self.connection = None;
        }
        if self.connection.is_none() {
            if self
                .connect_not_before
                .is_some_and(|not_before| Instant::now() < not_before)
            {
                return None;
            }
            match Connection::open(&self.config).await {
                Ok(connection) => {
                    self.connection = Some(connection);
                    self.connect_not_before = None;
                }
                Err(error) => {
                    warn!(%error, "a writer lane could not connect; the writer applies its groups");
                    self.connect_not_before = Some(Instant::now() + RETRY_CONNECT_AFTER);
                    return None;
                }
            }
        }
        self.connection.as_ref()
    }
}
