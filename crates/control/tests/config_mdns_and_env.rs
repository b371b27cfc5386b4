//! `[master] mdns` / `mdns_name` as loaded, and the environment override of the admin token
//! (`PLANTKEEPER_ADMIN_TOKEN_SHA256`, applied by `apply_environment`).

use std::ffi::OsString;

use plantkeeper_control::load::{
    ADMIN_TOKEN_SHA256_ENV, DEFAULT_MDNS_NAME, LoadError, apply_environment, load_settings,
};
use plantkeeper_control::settings::Settings;

/// `printf %s admin | sha256sum`.
const ADMIN_SHA256: &str = "8c6976e5b5410415bde908bd4dee15dfb167a9c873fc4bb8a81f6f2ab448a918";
/// `printf %s other | sha256sum`.
const OTHER_SHA256: &str = "d9298a10d1b0735837dc4bd85dac641b0f3cef27a47e5d53a54f2f3f5b2fcffa";

fn load(master: &str) -> Settings {
    load_settings("garden.toml", &format!("[master]\n{master}\n"))
        .unwrap_or_else(|errors| panic!("{errors:?}"))
}

fn env(value: Option<&str>) -> impl Fn(&str) -> Option<OsString> {
    let value = value.map(OsString::from);
    move |name| {
        assert_eq!(name, "PLANTKEEPER_ADMIN_TOKEN_SHA256");
        value.clone()
    }
}

#[test]
fn mdns_is_off_by_default_and_named_plantkeeper() {
    let settings = load("");
    assert!(!settings.master.mdns);
    assert_eq!(settings.master.mdns_name, "plantkeeper");
    assert_eq!(DEFAULT_MDNS_NAME, "plantkeeper");
}

#[test]
fn mdns_on_with_a_name() {
    let settings = load("listen = \"10.3.141.1:8001\"\nmdns = true\nmdns_name = \"greenhouse-2\"");
    assert!(settings.master.mdns);
    assert_eq!(settings.master.mdns_name, "greenhouse-2");
}

#[test]
fn the_environment_overrides_the_file() {
    let mut settings = load(&format!("admin_token_sha256 = \"{OTHER_SHA256}\""));
    apply_environment(&mut settings, env(Some(ADMIN_SHA256))).expect("a valid digest");
    assert_eq!(
        settings.master.admin_token_sha256.map(hex),
        Some(ADMIN_SHA256.to_owned())
    );
}

#[test]
fn the_environment_enables_the_admin_api_alone_and_unset_changes_nothing() {
    let mut settings = load("");
    apply_environment(&mut settings, env(None)).expect("nothing to apply");
    assert_eq!(settings.master.admin_token_sha256, None);
    apply_environment(&mut settings, env(Some(&ADMIN_SHA256.to_uppercase()))).expect("either case");
    assert_eq!(
        settings.master.admin_token_sha256.map(hex),
        Some(ADMIN_SHA256.to_owned())
    );
}

#[test]
fn an_invalid_environment_value_is_an_error_naming_the_variable() {
    for (value, message) in [
        ("", "PLANTKEEPER_ADMIN_TOKEN_SHA256: is set but empty"),
        (
            "abc",
            "PLANTKEEPER_ADMIN_TOKEN_SHA256: expected 64 hexadecimal characters",
        ),
        (
            &format!("{ADMIN_SHA256}\n"),
            "PLANTKEEPER_ADMIN_TOKEN_SHA256: expected 64 hexadecimal characters (a SHA-256 digest, e.g. from `printf %s TOKEN | sha256sum`), got 65 characters",
        ),
        (
            &"g".repeat(64),
            "PLANTKEEPER_ADMIN_TOKEN_SHA256: expected only hexadecimal characters",
        ),
    ] {
        let mut settings = load(&format!("admin_token_sha256 = \"{OTHER_SHA256}\""));
        let error = apply_environment(&mut settings, env(Some(value)))
            .expect_err("an invalid value is refused");
        assert!(
            matches!(error, LoadError::Environment { variable, .. } if variable == ADMIN_TOKEN_SHA256_ENV)
        );
        let shown = error.to_string();
        assert!(shown.starts_with(message), "{value:?}: {shown}");
        assert_eq!(
            settings.master.admin_token_sha256.map(hex),
            Some(OTHER_SHA256.to_owned()),
            "a refused value changes nothing"
        );
    }
}

fn hex(digest: [u8; 32]) -> String {
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}
