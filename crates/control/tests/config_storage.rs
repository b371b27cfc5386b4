//! `[storage]`: the PostgreSQL engine's outage spool and the retention durations, every
//! mistake positioned.

use std::time::Duration;

use plantkeeper_control::load::{
    ConfigError, DEFAULT_KEEP_HOURLY, DEFAULT_KEEP_RAW, load_settings,
};

const POSTGRES: &str = "[master]\ndatabase = \"postgres://pk@db.local/plants\"\n";

fn only_error(text: &str) -> ConfigError {
    let errors = match load_settings("plantkeeper.toml", text) {
        Ok(_) => panic!("config should be rejected:\n{text}"),
        Err(errors) => errors,
    };
    assert_eq!(errors.len(), 1, "expected one error, got {errors:#?}");
    errors.into_iter().next().expect("one error")
}

#[test]
fn spool_is_the_default_when_absent_and_read_as_written() {
    let settings = load_settings("plantkeeper.toml", POSTGRES).expect("valid config");
    assert_eq!(settings.storage.spool, None, "absent: the default file");
    let text = format!("{POSTGRES}[storage]\nspool = \"/var/lib/plantkeeper/spool.db\"\n");
    let settings = load_settings("plantkeeper.toml", &text).expect("valid config");
    assert_eq!(
        settings.storage.spool.as_deref(),
        Some("/var/lib/plantkeeper/spool.db")
    );
}

#[test]
fn a_spool_for_sqlite_is_refused_at_its_position() {
    let error =
        only_error("[master]\ndatabase = \"sqlite://pk.db\"\n[storage]\nspool = \"s.db\"\n");
    let text = error.to_string();
    assert!(
        text.starts_with("plantkeeper.toml:4:9: storage.spool: "),
        "positioned on the value: {text}"
    );
    assert!(
        text.contains("PostgreSQL"),
        "says what a spool is for: {text}"
    );
}

#[test]
fn an_empty_spool_a_wrong_type_and_an_unknown_key_are_refused() {
    let error = only_error(&format!("{POSTGRES}[storage]\nspool = \"\"\n"));
    assert!(
        error
            .to_string()
            .contains("storage.spool: the spool path is empty"),
        "{error}"
    );
    let error = only_error(&format!("{POSTGRES}[storage]\nspool = 3\n"));
    assert!(error.to_string().contains("storage.spool"), "{error}");
    let error = only_error(&format!("{POSTGRES}[storage]\nspoll = \"s.db\"\n"));
    let text = error.to_string();
    assert!(
        text.contains("spoll") && text.contains("spool"),
        "an unknown key with a hint: {text}"
    );
}

const DAY: u64 = 86_400;

#[test]
fn absent_storage_section_keeps_30_days_raw_and_5_years_hourly() {
    let settings = load_settings("t.toml", "").expect("an empty config loads");
    assert_eq!(settings.storage.keep_raw, Duration::from_secs(30 * DAY));
    assert_eq!(
        settings.storage.keep_hourly,
        Duration::from_secs(5 * 365 * DAY)
    );
    assert_eq!(settings.storage.keep_raw, DEFAULT_KEEP_RAW);
    assert_eq!(settings.storage.keep_hourly, DEFAULT_KEEP_HOURLY);
}

#[test]
fn storage_durations_accept_days_weeks_and_years() {
    let settings = load_settings(
        "t.toml",
        "[storage]\nkeep_raw = \"2w\"\nkeep_hourly = \"1y6w\"\n",
    )
    .expect("valid retention loads");
    assert_eq!(settings.storage.keep_raw, Duration::from_secs(14 * DAY));
    assert_eq!(
        settings.storage.keep_hourly,
        Duration::from_secs((365 + 42) * DAY)
    );
}
