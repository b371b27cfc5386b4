//! `GET /overrides`: every output of every node with its decision, reason and active override,
//! what an override cannot bypass (CONTRACT §3.7), and per output the forms "ON for N
//! minutes", "OFF until" a local time and "End override". The forms take the override API's
//! own path ([`crate::overrides::change_override`]): same checks, same events, same decisions.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Arc;
use std::time::Duration;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use jiff::{SignedDuration, Timestamp};
use plantkeeper_control::engine::{Override, ReasonKind};
use serde::Deserialize;

use super::access::{LoggedIn, percent_encode, session_author};
use super::escape::escape_html;
use super::html::page;
use super::overview::{age, local_time};
use super::range::parse_time;
use super::sessions::Session;
use crate::error::ApiError;
use crate::master::Master;
use crate::overrides::{OverrideChange, OverrideEnd, change_override, output_id};
use crate::read_api::NodeStatus;

/// The longest "ON for N minutes": 24 hours.
pub const MAX_MINUTES: u64 = 24 * 60;

/// The fields of the three forms (each form posts `csrf` and its own field).
#[derive(Debug, Default, Deserialize)]
pub struct OverrideForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    minutes: String,
    #[serde(default)]
    until: String,
}

/// A refused form, shown next to its field.
struct FormProblem {
    node: String,
    output: String,
    /// `minutes` or `until`.
    field: &'static str,
    message: String,
    /// What was typed, shown again.
    entered: String,
}

/// `GET /overrides[?node=ID]` (logged-in sessions only).
pub async fn get_overrides_page(
    State(master): State<Arc<Master>>,
    logged_in: LoggedIn,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let node = query.get("node").filter(|node| !node.is_empty());
    if let Some(node) = node
        && !master.settings().nodes.contains_key(node)
    {
        return unknown(
            &logged_in.session,
            &format!("No node `{node}` in the settings."),
        );
    }
    overrides_page(
        &master,
        &logged_in.session,
        node.map(String::as_str),
        StatusCode::OK,
        None,
    )
}

/// `POST /overrides/{node}/{output}/{on|off|end}`: the forms. Accepted: 303 back to the page.
/// Refused: 303 to the login page (no session), 403 (CSRF), 404 (unknown node, output or
/// action), 422 with the message next to the field.
pub async fn post_override_form(
    State(master): State<Arc<Master>>,
    Path((node, output, action)): Path<(String, String, String)>,
    logged_in: LoggedIn,
    parts: Parts,
    Form(form): Form<OverrideForm>,
) -> Response {
    if let Some(forbidden) = logged_in.csrf_refusal(&form.csrf) {
        return forbidden;
    }
    let session = &logged_in.session;
    if let Err(error) = output_id(&master, &node, &output) {
        return unknown(session, &error.message);
    }
    let tz = master.settings().master.timezone.clone();
    let problem = |field: &'static str, message: String| FormProblem {
        node: node.clone(),
        output: output.clone(),
        field,
        message,
        entered: if field == "minutes" {
            form.minutes.clone()
        } else {
            form.until.clone()
        },
    };
    let change = match action.as_str() {
        "on" => match parse_minutes(&form.minutes) {
            Ok(minutes) => OverrideChange::Set {
                power: true,
                end: OverrideEnd::For(Duration::from_secs(minutes * 60)),
                field: "minutes",
            },
            Err(message) => {
                let refused = problem("minutes", message);
                return refusal(&master, session, &refused);
            }
        },
        "off" => match parse_time(form.until.trim(), &tz) {
            Ok(until) => OverrideChange::Set {
                power: false,
                end: OverrideEnd::Until(until),
                field: "until",
            },
            Err(message) => {
                let refused = problem("until", message);
                return refusal(&master, session, &refused);
            }
        },
        "end" => OverrideChange::Clear,
        _ => return unknown(session, &format!("No override action `{action}`.")),
    };
    let author = session_author(&master, &parts);
    match change_override(&master, &node, &output, change, &author).await {
        Ok(_) => Redirect::to(&format!(
            "/overrides#{}",
            percent_encode(&anchor(&node, &output))
        ))
        .into_response(),
        Err(error) => refused_by_api(&master, session, error, problem),
    }
}

