//! `[dashboard]`: the browser dashboard's public read-only view, password file and trusted
//! proxies.

use std::path::PathBuf;

use super::reader::{Fields, Reader};
use crate::settings::{DashboardSettings, IpNetwork};

const KEYS: [&str; 3] = ["public_read", "password_file", "trusted_proxies"];

/// Reads `[dashboard]` (absent = login required, password file `dashboard-password` next to
/// the settings file, no trusted proxy).
pub(super) fn read_dashboard(
    reader: &mut Reader<'_>,
    fields: Option<Fields<'_, '_>>,
) -> DashboardSettings {
    let mut dashboard = DashboardSettings::default();
    let Some(fields) = fields else {
        return dashboard;
    };
    reader.reject_unknown_keys(fields, &KEYS, &[]);
    if let Some(value) = fields.get("public_read")
        && let Some(flag) = reader.boolean(value, &fields.field("public_read"))
    {
        dashboard.public_read = flag;
    }
    if let Some(value) = fields.get("password_file") {
        let field = fields.field("password_file");
        if let Some(text) = reader.string(value, &field, "a file path string") {
            if text.trim().is_empty() {
                reader.error(&value.span(), &field, "the path must not be empty");
            } else {
                dashboard.password_file = PathBuf::from(text);
            }
        }
    }
    if let Some(value) = fields.get("trusted_proxies") {
        let field = fields.field("trusted_proxies");
        let what = "a list of networks like `[\"127.0.0.1/32\"]`";
        for (index, (text, span)) in reader
            .strings(value, &field, what)
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            match text.parse::<IpNetwork>() {
                Ok(network) => dashboard.trusted_proxies.push(network),
                Err(message) => reader.error(&span, &format!("{field}[{index}]"), message),
            }
        }
    }
    dashboard
}
