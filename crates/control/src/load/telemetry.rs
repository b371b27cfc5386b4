//! `[telemetry]`: log level, log format, Loki push.

use std::collections::BTreeMap;

use super::formats::{check_log_filter, check_url, is_label_name};
use super::reader::{Fields, Reader};
use crate::settings::{LogFormat, TelemetrySettings};

/// Default `log` filter.
pub const DEFAULT_LOG: &str = "info";

const KEYS: [&str; 4] = ["log", "log_format", "loki_url", "loki_labels"];

/// Labels the master sets on every Loki stream itself; `loki_labels` may not redefine them.
pub const LOKI_RESERVED_LABELS: [&str; 4] = ["app", "host", "level", "kind"];

/// At most this many `loki_labels`: every label multiplies Loki's streams and index.
pub const MAX_LOKI_LABELS: usize = 8;

/// The longest `loki_labels` value, in characters.
pub const MAX_LOKI_LABEL_VALUE: usize = 128;

/// Reads `[telemetry]` (absent = `info`, text, no Loki).
pub(super) fn read_telemetry(
    reader: &mut Reader<'_>,
    fields: Option<Fields<'_, '_>>,
) -> TelemetrySettings {
    let mut telemetry = TelemetrySettings {
        log: DEFAULT_LOG.to_owned(),
        log_format: LogFormat::Text,
        loki_url: None,
        loki_labels: BTreeMap::new(),
    };
    let Some(fields) = fields else {
        return telemetry;
    };
    reader.reject_unknown_keys(fields, &KEYS, &[]);
    if let Some(value) = fields.get("log") {
        let field = fields.field("log");
        if let Some(text) = reader.string(value, &field, "a log filter string like `info`") {
            match check_log_filter(text) {
                Ok(()) => telemetry.log = text.to_owned(),
                Err(message) => reader.error(&value.span(), &field, message),
            }
        }
    }
    if let Some(value) = fields.get("log_format") {
        let field = fields.field("log_format");
        match reader.string(value, &field, "`\"text\"` or `\"json\"`") {
            Some("text") => telemetry.log_format = LogFormat::Text,
            Some("json") => telemetry.log_format = LogFormat::Json,
            Some(other) => reader.error(
                &value.span(),
                &field,
                format!("expected `text` or `json`, got `{other}`"),
            ),
            None => {}
        }
    }
    if let Some(value) = fields.get("loki_url") {
        let field = fields.field("loki_url");
        if let Some(text) =
            reader.string(value, &field, "a URL string like `http://127.0.0.1:3100`")
        {
            match check_loki_url(text) {
                Ok(()) => telemetry.loki_url = Some(text.to_owned()),
                Err(message) => reader.error(&value.span(), &field, message),
            }
        }
    }
    if let Some(value) = fields.get("loki_labels") {
        let field = fields.field("loki_labels");
        if let Some(labels) = reader.table(
            value,
            &field,
            "a table of labels like `{ site = \"greenhouse\" }`",
        ) {
            if labels.len() > MAX_LOKI_LABELS {
                reader.error(
                    &value.span(),
                    &field,
                    format!(
                        "{} labels; at most {MAX_LOKI_LABELS} (each one multiplies Loki's streams)",
                        labels.len()
                    ),
                );
            }
            for (key, label) in labels.iter() {
                let name = key.get_ref().as_ref();
                let label_field = format!("{field}.{name}");
                if let Err(message) = check_loki_label_name(name) {
                    reader.error(&key.span(), &label_field, message);
                    continue;
                }
                if let Some(text) = reader.string(label, &label_field, "a string") {
                    if text.is_empty() || text.chars().count() > MAX_LOKI_LABEL_VALUE {
                        reader.error(
                            &label.span(),
                            &label_field,
                            format!("a label value has 1 to {MAX_LOKI_LABEL_VALUE} characters"),
                        );
                        continue;
                    }
                    telemetry
                        .loki_labels
                        .insert(name.to_owned(), text.to_owned());
                }
            }
        }
    }
    telemetry
}

/// A static Loki label name: Prometheus label syntax, not one the master sets itself, not
/// reserved by Loki (`__` prefix).
fn check_loki_label_name(name: &str) -> Result<(), String> {
    if !is_label_name(name) {
        return Err(format!(
            "invalid label name `{name}`: use letters, digits and `_`, not starting with a digit"
        ));
    }
    if name.starts_with("__") {
        return Err(format!(
            "label names starting with `__` are reserved by Loki, got `{name}`"
        ));
    }
    if LOKI_RESERVED_LABELS.contains(&name) {
        return Err(format!(
            "`{name}` is set by PlantKeeper itself (reserved: {})",
            LOKI_RESERVED_LABELS.join(", ")
        ));
    }
    Ok(())
}

/// `http://host[:port][/path]`: the built-in client speaks plain HTTP only.
fn check_loki_url(text: &str) -> Result<(), String> {
    if text.starts_with("https://") {
        return Err(format!(
            "`{text}`: the built-in Loki client speaks plain http:// only; push to a Loki (or a \
             TLS-terminating proxy) reachable over http://"
        ));
    }
    check_url(text, &["http"])?;
    if text.contains(['?', '#']) {
        return Err(format!(
            "`{text}` has a query or fragment; give Loki's base URL like `http://127.0.0.1:3100`"
        ));
    }
    let authority = text["http://".len()..]
        .split('/')
        .next()
        .unwrap_or_default();
    if authority.contains('@') {
        return Err(format!(
            "`{text}`: credentials in the URL are not supported"
        ));
    }
    if let Some((_, port)) = authority.rsplit_once(':')
        && !authority.ends_with(']')
        && port.parse::<u16>().is_err()
    {
        return Err(format!(
            "`{text}`: the port must be a number from 0 to 65535"
        ));
    }
    Ok(())
}
