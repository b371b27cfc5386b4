//! `POST /api/v1/nodes/{id}/report`: a node sends its readings and gets its outputs back.
//!
//! Order of work: authenticate → check the body → commit the readings (the answer waits for
//! this) → update the live view unless the report was a retry → decide the affected outputs →
//! commit any state changes → answer with a lease per output. Everything after the body check
//! is [`accept_report`], which the legacy routes (`crate::legacy`) share.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use jiff::Timestamp;
use plantkeeper_control::engine::{Decision, Sample, Scope};
use plantkeeper_protocol::{AnswerBody, OutputCommand, ReportBody};
use plantkeeper_store::{NewReading, ReportRecord, WriteBatch};

use crate::auth::require_token;
use crate::error::ApiError;
use crate::master::Master;
use crate::report_body::{check_report, parse_json, read_limited};

/// Handles one node report, counting it (and its rejection, by error code) in the metrics.
pub async fn post_report(
    State(master): State<Arc<Master>>,
    Path(node_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<AnswerBody>, ApiError> {
    master.metrics().report_received();
    let answer = answer_report(&master, node_id, headers, body).await;
    if let Err(error) = &answer {
        master.metrics().report_rejected(error.code);
    }
    answer
}

async fn answer_report(
    master: &Master,
    node_id: String,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<AnswerBody>, ApiError> {
    let settings = master.settings();
    let Some(node) = settings.nodes.get(&node_id) else {
        return Err(ApiError::not_found(
            "unknown_node",
            format!("no node `{node_id}` in the master's settings"),
        ));
    };
    require_token(&headers, &node.token_sha256, "node")?;
    let bytes = read_limited(&headers, body).await?;
    let body: ReportBody = parse_json(&bytes)?;
    let received_at = master.now();
    let report = check_report(body, received_at)?;

    let accepted = accept_report(
        master,
        IncomingReport {
            node_id: node_id.clone(),
            boot: report.body.boot,
            seq: report.body.seq,
            readings: report.readings,
            relays: report.body.outputs,
            received_at,
            retries: RetryDetection::RepeatedBootlessSeq,
        },
    )
    .await?;

    // The settings that decided: newer than `settings` if they changed meanwhile.
    let decided_by = accepted.engine.settings();
    let node = decided_by.nodes.get(&node_id).unwrap_or(node);
    let mut answer = AnswerBody {
        acked_seq: report.body.seq,
        epoch: master.epoch(),
        report_every_ms: duration_ms(node.report_every),
        outputs: Default::default(),
    };
    for decision in &accepted.decisions {
        let name = accepted.engine.outputs()[decision.output.0].output.clone();
        answer.outputs.insert(name, command(decision, node.lease));
    }
    Ok(Json(answer))
}

/// A report about to be committed, from the node API or from a legacy node.
#[derive(Debug)]
pub struct IncomingReport {
    /// The configured node it is about.
    pub node_id: String,
    /// The node's boot number, if it sent one.
    pub boot: Option<u32>,
    /// The report's sequence number.
    pub seq: u32,
    /// Checked, timestamped readings.
    pub readings: Vec<NewReading>,
    /// The relay states the node says it has, if it said.
    pub relays: Option<BTreeMap<String, bool>>,
    /// When the master received it.
    pub received_at: Timestamp,
    /// How a retried report is recognised.
    pub retries: RetryDetection,
}

/// How a retry of an already accepted report is recognised, beyond the store's
/// `(node, boot, seq)` rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDetection {
    /// A node without `boot` that repeats its previous `seq` is retrying (node API).
    RepeatedBootlessSeq,
    /// Never a retry: the seq was given by the master itself (legacy nodes send none).
    Never,
}

/// The one path of every report: refuse a node inventing too many sensors, commit the readings
/// (returns only once they are durable), update the live view unless the report was a retry,
/// decide the affected outputs and commit their state changes.
///
/// Returns the decisions about the reporting node's own outputs.
pub async fn accept_report(master: &Master, report: IncomingReport) -> Result<Accepted, ApiError> {
    let node_id = &report.node_id;
    let bootless_retry = report.retries == RetryDetection::RepeatedBootlessSeq
        && report.boot.is_none()
        && is_bootless_retry(master, node_id, report.seq);
    if let Some(name) = {
        let live = master.live();
        let known = live.readings.nodes.get(node_id);
        known.and_then(|node_live| {
            node_live.first_sensor_over_limit(report.readings.iter().map(|r| r.sensor.as_str()))
        })
    } {
        return Err(ApiError::invalid(
            format!("readings.{name}"),
            format!(
                "node `{node_id}` already has {} distinct sensors; no more are accepted",
                crate::live::MAX_SENSORS_PER_NODE
            ),
        ));
    }

    let duplicate = if bootless_retry {
        true
    } else {
        let record = ReportRecord {
            node: node_id.clone(),
            boot: report.boot,
            seq: report.seq,
            received_at_ms: report.received_at.as_millisecond(),
            readings: report.readings.clone(),
        };
        let written = master
            .store()
            .write(WriteBatch {
                reports: vec![record],
                ..WriteBatch::default()
            })
            .await;
        master.alerts().storage_result(&written);
        let receipt = written.map_err(ApiError::store_unavailable)?;
        receipt.duplicate.first().copied().unwrap_or(false)
    };
    if duplicate {
        master.metrics().report_duplicate();
    } else {
        master.metrics().readings_stored(report.readings.len());
    }

    let evaluation = {
        let mut live = master.live();
        if !duplicate {
            let node_live = live.readings.nodes.entry(node_id.clone()).or_default();
            // Concurrent reports of one node may commit out of order: keep the newest.
            node_live.last_report = node_live.last_report.max(Some(report.received_at));
            if report.boot.is_none() && report.retries == RetryDetection::RepeatedBootlessSeq {
                node_live.last_bootless_seq = Some(report.seq);
            }
            for reading in &report.readings {
                if let Ok(at) = jiff::Timestamp::from_millisecond(reading.at_ms) {
                    node_live.observe(
                        &reading.sensor,
                        Sample {
                            value: reading.value,
                            at,
                        },
                    );
                }
            }
            if let Some(relays) = &report.relays {
                node_live.relays.clone_from(relays);
            }
        }
        let engine = Arc::clone(&live.engine);
        master.evaluate_locked(&mut live, Scope::Outputs(engine.affected_by(node_id)))
    };
    master
        .record_changes(evaluation.changes)
        .await
        .map_err(ApiError::store_unavailable)?;
    let own = evaluation.engine.node_outputs(node_id);
    let decisions = evaluation
        .decisions
        .into_iter()
        .filter(|decision| own.contains(&decision.output))
        .collect();
    Ok(Accepted {
        engine: evaluation.engine,
        decisions,
    })
}

/// What [`accept_report`] decided about the reporting node's own outputs.
#[derive(Debug)]
pub struct Accepted {
    /// The engine that decided: its outputs name the decisions' ids, its settings hold the
    /// node's lease and report period.
    pub engine: Arc<plantkeeper_control::engine::Engine>,
    /// The decisions about the node's own outputs.
    pub decisions: Vec<Decision>,
}

/// A node without `boot` that repeats its previous `seq` is retrying a report whose answer it
/// lost: it is answered again but not stored twice and does not refresh its readings.
fn is_bootless_retry(master: &Master, node_id: &str, seq: u32) -> bool {
    master
        .live()
        .readings
        .nodes
        .get(node_id)
        .and_then(|node| node.last_bootless_seq)
        == Some(seq)
}

/// The command for one output: ON carries a lease no longer than the time until the master
/// would say OFF anyway (`max_on`, the daily budget, an input going stale, the schedule window
/// or the override ending), so the relay itself stops then even if no report follows.
fn command(decision: &Decision, lease: Duration) -> OutputCommand {
    let lease_ms = if decision.power {
        let lease = decision.on_time_left.map_or(lease, |left| lease.min(left));
        duration_ms(lease)
    } else {
        0
    };
    OutputCommand {
        power: decision.power,
        lease_ms,
        reason: decision.reason.to_string(),
    }
}

fn duration_ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