/// The page again with the API's refusal next to the field it names, or a page of its own
/// for a refusal that is not about a field (404, 503).
fn refused_by_api(
    master: &Master,
    session: &Session,
    error: ApiError,
    problem: impl Fn(&'static str, String) -> FormProblem,
) -> Response {
    let field = match error.field.as_deref() {
        Some("minutes") => Some("minutes"),
        Some("until") => Some("until"),
        _ => None,
    };
    match field {
        Some(field) if error.status == StatusCode::UNPROCESSABLE_ENTITY => {
            refusal(master, session, &problem(field, error.message))
        }
        _ if error.status == StatusCode::NOT_FOUND => unknown(session, &error.message),
        _ => page(
            error.status,
            "Overrides",
            Some(session),
            &format!(
                "<h1>Overrides</h1><p class=\"error\">{}</p>",
                escape_html(&error.message)
            ),
        ),
    }
}

/// Whole minutes, 1 to [`MAX_MINUTES`].
fn parse_minutes(text: &str) -> Result<u64, String> {
    let minutes = text
        .trim()
        .parse::<u64>()
        .map_err(|_| format!("expected whole minutes from 1 to {MAX_MINUTES}, got `{text}`"))?;
    if minutes == 0 || minutes > MAX_MINUTES {
        return Err(format!(
            "an override lasts 1 to {MAX_MINUTES} minutes (24 h), got {minutes}"
        ));
    }
    Ok(minutes)
}

fn refusal(master: &Master, session: &Session, problem: &FormProblem) -> Response {
    overrides_page(
        master,
        session,
        None,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some(problem),
    )
}

fn unknown(session: &Session, message: &str) -> Response {
    page(
        StatusCode::NOT_FOUND,
        "Not found",
        Some(session),
        &format!(
            "<h1>Not found</h1><p class=\"error\">{}</p><p><a href=\"/overrides\">All overrides</a></p>",
            escape_html(message)
        ),
    )
}

/// The element id of an output's block (the forms come back to it).
fn anchor(node: &str, output: &str) -> String {
    format!("output-{node}.{output}")
}

/// One output as the page shows it, copied out of the live view.
struct OutputRow {
    name: String,
    power: bool,
    reason: String,
    reason_kind: ReasonKind,
    since: Timestamp,
    active: Option<Override>,
    author: Option<String>,
}

/// One node as the page shows it.
struct NodeRow {
    id: String,
    status: NodeStatus,
    outputs: Vec<OutputRow>,
}

/// Every node (or only `only`) and its outputs, read under the live view's lock.
fn snapshot(master: &Master, only: Option<&str>, now: Timestamp) -> Vec<NodeRow> {
    let live = master.live();
    let engine = Arc::clone(&live.engine);
    engine
        .settings()
        .nodes
        .values()
        .filter(|node| only.is_none_or(|only| only == node.id))
        .map(|node| {
            let last_report = live
                .readings
                .nodes
                .get(&node.id)
                .and_then(|node| node.last_report);
            let outputs = engine
                .node_outputs(&node.id)
                .iter()
                .map(|id| {
                    let key = &engine.outputs()[id.0];
                    let state = live.control.output(*id);
                    let author = state.override_.as_ref().and_then(|active| {
                        live.override_author(&key.node, &key.output, active)
                            .map(str::to_owned)
                    });
                    OutputRow {
                        name: key.output.clone(),
                        power: state.power,
                        reason: state.reason.to_string(),
                        reason_kind: state.reason.kind,
                        since: state.since,
                        active: state.override_.clone(),
                        author,
                    }
                })
                .collect();
            NodeRow {
                id: node.id.clone(),
                status: NodeStatus::of(last_report, node.stale_after, now),
                outputs,
            }
        })
        .collect()
}

/// The rule holding an ON override OFF, in plain words; `None` when `kind` is not such a rule.
fn held_off_by(kind: ReasonKind) -> Option<&'static str> {
    match kind {
        ReasonKind::NodeSilent => Some("the node is silent (no report within its stale_after)"),
        ReasonKind::InputMissing => Some("an input has no reading yet"),
        ReasonKind::InputStale => Some("an input is stale"),
        ReasonKind::InputInvalid => {
            Some("an input is invalid (not a number, or outside its range)")
        }
        ReasonKind::RequireFailed => Some("its require is false"),
        ReasonKind::MinOff => Some("the min_off rest after its last OFF"),
        ReasonKind::MaxOn => Some("max_on"),
        ReasonKind::DailyBudget => Some("today's max_on_per_day is spent"),
        _ => None,
    }
}

