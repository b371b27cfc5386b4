//! The Settings page (docs/dashboard.md): the running TOML in an editor; "Check" validates a
//! text with the loader the API uses and shows every problem under its line with a diff
//! against the running version; "Apply" and "Roll back" take the very paths of
//! `PUT /api/v1/settings` ([`apply_text`]) and `POST /api/v1/settings/rollback/{n}`
//! ([`roll_back`]). Logged-in sessions only: the text holds node tokens and token digests, so
//! a `public_read` viewer never sees it. Works without JavaScript.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Arc;

use axum::Form;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::access::{LoggedIn, session_author};
use super::escape::escape_html;
use super::html::page;
use super::settings_view::{apply_form, diff, editor, history, listing, problem_list, provenance};
use crate::error::ApiError;
use crate::master::{Master, RunningVersion};
use crate::settings_api::{
    SettingsError, apply_text, check_size, refusal_message, roll_back, running_version,
    unknown_version,
};
use crate::settings_history::{self, check_replacement};

/// Most versions the page's history lists (the API lists more).
pub const HISTORY_ON_PAGE: usize = 100;

const TITLE: &str = "Settings";

/// The editor's form (Check and Apply).
#[derive(Debug, Deserialize)]
pub struct EditForm {
    #[serde(default)]
    csrf: String,
    /// The version the text was started from.
    #[serde(default)]
    base: String,
    #[serde(default)]
    text: String,
}

/// The Roll back form: its CSRF token and the version the page showed as running.
#[derive(Debug, Deserialize)]
pub struct RollbackForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    base: String,
}

/// The session's name in the settings history (`dashboard session from ADDRESS`).
#[derive(Debug)]
pub struct SessionAuthor(String);

impl FromRequestParts<Arc<Master>> for SessionAuthor {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        master: &Arc<Master>,
    ) -> Result<Self, Self::Rejection> {
        Ok(SessionAuthor(session_author(master, parts)))
    }
}

/// `GET /settings[?applied=N|unchanged=N]`: the running version in the editor, and the
/// history.
pub async fn get_settings_page(
    State(master): State<Arc<Master>>,
    logged: LoggedIn,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let running = match running_version(&master) {
        Ok(running) => running,
        Err(error) => return error_page(&logged, &error),
    };
    let number = |key: &str| query.get(key).and_then(|value| value.parse::<u64>().ok());
    let mut body = String::from("<h1>Settings</h1>");
    if number("applied") == Some(running.number) {
        let _ = write!(
            body,
            "<p class=\"ok\" role=\"status\">Version {} applied: it took effect at once.</p>",
            running.number
        );
    } else if number("unchanged") == Some(running.number) {
        let _ = write!(
            body,
            "<p class=\"ok\" role=\"status\">No change: the text is version {} already.</p>",
            running.number
        );
    }
    body.push_str(&running_line(&master, &running).await);
    body.push_str(&editor(&logged.session, running.number, &running.text));
    body.push_str(FIXED_NOTE);
    body.push_str("<h2>History</h2>");
    match master.store().settings_versions(HISTORY_ON_PAGE).await {
        Ok(versions) => body.push_str(&history(&master, &versions, running.number)),
        Err(error) => {
            let _ = write!(
                body,
                "<p class=\"error\">store: {}</p>",
                escape_html(&error.to_string())
            );
        }
    }
    page(StatusCode::OK, TITLE, Some(&logged.session), &body)
}

const FIXED_NOTE: &str = "<p class=\"muted\">Shown to logged-in sessions only: the text holds \
node tokens and token digests. Set up once at start and refused here: <code>[master] listen</code>, \
<code>database</code>, <code>mdns</code>, <code>mdns_name</code>, <code>[alerts] channels</code> and \
<code>repeat_every</code>, <code>[storage]</code>, <code>[telemetry]</code>; edit the settings \
file and restart for those.</p>";

/// `POST /settings/check`: the submitted text validated as Apply would, re-rendered with every
/// problem under its line and the diff against the running version.
pub async fn post_check(
    State(master): State<Arc<Master>>,
    logged: LoggedIn,
    Form(form): Form<EditForm>,
) -> Response {
    if let Some(refusal) = logged.csrf_refusal(&form.csrf) {
        return refusal;
    }
    let text = normalize_newlines(&form.text);
    let running = match running_version(&master) {
        Ok(running) => running,
        Err(error) => return error_page(&logged, &error),
    };
    let notice = match parse_base(&form.base) {
        Some(base) if base != running.number => Some(format!(
            "Version {} was applied after you opened version {base}: the diff below is \
             against version {}, and applying replaces it.",
            running.number, running.number
        )),
        _ => None,
    };
    outcome_view(
        &logged,
        &running,
        &text,
        notice.as_deref(),
        check(&master, &text),
    )
}

