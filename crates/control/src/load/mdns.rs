//! `[master] mdns` and `mdns_name`: whether and under which name the master advertises itself
//! over multicast DNS.

use std::net::SocketAddr;

use super::reader::{Fields, Reader};

/// Default `mdns_name`: the master answers as `plantkeeper.local.`.
pub const DEFAULT_MDNS_NAME: &str = "plantkeeper";

/// What a valid `mdns_name` looks like, for error messages.
pub const MDNS_NAME_RULE: &str =
    "a DNS label: 1 to 63 characters a-z, 0-9 and `-`, not starting or ending with `-`";

/// Whether `name` is a DNS label as `mdns_name` accepts it (lower case only, so the name a
/// grower types is exactly the one announced).
pub fn is_valid_dns_label(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && name
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

/// Reads `mdns` (default false) and `mdns_name` (default [`DEFAULT_MDNS_NAME`]). Advertising
/// a loopback `listen` address is refused: no node could reach it.
pub(super) fn read_mdns(
    reader: &mut Reader<'_>,
    fields: Fields<'_, '_>,
    listen: SocketAddr,
) -> (bool, String) {
    let mut enabled = false;
    let mut name = DEFAULT_MDNS_NAME.to_owned();
    if let Some(value) = fields.get("mdns") {
        let field = fields.field("mdns");
        if let Some(flag) = reader.boolean(value, &field) {
            enabled = flag;
            if enabled && listen.ip().is_loopback() {
                reader.error(
                    &value.span(),
                    &field,
                    format!("`listen` is the loopback address {listen}, which no node can reach; listen on `0.0.0.0:{}` or the access point's address to advertise the master", listen.port()),
                );
            }
        }
    }
    if let Some(value) = fields.get("mdns_name") {
        let field = fields.field("mdns_name");
        if let Some(text) = reader.string(value, &field, "a host name like `plantkeeper`") {
            if is_valid_dns_label(text) {
                text.clone_into(&mut name);
            } else {
                reader.error(
                    &value.span(),
                    &field,
                    format!("`{text}` is not {MDNS_NAME_RULE} (it becomes `NAME.local`)"),
                );
            }
        }
    }
    (enabled, name)
}

#[cfg(test)]
mod tests {
    use super::is_valid_dns_label;

    #[test]
    fn dns_labels() {
        for good in ["plantkeeper", "a", "greenhouse-2", "0pi", &"a".repeat(63)] {
            assert!(is_valid_dns_label(good), "{good}");
        }
        for bad in [
            "",
            "-pk",
            "pk-",
            "Plantkeeper",
            "plant.keeper",
            "plant_keeper",
            "pk ",
            "plänt",
            &"a".repeat(64),
        ] {
            assert!(!is_valid_dns_label(bad), "{bad}");
        }
    }
}
