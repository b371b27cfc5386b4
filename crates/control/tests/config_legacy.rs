//! `[legacy]` (CONTRACT §5): off by default, networks, and a map from original node types and
//! sprinkler tags to configured nodes, every mistake positioned.

use std::net::IpAddr;

use plantkeeper_control::load::{ConfigError, load_settings};
use plantkeeper_control::settings::{LegacySource, LegacyType};

const NODES: &str = r#"
[nodes.bed-1]
token = "bed-1-test-token-0001"
[nodes.bed-1.outputs.valve]
on_when = "soil_humidity < 30"

[nodes.tank]
token = "tank-test-token-00001"
[nodes.tank.outputs.pump]
on_when = "bed-1.valve"

[nodes.box]
token = "box-test-token-000001"

[nodes.twin]
token = "twin-test-token-00001"
[nodes.twin.outputs.a]
schedule = ["06:00-07:00"]
[nodes.twin.outputs.b]
schedule = ["08:00-09:00"]
"#;

/// The nodes above (lines 1-21), then `[legacy]` on line 22.
fn config(legacy: &str) -> String {
    format!("{NODES}\n{legacy}")
}

fn errors_of(text: &str) -> Vec<ConfigError> {
    match load_settings("plantkeeper.toml", text) {
        Ok(_) => panic!("config should be rejected:\n{text}"),
        Err(errors) => errors,
    }
}

fn only_error(text: &str) -> ConfigError {
    let errors = errors_of(text);
    assert_eq!(errors.len(), 1, "expected one error, got {errors:#?}");
    errors.into_iter().next().expect("one error")
}

#[test]
fn legacy_is_off_and_empty_when_absent() {
    let settings = load_settings("plantkeeper.toml", NODES).expect("valid config");
    assert!(!settings.legacy.enabled, "legacy must be off by default");
    assert!(settings.legacy.map.is_empty());
    assert!(settings.legacy.allow.is_empty());
}

#[test]
fn map_accepts_types_tags_and_aliases_and_normalises_them() {
    let text = config(
        r#"[legacy]
enabled = true
allow = ["10.3.141.0/24", "192.168.1.7", "fd00::/8"]
map = { "sprinkler-valve/plant-1" = "bed-1", "water-pump" = "tank", "enclosure" = "box" }
"#,
    );
    let settings = load_settings("plantkeeper.toml", &text).expect("valid legacy section");
    let legacy = &settings.legacy;
    assert!(legacy.enabled);
    let plant = LegacySource {
        kind: LegacyType::Sprinkler,
        tag: Some("plant-1".to_owned()),
    };
    assert_eq!(
        legacy.node_for(&plant),
        Some("bed-1"),
        "alias sprinkler-valve"
    );
    let water = LegacySource {
        kind: LegacyType::Water,
        tag: None,
    };
    assert_eq!(legacy.node_for(&water), Some("tank"), "alias water-pump");
    let ip = |text: &str| text.parse::<IpAddr>().expect("test address");
    assert!(legacy.allows(ip("10.3.141.23")));
    assert!(legacy.allows(ip("::ffff:10.3.141.23")), "IPv4-mapped IPv6");
    assert!(
        legacy.allows(ip("192.168.1.7")),
        "a bare address is one host"
    );
    assert!(!legacy.allows(ip("192.168.1.8")));
    assert!(legacy.allows(ip("fd12::1")));
    assert!(!legacy.allows(ip("10.3.142.1")));
    assert!(
        !legacy.allows(ip("127.0.0.1")),
        "loopback only when allow is empty"
    );
}

#[test]
fn empty_allow_means_loopback_only() {
    let text = config("[legacy]\nenabled = true\n");
    let settings = load_settings("plantkeeper.toml", &text).expect("valid legacy section");
    assert!(settings.legacy.allows("127.0.0.1".parse().expect("ip")));
    assert!(settings.legacy.allows("::1".parse().expect("ip")));
    assert!(!settings.legacy.allows("10.3.141.2".parse().expect("ip")));
}

#[test]
fn every_legacy_mistake_is_reported_with_its_position() {
    let cases: [(&str, usize, usize, &str, &str); 9] = [
        (
            "enabeld = true",
            23,
            1,
            "legacy.enabeld",
            "did you mean `enabled`?",
        ),
        (
            "enabled = \"yes\"",
            23,
            11,
            "legacy.enabled",
            "expected `true` or `false`",
        ),
        (
            "allow = [\"10.3.141.0/33\"]",
            23,
            10,
            "legacy.allow[0]",
            "prefix length from 0 to 32",
        ),
        (
            "allow = [\"10.3.141/24\"]",
            23,
            10,
            "legacy.allow[0]",
            "is not an IP address",
        ),
        (
            "map = { \"sprinkler\" = \"bed-1\" }",
            23,
            9,
            "legacy.map.\"sprinkler\"",
            "told apart by its tag",
        ),
        (
            "map = { \"water/x\" = \"tank\" }",
            23,
            9,
            "legacy.map.\"water/x\"",
            "only sprinklers have a tag",
        ),
        (
            "map = { \"fogger\" = \"tank\" }",
            23,
            9,
            "legacy.map.\"fogger\"",
            "unknown legacy node type `fogger`",
        ),
        (
            "map = { \"water\" = \"pond\" }",
            23,
            19,
            "legacy.map.\"water\"",
            "no node `pond`",
        ),
        (
            "map = { \"heater\" = \"twin\" }",
            23,
            20,
            "legacy.map.\"heater\"",
            "has 2 outputs (a, b)",
        ),
    ];
    for (line, expected_line, column, field, message) in cases {
        let error = only_error(&config(&format!("[legacy]\n{line}\n")));
        assert_eq!(
            (error.line, error.column, error.field.as_str()),
            (expected_line, column, field),
            "position of `{line}`: {error}"
        );
        assert!(
            error.message.contains(message),
            "message of `{line}` should contain {message:?}: {error}"
        );
    }
}

#[test]
fn an_alias_and_its_type_cannot_both_be_mapped() {
    let error = only_error(&config(
        "[legacy]\nmap = { \"water\" = \"tank\", \"water-pump\" = \"tank\" }\n",
    ));
    assert!(
        error.message.contains("already mapped"),
        "duplicate through an alias: {error}"
    );
}

#[test]
fn a_node_without_outputs_may_be_mapped() {
    let text = config("[legacy]\nmap = { \"enclosure\" = \"box\" }\n");
    let settings = load_settings("plantkeeper.toml", &text).expect("sensor-only node is fine");
    assert_eq!(settings.legacy.map.len(), 1);
}
