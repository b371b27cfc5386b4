//! Settings a running master cannot change: where it listens, its store, its mDNS
//! advertisement, its alert channels, its storage options and its logging are set up once at
//! start. A new settings document that changes
//! one of them is refused as a whole (nothing half-applied), each change positioned like any
//! other config error.

use toml::de::{DeTable, DeValue};

use super::error::ConfigError;
use super::source::LineIndex;
use crate::settings::Settings;

/// Every setting of `new` (loaded from `text`) that differs from `running` and needs a
/// restart, as positioned errors (at the key in `text`, or at its section or the start of the
/// text when the key is left to its default). Empty when `new` can be applied while running.
pub fn restart_required(
    file_name: &str,
    text: &str,
    running: &Settings,
    new: &Settings,
) -> Vec<ConfigError> {
    let mut changed: Vec<(&str, &str, String)> = Vec::new();
    if running.master.listen != new.master.listen {
        changed.push((
            "master",
            "listen",
            format!(
                "changing `listen` ({} → {}) needs a restart: edit the settings file and restart the master",
                running.master.listen, new.master.listen
            ),
        ));
    }
    if running.master.database != new.master.database {
        changed.push((
            "master",
            "database",
            "changing `database` needs a restart (the settings history lives in the database): edit the settings file and restart the master".to_owned(),
        ));
    }
    if running.master.mdns != new.master.mdns {
        changed.push((
            "master",
            "mdns",
            "changing `mdns` needs a restart: edit the settings file and restart the master"
                .to_owned(),
        ));
    }
    if running.master.mdns_name != new.master.mdns_name {
        changed.push((
            "master",
            "mdns_name",
            "changing `mdns_name` needs a restart: edit the settings file and restart the master"
                .to_owned(),
        ));
    }
    if running.alerts.channels != new.alerts.channels {
        changed.push((
            "alerts",
            "channels",
            "changing the alert `channels` needs a restart (their senders start with the master): edit the settings file and restart the master".to_owned(),
        ));
    }
    if running.alerts.repeat_every != new.alerts.repeat_every {
        changed.push((
            "alerts",
            "repeat_every",
            "changing `repeat_every` needs a restart: edit the settings file and restart the master"
                .to_owned(),
        ));
    }
    if running.storage != new.storage {
        changed.push((
            "storage",
            "",
            "changing [storage] needs a restart (the store applies it when it opens): edit the settings file and restart the master".to_owned(),
        ));
    }
    if running.telemetry != new.telemetry {
        changed.push((
            "telemetry",
            "",
            "changing [telemetry] needs a restart (logging is set up at start): edit the settings file and restart the master".to_owned(),
        ));
    }
    if changed.is_empty() {
        return Vec::new();
    }
    let lines = LineIndex::new(text);
    let document = DeTable::parse(text).ok();
    changed
        .into_iter()
        .map(|(section, key, message)| {
            let offset = document
                .as_ref()
                .map_or(0, |root| key_offset(root.get_ref(), section, key));
            let (line, column) = lines.line_column(offset);
            ConfigError {
                file: file_name.to_owned(),
                line,
                column,
                field: if key.is_empty() {
                    section.to_owned()
                } else {
                    format!("{section}.{key}")
                },
                message,
            }
        })
        .collect()
}

/// Where `section.key` starts in the text: the key, else the section, else the start (an
/// empty `key` means the section itself).
fn key_offset(root: &DeTable<'_>, section: &str, key: &str) -> usize {
    let Some(table) = root.get(section) else {
        return 0;
    };
    match table.get_ref() {
        DeValue::Table(fields) if !key.is_empty() => fields
            .iter()
            .find(|(name, _)| name.get_ref().as_ref() == key)
            .map_or(table.span().start, |(name, _)| name.span().start),
        _ => table.span().start,
    }
}
