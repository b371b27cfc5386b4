//! `GET /events`: state changes, alerts, overrides, setting changes and starts, newest first,
//! filterable by node, kind and time.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use jiff::Timestamp;
use plantkeeper_store::{EventRow, EventsQuery};

use super::access::Viewer;
use super::escape::escape_html;
use super::html::page;
use super::overview::local_time;
use super::range::{PRESETS, resolve};
use crate::master::Master;
use crate::read_api::MAX_EVENTS;

/// The kinds offered in the filter (any stored kind can be asked for by name).
pub const KINDS: [&str; 6] = [
    "state_change",
    "alert",
    "override_set",
    "override_cleared",
    "settings",
    "master_started",
];

/// `GET /events?node=&kind=&range=` or `&from=&to=`.
pub async fn get_events_page(
    State(master): State<Arc<Master>>,
    viewer: Viewer,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let session = viewer.session.as_ref();
    let node = query.get("node").filter(|node| !node.is_empty()).cloned();
    let kind = query.get("kind").filter(|kind| !kind.is_empty()).cloned();
    let tz = master.settings().master.timezone.clone();
    let problem = |field: &str, message: &str| {
        page(
            StatusCode::BAD_REQUEST,
            "Events",
            session,
            &format!(
                "<h1>Events</h1><p class=\"error\">{}: {}</p>",
                escape_html(field),
                escape_html(message)
            ),
        )
    };
    if let Some(node) = &node
        && !master.settings().nodes.contains_key(node)
    {
        return problem("node", &format!("no node `{node}` in the settings"));
    }
    let range = match resolve(
        query.get("range").map(String::as_str),
        query.get("from").map(String::as_str),
        query.get("to").map(String::as_str),
        master.now(),
        &tz,
        "24h",
    ) {
        Ok(range) => range,
        Err((field, message)) => return problem(field, &message),
    };
    let rows = match master
        .store()
        .events(EventsQuery {
            from_ms: range.from.as_millisecond(),
            to_ms: range.to.as_millisecond(),
            node: node.clone(),
            limit: MAX_EVENTS,
        })
        .await
    {
        Ok(rows) => rows,
        Err(error) => return problem("store", &error.to_string()),
    };
    let mut body = String::from("<h1>Events</h1>");
    body.push_str("<form class=\"filters\" method=\"get\" action=\"/events\"><label>node <select name=\"node\"><option value=\"\">all</option>");
    for id in master.settings().nodes.keys() {
        let selected = if node.as_deref() == Some(id) {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            body,
            "<option value=\"{id}\"{selected}>{id}</option>",
            id = escape_html(id)
        );
    }
    body.push_str(
        "</select></label><label>kind <select name=\"kind\"><option value=\"\">all</option>",
    );
    for name in KINDS {
        let selected = if kind.as_deref() == Some(name) {
            " selected"
        } else {
            ""
        };
        let _ = write!(body, "<option value=\"{name}\"{selected}>{name}</option>");
    }
    body.push_str("</select></label><label>range <select name=\"range\">");
    for (name, _) in PRESETS {
        let selected = if range.name == name { " selected" } else { "" };
        let _ = write!(
            body,
            "<option value=\"{name}\"{selected}>last {name}</option>"
        );
    }
    body.push_str("</select></label><button type=\"submit\">Filter</button></form>");

    let shown: Vec<&EventRow> = rows
        .iter()
        .filter(|row| kind.as_deref().is_none_or(|kind| kind_of(row) == kind))
        .collect();
    if shown.is_empty() {
        body.push_str("<p class=\"muted\">No events match.</p>");
    } else {
        body.push_str(
            "<table class=\"events\"><tr><th>time</th><th>kind</th><th>node</th><th>what</th></tr>",
        );
        for row in &shown {
            let at = Timestamp::from_millisecond(row.at_ms())
                .map_or(String::new(), |at| local_time(&master, at));
            let (node, message) = match row {
                EventRow::StateChange(change) => (
                    Some(change.node.as_str()),
                    format!(
                        "{}.{} {}: {}",
                        change.node,
                        change.output,
                        if change.power { "ON" } else { "OFF" },
                        change.reason
                    ),
                ),
                EventRow::Event(event) => (event.node.as_deref(), event.message.clone()),
            };
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape_html(&at),
                escape_html(kind_of(row)),
                escape_html(node.unwrap_or("")),
                escape_html(&message)
            );
        }
        body.push_str("</table>");
        if rows.len() >= MAX_EVENTS {
            let _ = write!(
                body,
                "<p class=\"muted\">Only the newest {MAX_EVENTS} events of the range were read; narrow it to see older ones.</p>"
            );
        }
    }
    page(StatusCode::OK, "Events", session, &body)
}

fn kind_of(row: &EventRow) -> &str {
    match row {
        EventRow::StateChange(_) => "state_change",
        EventRow::Event(event) => &event.kind,
    }
}
