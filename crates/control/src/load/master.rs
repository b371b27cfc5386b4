//! `[master]`: listen address, database, time zone, location, admin token, mDNS.

use std::net::{Ipv4Addr, SocketAddr};

use super::formats::{check_database, parse_sha256_hex};
use super::mdns::{DEFAULT_MDNS_NAME, read_mdns};
use super::reader::{Fields, Reader, Value};
use crate::schedule::Location;
use crate::settings::MasterSettings;

/// Default `listen`.
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::UNSPECIFIED), 8001);
/// Default `database`.
pub const DEFAULT_DATABASE: &str = "sqlite://plantkeeper.db";
/// Default `timezone`.
pub const DEFAULT_TIMEZONE: &str = "UTC";

const KEYS: [&str; 8] = [
    "listen",
    "database",
    "timezone",
    "latitude",
    "longitude",
    "admin_token_sha256",
    "mdns",
    "mdns_name",
];

const MISPLACED: [(&str, &str); 7] = [
    ("report_every", "in [defaults] or [nodes.ID]"),
    ("stale_after", "in [defaults] or [nodes.ID]"),
    ("lease", "in [defaults] or [nodes.ID]"),
    ("log", "in [telemetry]"),
    ("log_format", "in [telemetry]"),
    ("loki_url", "in [telemetry]"),
    ("admin_token", "hashed, as `admin_token_sha256`"),
];

/// Reads `[master]` (absent = all defaults).
pub(super) fn read_master(
    reader: &mut Reader<'_>,
    fields: Option<Fields<'_, '_>>,
) -> MasterSettings {
    let mut master = MasterSettings {
        listen: DEFAULT_LISTEN,
        database: DEFAULT_DATABASE.to_owned(),
        timezone_name: DEFAULT_TIMEZONE.to_owned(),
        timezone: jiff::tz::TimeZone::UTC,
        location: None,
        admin_token_sha256: None,
        mdns: false,
        mdns_name: DEFAULT_MDNS_NAME.to_owned(),
    };
    let Some(fields) = fields else {
        return master;
    };
    reader.reject_unknown_keys(fields, &KEYS, &MISPLACED);
    if let Some(value) = fields.get("listen") {
        let field = fields.field("listen");
        if let Some(text) = reader.string(value, &field, "an address string like `0.0.0.0:8001`") {
            match text.parse::<SocketAddr>() {
                Ok(listen) => master.listen = listen,
                Err(_) => reader.error(
                    &value.span(),
                    &field,
                    format!("expected an IP address and port like `0.0.0.0:8001` or `[::]:8001`, got `{text}`"),
                ),
            }
        }
    }
    if let Some(value) = fields.get("database") {
        let field = fields.field("database");
        if let Some(text) = reader.string(value, &field, "a database URL string") {
            match check_database(text) {
                Ok(()) => master.database = text.to_owned(),
                Err(message) => reader.error(&value.span(), &field, message),
            }
        }
    }
    if let Some(value) = fields.get("timezone") {
        let field = fields.field("timezone");
        if let Some(name) =
            reader.string(value, &field, "an IANA time zone name like `Europe/Paris`")
        {
            match jiff::tz::TimeZone::get(name) {
                Ok(timezone) => {
                    master.timezone = timezone;
                    master.timezone_name = name.to_owned();
                }
                Err(_) => reader.error(
                    &value.span(),
                    &field,
                    format!("unknown time zone `{name}`; expected an IANA name such as `Europe/Paris`, `America/New_York` or `UTC`"),
                ),
            }
        }
    }
    master.location = read_location(reader, fields);
    if let Some(value) = fields.get("admin_token_sha256") {
        let field = fields.field("admin_token_sha256");
        if let Some(text) = reader.string(value, &field, "a SHA-256 digest string") {
            match parse_sha256_hex(text) {
                Ok(digest) => master.admin_token_sha256 = Some(digest),
                Err(message) => reader.error(&value.span(), &field, message),
            }
        }
    }
    (master.mdns, master.mdns_name) = read_mdns(reader, fields, master.listen);
    master
}

/// `latitude` and `longitude`: both or neither, each within its range.
fn read_location(reader: &mut Reader<'_>, fields: Fields<'_, '_>) -> Option<Location> {
    let latitude = coordinate(reader, fields, "latitude", 90.0);
    let longitude = coordinate(reader, fields, "longitude", 180.0);
    match (fields.get("latitude"), fields.get("longitude")) {
        (Some(value), None) => missing_partner(reader, fields, value, "latitude", "longitude"),
        (None, Some(value)) => missing_partner(reader, fields, value, "longitude", "latitude"),
        _ => {}
    }
    Some(Location {
        latitude: latitude?,
        longitude: longitude?,
    })
}

fn coordinate(
    reader: &mut Reader<'_>,
    fields: Fields<'_, '_>,
    key: &str,
    limit: f64,
) -> Option<f64> {
    let value = fields.get(key)?;
    let field = fields.field(key);
    let degrees = reader.number(value, &field)?;
    if degrees.abs() > limit {
        reader.error(
            &value.span(),
            &field,
            format!("must be between -{limit} and {limit} degrees, got {degrees}"),
        );
        return None;
    }
    Some(degrees)
}

fn missing_partner(
    reader: &mut Reader<'_>,
    fields: Fields<'_, '_>,
    value: &Value<'_>,
    key: &str,
    partner: &str,
) {
    reader.error(
        &value.span(),
        &fields.field(key),
        format!("`{key}` needs `{partner}` too: set both or neither"),
    );
}
