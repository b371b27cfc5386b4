//! The read side of the API (admin token or a dashboard session): nodes, readings and events.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use jiff::{SignedDuration, Timestamp};
use plantkeeper_store::{EventRow, EventsQuery, ReadingsQuery};
use serde::Serialize;

use crate::auth::Admin;
use crate::error::ApiError;
use crate::master::Master;

/// Most points one readings answer holds; ask for a `step` to cover longer ranges.
pub const MAX_POINTS: usize = 100_000;
/// Most events one events answer holds.
pub const MAX_EVENTS: usize = 1_000;
/// Events returned when `limit` is not given.
pub const DEFAULT_EVENTS: usize = 200;

/// Whether a node is reporting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeStatus {
    /// Reported within its `stale_after`.
    Online,
    /// Reported once, but not within its `stale_after`.
    Stale,
    /// Has not reported since the master started.
    NeverSeen,
}

impl NodeStatus {
    /// The status at `now` of a node whose newest report arrived at `last_report`.
    pub fn of(last_report: Option<Timestamp>, stale_after: Duration, now: Timestamp) -> NodeStatus {
        match last_report {
            None => NodeStatus::NeverSeen,
            Some(at) if age_ms(now, at) < duration_ms(stale_after) => NodeStatus::Online,
            Some(_) => NodeStatus::Stale,
        }
    }
}

/// One node in `GET /api/v1/nodes`.
#[derive(Debug, Serialize)]
pub struct NodeView {
    /// Node id.
    pub id: String,
    /// online / stale / never_seen.
    pub status: NodeStatus,
    /// Time of its newest report (RFC 3339), if any.
    pub last_report: Option<String>,
    /// Milliseconds since then.
    pub last_report_age_ms: Option<i64>,
    /// Newest value of every sensor it reported.
    pub readings: BTreeMap<String, ReadingView>,
    /// Its outputs as decided now.
    pub outputs: BTreeMap<String, OutputView>,
}

/// The newest value of one sensor.
#[derive(Debug, Serialize)]
pub struct ReadingView {
    /// The value.
    pub value: f64,
    /// When it was measured (RFC 3339).
    pub at: String,
    /// Milliseconds since then.
    pub age_ms: i64,
    /// Unit from the settings, if declared.
    pub unit: Option<String>,
}

/// One output's current decision.
#[derive(Debug, Serialize)]
pub struct OutputView {
    /// Decided power.
    pub power: bool,
    /// Why.
    pub reason: String,
    /// Since when it has this power (RFC 3339).
    pub since: String,
    /// The relay state the node last said it has, if it says.
    pub relay_reported: Option<bool>,
    /// An active manual override, if any.
    pub override_until: Option<String>,
}

/// Every node's status, newest readings and outputs, as the master sees them now.
pub fn node_views(master: &Master) -> Vec<NodeView> {
    let now = master.now();
    let live = master.live();
    let engine = Arc::clone(&live.engine);
    let settings = engine.settings();
    settings
        .nodes
        .values()
        .map(|node| {
            let node_live = live.readings.nodes.get(&node.id);
            let last_report = node_live.and_then(|n| n.last_report);
            let status = NodeStatus::of(last_report, node.stale_after, now);
            let readings = node_live
                .map(|n| {
                    n.readings
                        .iter()
                        .map(|(name, sample)| {
                            let unit = node
                                .sensors
                                .get(name)
                                .and_then(|sensor| sensor.unit.clone());
                            let view = ReadingView {
                                value: sample.value,
                                at: sample.at.to_string(),
                                age_ms: age_ms(now, sample.at),
                                unit,
                            };
                            (name.clone(), view)
                        })
                        .collect()
                })
                .unwrap_or_default();
            let outputs = engine
                .node_outputs(&node.id)
                .iter()
                .map(|id| {
                    let key = &engine.outputs()[id.0];
                    let state = live.control.output(*id);
                    let view = OutputView {
                        power: state.power,
                        reason: state.reason.to_string(),
                        since: state.since.to_string(),
                        relay_reported: node_live.and_then(|n| n.relays.get(&key.output).copied()),
                        override_until: state.override_.as_ref().map(|ov| ov.until.to_string()),
                    };
                    (key.output.clone(), view)
                })
                .collect();
            NodeView {
                id: node.id.clone(),
                status,
                last_report: last_report.map(|at| at.to_string()),
                last_report_age_ms: last_report.map(|at| age_ms(now, at)),
                readings,
                outputs,
            }
        })
        .collect()
}

/// `GET /api/v1/nodes`.
pub async fn get_nodes(
    State(master): State<Arc<Master>>,
    _admin: Admin,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(serde_json::json!({ "nodes": node_views(&master) })))
}