/// `POST /settings/apply`: the text through [`apply_text`] (as `PUT /api/v1/settings` with
/// `If-Match: base`); 303 to `/settings?applied=N` when in force, else the check view with
/// the refusal.
pub async fn post_apply(
    State(master): State<Arc<Master>>,
    logged: LoggedIn,
    SessionAuthor(author): SessionAuthor,
    Form(form): Form<EditForm>,
) -> Response {
    if let Some(refusal) = logged.csrf_refusal(&form.csrf) {
        return refusal;
    }
    let text = normalize_newlines(&form.text);
    let Some(base) = parse_base(&form.base) else {
        let error = ApiError::bad_request(
            "invalid_base",
            "base: the form does not say which version the text started from; open Settings again",
        );
        return error_page(&logged, &error);
    };
    match apply_text(&master, &text, Some(base), author).await {
        Ok(applied) if applied.changed => {
            Redirect::to(&format!("/settings?applied={}", applied.version)).into_response()
        }
        Ok(applied) => {
            Redirect::to(&format!("/settings?unchanged={}", applied.version)).into_response()
        }
        Err(SettingsError::Conflict { expected, .. }) => {
            conflict_view(&master, &logged, &text, expected).await
        }
        Err(error) => match running_version(&master) {
            Ok(running) => outcome_view(&logged, &running, &text, None, Err(error)),
            Err(missing) => error_page(&logged, &missing),
        },
    }
}

/// `GET /settings/versions/{n}`: one version's text, provenance and diff, with "Roll back".
pub async fn get_version_page(
    State(master): State<Arc<Master>>,
    logged: LoggedIn,
    Path(number): Path<String>,
) -> Response {
    version_page(&master, &logged, &number, None).await
}

/// `POST /settings/rollback/{n}`: version n through [`roll_back`] (as
/// `POST /api/v1/settings/rollback/{n}`); 303 to `/settings?applied=M`, else the version page
/// with the refusal under its lines.
pub async fn post_rollback(
    State(master): State<Arc<Master>>,
    logged: LoggedIn,
    SessionAuthor(author): SessionAuthor,
    Path(number): Path<String>,
    Form(form): Form<RollbackForm>,
) -> Response {
    if let Some(refusal) = logged.csrf_refusal(&form.csrf) {
        return refusal;
    }
    let Ok(target) = number.parse::<u64>() else {
        return error_page(&logged, &unknown_version_named(&number));
    };
    match roll_back(&master, target, parse_base(&form.base), &author).await {
        Ok(version) => Redirect::to(&format!("/settings?applied={version}")).into_response(),
        Err(error) => version_page(&master, &logged, &number, Some(error)).await,
    }
}

async fn version_page(
    master: &Master,
    logged: &LoggedIn,
    number: &str,
    refused: Option<SettingsError>,
) -> Response {
    let Ok(target) = number.parse::<u64>() else {
        return error_page(logged, &unknown_version_named(number));
    };
    let stored = match master.store().settings_version(target).await {
        Ok(Some(stored)) => stored,
        Ok(None) => return error_page(logged, &unknown_version(target)),
        Err(error) => return error_page(logged, &ApiError::store_unavailable(error)),
    };
    let running = master.settings_version().map(|version| version.number);
    let (status, problems) = refused
        .as_ref()
        .map_or((StatusCode::OK, String::new()), refusal_summary);
    let errors = match refused {
        Some(SettingsError::Refused { errors, .. }) => errors,
        _ => Vec::new(),
    };
    let mut body = format!(
        "<h1>Settings version {target}</h1>{problems}<p class=\"muted\">{} · {}</p>",
        escape_html(&provenance(master, &stored.info)),
        escape_html(&stored.info.summary)
    );
    if running == Some(target) {
        body.push_str("<p>This version is running.</p>");
    } else {
        let _ = write!(
            body,
            "<form method=\"post\" action=\"/settings/rollback/{target}\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <input type=\"hidden\" name=\"base\" value=\"{}\">\
             <button type=\"submit\" id=\"rollback\">Roll back to this version</button> \
             <span class=\"muted\">its text becomes a new version, checked like any change</span></form>",
            escape_html(&logged.session.csrf),
            running.map_or_else(String::new, |number| number.to_string())
        );
    }
    if stored.diff.is_empty() {
        body.push_str("<h2>Changes</h2><p class=\"muted\">The first version.</p>");
    } else {
        body.push_str("<h2>Changes against the version before</h2>");
        body.push_str(&diff(&stored.diff));
    }
    body.push_str("<h2>Text</h2>");
    body.push_str(&listing(&stored.text, &errors));
    body.push_str("<p><a href=\"/settings\">Back to Settings</a></p>");
    page(status, TITLE, Some(&logged.session), &body)
}

/// The status and summary HTML of a refused change: its message, and for a refused text every
/// problem as a list linking to its line (and what needs a restart, if that was the reason).
fn refusal_summary(error: &SettingsError) -> (StatusCode, String) {
    match error {
        SettingsError::Refused { code, errors } => {
            let mut html = format!(
                "<p class=\"error\" role=\"alert\">{}</p>{}",
                escape_html(&refusal_message(code, errors)),
                problem_list(errors)
            );
            if *code == "restart_required" {
                html.push_str(FIXED_NOTE);
            }
            (StatusCode::UNPROCESSABLE_ENTITY, html)
        }
        SettingsError::Conflict { expected, running } => (
            StatusCode::CONFLICT,
            format!(
                "<p class=\"error\" role=\"alert\">Version {running} runs, not version \
                 {expected}; nothing changed.</p>"
            ),
        ),
        SettingsError::Api(error) => (
            error.status,
            format!(
                "<p class=\"error\" role=\"alert\">{}</p>",
                escape_html(&error.message)
            ),
        ),
    }
}

