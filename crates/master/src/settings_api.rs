//! The settings routes of the admin API (CONTRACT §4): read the running settings as TOML,
//! replace them with a whole new document, list the history, read one version with its diff,
//! and roll back. A change is stored (who, when, diff) before it takes effect, and takes effect
//! at once, without a restart; see docs/api.md.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, IF_MATCH};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use plantkeeper_control::Settings;
use plantkeeper_control::load::ConfigError;
use plantkeeper_store::{Event, SettingsSource, SettingsVersionInfo};
use serde::Serialize;

use crate::auth::Admin;
use crate::error::ApiError;
use crate::master::{Master, RunningVersion};
use crate::report_body::read_limited;
use crate::settings_history::{Refusal, check_replacement, new_version};

/// The media type of a settings document.
pub const TOML_MEDIA_TYPE: &str = "application/toml";
/// The response header carrying the running version's number.
pub const VERSION_HEADER: &str = "x-settings-version";
/// The largest settings document, in bytes (the API's body limit).
pub const MAX_DOCUMENT_BYTES: usize = plantkeeper_protocol::MAX_BODY_BYTES;
/// Most versions one history answer lists.
pub const MAX_HISTORY: usize = 1_000;

/// `GET /api/v1/settings`: the running settings, exactly as stored, with their version.
pub async fn get_settings(
    State(master): State<Arc<Master>>,
    _admin: Admin,
) -> Result<Response, ApiError> {
    let running = running_version(&master)?;
    let mut response = running.text.to_string().into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(TOML_MEDIA_TYPE));
    headers.insert(VERSION_HEADER, HeaderValue::from(running.number));
    // The text holds token digests: never kept in a browser's cache.
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `PUT /api/v1/settings`: a whole TOML document replaces the running settings. 200
/// `{"version": N}` once it is stored and in force; 422 with every problem and nothing
/// changed; 409 when `If-Match: N` names another version than the running one.
pub async fn put_settings(
    State(master): State<Arc<Master>>,
    admin: Admin,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, SettingsError> {
    check_content_type(&headers)?;
    let expected = if_match(&headers)?;
    let bytes = read_limited(&headers, body).await.map_err(|error| {
        if error.status == StatusCode::PAYLOAD_TOO_LARGE {
            document_too_large()
        } else {
            error
        }
    })?;
    let text = std::str::from_utf8(&bytes).map_err(|error| {
        ApiError::bad_request(
            "not_utf8",
            format!(
                "the settings document is not UTF-8 (invalid byte at offset {})",
                error.valid_up_to()
            ),
        )
    })?;
    let applied = apply_text(&master, text, expected, admin.author).await?;
    Ok(version_answer(applied.version, applied.changed))
}

/// What [`apply_text`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// The version running now.
    pub version: u64,
    /// False when the text was the running version's already (nothing stored).
    pub changed: bool,
}

/// The one path of a settings change (`PUT /api/v1/settings` and the dashboard's Apply):
/// under the settings-update lock, refuses with [`SettingsError::Conflict`] when `expected`
/// names another version than the running one, checks `text` with [`check_replacement`],
/// then stores it and puts it in force. A refused text changes nothing.
pub async fn apply_text(
    master: &Master,
    text: &str,
    expected: Option<u64>,
    author: String,
) -> Result<Applied, SettingsError> {
    check_size(text)?;
    let _update = master.lock_settings_update().await;
    let running = running_version(master)?;
    check_expected(expected, running.number)?;
    if *running.text == *text {
        return Ok(Applied {
            version: running.number,
            changed: false,
        });
    }
    let settings = check_replacement(&master.settings(), text, master.settings_dir())
        .map_err(SettingsError::from)?;
    let version = store_and_apply(
        master,
        settings,
        text,
        &running,
        author,
        SettingsSource::Api,
    )
    .await?;
    Ok(Applied {
        version,
        changed: true,
    })
}

/// `POST /api/v1/settings/rollback/{version}`: that version's text becomes the running
/// settings as a new version (author `rollback of N by …`).
pub async fn post_rollback(
    State(master): State<Arc<Master>>,
    Path(target): Path<u64>,
    admin: Admin,
    headers: HeaderMap,
) -> Result<Response, SettingsError> {
    let expected = if_match(&headers)?;
    let number = roll_back(&master, target, expected, &admin.author).await?;
    Ok(version_answer(number, true))
}

