//! Original PlantKeeper nodes (CONTRACT §5): `POST /{type}/` and `/api-v1/{type}/`, with and
//! without the trailing slash, for the nine type names the original firmware used.
//!
//! The routes are always registered and answer 404 (as an unknown route would) unless
//! `[legacy] enabled = true`. They carry no token, so the client's address must be inside
//! `[legacy] allow` (loopback only when it is empty), else 403. A body with the original field
//! names is mapped to a configured node (`[legacy.map]`) and goes through the same path as a
//! node report ([`accept_report`]): committed before the answer, live view updated, affected
//! outputs decided. The answer is the original's: 201 `{"acknowledged": true, "power": 0|1}`,
//! or `{"error": true, "message": "...", "power": 0}` with a 4xx/5xx status.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use plantkeeper_control::settings::{LegacySource, LegacyType};
use plantkeeper_store::NewReading;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::master::Master;
use crate::report::{IncomingReport, RetryDetection, accept_report};
use crate::report_body::{MAX_READING_MAGNITUDE, parse_json, read_limited};

/// The field an original node reports the relay state it has, `0`/`1` (informative).
const POWER_STATUS: &str = "power_status";

/// The readings one original node type sends: `required` keys must be present (their value
/// may be `null`, as the original server accepted), `optional` ones are stored when sent.
/// Any other field is ignored, as the original server did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSet {
    /// Keys every body of this type must have.
    pub required: &'static [&'static str],
    /// Keys stored when present.
    pub optional: &'static [&'static str],
}

/// The reading fields of `kind`, named as the original firmware sent them. A sprinkler also
/// sends `tag`, which is not a reading.
pub fn field_set(kind: LegacyType) -> FieldSet {
    match kind {
        LegacyType::Sprinkler => FieldSet {
            required: &["soil_humidity"],
            optional: &[],
        },
        LegacyType::Water => FieldSet {
            required: &["level"],
            optional: &[],
        },
        LegacyType::Enclosure => FieldSet {
            required: &["temperature", "humidity", "co2_ppm"],
            optional: &["uv_index", "cov_ppm"],
        },
        LegacyType::Cooler => FieldSet {
            required: &[
                "air_in_temperature",
                "air_in_humidity",
                "air_out_temperature",
                "air_out_humidity",
            ],
            optional: &["cold_surface_temperature", "hot_surface_temperature"],
        },
        LegacyType::Heater => FieldSet {
            required: &["air_in_temperature"],
            optional: &["air_out_temperature", "hot_surface_temperature"],
        },
        LegacyType::AirHumidifier => FieldSet {
            required: &["air_in_humidity"],
            optional: &[
                "air_in_temperature",
                "air_out_temperature",
                "air_out_humidity",
            ],
        },
    }
}

/// The legacy routes: every type name under both prefixes, with and without trailing slash.
pub fn routes() -> Router<Arc<Master>> {
    let mut router = Router::new();
    for (name, kind) in LegacyType::PATH_NAMES {
        for prefix in ["", "/api-v1"] {
            for slash in ["/", ""] {
                router = router.route(
                    &format!("{prefix}/{name}{slash}"),
                    post(
                        move |State(master): State<Arc<Master>>,
                              ConnectInfo(client): ConnectInfo<SocketAddr>,
                              headers: HeaderMap,
                              body: Body| async move {
                            post_legacy(&master, kind, client, &headers, body).await
                        },
                    ),
                );
            }
        }
    }
    router
}

/// An answer in the original's shape.
#[derive(Debug)]
enum LegacyAnswer {
    /// 201 `{"acknowledged": true, "power": 0|1}`.
    Acknowledged { power: bool },
    /// `{"error": true, "message": "...", "power": 0}` with this status.
    Refused { status: StatusCode, message: String },
    /// The legacy routes are off: the same 404 as an unknown route.
    Disabled,
}

impl LegacyAnswer {
    fn bad_request(message: impl Into<String>) -> Self {
        LegacyAnswer::Refused {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }
}

impl From<ApiError> for LegacyAnswer {
    fn from(error: ApiError) -> Self {
        LegacyAnswer::Refused {
            status: error.status,
            message: error.message,
        }
    }
}

#[derive(Serialize)]
struct Acknowledged {
    acknowledged: bool,
    power: u8,
}

#[derive(Serialize)]
struct Refused<'a> {
    error: bool,
    message: &'a str,
    power: u8,
}

impl IntoResponse for LegacyAnswer {
    fn into_response(self) -> Response {
        match self {
            LegacyAnswer::Acknowledged { power } => (
                StatusCode::CREATED,
                Json(Acknowledged {
                    acknowledged: true,
                    power: u8::from(power),
                }),
            )
                .into_response(),
            LegacyAnswer::Refused { status, message } => (
                status,
                Json(Refused {
                    error: true,
                    message: &message,
                    power: 0,
                }),
            )
                .into_response(),
            LegacyAnswer::Disabled => ApiError::not_found(
                "no_route",
                "no such route; the legacy PlantKeeper routes are off ([legacy] enabled = false)",
            )
            .into_response(),
        }
    }
}

async fn post_legacy(
    master: &Master,
    kind: LegacyType,
    client: SocketAddr,
    headers: &HeaderMap,
    body: Body,
) -> LegacyAnswer {
    match handle(master, kind, client, headers, body).await {
        Ok(answer) | Err(answer) => answer,
    }
}

