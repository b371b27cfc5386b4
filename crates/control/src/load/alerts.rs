//! `[alerts]`: when a node counts as silent, and where notifications go.

use std::time::Duration;

use super::formats::{check_email, check_url};
use super::reader::{DurationLimits, Fields, Reader, Value};
use crate::settings::{AlertChannel, AlertSettings};

/// Default `node_silent_after`.
pub const DEFAULT_NODE_SILENT_AFTER: Duration = Duration::from_secs(120);
/// Limits of `node_silent_after`.
pub const NODE_SILENT_AFTER_LIMITS: DurationLimits =
    DurationLimits::up_to(Duration::from_secs(86_400));

const KEYS: [&str; 2] = ["node_silent_after", "channels"];
const CHANNEL_TYPES: &str = "`webhook`, `ntfy` or `email`";

/// Reads `[alerts]` (absent = silent after 2 minutes, no channels).
pub(super) fn read_alerts(
    reader: &mut Reader<'_>,
    fields: Option<Fields<'_, '_>>,
) -> AlertSettings {
    let mut alerts = AlertSettings {
        node_silent_after: DEFAULT_NODE_SILENT_AFTER,
        channels: Vec::new(),
    };
    let Some(fields) = fields else {
        return alerts;
    };
    reader.reject_unknown_keys(fields, &KEYS, &[]);
    if let Some(value) = fields.get("node_silent_after") {
        let field = fields.field("node_silent_after");
        if let Some(duration) = reader.duration(value, &field, NODE_SILENT_AFTER_LIMITS) {
            alerts.node_silent_after = duration;
        }
    }
    if let Some(value) = fields.get("channels") {
        let field = fields.field("channels");
        let what = "an array of channels like `[{ type = \"ntfy\", url = \"...\" }]`";
        if let Some(items) = reader.array(value, &field, what) {
            for (index, item) in items.iter().enumerate() {
                let item_field = format!("{field}[{index}]");
                if let Some(channel) = read_channel(reader, item, &item_field) {
                    alerts.channels.push(channel);
                }
            }
        }
    }
    alerts
}

fn read_channel(reader: &mut Reader<'_>, value: &Value<'_>, field: &str) -> Option<AlertChannel> {
    let table = reader.table(
        value,
        field,
        "a channel table like `{ type = \"webhook\", url = \"...\" }`",
    )?;
    let span = value.span();
    let fields = Fields {
        table,
        path: field,
        span: &span,
    };
    let Some(type_value) = fields.get("type") else {
        reader.error(
            &span,
            field,
            format!("missing `type`: one of {CHANNEL_TYPES}"),
        );
        return None;
    };
    let kind = reader.string(type_value, &fields.field("type"), CHANNEL_TYPES)?;
    match kind {
        "webhook" | "ntfy" => {
            reader.reject_unknown_keys(fields, &["type", "url"], &[]);
            let url = required_string(reader, fields, "url")?;
            check(reader, fields, "url", check_url(url, &["http", "https"]))?;
            let url = url.to_owned();
            Some(if kind == "webhook" {
                AlertChannel::Webhook { url }
            } else {
                AlertChannel::Ntfy { url }
            })
        }
        "email" => {
            reader.reject_unknown_keys(fields, &["type", "smtp", "from", "to"], &[]);
            let smtp = required_string(reader, fields, "smtp");
            let smtp = smtp.filter(|smtp| {
                check(reader, fields, "smtp", check_url(smtp, &["smtp", "smtps"])).is_some()
            });
            let from = required_string(reader, fields, "from");
            let from =
                from.filter(|from| check(reader, fields, "from", check_email(from)).is_some());
            let to = read_recipients(reader, fields);
            Some(AlertChannel::Email {
                smtp: smtp?.to_owned(),
                from: from?.to_owned(),
                to: to?,
            })
        }
        other => {
            reader.error(
                &type_value.span(),
                &fields.field("type"),
                format!("unknown channel type `{other}`; expected {CHANNEL_TYPES}"),
            );
            None
        }
    }
}

fn required_string<'t>(
    reader: &mut Reader<'_>,
    fields: Fields<'t, '_>,
    key: &str,
) -> Option<&'t str> {
    match fields.get(key) {
        Some(value) => reader.string(value, &fields.field(key), "a string"),
        None => {
            reader.error(fields.span, fields.path, format!("missing `{key}`"));
            None
        }
    }
}

/// Reports a failed format check at `key`; `Some(())` when it passed.
fn check(
    reader: &mut Reader<'_>,
    fields: Fields<'_, '_>,
    key: &str,
    result: Result<(), String>,
) -> Option<()> {
    match result {
        Ok(()) => Some(()),
        Err(message) => {
            if let Some(value) = fields.get(key) {
                reader.error(&value.span(), &fields.field(key), message);
            }
            None
        }
    }
}

fn read_recipients(reader: &mut Reader<'_>, fields: Fields<'_, '_>) -> Option<Vec<String>> {
    let Some(value) = fields.get("to") else {
        reader.error(
            fields.span,
            fields.path,
            "missing `to`: a list of e-mail addresses",
        );
        return None;
    };
    let field = fields.field("to");
    let items = reader.strings(
        value,
        &field,
        "an array of e-mail addresses like `[\"me@example.org\"]`",
    )?;
    if items.is_empty() {
        reader.error(&value.span(), &field, "needs at least one e-mail address");
        return None;
    }
    let mut recipients = Vec::new();
    let mut all_valid = true;
    for (index, (address, span)) in items.iter().enumerate() {
        match check_email(address) {
            Ok(()) => recipients.push((*address).to_owned()),
            Err(message) => {
                all_valid = false;
                reader.error(span, &format!("{field}[{index}]"), message);
            }
        }
    }
    all_valid.then_some(recipients)
}
