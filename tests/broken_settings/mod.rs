//! What `plantkeeper check` and `serve` must say about `tests/fixtures/broken_settings.toml`.

/// The fixture, relative to the repository root.
pub const BROKEN_SETTINGS: &str = "tests/fixtures/broken_settings.toml";

/// The mistakes of `tests/fixtures/broken_settings.toml`: `LINE:COL: field`, and a fragment the
/// message must hold.
const BROKEN_SETTINGS_ERRORS: [(&str, &str); 6] = [
    ("4:12: master.timezone", "unknown time zone `Mars/Olympus`"),
    (
        "7:16: defaults.report_every",
        "expected a duration string like `15s`, got integer 15",
    ),
    (
        "10:9: nodes.bed-1.token",
        "a token needs at least 16 characters",
    ),
    (
        "12:1: nodes.bed-1.outputs.valve.on_wen",
        "unknown key `on_wen`; did you mean `on_when`?",
    ),
    (
        "14:10: nodes.bed-1.outputs.valve.min_on",
        "`min_on` (3h) must not exceed `max_on` (2h)",
    ),
    (
        "19:12: nodes.tank.outputs.pump.on_when",
        "unknown node `bed-9`",
    ),
];

/// Asserts that `stderr` holds exactly the positioned errors of the broken fixture, read as
/// `file`, each as one `FILE:LINE:COL: field: message` line.
pub fn assert_broken_settings_errors(file: &str, stderr: &str) {
    let positioned: Vec<&str> = stderr
        .lines()
        .filter(|line| line.starts_with(&format!("{file}:")) && !line.ends_with(" errors"))
        .collect();
    assert_eq!(
        positioned.len(),
        BROKEN_SETTINGS_ERRORS.len(),
        "expected one line per mistake of the fixture, got:\n{stderr}"
    );
    for ((position, fragment), line) in BROKEN_SETTINGS_ERRORS.iter().zip(&positioned) {
        let prefix = format!("{file}:{position}: ");
        assert!(
            line.starts_with(&prefix),
            "expected a line starting with `{prefix}`, got `{line}`; all of stderr:\n{stderr}"
        );
        assert!(
            line.contains(fragment),
            "the error at {position} should say `{fragment}`, got `{line}`"
        );
    }
}
