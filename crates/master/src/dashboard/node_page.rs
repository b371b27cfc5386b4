//! `GET /nodes/{id}`: a chart per sensor over a chosen range (downsampled by the store),
//! the node's outputs' ON spans shaded and their thresholds drawn, and the outputs' recent
//! state changes with their reasons.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use jiff::Timestamp;
use plantkeeper_control::condition::Condition;
use plantkeeper_store::{EventRow, EventsQuery, ReadingsQuery, StateChange};

use super::access::{Viewer, percent_encode};
use super::escape::escape_html;
use super::html::page;
use super::overview::{format_reading, local_time};
use super::range::{PRESETS, TimeRange, resolve};
use super::svg::{Chart, Threshold, chart};
use crate::master::Master;
use crate::read_api::MAX_POINTS;

/// Most state changes read for shading and listing.
const MAX_CHANGES: usize = 1_000;
/// State changes listed under the charts.
const LISTED_CHANGES: usize = 50;

/// `GET /nodes/{id}?range=1h|24h|7d|30d` or `?from=&to=`.
pub async fn get_node_page(
    State(master): State<Arc<Master>>,
    viewer: Viewer,
    Path(node_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let session = viewer.session.as_ref();
    let Some(node) = master.settings().nodes.get(&node_id).cloned() else {
        let body = format!(
            "<h1>Unknown node</h1><p class=\"error\">No node <code>{}</code> in the settings.</p>",
            escape_html(&node_id)
        );
        return page(StatusCode::NOT_FOUND, "Unknown node", session, &body);
    };
    let tz = master.settings().master.timezone.clone();
    let range = match resolve(
        query.get("range").map(String::as_str),
        query.get("from").map(String::as_str),
        query.get("to").map(String::as_str),
        master.now(),
        &tz,
        "24h",
    ) {
        Ok(range) => range,
        Err((field, message)) => {
            let body = format!(
                "<h1>{}</h1><p class=\"error\">{field}: {}</p>",
                escape_html(&node_id),
                escape_html(&message)
            );
            return page(StatusCode::BAD_REQUEST, &node_id, session, &body);
        }
    };
    let mut body = format!("<h1>{}</h1>", escape_html(&node_id));
    if session.is_some() && !node.outputs.is_empty() {
        let _ = write!(
            body,
            "<p><a class=\"button\" href=\"/overrides?node={}\">Override this node's outputs</a></p>",
            escape_html(&percent_encode(&node_id))
        );
    }
    body.push_str(&range_picker(&node_id, &range, &master));

    let changes = match state_changes(&master, &node_id, &range).await {
        Ok(changes) => changes,
        Err(message) => return store_error(session, &message),
    };
    let spans = on_spans(&changes, &range);
    let all_spans: Vec<(i64, i64)> = spans.values().flatten().copied().collect();

    let mut sensors: BTreeSet<String> = node.sensors.keys().cloned().collect();
    if let Some(live) = master.live().readings.nodes.get(&node_id) {
        sensors.extend(live.readings.keys().cloned());
    }
    if sensors.is_empty() {
        body.push_str("<p class=\"muted\">This node has no sensors yet.</p>");
    }
    for sensor in &sensors {
        let query = ReadingsQuery {
            node: node_id.clone(),
            sensor: sensor.clone(),
            from_ms: range.from.as_millisecond(),
            to_ms: range.to.as_millisecond(),
            step_ms: range.step_ms(),
            limit: MAX_POINTS,
        };
        let points = match master.store().readings(query).await {
            Ok(points) => points,
            Err(error) => return store_error(session, &error.to_string()),
        };
        let unit = node
            .sensors
            .get(sensor)
            .and_then(|settings| settings.unit.clone())
            .unwrap_or_default();
        let thresholds = thresholds(&master, &node_id, sensor);
        let svg = chart(
            &Chart {
                title: sensor,
                unit: &unit,
                from_ms: range.from.as_millisecond(),
                to_ms: range.to.as_millisecond(),
                points: &points,
                on_spans: &all_spans,
                thresholds: &thresholds,
            },
            |ms| axis_label(&master, ms, &range),
        );
        let latest = points.last().map_or(String::new(), |(_, value)| {
            format!("{} {}", format_reading(*value), escape_html(&unit))
        });
        let _ = write!(
            body,
            "<section class=\"sensor\" data-sensor=\"{name}\"><h2>{name} <span class=\"muted\">{latest} · {count} points{step}</span></h2>{svg}</section>",
            name = escape_html(sensor),
            count = points.len(),
            step = range.step_ms().map_or(String::new(), |ms| format!(
                ", averaged per {}",
                super::overview::format_age_ms(ms)
            )),
        );
    }
    if !node.outputs.is_empty() {
        body.push_str("<p class=\"muted\">Shaded: the node's outputs were ON. Dashed: thresholds of the outputs' conditions.</p>");
    }
    body.push_str("<h2>Recent state changes</h2>");
    if changes.is_empty() {
        body.push_str("<p class=\"muted\">None in this range.</p>");
    } else {
        body.push_str("<table class=\"events\"><tr><th>time</th><th>output</th><th>power</th><th>reason</th></tr>");
        for change in changes.iter().rev().take(LISTED_CHANGES) {
            let (class, word) = if change.power {
                ("on", "ON")
            } else {
                ("off", "OFF")
            };
            let at = Timestamp::from_millisecond(change.at_ms)
                .map_or(String::new(), |at| local_time(&master, at));
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td><span class=\"power {class}\">{word}</span></td><td>{}</td></tr>",
                escape_html(&at),
                escape_html(&change.output),
                escape_html(&change.reason)
            );
        }
        body.push_str("</table>");
    }
    page(StatusCode::OK, &node_id, session, &body)
}