/// The view of a checked text: `Ok` shows its diff against the running version and, if it
/// changes anything, Apply; a refusal shows every problem under its line. `notice` (a
/// conflict) comes first.
fn outcome_view(
    logged: &LoggedIn,
    running: &RunningVersion,
    text: &str,
    notice: Option<&str>,
    outcome: Result<(), SettingsError>,
) -> Response {
    let mut body = String::from("<h1>Settings</h1>");
    if let Some(notice) = notice {
        let _ = write!(
            body,
            "<p class=\"warn\" role=\"alert\">{}</p>",
            escape_html(notice)
        );
    }
    // Compared as the page submits text (LF), so a running file with CRLF line ends does not
    // show every line as changed.
    let running_text = normalize_newlines(&running.text);
    let (summary, unified) = settings_history::diff(&running_text, text);
    let status = match outcome {
        Ok(()) if running_text == text => {
            let _ = write!(
                body,
                "<p class=\"ok\" role=\"status\">Valid, and the same as the running version \
                 {}: nothing to apply.</p>",
                running.number
            );
            StatusCode::OK
        }
        Ok(()) => {
            let _ = write!(
                body,
                "<p class=\"ok\" role=\"status\">Valid. Changes against the running version \
                 {} ({}):</p>{}{}",
                running.number,
                escape_html(&summary),
                diff(&unified),
                apply_form(&logged.session, running.number, text)
            );
            StatusCode::OK
        }
        Err(error) => {
            let (status, summary) = refusal_summary(&error);
            body.push_str(&summary);
            if let SettingsError::Refused { errors, .. } = &error {
                body.push_str("<h2>Your text</h2>");
                body.push_str(&listing(text, errors));
                let _ = write!(
                    body,
                    "<h2>Changes against the running version {}</h2>{}",
                    running.number,
                    diff(&unified)
                );
            }
            status
        }
    };
    body.push_str("<h2>Edit</h2>");
    body.push_str(&editor(&logged.session, running.number, text));
    page(status, TITLE, Some(&logged.session), &body)
}

/// After a conflict: the notice, and the text checked again against the version running
/// now (so Apply, if offered, applies on top of the version whose diff is shown). 409.
async fn conflict_view(master: &Master, logged: &LoggedIn, text: &str, expected: u64) -> Response {
    let running = match running_version(master) {
        Ok(running) => running,
        Err(error) => return error_page(logged, &error),
    };
    let by = match master.store().settings_version(running.number).await {
        Ok(Some(stored)) => format!(" ({})", provenance(master, &stored.info)),
        _ => String::new(),
    };
    let notice = format!(
        "Conflict: version {now} was applied after you opened version {expected}{by}; your \
         text was not applied. The diff below is against version {now}: applying now \
         replaces it.",
        now = running.number
    );
    let outcome = check(master, text);
    let mut response = outcome_view(logged, &running, text, Some(&notice), outcome);
    *response.status_mut() = StatusCode::CONFLICT;
    response
}

/// `text` checked as [`apply_text`] checks it (the same loader, the same restart rules).
fn check(master: &Master, text: &str) -> Result<(), SettingsError> {
    check_size(text)?;
    check_replacement(&master.settings(), text, master.settings_dir())
        .map(drop)
        .map_err(SettingsError::from)
}

/// A page with an error message only.
fn error_page(logged: &LoggedIn, error: &ApiError) -> Response {
    page(
        error.status,
        TITLE,
        Some(&logged.session),
        &format!(
            "<h1>Settings</h1><p class=\"error\">{}</p><p><a href=\"/settings\">Back to Settings</a></p>",
            escape_html(&error.message)
        ),
    )
}

/// "Version N (running) · time by author (source)".
async fn running_line(master: &Master, running: &RunningVersion) -> String {
    let made = match master.store().settings_version(running.number).await {
        Ok(Some(stored)) => format!(" · {}", escape_html(&provenance(master, &stored.info))),
        _ => String::new(),
    };
    format!(
        "<p class=\"running\">Running: <a href=\"/settings/versions/{n}\">version {n}</a>{made}</p>",
        n = running.number
    )
}

fn unknown_version_named(number: &str) -> ApiError {
    ApiError::not_found(
        "unknown_version",
        format!("there is no settings version `{number}`; Settings lists them",),
    )
}

fn parse_base(base: &str) -> Option<u64> {
    base.trim().parse().ok()
}

/// Browsers submit a textarea's line breaks as CRLF; the settings are stored with LF.
fn normalize_newlines(text: &str) -> String {
    text.replace("\r\n", "\n")
}
