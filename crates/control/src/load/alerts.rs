//! `[alerts]`: when a node counts as silent, how often a firing alert repeats, where
//! notifications go, and the user's threshold rules (`[[alerts.rules]]`).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use super::formats::{check_email, check_url};
use super::reader::{DurationLimits, Fields, Reader, Value};
use crate::alerts::BUILT_IN_RULES;
use crate::condition::parse::{is_valid_node_id, parse_condition};
use crate::condition::resolve::{OutputIndex, resolve_condition};
use crate::condition::{ConditionExpr, ConditionInput};
use crate::settings::{AlertChannel, AlertRule, AlertSettings, ChannelTarget, Severity};

/// Default `node_silent_after`.
pub const DEFAULT_NODE_SILENT_AFTER: Duration = Duration::from_secs(120);
/// Limits of `node_silent_after`.
pub const NODE_SILENT_AFTER_LIMITS: DurationLimits =
    DurationLimits::up_to(Duration::from_secs(86_400));
/// Default `repeat_every`.
pub const DEFAULT_REPEAT_EVERY: Duration = Duration::from_secs(4 * 3600);
/// Limits of `repeat_every`.
pub const REPEAT_EVERY_LIMITS: DurationLimits = DurationLimits {
    min: Duration::from_secs(1),
    max: Duration::from_secs(7 * 86_400),
};
/// Limits of a rule's `for`.
pub const RULE_FOR_LIMITS: DurationLimits = DurationLimits::up_to(Duration::from_secs(86_400));
/// Default `max_per_hour` of a channel.
pub const DEFAULT_MAX_PER_HOUR: u32 = 30;
/// Largest `max_per_hour` of a channel.
pub const MAX_MAX_PER_HOUR: u32 = 3600;

const KEYS: [&str; 4] = ["node_silent_after", "repeat_every", "channels", "rules"];
const CHANNEL_TYPES: &str = "`webhook`, `ntfy` or `email`";
const COMMON_CHANNEL_KEYS: [&str; 4] = ["type", "min_severity", "max_per_hour", "ca_file"];
const RULE_KEYS: [&str; 5] = ["name", "when", "for", "severity", "node"];
const SEVERITIES: &str = "`info`, `warning` or `critical`";