/// What an override cannot bypass (CONTRACT §3.7, docs/decisions.md).
const RULES: &str = "<section class=\"rules\"><h2>What an override can and cannot do</h2>\
<p>An override replaces the output's <code>on_when</code>/<code>off_when</code> and its \
<code>schedule</code> for its duration (at most 24 h; a master restart ends it). \
OFF takes effect at once. ON never bypasses:</p><ul>\
<li>a missing, stale or invalid input, or a silent node: the output stays OFF;</li>\
<li>a <code>require</code> that is false;</li>\
<li><code>max_on</code>: the run is cut and the override ends;</li>\
<li><code>max_on_per_day</code>: once today's ON time is spent, no ON (a cut ends the override);</li>\
<li>the <code>min_off</code> rest after the last OFF.</li></ul></section>";

fn overrides_page(
    master: &Master,
    session: &Session,
    only: Option<&str>,
    status: StatusCode,
    problem: Option<&FormProblem>,
) -> Response {
    let now = master.now();
    let nodes = snapshot(master, only, now);
    let mut body = String::with_capacity(8 * 1024);
    let _ = write!(
        body,
        "<h1>Overrides</h1><p class=\"muted\">Master time {}</p>{RULES}",
        escape_html(&local_time(master, now))
    );
    if only.is_some() {
        body.push_str("<p><a href=\"/overrides\">All nodes</a></p>");
    }
    let form = FormContext {
        master,
        csrf: &session.csrf,
        now,
        problem,
    };
    for node in &nodes {
        let (class, word) = match node.status {
            NodeStatus::Online => ("online", "online"),
            NodeStatus::Stale => ("stale", "stale"),
            NodeStatus::NeverSeen => ("never-seen", "never seen"),
        };
        let id = escape_html(&node.id);
        let _ = write!(
            body,
            "<section class=\"override-node\" data-node=\"{id}\"><h2><a href=\"/nodes/{href}\">{id}</a> \
             <span class=\"status {class}\">{word}</span></h2>",
            href = escape_html(&percent_encode(&node.id)),
        );
        if node.outputs.is_empty() {
            body.push_str("<p class=\"muted\">No outputs.</p>");
        }
        for output in &node.outputs {
            form.output(&mut body, &node.id, output);
        }
        body.push_str("</section>");
    }
    page(status, "Overrides", Some(session), &body)
}

/// What every output's forms need.
struct FormContext<'a> {
    master: &'a Master,
    csrf: &'a str,
    now: Timestamp,
    problem: Option<&'a FormProblem>,
}

