//! `POST`/`DELETE /api/v1/nodes/{id}/outputs/{name}/override` (admin token): switch an output
//! ON or OFF by hand for a while. The override replaces hysteresis and the schedule only;
//! staleness, `require`, `max_on` and the daily budget still apply (CONTRACT §3.7).

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use jiff::{SignedDuration, Timestamp};
use plantkeeper_control::engine::{OutputId, Override, Scope};
use plantkeeper_store::Event;
use serde::Deserialize;

use crate::auth::Admin;
use crate::error::ApiError;
use crate::master::Master;
use crate::report_body::{parse_json, read_limited};

/// The longest override accepted.
pub const MAX_OVERRIDE: Duration = Duration::from_secs(24 * 3600);

/// Body of an override request: `power` and either `for` (a duration) or `until` (RFC 3339).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverrideRequest {
    /// ON or OFF.
    pub power: bool,
    /// How long, e.g. `10m`.
    #[serde(rename = "for")]
    pub for_: Option<String>,
    /// Until when.
    pub until: Option<String>,
}

/// Checks that `node` has `output` in the settings in force (404 otherwise).
fn output_id(master: &Master, node: &str, output: &str) -> Result<OutputId, ApiError> {
    if !master.settings().nodes.contains_key(node) {
        return Err(ApiError::not_found(
            "unknown_node",
            format!("no node `{node}` in the master's settings"),
        ));
    }
    master.engine().output_id(node, output).ok_or_else(|| {
        ApiError::not_found(
            "unknown_output",
            format!("node `{node}` has no output `{output}`"),
        )
    })
}

fn until_of(request: &OverrideRequest, now: Timestamp) -> Result<Timestamp, ApiError> {
    let until = match (&request.for_, &request.until) {
        (Some(text), None) => {
            let length = plantkeeper_control::duration::parse_duration(text).map_err(|_| {
                ApiError::invalid(
                    "for",
                    format!("expected a duration like `10m` or `2h`, got `{text}`"),
                )
            })?;
            if length.is_zero() {
                return Err(ApiError::invalid(
                    "for",
                    "the override must last more than 0s",
                ));
            }
            if length > MAX_OVERRIDE {
                return Err(ApiError::invalid("for", "an override lasts at most 24h"));
            }
            now.saturating_add(SignedDuration::try_from(length).unwrap_or(SignedDuration::MAX))
                .map_err(|_| ApiError::invalid("for", "the override ends too far in the future"))?
        }
        (None, Some(text)) => {
            let until = text.parse::<Timestamp>().map_err(|_| {
                ApiError::invalid(
                    "until",
                    format!("expected an RFC 3339 time like 2026-05-01T12:00:00Z, got `{text}`"),
                )
            })?;
            if until <= now {
                return Err(ApiError::invalid("until", "`until` is in the past"));
            }
            if until.duration_since(now) > SignedDuration::from_hours(24) {
                return Err(ApiError::invalid("until", "an override lasts at most 24h"));
            }
            until
        }
        _ => {
            return Err(ApiError::invalid(
                "for",
                "give exactly one of `for` (e.g. \"10m\") or `until` (RFC 3339)",
            ));
        }
    };
    Ok(until)
}

/// `POST .../override`: sets the override and answers with the resulting decision.
pub async fn set_override(
    State(master): State<Arc<Master>>,
    Path((node, output)): Path<(String, String)>,
    _admin: Admin,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<serde_json::Value>, ApiError> {
    output_id(&master, &node, &output)?;
    let bytes = read_limited(&headers, body).await?;
    let request: OverrideRequest = parse_json(&bytes)?;
    let now = master.now();
    let until = until_of(&request, now)?;
    let power = if request.power { "ON" } else { "OFF" };
    let event = Event {
        at_ms: now.as_millisecond(),
        kind: "override_set".to_owned(),
        node: Some(node.clone()),
        output: Some(output.clone()),
        message: format!("{node}.{output} override {power} until {until}"),
    };
    let change = OverrideChange::Set(Override {
        power: request.power,
        until,
    });
    apply(&master, &node, &output, change, event).await
}

/// `DELETE .../override`: ends the override; the rules decide again at once.
pub async fn clear_override(
    State(master): State<Arc<Master>>,
    Path((node, output)): Path<(String, String)>,
    _admin: Admin,
) -> Result<Json<serde_json::Value>, ApiError> {
    output_id(&master, &node, &output)?;
    let event = Event {
        at_ms: master.now().as_millisecond(),
        kind: "override_cleared".to_owned(),
        node: Some(node.clone()),
        output: Some(output.clone()),
        message: format!("{node}.{output} override ended"),
    };
    apply(&master, &node, &output, OverrideChange::Clear, event).await
}

/// What an override request does to the output's state.
enum OverrideChange {
    Set(Override),
    Clear,
}

/// Applies the change, re-decides the outputs of `node` and their dependents, records the event
/// and the state changes, and answers with the output's decision. The output is looked up
/// again under the live view's lock, in the engine in force (the settings may have changed
/// since the request was checked).
async fn apply(
    master: &Master,
    node: &str,
    output: &str,
    change: OverrideChange,
    event: Event,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (answer, changes) = {
        let mut live = master.live();
        let engine = Arc::clone(&live.engine);
        let Some(id) = engine.output_id(node, output) else {
            return Err(ApiError::not_found(
                "unknown_output",
                format!("node `{node}` has no output `{output}`"),
            ));
        };
        match change {
            OverrideChange::Set(active) => live.control.set_override(id, active),
            OverrideChange::Clear => live.control.clear_override(id),
        }
        let evaluation =
            master.evaluate_locked(&mut live, Scope::Outputs(engine.affected_by(node)));
        let state = live.control.output(id);
        let answer = serde_json::json!({
            "power": state.power,
            "reason": state.reason.to_string(),
            "override_until": state.override_.as_ref().map(|active| active.until.to_string()),
        });
        (answer, evaluation.changes)
    };
    master
        .record_event(event)
        .await
        .map_err(ApiError::store_unavailable)?;
    master
        .record_changes(changes)
        .await
        .map_err(ApiError::store_unavailable)?;
    Ok(Json(answer))
}