async fn handle(
    master: &Master,
    kind: LegacyType,
    client: SocketAddr,
    headers: &HeaderMap,
    body: Body,
) -> Result<LegacyAnswer, LegacyAnswer> {
    let settings = master.settings();
    let legacy = &settings.legacy;
    if !legacy.enabled {
        return Err(LegacyAnswer::Disabled);
    }
    if !legacy.allows(client.ip()) {
        return Err(LegacyAnswer::Refused {
            status: StatusCode::FORBIDDEN,
            message: format!(
                "{} may not use the legacy routes; add its network to [legacy] allow",
                client.ip().to_canonical()
            ),
        });
    }
    let bytes = read_limited(headers, body).await?;
    let fields: Map<String, Value> = parse_json(&bytes)?;
    let source = source_of(kind, &fields)?;
    let Some(node_id) = legacy.node_for(&source) else {
        return Err(LegacyAnswer::bad_request(format!(
            "no node is mapped to `{source}`; add `\"{source}\" = \"NODE\"` to [legacy.map]"
        )));
    };
    let node = settings.nodes.get(node_id).ok_or_else(|| {
        // Loading checks that every mapped node exists; this only guards the invariant.
        LegacyAnswer::bad_request(format!("`{source}` is mapped to unknown node `{node_id}`"))
    })?;
    let output = node.outputs.keys().next().cloned();
    let received_at = master.now();
    let readings = readings_of(kind, &fields, received_at.as_millisecond())?;
    let relays = relay_of(&fields, output.as_deref())?;
    let accepted = accept_report(
        master,
        IncomingReport {
            node_id: node_id.to_owned(),
            boot: None,
            seq: master.next_legacy_seq(),
            readings,
            relays,
            received_at,
            retries: RetryDetection::Never,
        },
    )
    .await?;
    let power = accepted
        .decisions
        .first()
        .is_some_and(|decision| decision.power);
    Ok(LegacyAnswer::Acknowledged { power })
}

/// The map key a body stands for: the type, plus `tag` for sprinklers.
fn source_of(kind: LegacyType, fields: &Map<String, Value>) -> Result<LegacySource, LegacyAnswer> {
    if kind != LegacyType::Sprinkler {
        return Ok(LegacySource { kind, tag: None });
    }
    match fields.get("tag") {
        Some(Value::String(tag)) if !tag.is_empty() => Ok(LegacySource {
            kind,
            tag: Some(tag.clone()),
        }),
        Some(Value::Number(number)) => Ok(LegacySource {
            kind,
            tag: Some(number.to_string()),
        }),
        None | Some(Value::Null) => Err(LegacyAnswer::bad_request(
            "missing field `tag`: a sprinkler sends `tag` and `soil_humidity`",
        )),
        Some(other) => Err(LegacyAnswer::bad_request(format!(
            "field `tag` must be a string like \"plant-1\", got {other}"
        ))),
    }
}

/// The readings of a body, under the original field names; `null` values are skipped.
fn readings_of(
    kind: LegacyType,
    fields: &Map<String, Value>,
    at_ms: i64,
) -> Result<Vec<NewReading>, LegacyAnswer> {
    let set = field_set(kind);
    let missing: Vec<&str> = set
        .required
        .iter()
        .copied()
        .filter(|name| !fields.contains_key(*name))
        .collect();
    if !missing.is_empty() {
        return Err(LegacyAnswer::bad_request(format!(
            "missing field{} {}: a {} node sends {}",
            if missing.len() == 1 { "" } else { "s" },
            quoted(&missing),
            kind.name(),
            quoted(set.required),
        )));
    }
    let mut readings = Vec::new();
    for name in set.required.iter().chain(set.optional) {
        let value = match fields.get(*name) {
            None | Some(Value::Null) => continue,
            Some(Value::Number(number)) => number.as_f64(),
            Some(other) => {
                return Err(LegacyAnswer::bad_request(format!(
                    "field `{name}` must be a number or null, got {other}"
                )));
            }
        };
        match value {
            Some(value) if value.is_finite() && value.abs() <= MAX_READING_MAGNITUDE => {
                readings.push(NewReading {
                    sensor: (*name).to_owned(),
                    at_ms,
                    value,
                });
            }
            _ => {
                return Err(LegacyAnswer::bad_request(format!(
                    "field `{name}` is not a plausible reading (magnitude at most 1e12)"
                )));
            }
        }
    }
    Ok(readings)
}

/// `power_status` (`0`/`1`, `true`/`false` or `null`) as the relay state of the node's output.
fn relay_of(
    fields: &Map<String, Value>,
    output: Option<&str>,
) -> Result<Option<BTreeMap<String, bool>>, LegacyAnswer> {
    let on = match fields.get(POWER_STATUS) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Bool(on)) => *on,
        Some(Value::Number(number)) if number.as_u64() == Some(0) => false,
        Some(Value::Number(number)) if number.as_u64() == Some(1) => true,
        Some(other) => {
            return Err(LegacyAnswer::bad_request(format!(
                "field `{POWER_STATUS}` must be 0, 1 or null, got {other}"
            )));
        }
    };
    Ok(output.map(|name| BTreeMap::from([(name.to_owned(), on)])))
}

fn quoted(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|name| format!("`{name}`")).collect();
    quoted.join(", ")
}