/// Reads `[alerts]` (absent = silent after 2 minutes, no channels, no rules).
pub(super) fn read_alerts(
    reader: &mut Reader<'_>,
    fields: Option<Fields<'_, '_>>,
    index: &OutputIndex,
) -> AlertSettings {
    let mut alerts = AlertSettings {
        node_silent_after: DEFAULT_NODE_SILENT_AFTER,
        repeat_every: DEFAULT_REPEAT_EVERY,
        channels: Vec::new(),
        rules: Vec::new(),
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
    if let Some(value) = fields.get("repeat_every") {
        let field = fields.field("repeat_every");
        if let Some(duration) = reader.duration(value, &field, REPEAT_EVERY_LIMITS) {
            alerts.repeat_every = duration;
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
    if let Some(value) = fields.get("rules") {
        let field = fields.field("rules");
        let what = "an array of rules `[[alerts.rules]]`";
        if let Some(items) = reader.array(value, &field, what) {
            let mut names = BTreeSet::new();
            for (position, item) in items.iter().enumerate() {
                let item_field = format!("{field}[{position}]");
                if let Some(rule) = read_rule(reader, item, &item_field, index, &mut names) {
                    alerts.rules.push(rule);
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
    let own_keys: &[&str] = match kind {
        "webhook" | "ntfy" => &["url"],
        "email" => &["smtp", "from", "to", "username", "password_file"],
        other => {
            reader.error(
                &type_value.span(),
                &fields.field("type"),
                format!("unknown channel type `{other}`; expected {CHANNEL_TYPES}"),
            );
            return None;
        }
    };
    let known: Vec<&str> = COMMON_CHANNEL_KEYS
        .iter()
        .chain(own_keys)
        .copied()
        .collect();
    reader.reject_unknown_keys(
        fields,
        &known,
        &[("password", "in a file named by `password_file`")],
    );
    let min_severity = match fields.get("min_severity") {
        Some(value) => read_severity(reader, value, &fields.field("min_severity")),
        None => Some(Severity::Info),
    };
    let max_per_hour = read_max_per_hour(reader, fields);
    let ca_file = optional_path(reader, fields, "ca_file");
    let target = if kind == "email" {
        read_email(reader, fields)
    } else {
        let url = required_string(reader, fields, "url")?;
        check(reader, fields, "url", check_url(url, &["http", "https"]))?;
        let url = url.to_owned();
        Some(if kind == "webhook" {
            ChannelTarget::Webhook { url }
        } else {
            ChannelTarget::Ntfy { url }
        })
    };
    Some(AlertChannel {
        target: target?,
        min_severity: min_severity?,
        max_per_hour: max_per_hour?,
        ca_file: ca_file?,
    })
}

fn read_email(reader: &mut Reader<'_>, fields: Fields<'_, '_>) -> Option<ChannelTarget> {
    let smtp = required_string(reader, fields, "smtp");
    let smtp = smtp.filter(|smtp| {
        check(reader, fields, "smtp", check_url(smtp, &["smtp", "smtps"])).is_some()
    });
    let from = required_string(reader, fields, "from");
    let from = from.filter(|from| check(reader, fields, "from", check_email(from)).is_some());
    let to = read_recipients(reader, fields);
    let username = match fields.get("username") {
        Some(value) => reader
            .string(value, &fields.field("username"), "a string")
            .map(|name| Some(name.to_owned())),
        None => Some(None),
    };
    let password_file = optional_path(reader, fields, "password_file");
    let (username, password_file) = (username?, password_file?);
    if username.is_some() != password_file.is_some() {
        let (present, missing) = if username.is_some() {
            ("username", "password_file")
        } else {
            ("password_file", "username")
        };
        if let Some(value) = fields.get(present) {
            reader.error(
                &value.span(),
                &fields.field(present),
                format!("`{present}` needs `{missing}` too: set both or neither"),
            );
        }
        return None;
    }
    Some(ChannelTarget::Email {
        smtp: smtp?.to_owned(),
        from: from?.to_owned(),
        to: to?,
        username,
        password_file,
    })
}

/// `key` as an optional path: `Some(None)` when absent, `None` after an error.
fn optional_path(
    reader: &mut Reader<'_>,
    fields: Fields<'_, '_>,
    key: &str,
) -> Option<Option<PathBuf>> {
    let Some(value) = fields.get(key) else {
        return Some(None);
    };
    let field = fields.field(key);
    let text = reader.string(value, &field, "a file path string")?;
    if text.trim().is_empty() {
        reader.error(
            &value.span(),
            &field,
            "expected a file path, got an empty string",
        );
        return None;
    }
    Some(Some(PathBuf::from(text)))
}

fn read_severity(reader: &mut Reader<'_>, value: &Value<'_>, field: &str) -> Option<Severity> {
    let name = reader.string(value, field, SEVERITIES)?;
    let severity = Severity::from_name(name);
    if severity.is_none() {
        reader.error(
            &value.span(),
            field,
            format!("unknown severity `{name}`; expected {SEVERITIES}"),
        );
    }
    severity
}

fn read_max_per_hour(reader: &mut Reader<'_>, fields: Fields<'_, '_>) -> Option<u32> {
    let Some(value) = fields.get("max_per_hour") else {
        return Some(DEFAULT_MAX_PER_HOUR);
    };
    let field = fields.field("max_per_hour");
    let number = reader.number(value, &field)?;
    if number.fract() != 0.0 || !(1.0..=f64::from(MAX_MAX_PER_HOUR)).contains(&number) {
        reader.error(
            &value.span(),
            &field,
            format!("expected a whole number from 1 to {MAX_MAX_PER_HOUR}, got {number}"),
        );
        return None;
    }
    // In range 1..=3600 and whole, so the conversion is exact.
    Some(number as u32)
}

fn read_rule(
    reader: &mut Reader<'_>,
    value: &Value<'_>,
    field: &str,
    index: &OutputIndex,
    names: &mut BTreeSet<String>,
) -> Option<AlertRule> {
    let table = reader.table(value, field, "a rule table `[[alerts.rules]]`")?;
    let span = value.span();
    let fields = Fields {
        table,
        path: field,
        span: &span,
    };
    reader.reject_unknown_keys(fields, &RULE_KEYS, &[("hold_for", "as `for`")]);
    let name = required_string(reader, fields, "name").filter(|name| {
        let Some(value) = fields.get("name") else {
            return false;
        };
        let problem = if !is_valid_node_id(name) {
            Some(format!(
                "expected a rule name of lowercase letters, digits, `_` and `-` (at most 63), got `{name}`"
            ))
        } else if BUILT_IN_RULES.contains(name) {
            Some(format!("`{name}` is the name of a built-in rule; choose another"))
        } else if !names.insert((*name).to_owned()) {
            Some(format!("another rule is already named `{name}`"))
        } else {
            None
        };
        match problem {
            Some(message) => {
                reader.error(&value.span(), &fields.field("name"), message);
                false
            }
            None => true,
        }
    });
    let node = match fields.get("node") {
        Some(value) => {
            let node_field = fields.field("node");
            let node = reader.string(value, &node_field, "a node id string")?;
            if !index.contains_key(node) {
                reader.error(&value.span(), &node_field, format!("unknown node `{node}`"));
                return None;
            }
            Some(node.to_owned())
        }
        None => None,
    };
    let hold_for = match fields.get("for") {
        Some(value) => reader.duration(value, &fields.field("for"), RULE_FOR_LIMITS),
        None => Some(Duration::ZERO),
    };
    let severity = match fields.get("severity") {
        Some(value) => read_severity(reader, value, &fields.field("severity")),
        None => Some(Severity::Warning),
    };
    let when = read_when(reader, fields, node.as_deref(), index);
    Some(AlertRule {
        name: name?.to_owned(),
        when: when?,
        hold_for: hold_for?,
        severity: severity?,
        node,
    })
}

/// The rule's `when`, resolved with `node` as the owner of bare sensor names; without `node`,
/// every sensor must be written `node.sensor`.
fn read_when(
    reader: &mut Reader<'_>,
    fields: Fields<'_, '_>,
    node: Option<&str>,
    index: &OutputIndex,
) -> Option<ConditionExpr> {
    let text = required_string(reader, fields, "when")?;
    let value = fields.get("when")?;
    let span = value.span();
    let field = fields.field("when");
    let raw = match parse_condition(text) {
        Ok(raw) => raw,
        Err(error) => {
            let offset = reader.lines.inside_string(&span, error.offset);
            reader.error_at(offset, &field, error.message);
            return None;
        }
    };
    let root = match resolve_condition(&raw, node.unwrap_or(""), index) {
        Ok(root) => root,
        Err(errors) => {
            for error in errors {
                let offset = reader.lines.inside_string(&span, error.offset);
                reader.error_at(offset, &field, error.message);
            }
            return None;
        }
    };
    let mut bare = None;
    root.visit_inputs(&mut |input| {
        if let ConditionInput::Sensor(sensor) = input
            && sensor.node.is_empty()
            && bare.is_none()
        {
            bare = Some(sensor.written.clone());
        }
    });
    if let Some(sensor) = bare {
        reader.error(
            &span,
            &field,
            format!("`{sensor}` names no node: write `NODE.{sensor}` or set `node` on the rule"),
        );
        return None;
    }
    Some(ConditionExpr {
        source: text.trim().to_owned(),
        root,
    })
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