fn store_error(session: Option<&super::sessions::Session>, message: &str) -> Response {
    let body = format!(
        "<p class=\"error\">The store did not answer: {}</p>",
        escape_html(message)
    );
    page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Store unavailable",
        session,
        &body,
    )
}

/// The preset links and the custom range form.
fn range_picker(node_id: &str, range: &TimeRange, master: &Master) -> String {
    let mut html = String::from("<p class=\"ranges\">");
    let base = format!("/nodes/{}", percent_encode(node_id));
    for (name, _) in PRESETS {
        if range.name == name {
            let _ = write!(html, "<span>{name}</span>");
        } else {
            let _ = write!(
                html,
                "<a href=\"{}?range={name}\">{name}</a>",
                escape_html(&base)
            );
        }
    }
    let tz = master.settings().master.timezone.clone();
    let local = |at: Timestamp| {
        at.to_zoned_datetime(tz.clone())
            .strftime("%Y-%m-%dT%H:%M")
            .to_string()
    };
    let _ = write!(
        html,
        "</p><form class=\"filters\" method=\"get\" action=\"{}\">\
         <input type=\"hidden\" name=\"range\" value=\"custom\">\
         <label>from <input type=\"datetime-local\" name=\"from\" value=\"{}\"></label>\
         <label>to <input type=\"datetime-local\" name=\"to\" value=\"{}\"></label>\
         <button type=\"submit\">Show</button></form>",
        escape_html(&base),
        escape_html(&local(range.from)),
        escape_html(&local(range.to)),
    );
    html
}

/// The node's state changes in the range, oldest first.
async fn state_changes(
    master: &Master,
    node_id: &str,
    range: &TimeRange,
) -> Result<Vec<StateChange>, String> {
    let rows = master
        .store()
        .events(EventsQuery {
            from_ms: range.from.as_millisecond(),
            to_ms: range.to.as_millisecond(),
            node: Some(node_id.to_owned()),
            limit: MAX_CHANGES,
        })
        .await
        .map_err(|error| error.to_string())?;
    let mut changes: Vec<StateChange> = rows
        .into_iter()
        .filter_map(|row| match row {
            EventRow::StateChange(change) => Some(change),
            EventRow::Event(_) => None,
        })
        .collect();
    // The store answers newest first; reversed, changes within one millisecond keep their
    // order (an OFF for silence, then the ON of the report that ended it).
    changes.reverse();
    changes.sort_by_key(|change| change.at_ms);
    Ok(changes)
}