/// `GET /api/v1/nodes/{id}/readings?sensor=&from=&to=[&step=]`.
pub async fn get_readings(
    State(master): State<Arc<Master>>,
    Path(node_id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    _admin: Admin,
) -> Result<Json<serde_json::Value>, ApiError> {
    if !master.settings().nodes.contains_key(&node_id) {
        return Err(ApiError::not_found(
            "unknown_node",
            format!("no node `{node_id}` in the master's settings"),
        ));
    }
    check_known_params(&params, &["sensor", "from", "to", "step"])?;
    let sensor = params.get("sensor").ok_or_else(|| {
        ApiError::invalid("sensor", "`sensor` is required, e.g. ?sensor=soil_moisture")
    })?;
    if !plantkeeper_protocol::is_valid_sensor_name(sensor) {
        return Err(ApiError::invalid(
            "sensor",
            "sensor names are 1 to 64 characters of a-z, 0-9 and _",
        ));
    }
    let (from, to) = time_range(&master, &params)?;
    let step_ms = match params.get("step") {
        None => None,
        Some(text) => {
            let step = plantkeeper_control::duration::parse_duration(text).map_err(|_| {
                ApiError::invalid(
                    "step",
                    format!("expected a duration like `1m` or `1h`, got `{text}`"),
                )
            })?;
            if step < Duration::from_secs(1) {
                return Err(ApiError::invalid("step", "step must be at least 1s"));
            }
            Some(i64::try_from(step.as_millis()).unwrap_or(i64::MAX))
        }
    };
    let query = ReadingsQuery {
        node: node_id,
        sensor: sensor.clone(),
        from_ms: from.as_millisecond(),
        to_ms: to.as_millisecond(),
        step_ms,
        limit: MAX_POINTS,
    };
    let points = master
        .store()
        .readings(query)
        .await
        .map_err(ApiError::store_unavailable)?;
    let truncated = points.len() >= MAX_POINTS;
    let points: Vec<(String, f64)> = points
        .into_iter()
        .filter_map(|(at_ms, value)| {
            Some((Timestamp::from_millisecond(at_ms).ok()?.to_string(), value))
        })
        .collect();
    Ok(Json(
        serde_json::json!({ "points": points, "truncated": truncated }),
    ))
}

/// `GET /api/v1/events?from=&to=&node=[&limit=]`, newest first.
pub async fn get_events(
    State(master): State<Arc<Master>>,
    Query(params): Query<HashMap<String, String>>,
    _admin: Admin,
) -> Result<Json<serde_json::Value>, ApiError> {
    check_known_params(&params, &["from", "to", "node", "limit"])?;
    let (from, to) = time_range(&master, &params)?;
    let node = params.get("node").cloned();
    if let Some(node) = &node
        && !master.settings().nodes.contains_key(node)
    {
        return Err(ApiError::invalid(
            "node",
            format!("no node `{node}` in the master's settings"),
        ));
    }
    let limit = match params.get("limit") {
        None => DEFAULT_EVENTS,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|limit| (1..=MAX_EVENTS).contains(limit))
            .ok_or_else(|| {
                ApiError::invalid(
                    "limit",
                    format!("limit must be a whole number from 1 to {MAX_EVENTS}"),
                )
            })?,
    };
    let rows = master
        .store()
        .events(EventsQuery {
            from_ms: from.as_millisecond(),
            to_ms: to.as_millisecond(),
            node,
            limit,
        })
        .await
        .map_err(ApiError::store_unavailable)?;
    let events: Vec<serde_json::Value> = rows.iter().map(event_json).collect();
    Ok(Json(serde_json::json!({ "events": events })))
}

fn event_json(row: &EventRow) -> serde_json::Value {
    let at = Timestamp::from_millisecond(row.at_ms())
        .map(|at| at.to_string())
        .unwrap_or_default();
    match row {
        EventRow::StateChange(change) => serde_json::json!({
            "at": at, "kind": "state_change", "node": change.node, "output": change.output,
            "power": change.power, "reason": change.reason,
            "message": format!("{}.{} {}: {}", change.node, change.output, if change.power { "ON" } else { "OFF" }, change.reason),
        }),
        EventRow::Event(event) => serde_json::json!({
            "at": at, "kind": event.kind, "node": event.node, "output": event.output, "message": event.message,
        }),
    }
}

/// `from`/`to` as RFC 3339; defaults: the last 24 hours up to now.
fn time_range(
    master: &Master,
    params: &HashMap<String, String>,
) -> Result<(Timestamp, Timestamp), ApiError> {
    let parse = |field: &'static str| -> Result<Option<Timestamp>, ApiError> {
        params
            .get(field)
            .map(|text| {
                text.parse::<Timestamp>().map_err(|_| {
                    ApiError::invalid(
                        field,
                        format!(
                            "expected an RFC 3339 time like 2026-05-01T12:00:00Z, got `{text}`"
                        ),
                    )
                })
            })
            .transpose()
    };
    let to = parse("to")?.unwrap_or_else(|| {
        master
            .now()
            .saturating_add(SignedDuration::from_secs(1))
            .unwrap_or(Timestamp::MAX)
    });
    let from = parse("from")?.unwrap_or_else(|| {
        to.saturating_sub(SignedDuration::from_hours(24))
            .unwrap_or(Timestamp::MIN)
    });
    if from >= to {
        return Err(ApiError::invalid(
            "from",
            "`from` must be earlier than `to`",
        ));
    }
    Ok((from, to))
}

fn check_known_params(params: &HashMap<String, String>, known: &[&str]) -> Result<(), ApiError> {
    match params.keys().find(|key| !known.contains(&key.as_str())) {
        Some(key) => Err(ApiError::invalid(
            key.clone(),
            format!(
                "unknown query parameter `{key}`; known: {}",
                known.join(", ")
            ),
        )),
        None => Ok(()),
    }
}

fn age_ms(now: Timestamp, at: Timestamp) -> i64 {
    now.duration_since(at)
        .as_millis()
        .clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

fn duration_ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
