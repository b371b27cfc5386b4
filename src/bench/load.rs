//! The two load shapes: a closed loop (each connection sends its next report as soon as the
//! previous one is answered: maximum throughput) and an open, paced loop (every node reports
//! once a second at its own offset, whether or not the server keeps up).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use hyper::StatusCode;
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior, interval_at};

use super::children::{ChildProcess, MemoryUsage};
use super::http_client::Connection;
use super::latency::Latencies;
use super::reports::{Report, Reports};

/// How often a paced node reports.
pub const PACED_PERIOD: Duration = Duration::from_secs(1);
/// How often the master's memory is sampled during the paced phase.
const MEMORY_SAMPLE_EVERY: Duration = Duration::from_millis(250);
/// Pause before reconnecting after a transport error.
const RECONNECT_PAUSE: Duration = Duration::from_millis(10);

/// What one phase measured.
#[derive(Debug, Default, Clone)]
pub struct PhaseResult {
    /// Reports answered 200 (for the master: acknowledged, hence committed).
    pub ok: u64,
    /// Reports answered otherwise or lost to a transport error.
    pub errors: u64,
    /// The first error, to show what went wrong.
    pub first_error: Option<String>,
    /// From the first send to the last answer.
    pub elapsed: Duration,
    /// Latency of every successful report; in the paced phase measured from the time the
    /// report was due, so a late client or a slow server both count.
    pub latencies: Latencies,
}

impl PhaseResult {
    /// Successful reports per second.
    pub fn per_second(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            self.ok as f64 / seconds
        } else {
            0.0
        }
    }

    fn count(&mut self, outcome: anyhow::Result<StatusCode>, latency: Duration) {
        match outcome {
            Ok(StatusCode::OK) => {
                self.ok += 1;
                self.latencies.record(latency);
            }
            Ok(status) => self.error(format!("HTTP {status}")),
            Err(error) => self.error(format!("{error:#}")),
        }
    }

    fn error(&mut self, message: String) {
        self.errors += 1;
        self.first_error.get_or_insert(message);
    }

    fn merge(&mut self, other: PhaseResult) {
        self.ok += other.ok;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        self.latencies.merge(other.latencies);
    }
}

/// Phase A: `concurrency` connections, each in a closed loop for `duration`, rotating through
/// the nodes.
pub async fn closed_loop(
    address: SocketAddr,
    reports: Arc<Reports>,
    concurrency: u32,
    duration: Duration,
) -> anyhow::Result<PhaseResult> {
    let connections = open_connections(address, concurrency as usize).await?;
    let started = Instant::now();
    let deadline = started + duration;
    let mut workers = JoinSet::new();
    for connection in connections {
        let reports = Arc::clone(&reports);
        workers.spawn(async move {
            let mut result = PhaseResult::default();
            let mut connection = Some(connection);
            while Instant::now() < deadline {
                let report = reports.next_in_rotation();
                let sent = Instant::now();
                let outcome = send(&mut connection, address, &report).await;
                result.count(outcome, sent.elapsed());
            }
            result
        });
    }
    let mut total = gather(workers).await?;
    total.elapsed = started.elapsed();
    Ok(total)
}

/// Phase B: every node sends one report per [`PACED_PERIOD`] on its own connection, node `i`
/// at offset `i / N` of the period, for `duration`; the master's memory is sampled meanwhile.
/// With `connection_per_report`, each report opens a new connection that is closed after the
/// answer (the latency then includes the TCP handshake).
/// Returns the phase and the master's memory: the highest resident size sampled, and its peak
/// since start.
pub async fn paced(
    address: SocketAddr,
    reports: Arc<Reports>,
    duration: Duration,
    connection_per_report: bool,
    master: &ChildProcess,
) -> anyhow::Result<(PhaseResult, MemoryUsage)> {
    let nodes = reports.node_count();
    let connections: Vec<Option<Connection>> = if connection_per_report {
        (0..nodes).map(|_| None).collect()
    } else {
        open_connections(address, nodes)
            .await?
            .into_iter()
            .map(Some)
            .collect()
    };
    let rounds = (duration.as_secs_f64() / PACED_PERIOD.as_secs_f64()).ceil() as u32;
    // A short lead so every node's first tick lies in the future.
    let started = Instant::now() + Duration::from_millis(50);
    let mut workers = JoinSet::new();
    for (index, connection) in connections.into_iter().enumerate() {
        let reports = Arc::clone(&reports);
        let offset = PACED_PERIOD.mul_f64(index as f64 / nodes as f64);
        workers.spawn(async move {
            let mut result = PhaseResult::default();
            let mut connection = connection;
            let mut ticks = interval_at(started + offset, PACED_PERIOD);
            // A node that fell behind sends at once: the offered load stays the same.
            ticks.set_missed_tick_behavior(MissedTickBehavior::Burst);
            for _ in 0..rounds {
                let due = ticks.tick().await;
                let report = reports.next_of(index);
                let outcome = send(&mut connection, address, &report).await;
                result.count(outcome, due.elapsed());
                if connection_per_report {
                    connection = None;
                }
            }
            result
        });
    }
    let mut total = PhaseResult::default();
    let mut highest = MemoryUsage::default();
    let mut sampling = tokio::time::interval(MEMORY_SAMPLE_EVERY);
    while !workers.is_empty() {
        tokio::select! {
            _ = sampling.tick() => {
                let now = master.memory()?;
                highest.rss_kib = highest.rss_kib.max(now.rss_kib);
                highest.peak_kib = now.peak_kib;
            }
            Some(joined) = workers.join_next() => {
                total.merge(joined.context("a paced node panicked")?);
            }
        }
    }
    total.elapsed = started.elapsed();
    Ok((total, highest))
}

async fn open_connections(address: SocketAddr, count: usize) -> anyhow::Result<Vec<Connection>> {
    let mut connections = Vec::with_capacity(count);
    for _ in 0..count {
        connections.push(Connection::open(address).await?);
    }
    Ok(connections)
}

/// Sends one report on `connection`, reconnecting first if the previous attempt broke it.
async fn send(
    connection: &mut Option<Connection>,
    address: SocketAddr,
    report: &Report<'_>,
) -> anyhow::Result<StatusCode> {
    let open = match connection {
        Some(open) => open,
        None => match Connection::open(address).await {
            Ok(open) => connection.insert(open),
            Err(error) => {
                tokio::time::sleep(RECONNECT_PAUSE).await;
                return Err(error);
            }
        },
    };
    match open
        .post_json(report.path, report.authorization, report.body.clone())
        .await
    {
        Ok(status) => Ok(status),
        Err(error) => {
            *connection = None;
            tokio::time::sleep(RECONNECT_PAUSE).await;
            Err(error)
        }
    }
}

async fn gather(mut workers: JoinSet<PhaseResult>) -> anyhow::Result<PhaseResult> {
    let mut total = PhaseResult::default();
    while let Some(joined) = workers.join_next().await {
        total.merge(joined.context("a load worker panicked")?);
    }
    Ok(total)
}
