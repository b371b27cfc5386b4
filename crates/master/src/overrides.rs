//! `POST`/`DELETE /api/v1/nodes/{id}/outputs/{name}/override` (admin token or a dashboard
//! session): switch an output ON or OFF by hand for a while. The override replaces hysteresis
//! and the schedule only; staleness, `require`, `max_on` and the daily budget still apply
//! (CONTRACT §3.7). [`change_override`] is the one path of every override change: the API's
//! routes and the dashboard's Overrides page both take it.

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

/// Checks that `node` has `output` in the settings in force: 404 (`unknown_node` or
/// `unknown_output`) otherwise.
pub fn output_id(master: &Master, node: &str, output: &str) -> Result<OutputId, ApiError> {
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

/// How the end of an override is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverrideEnd {
    /// A length from now.
    For(Duration),
    /// A moment.
    Until(Timestamp),
}

/// The moment an override given by `end` ends, checked at `now`: later than `now` and at most
/// [`MAX_OVERRIDE`] ahead. Errors name `field`, the request field that gave `end`.
fn checked_end(end: OverrideEnd, now: Timestamp, field: &str) -> Result<Timestamp, ApiError> {
    let too_long = || ApiError::invalid(field, "an override lasts at most 24h");
    match end {
        OverrideEnd::For(length) => {
            if length.is_zero() {
                return Err(ApiError::invalid(
                    field,
                    "the override must last more than 0s",
                ));
            }
            if length > MAX_OVERRIDE {
                return Err(too_long());
            }
            now.saturating_add(SignedDuration::try_from(length).unwrap_or(SignedDuration::MAX))
                .map_err(|_| ApiError::invalid(field, "the override ends too far in the future"))
        }
        OverrideEnd::Until(until) => {
            if until <= now {
                return Err(ApiError::invalid(field, "the end must be later than now"));
            }
            if until.duration_since(now)
                > SignedDuration::try_from(MAX_OVERRIDE).unwrap_or(SignedDuration::MAX)
            {
                return Err(too_long());
            }
            Ok(until)
        }
    }
}

/// The end of an API request: exactly one of `for` (a duration) and `until` (RFC 3339).
fn end_of(request: &OverrideRequest) -> Result<(OverrideEnd, &'static str), ApiError> {
    match (&request.for_, &request.until) {
        (Some(text), None) => {
            let length = plantkeeper_control::duration::parse_duration(text).map_err(|_| {
                ApiError::invalid(
                    "for",
                    format!("expected a duration like `10m` or `2h`, got `{text}`"),
                )
            })?;
            Ok((OverrideEnd::For(length), "for"))
        }
        (None, Some(text)) => {
            let until = text.parse::<Timestamp>().map_err(|_| {
                ApiError::invalid(
                    "until",
                    format!("expected an RFC 3339 time like 2026-05-01T12:00:00Z, got `{text}`"),
                )
            })?;
            Ok((OverrideEnd::Until(until), "until"))
        }
        _ => Err(ApiError::invalid(
            "for",
            "give exactly one of `for` (e.g. \"10m\") or `until` (RFC 3339)",
        )),
    }
}