/// The one path of a rollback (`POST /api/v1/settings/rollback/{n}` and the dashboard's
/// "Roll back"): refused with [`SettingsError::Conflict`] when `expected` (`If-Match`, the
/// version the page showed as running) names another version than the running one; otherwise
/// version `target`'s text is checked like any change and becomes the running settings as a
/// new version, authored `rollback of N by AUTHOR`. Returns the new version.
pub async fn roll_back(
    master: &Master,
    target: u64,
    expected: Option<u64>,
    author: &str,
) -> Result<u64, SettingsError> {
    let _update = master.lock_settings_update().await;
    let running = running_version(master)?;
    check_expected(expected, running.number)?;
    let stored = master
        .store()
        .settings_version(target)
        .await
        .map_err(ApiError::store_unavailable)?
        .ok_or_else(|| unknown_version(target))?;
    let settings = check_replacement(&master.settings(), &stored.text, master.settings_dir())
        .map_err(SettingsError::from)?;
    let number = store_and_apply(
        master,
        settings,
        &stored.text,
        &running,
        format!("rollback of {target} by {author}"),
        SettingsSource::Rollback,
    )
    .await?;
    Ok(number)
}

/// `GET /api/v1/settings/versions`: the history, newest first.
pub async fn get_versions(
    State(master): State<Arc<Master>>,
    _admin: Admin,
) -> Result<Json<serde_json::Value>, ApiError> {
    let running = master.settings_version().map(|version| version.number);
    let versions: Vec<VersionView> = master
        .store()
        .settings_versions(MAX_HISTORY)
        .await
        .map_err(ApiError::store_unavailable)?
        .into_iter()
        .map(VersionView::from)
        .collect();
    Ok(Json(
        serde_json::json!({ "running": running, "versions": versions }),
    ))
}

/// `GET /api/v1/settings/versions/{n}`: one version with its TOML and the unified diff
/// against the version it replaced.
pub async fn get_version(
    State(master): State<Arc<Master>>,
    Path(number): Path<u64>,
    _admin: Admin,
) -> Result<Json<serde_json::Value>, ApiError> {
    let stored = master
        .store()
        .settings_version(number)
        .await
        .map_err(ApiError::store_unavailable)?
        .ok_or_else(|| unknown_version(number))?;
    let mut view = serde_json::to_value(VersionView::from(stored.info)).map_err(|error| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            error.to_string(),
        )
    })?;
    view["text"] = stored.text.into();
    view["diff"] = stored.diff.into();
    Ok(Json(view))
}

/// Stores `text` as a new version (diffed against the running one), puts `settings` in force
/// and records a `settings` event. Nothing changes if the store refuses the version; once it is
/// stored and in force, failures to record its state changes or event are logged, not answered.
async fn store_and_apply(
    master: &Master,
    settings: Settings,
    text: &str,
    running: &RunningVersion,
    author: String,
    source: SettingsSource,
) -> Result<u64, ApiError> {
    let now = master.now();
    let version = new_version(now, author, source, Some(&running.text), text);
    let described = format!(
        "by {} ({}): {}",
        version.author,
        source.as_str(),
        version.summary
    );
    let number = master
        .store()
        .add_settings_version(version)
        .await
        .map_err(ApiError::store_unavailable)?;
    if let Err(error) = master
        .replace_settings(
            Arc::new(settings),
            RunningVersion {
                number,
                text: Arc::from(text),
            },
        )
        .await
    {
        tracing::warn!(%error, version = number, "settings in force; their state changes not recorded");
    }
    let message = format!("settings version {number} {described}");
    // The version is stored and in force: a failed event write is logged (and raises the
    // storage alert) rather than answered as a failure of a change that took effect.
    if let Err(error) = master
        .record_event(Event {
            at_ms: now.as_millisecond(),
            kind: "settings".to_owned(),
            node: None,
            output: None,
            message,
        })
        .await
    {
        tracing::warn!(%error, version = number, "settings event not recorded");
    }
    Ok(number)
}

/// The running version, or 404 `no_settings_history` for a master without a history.
pub fn running_version(master: &Master) -> Result<RunningVersion, ApiError> {
    master.settings_version().ok_or_else(|| {
        ApiError::not_found(
            "no_settings_history",
            "this master runs without a settings history; `plantkeeper serve` and `demo` keep one",
        )
    })
}

/// 413 `body_too_large` when `text` is over [`MAX_DOCUMENT_BYTES`].
pub fn check_size(text: &str) -> Result<(), ApiError> {
    if text.len() > MAX_DOCUMENT_BYTES {
        Err(document_too_large())
    } else {
        Ok(())
    }
}

fn document_too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        format!(
            "the settings document is over {} KiB",
            MAX_DOCUMENT_BYTES / 1024
        ),
    )
}

/// 404 `unknown_version`.
pub fn unknown_version(number: u64) -> ApiError {
    ApiError::not_found(
        "unknown_version",
        format!("there is no settings version {number}; GET /api/v1/settings/versions lists them"),
    )
}

fn version_answer(number: u64, changed: bool) -> Response {
    Json(serde_json::json!({ "version": number, "changed": changed })).into_response()
}

