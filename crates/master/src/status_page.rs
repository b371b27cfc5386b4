//! `GET /`: a minimal, self-refreshing status page (no scripts, nothing fetched) until the
//! dashboard exists. It shows what `GET /api/v1/nodes` shows, read-only. Every text from
//! settings or nodes is HTML-escaped.

use std::fmt::Write;
use std::sync::Arc;

use axum::extract::State;
use axum::response::Html;

use crate::master::Master;
use crate::read_api::{NodeStatus, node_views};

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// Renders the page.
pub async fn get_status_page(State(master): State<Arc<Master>>) -> Html<String> {
    let views = node_views(&master);
    let now = master.now();
    let tz = master.settings().master.timezone.clone();
    let local_now = now
        .to_zoned_datetime(tz)
        .strftime("%Y-%m-%d %H:%M:%S %Z")
        .to_string();
    let mut page = String::with_capacity(4096);
    page.push_str(concat!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
        "<meta http-equiv=\"refresh\" content=\"2\"><title>PlantKeeper</title><style>",
        "body{font-family:system-ui,sans-serif;margin:1rem;background:#f6f8f4;color:#1d2a1d}",
        "table{border-collapse:collapse;margin-bottom:1rem}td,th{padding:.3rem .6rem;border-bottom:1px solid #cdd8c8;text-align:left}",
        ".on{color:#fff;background:#2f7d32;padding:0 .4rem;border-radius:.3rem}.off{color:#fff;background:#777;padding:0 .4rem;border-radius:.3rem}",
        ".online{color:#2f7d32}.stale{color:#b3261e}.never_seen{color:#777}",
        "</style></head><body><h1>PlantKeeper</h1>"
    ));
    let _ = write!(
        page,
        "<p>Master time {} · epoch {} · refreshes every 2 s</p>",
        escape_html(&local_now),
        master.epoch()
    );
    page.push_str("<table><tr><th>node</th><th>status</th><th>last report</th><th>readings</th><th>outputs</th></tr>");
    for view in &views {
        let status = match view.status {
            NodeStatus::Online => "online",
            NodeStatus::Stale => "stale",
            NodeStatus::NeverSeen => "never_seen",
        };
        let age = view.last_report_age_ms.map_or("never".to_owned(), |ms| {
            format!("{:.1} s ago", ms as f64 / 1000.0)
        });
        let readings: Vec<String> = view
            .readings
            .iter()
            .map(|(name, reading)| {
                let unit = reading.unit.as_deref().unwrap_or("");
                format!(
                    "{} {:.1}{}",
                    escape_html(name),
                    reading.value,
                    escape_html(unit)
                )
            })
            .collect();
        let outputs: Vec<String> = view
            .outputs
            .iter()
            .map(|(name, output)| {
                let (class, word) = if output.power {
                    ("on", "ON")
                } else {
                    ("off", "OFF")
                };
                format!(
                    "{} <span class=\"{class}\">{word}</span> {}",
                    escape_html(name),
                    escape_html(&output.reason)
                )
            })
            .collect();
        let _ = write!(
            page,
            "<tr><td>{}</td><td class=\"{status}\">{}</td><td>{age}</td><td>{}</td><td>{}</td></tr>",
            escape_html(&view.id),
            status.replace('_', " "),
            readings.join("<br>"),
            outputs.join("<br>"),
        );
    }
    page.push_str("</table><p>API: <code>/api/v1/nodes</code> (admin token) · <code>/healthz</code></p></body></html>");
    Html(page)
}

#[cfg(test)]
mod tests {
    use super::escape_html;

    #[test]
    fn injected_markup_is_rendered_as_text() {
        assert_eq!(
            escape_html("<script>alert('x')</script>&\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"
        );
    }
}