/// Per output, the spans it was ON within the range. An output whose first change in the
/// range is to OFF was ON from the range's start; one ON at the end stays ON to the end.
fn on_spans(changes: &[StateChange], range: &TimeRange) -> BTreeMap<String, Vec<(i64, i64)>> {
    let start = range.from.as_millisecond();
    let end = range.to.as_millisecond();
    let mut open: BTreeMap<String, Option<i64>> = BTreeMap::new();
    let mut spans: BTreeMap<String, Vec<(i64, i64)>> = BTreeMap::new();
    for change in changes {
        let since = open
            .entry(change.output.clone())
            .or_insert(if change.power { None } else { Some(start) });
        match (change.power, *since) {
            (true, None) => *since = Some(change.at_ms),
            (false, Some(on_at)) => {
                spans
                    .entry(change.output.clone())
                    .or_default()
                    .push((on_at, change.at_ms));
                *since = None;
            }
            _ => {}
        }
    }
    for (output, since) in open {
        if let Some(on_at) = since {
            spans.entry(output).or_default().push((on_at, end));
        }
    }
    spans
}

/// The numbers any output's conditions compare `node.sensor` with, labelled.
fn thresholds(master: &Master, node_id: &str, sensor: &str) -> Vec<Threshold> {
    let mut found = Vec::new();
    for (owner, settings) in &master.settings().nodes {
        for (output, output_settings) in &settings.outputs {
            let named = [
                ("on", output_settings.on_when.as_ref()),
                ("off", output_settings.off_when.as_ref()),
            ];
            let requires = output_settings
                .require
                .iter()
                .map(|expr| ("require", Some(expr)));
            for (role, expr) in named.into_iter().chain(requires) {
                if let Some(expr) = expr {
                    collect(&expr.root, node_id, sensor, &mut |op, value| {
                        found.push(Threshold {
                            value,
                            label: format!(
                                "{owner}.{output} {role} {op} {}",
                                format_reading(value)
                            ),
                        });
                    });
                }
            }
        }
    }
    found
}

fn collect(condition: &Condition, node: &str, sensor: &str, found: &mut impl FnMut(&str, f64)) {
    match condition {
        Condition::Compare {
            sensor: reference,
            op,
            value,
        } if reference.node == node && reference.sensor == sensor => found(op.symbol(), *value),
        Condition::Compare { .. } | Condition::Output(_) => {}
        Condition::Not(inner) => collect(inner, node, sensor, found),
        Condition::And(terms) | Condition::Or(terms) => {
            for term in terms {
                collect(term, node, sensor, found);
            }
        }
    }
}

/// An axis label: the time of day for ranges up to two days, else the date.
fn axis_label(master: &Master, ms: i64, range: &TimeRange) -> String {
    let Ok(at) = Timestamp::from_millisecond(ms) else {
        return String::new();
    };
    let zoned = at.to_zoned_datetime(master.settings().master.timezone.clone());
    let span_ms = range.to.as_millisecond() - range.from.as_millisecond();
    if span_ms <= 2 * 86_400_000 {
        zoned.strftime("%H:%M").to_string()
    } else {
        zoned.strftime("%b %d").to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(at_ms: i64, power: bool) -> StateChange {
        StateChange {
            at_ms,
            node: "bed-1".to_owned(),
            output: "valve".to_owned(),
            power,
            reason: String::new(),
        }
    }

    #[test]
    fn on_spans_cover_runs_cut_by_the_range() {
        let range = TimeRange {
            from: Timestamp::from_millisecond(0).expect("time"),
            to: Timestamp::from_millisecond(1000).expect("time"),
            name: "custom".to_owned(),
        };
        let spans = on_spans(
            &[
                change(100, false),
                change(300, true),
                change(500, false),
                change(900, true),
            ],
            &range,
        );
        assert_eq!(spans["valve"], vec![(0, 100), (300, 500), (900, 1000)]);
    }
}
