//! `check` lists every problem of a file in one run, in file order, in the
//! `FILE:LINE:COL: path.to.field: message` shape of CONTRACT §1.

use std::path::Path;

use plantkeeper_control::load::{LoadError, load_file, load_settings};

const FIVE_MISTAKES: &str = r#"[master]
timezone = "Mars/Olympus"

[defaults]
lease = "0s"

[nodes.bed-1]
token = "bed-1-test-token-0001"
[nodes.bed-1.outputs.valve]
on_when = "soil_moisture < 30"
of_when = "soil_moisture >= 45"
schedule = ["sunrise-sunset"]

[nodes.tank]
token = "tank-test-token-00001"
[nodes.tank.outputs.pump]
on_when = "bed-1.valve or bed-2.valve"
"#;

#[test]
fn five_independent_mistakes_are_all_reported_in_file_order() {
    let errors =
        load_settings("garden.toml", FIVE_MISTAKES).expect_err("the file has five mistakes");
    let rendered: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        rendered,
        [
            "garden.toml:2:12: master.timezone: unknown time zone `Mars/Olympus`; expected an IANA name such as `Europe/Paris`, `America/New_York` or `UTC`",
            "garden.toml:5:9: defaults.lease: must be positive, got `0s`",
            "garden.toml:11:1: nodes.bed-1.outputs.valve.of_when: unknown key `of_when`; did you mean `on_when`?",
            "garden.toml:12:13: nodes.bed-1.outputs.valve.schedule[0]: `sunrise-sunset` uses sunrise/sunset, which needs `latitude` and `longitude` in [master]",
            "garden.toml:17:27: nodes.tank.outputs.pump.on_when: unknown node `bed-2`; did you mean `bed-1`?",
        ],
        "every error, each positioned, in file order"
    );
}

#[test]
fn syntax_errors_come_out_in_the_same_positioned_shape() {
    let text = "[master]\ntimezone = \"UTC\"\ntimezone = \"UTC\"\n[nodes.a\n";
    let errors = load_settings("bad.toml", text).expect_err("malformed TOML");
    assert!(
        errors.len() >= 2,
        "both syntax errors are reported: {errors:#?}"
    );
    let first = &errors[0];
    assert_eq!((first.line, first.column, first.field.as_str()), (3, 1, ""));
    assert!(
        first
            .to_string()
            .starts_with("bad.toml:3:1: : duplicate key"),
        "got {first}"
    );
    assert_eq!(
        errors[1].line, 4,
        "the unclosed table header is reported on its line: {errors:#?}"
    );
}

#[test]
fn load_file_names_the_file_in_every_error_and_in_io_errors() {
    let missing = Path::new("/nonexistent/plantkeeper/garden.toml");
    match load_file(missing) {
        Err(LoadError::Io { path, .. }) => assert_eq!(path, missing),
        other => panic!("a missing file must be an I/O error, got {other:?}"),
    }
    let directory =
        std::env::temp_dir().join(format!("plantkeeper-load-test-{}", std::process::id()));
    std::fs::create_dir_all(&directory).expect("temp dir is writable");
    let path = directory.join("garden.toml");
    std::fs::write(&path, "[master]\nlisten = 8001\n").expect("temp file is writable");
    let result = load_file(&path);
    std::fs::remove_dir_all(&directory).expect("temp dir can be removed");
    match result {
        Err(LoadError::Invalid(errors)) => {
            assert_eq!(
                errors[0].to_string(),
                format!(
                    "{}:2:10: master.listen: expected an address string like `0.0.0.0:8001`, got integer 8001",
                    path.display()
                )
            );
        }
        other => panic!("an invalid file must list its errors, got {other:?}"),
    }
}

#[test]
fn an_empty_file_is_a_valid_config_with_every_default() {
    let settings = load_settings("empty.toml", "").expect("every key is optional");
    assert_eq!(settings.master.listen.to_string(), "0.0.0.0:8001");
    assert_eq!(settings.master.database, "sqlite://plantkeeper.db");
    assert_eq!(settings.master.timezone_name, "UTC");
    assert!(settings.master.location.is_none());
    assert_eq!(settings.defaults.report_every.as_secs(), 5);
    assert_eq!(settings.defaults.stale_after.as_secs(), 15);
    assert_eq!(settings.defaults.lease.as_secs(), 15);
    assert_eq!(settings.alerts.node_silent_after.as_secs(), 120);
    assert!(settings.nodes.is_empty());
}
