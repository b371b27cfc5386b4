//! `GET /`: every node with status, newest readings (with sparklines), outputs with their
//! reasons, and firing alerts. `GET /overview.json` returns the same content for the page's
//! script, which refreshes it every few seconds without reloading.

use std::fmt::Write;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use jiff::Timestamp;

use super::access::Viewer;
use super::escape::escape_html;
use super::html::page;
use super::sparklines::Sparklines;
use crate::master::Master;
use crate::read_api::{NodeStatus, node_views};

/// How often the page's script asks for fresh content.
pub const REFRESH_SECONDS: u32 = 5;

/// `GET /` for a viewer.
pub async fn overview_page(master: &Master, viewer: &Viewer) -> Response {
    let content = overview_html(master).await;
    let body = format!(
        "<div id=\"overview\" data-refresh=\"/overview.json\" data-every=\"{REFRESH_SECONDS}\">{content}</div>"
    );
    page(StatusCode::OK, "Overview", viewer.session.as_ref(), &body)
}

/// `GET /overview.json`: `{"html": "..."}`, the overview's content rendered (and escaped)
/// on the server.
pub async fn get_overview_json(
    State(master): State<Arc<Master>>,
    _viewer: Viewer,
) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "html": overview_html(&master).await }))
}

/// The overview's content.
pub async fn overview_html(master: &Master) -> String {
    let sparklines = master.dashboard().sparklines.current(master).await;
    render(master, &sparklines)
}

fn render(master: &Master, sparklines: &Sparklines) -> String {
    let now = master.now();
    let mut html = String::with_capacity(16 * 1024);
    let _ = write!(
        html,
        "<p class=\"muted\">Master time {} · epoch {} · live</p>",
        escape_html(&local_time(master, now)),
        master.epoch()
    );
    let alerts = master.firing_alerts();
    if alerts.is_empty() {
        html.push_str(
            "<section class=\"alerts none\"><h2>Alerts</h2><p>None firing.</p></section>",
        );
    } else {
        html.push_str("<section class=\"alerts\"><h2>Alerts firing</h2><ul>");
        for alert in &alerts {
            let _ = write!(
                html,
                "<li class=\"sev-{severity}\"><b>{severity}</b> {rule}: {message} <span class=\"muted\">since {since}</span></li>",
                severity = alert.severity,
                rule = escape_html(&alert.key.rule),
                message = escape_html(&alert.message),
                since = age(now, alert.started_at),
            );
        }
        html.push_str("</ul></section>");
    }
    html.push_str("<section class=\"nodes\">");
    for view in node_views(master) {
        let (class, word) = match view.status {
            NodeStatus::Online => ("online", "online"),
            NodeStatus::Stale => ("stale", "stale"),
            NodeStatus::NeverSeen => ("never-seen", "never seen"),
        };
        let last = view
            .last_report_age_ms
            .map_or("no report yet".to_owned(), |ms| {
                format!("last report {} ago", format_age_ms(ms))
            });
        let id = escape_html(&view.id);
        let _ = write!(
            html,
            "<article class=\"node\" data-node=\"{id}\"><h3><a href=\"/nodes/{id}\">{id}</a> \
             <span class=\"status {class}\">{word}</span></h3><p class=\"muted\">{last}</p>",
        );
        if !view.readings.is_empty() {
            html.push_str("<table class=\"readings\">");
            for (sensor, reading) in &view.readings {
                let spark = sparklines
                    .get(&(view.id.clone(), sensor.clone()))
                    .map_or(String::new(), |points| super::svg::sparkline(points));
                let _ = write!(
                    html,
                    "<tr><th>{}</th><td class=\"value\">{} {}</td><td class=\"muted\">{} ago</td><td>{spark}</td></tr>",
                    escape_html(sensor),
                    format_reading(reading.value),
                    escape_html(reading.unit.as_deref().unwrap_or("")),
                    format_age_ms(reading.age_ms),
                );
            }
            html.push_str("</table>");
        }
        if !view.outputs.is_empty() {
            html.push_str("<ul class=\"outputs\">");
            for (name, output) in &view.outputs {
                let (class, word) = if output.power {
                    ("on", "ON")
                } else {
                    ("off", "OFF")
                };
                let since = output
                    .since
                    .parse::<Timestamp>()
                    .map_or(String::new(), |at| format!("for {}", age(now, at)));
                let _ = write!(
                    html,
                    "<li><span class=\"power {class}\">{word}</span> <b>{}</b> {} <span class=\"muted\">{since}</span></li>",
                    escape_html(name),
                    escape_html(&output.reason),
                );
            }
            html.push_str("</ul>");
        }
        html.push_str("</article>");
    }
    html.push_str("</section>");
    html
}

/// `now` in the master's time zone.
pub fn local_time(master: &Master, at: Timestamp) -> String {
    at.to_zoned_datetime(master.settings().master.timezone.clone())
        .strftime("%Y-%m-%d %H:%M:%S %Z")
        .to_string()
}

/// A reading for display: up to two decimals.
pub fn format_reading(value: f64) -> String {
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// How long ago `at` was.
pub fn age(now: Timestamp, at: Timestamp) -> String {
    let ms = now.duration_since(at).as_millis();
    format_age_ms(i64::try_from(ms).unwrap_or(i64::MAX))
}

/// A duration in ms as `12 s`, `5 min`, `3 h 20 min` or `2 d 4 h`.
pub fn format_age_ms(ms: i64) -> String {
    let seconds = ms.max(0) / 1000;
    match seconds {
        0..60 => format!("{seconds} s"),
        60..3600 => format!("{} min", seconds / 60),
        3600..86_400 => format!("{} h {} min", seconds / 3600, seconds % 3600 / 60),
        _ => format!("{} d {} h", seconds / 86_400, seconds % 86_400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_naturally() {
        assert_eq!(format_age_ms(-5), "0 s");
        assert_eq!(format_age_ms(59_999), "59 s");
        assert_eq!(format_age_ms(61_000), "1 min");
        assert_eq!(format_age_ms(3_600_000 * 3 + 60_000 * 20), "3 h 20 min");
        assert_eq!(format_age_ms(86_400_000 * 2 + 3_600_000 * 4), "2 d 4 h");
        assert_eq!(format_reading(41.5), "41.5");
        assert_eq!(format_reading(20.0), "20");
    }
}