/// 415 unless the body is declared `application/toml` (parameters such as `charset=utf-8`
/// are allowed).
fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let declared = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(|value| {
            value
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        });
    if declared.as_deref() == Some(TOML_MEDIA_TYPE) {
        return Ok(());
    }
    let got = declared.map_or("none".to_owned(), |media| format!("`{media}`"));
    Err(ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        format!("send the settings as `Content-Type: {TOML_MEDIA_TYPE}` (got {got})"),
    ))
}

/// The version named by `If-Match` (`N` or `"N"`), if the header is present.
/// [`SettingsError::Conflict`] when a change based on version `expected` meets another
/// running version.
fn check_expected(expected: Option<u64>, running: u64) -> Result<(), SettingsError> {
    match expected {
        Some(expected) if expected != running => Err(SettingsError::Conflict { expected, running }),
        _ => Ok(()),
    }
}

fn if_match(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some(value) = headers.get(IF_MATCH) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .map(|text| text.trim().trim_matches('"'))
        .and_then(|text| text.parse::<u64>().ok())
        .map(Some)
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_if_match",
                "If-Match must be a settings version number, e.g. `If-Match: 3` (the X-Settings-Version of your GET)",
            )
            .with_field("If-Match")
        })
}

/// One row of the history.
#[derive(Debug, Serialize)]
struct VersionView {
    version: u64,
    time: String,
    author: String,
    source: &'static str,
    summary: String,
}

impl From<SettingsVersionInfo> for VersionView {
    fn from(info: SettingsVersionInfo) -> VersionView {
        VersionView {
            version: info.version,
            time: Timestamp::from_millisecond(info.created_at_ms)
                .map_or_else(|_| info.created_at_ms.to_string(), |at| at.to_string()),
            author: info.author,
            source: info.source.as_str(),
            summary: info.summary,
        }
    }
}

/// An error of a settings change: an [`ApiError`], or a refused document with every problem.
#[derive(Debug)]
pub enum SettingsError {
    /// Any other error.
    Api(ApiError),
    /// 409: the change was based on version `expected`, but `running` runs; nothing changed.
    Conflict {
        /// The version the change was based on (`If-Match`).
        expected: u64,
        /// The version running.
        running: u64,
    },
    /// 422: the document was refused; nothing changed.
    Refused {
        /// `invalid_settings` or `restart_required`.
        code: &'static str,
        /// Every problem, positioned.
        errors: Vec<ConfigError>,
    },
}

impl From<ApiError> for SettingsError {
    fn from(error: ApiError) -> SettingsError {
        SettingsError::Api(error)
    }
}

impl From<Refusal> for SettingsError {
    fn from(refusal: Refusal) -> SettingsError {
        match refusal {
            Refusal::Invalid(errors) => SettingsError::Refused {
                code: "invalid_settings",
                errors,
            },
            Refusal::RestartRequired(errors) => SettingsError::Refused {
                code: "restart_required",
                errors,
            },
            Refusal::Environment(message) => SettingsError::Api(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "invalid_environment",
                message,
            )),
        }
    }
}

/// The one-sentence summary of a refused document (`code` as in [`SettingsError::Refused`]).
pub fn refusal_message(code: &str, errors: &[ConfigError]) -> String {
    match (code, errors.len()) {
        ("restart_required", _) => format!(
            "{} needs a restart and cannot change while the master runs; nothing changed",
            errors
                .first()
                .map_or("a setting", |error| error.field.as_str())
        ),
        (_, 1) => "the settings have 1 error; nothing changed".to_owned(),
        (_, count) => format!("the settings have {count} errors; nothing changed"),
    }
}

#[derive(Serialize)]
struct PositionedError<'a> {
    line: usize,
    column: usize,
    field: &'a str,
    message: &'a str,
}

impl IntoResponse for SettingsError {
    fn into_response(self) -> Response {
        let (code, errors) = match self {
            SettingsError::Api(error) => return error.into_response(),
            SettingsError::Conflict { expected, running } => {
                return ApiError::new(
                    StatusCode::CONFLICT,
                    "version_conflict",
                    format!(
                        "If-Match names version {expected}, but version {running} is running; GET the settings again and reapply your change"
                    ),
                )
                .into_response();
            }
            SettingsError::Refused { code, errors } => (code, errors),
        };
        let message = refusal_message(code, &errors);
        let positioned: Vec<PositionedError<'_>> = errors
            .iter()
            .map(|error| PositionedError {
                line: error.line,
                column: error.column,
                field: &error.field,
                message: &error.message,
            })
            .collect();
        let body = serde_json::json!({
            "error": {
                "code": code,
                "message": message,
                "field": errors.first().map(|error| error.field.as_str()),
                "errors": positioned,
            }
        });
        (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
    }
}
