//! What a notification says: the webhook's JSON body (docs/alerts.md), the title and the plain
//! text used by ntfy and e-mail, and the sentence stored as the alert's event.

use plantkeeper_control::alerts::{Notice, NoticeStatus};
use serde::Serialize;

/// The webhook body: one JSON object per notification (documented in docs/alerts.md).
#[derive(Debug, Serialize)]
pub struct Payload<'a> {
    /// `firing` or `resolved`.
    pub status: &'static str,
    /// Built-in rule (`node_silent`, ...) or the user rule's name.
    pub rule: &'a str,
    /// `info`, `warning` or `critical`.
    pub severity: &'static str,
    /// The node concerned, or null.
    pub node: Option<&'a str>,
    /// The output concerned, or null.
    pub output: Option<&'a str>,
    /// The sensor concerned, or null.
    pub sensor: Option<&'a str>,
    /// The sentence for the grower.
    pub message: &'a str,
    /// When the alert started firing (RFC 3339, UTC).
    pub started_at: String,
    /// When it resolved (RFC 3339, UTC), null while firing.
    pub resolved_at: Option<String>,
    /// Whether this repeats an alert already sent (`repeat_every`).
    pub repeat: bool,
    /// The master that sends it (its host name).
    pub master: &'a str,
}

/// The webhook body of `notice`.
pub fn payload<'a>(notice: &'a Notice, master: &'a str) -> Payload<'a> {
    let alert = &notice.alert;
    Payload {
        status: notice.status.as_str(),
        rule: &alert.key.rule,
        severity: alert.severity.as_str(),
        node: alert.key.node.as_deref(),
        output: alert.key.output.as_deref(),
        sensor: alert.key.sensor.as_deref(),
        message: &alert.message,
        started_at: alert.started_at.to_string(),
        resolved_at: notice.resolved_at.map(|at| at.to_string()),
        repeat: notice.repeat,
        master,
    }
}

/// A one-line title: `[warning] node_silent bed-1` or `[resolved] node_silent bed-1`.
pub fn title(notice: &Notice) -> String {
    let alert = &notice.alert;
    let status = match notice.status {
        NoticeStatus::Firing => alert.severity.as_str(),
        NoticeStatus::Resolved => "resolved",
    };
    let mut title = format!("[{status}] {}", alert.key.rule);
    let subject = [&alert.key.node, &alert.key.output, &alert.key.sensor]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(".");
    if !subject.is_empty() {
        title.push(' ');
        title.push_str(&subject);
    }
    if notice.repeat {
        title.push_str(" (repeat)");
    }
    title
}

/// The plain-text body of an e-mail.
pub fn text(notice: &Notice, master: &str) -> String {
    let alert = &notice.alert;
    let mut text = format!(
        "{}\n\nstatus: {}\nrule: {}\nseverity: {}\n",
        alert.message,
        notice.status.as_str(),
        alert.key.rule,
        alert.severity
    );
    for (name, value) in [
        ("node", &alert.key.node),
        ("output", &alert.key.output),
        ("sensor", &alert.key.sensor),
    ] {
        if let Some(value) = value {
            text.push_str(&format!("{name}: {value}\n"));
        }
    }
    text.push_str(&format!("started at: {}\n", alert.started_at));
    if let Some(resolved_at) = notice.resolved_at {
        text.push_str(&format!("resolved at: {resolved_at}\n"));
    }
    text.push_str(&format!("master: {master}\n"));
    text
}

/// The sentence stored as the alert's event: `firing warning node_silent: ...`.
pub fn event_message(notice: &Notice) -> String {
    let alert = &notice.alert;
    format!(
        "{} {} {}: {}",
        notice.status.as_str(),
        alert.severity,
        alert.key.rule,
        alert.message
    )
}