impl FormContext<'_> {
    /// The refusal of `field` of this output's form, if the last post was refused there.
    fn problem(&self, node: &str, output: &str, field: &str) -> Option<&FormProblem> {
        self.problem
            .filter(|p| p.node == node && p.output == output && p.field == field)
    }

    fn output(&self, body: &mut String, node: &str, output: &OutputRow) {
        let (class, word) = if output.power {
            ("on", "ON")
        } else {
            ("off", "OFF")
        };
        let _ = write!(
            body,
            "<article class=\"override-output\" id=\"{anchor}\" data-output=\"{anchor_data}\">\
             <h3>{name} <span class=\"power {class}\">{word}</span></h3>\
             <p class=\"reason\">{reason} <span class=\"muted\">since {since} ({age})</span></p>",
            anchor = escape_html(&anchor(node, &output.name)),
            anchor_data = escape_html(&format!("{node}.{}", output.name)),
            name = escape_html(&output.name),
            reason = escape_html(&output.reason),
            since = escape_html(&local_time(self.master, output.since)),
            age = age(self.now, output.since),
        );
        match &output.active {
            Some(active) => {
                let _ = write!(
                    body,
                    "<p class=\"override active\">Override: <b>{power}</b> until {until}{by}</p>",
                    power = if active.power { "ON" } else { "OFF" },
                    until = escape_html(&local_time(self.master, active.until)),
                    by = output.author.as_deref().map_or(String::new(), |author| {
                        format!(", set by {}", escape_html(author))
                    }),
                );
                if active.power
                    && !output.power
                    && let Some(rule) = held_off_by(output.reason_kind)
                {
                    let _ = write!(
                        body,
                        "<p class=\"held error\">The ON override is held OFF: {} ({}).</p>",
                        escape_html(rule),
                        escape_html(&output.reason)
                    );
                }
            }
            None => body.push_str("<p class=\"override muted\">No override.</p>"),
        }
        let action = |verb: &str| {
            escape_html(&format!(
                "/overrides/{}/{}/{verb}",
                percent_encode(node),
                percent_encode(&output.name)
            ))
        };
        let csrf = format!(
            "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
            escape_html(self.csrf)
        );
        let minutes_problem = self.problem(node, &output.name, "minutes");
        let _ = write!(
            body,
            "<div class=\"override-forms\">\
             <form method=\"post\" action=\"{action}\" class=\"override-on\">{csrf}\
             <label>ON for <input type=\"number\" name=\"minutes\" min=\"1\" max=\"{MAX_MINUTES}\" step=\"1\" value=\"{value}\" required> minutes</label>\
             <button type=\"submit\">Switch ON</button>{error}</form>",
            action = action("on"),
            value = escape_html(minutes_problem.map_or("10", |p| p.entered.as_str())),
            error = field_error(minutes_problem),
        );
        let until_problem = self.problem(node, &output.name, "until");
        let in_an_hour = self
            .now
            .checked_add(SignedDuration::from_hours(1))
            .unwrap_or(self.now);
        let default_until = self
            .master
            .settings()
            .master
            .timezone
            .to_datetime(in_an_hour)
            .strftime("%Y-%m-%dT%H:%M")
            .to_string();
        let _ = write!(
            body,
            "<form method=\"post\" action=\"{action}\" class=\"override-off\">{csrf}\
             <label>OFF until <input type=\"datetime-local\" name=\"until\" value=\"{value}\" required></label>\
             <button type=\"submit\">Switch OFF</button>{error}</form>",
            action = action("off"),
            value =
                escape_html(until_problem.map_or(default_until.as_str(), |p| p.entered.as_str())),
            error = field_error(until_problem),
        );
        if output.active.is_some() {
            let _ = write!(
                body,
                "<form method=\"post\" action=\"{action}\" class=\"override-end\">{csrf}\
                 <button type=\"submit\">End override</button></form>",
                action = action("end"),
            );
        }
        body.push_str("</div></article>");
    }
}

/// The refusal's message next to its field.
fn field_error(problem: Option<&FormProblem>) -> String {
    problem.map_or(String::new(), |problem| {
        format!(
            "<p class=\"error field-error\" role=\"alert\">{}: {}</p>",
            problem.field,
            escape_html(&problem.message)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minutes_are_whole_and_at_most_a_day() {
        assert_eq!(parse_minutes("10"), Ok(10));
        assert_eq!(parse_minutes(" 1440 "), Ok(1440));
        for bad in ["0", "1441", "1.5", "-3", "", "ten"] {
            assert!(parse_minutes(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn only_rules_that_hold_an_override_off_are_named() {
        assert!(held_off_by(ReasonKind::RequireFailed).is_some());
        assert!(held_off_by(ReasonKind::MinOff).is_some());
        assert!(held_off_by(ReasonKind::Override).is_none());
        assert!(held_off_by(ReasonKind::Condition).is_none());
    }
}