/// `POST .../override`: sets the override and answers with the resulting decision.
pub async fn set_override(
    State(master): State<Arc<Master>>,
    Path((node, output)): Path<(String, String)>,
    admin: Admin,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<serde_json::Value>, ApiError> {
    output_id(&master, &node, &output)?;
    let bytes = read_limited(&headers, body).await?;
    let request: OverrideRequest = parse_json(&bytes)?;
    let (end, field) = end_of(&request)?;
    let change = OverrideChange::Set {
        power: request.power,
        end,
        field,
    };
    let decided = change_override(&master, &node, &output, change, &admin.author).await?;
    Ok(Json(decided.to_json()))
}

/// `DELETE .../override`: ends the override; the rules decide again at once.
pub async fn clear_override(
    State(master): State<Arc<Master>>,
    Path((node, output)): Path<(String, String)>,
    admin: Admin,
) -> Result<Json<serde_json::Value>, ApiError> {
    let decided = change_override(
        &master,
        &node,
        &output,
        OverrideChange::Clear,
        &admin.author,
    )
    .await?;
    Ok(Json(decided.to_json()))
}

/// What an override request does to the output's state.
#[derive(Debug, Clone, Copy)]
pub enum OverrideChange {
    /// Switch the output to `power` until `end`; `field` names the request field that gave
    /// `end`, for errors.
    Set {
        /// ON or OFF.
        power: bool,
        /// Until when.
        end: OverrideEnd,
        /// The request field of `end`.
        field: &'static str,
    },
    /// End the active override (if any).
    Clear,
}

/// An output's decision right after an override change.
#[derive(Debug, Clone, PartialEq)]
pub struct Decided {
    /// The decided power: an ON override may still be held OFF (CONTRACT §3.7).
    pub power: bool,
    /// The engine's reason.
    pub reason: String,
    /// When the active override ends, if one is active.
    pub override_until: Option<Timestamp>,
}

impl Decided {
    /// The API's answer: `{"power", "reason", "override_until"}`.
    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "power": self.power,
            "reason": self.reason,
            "override_until": self.override_until.map(|until| until.to_string()),
        })
    }
}

/// The one path of every override change, from the API and from the dashboard's forms:
/// checks that the output exists (404) and the end (422, naming the field), applies the change,
/// re-decides the outputs of `node` and their dependents, records the event (naming `author`)
/// and the state changes, and returns the output's decision.
pub async fn change_override(
    master: &Master,
    node: &str,
    output: &str,
    change: OverrideChange,
    author: &str,
) -> Result<Decided, ApiError> {
    output_id(master, node, output)?;
    let now = master.now();
    let (active, kind, message) = match change {
        OverrideChange::Set { power, end, field } => {
            let until = checked_end(end, now, field)?;
            let word = if power { "ON" } else { "OFF" };
            (
                Some(Override { power, until }),
                "override_set",
                format!("{node}.{output} override {word} until {until} by {author}"),
            )
        }
        OverrideChange::Clear => (
            None,
            "override_cleared",
            format!("{node}.{output} override ended by {author}"),
        ),
    };
    let event = Event {
        at_ms: now.as_millisecond(),
        kind: kind.to_owned(),
        node: Some(node.to_owned()),
        output: Some(output.to_owned()),
        message,
    };
    apply(master, node, output, active, author, event).await
}

/// Applies the override (`None`: ends it), re-decides, records (a store failure is logged and
/// raises the storage alert; the override stays in force). The output is looked up again
/// under the live view's lock, in the engine in force (the settings may have changed since the
/// request was checked).
async fn apply(
    master: &Master,
    node: &str,
    output: &str,
    active: Option<Override>,
    author: &str,
    event: Event,
) -> Result<Decided, ApiError> {
    let (decided, changes) = {
        let mut live = master.live();
        let engine = Arc::clone(&live.engine);
        let Some(id) = engine.output_id(node, output) else {
            return Err(ApiError::not_found(
                "unknown_output",
                format!("node `{node}` has no output `{output}`"),
            ));
        };
        match active {
            Some(active) => {
                live.record_override_author(node, output, active.clone(), author);
                live.control.set_override(id, active);
            }
            None => live.control.clear_override(id),
        }
        let evaluation =
            master.evaluate_locked(&mut live, Scope::Outputs(engine.affected_by(node)));
        let state = live.control.output(id);
        let decided = Decided {
            power: state.power,
            reason: state.reason.to_string(),
            override_until: state.override_.as_ref().map(|active| active.until),
        };
        (decided, evaluation.changes)
    };
    // The override is in force from here on, so the answer says so even if the store fails:
    // both writes are attempted, and a failure raises the storage alert and is logged.
    let (event_written, changes_written) =
        tokio::join!(master.record_event(event), master.record_changes(changes));
    for error in [event_written.err(), changes_written.err()]
        .into_iter()
        .flatten()
    {
        tracing::warn!(%error, node, output, "override in force but not recorded in the store");
    }
    Ok(decided)
}
