//! The command line of the real `plantkeeper` binary: `check`, `--version`, `--help` and usage
//! errors (CONTRACT §1: exit 0 ok, 2 usage or invalid config, 1 runtime failure).

mod broken_settings;
mod master_process;

use std::path::Path;
use std::time::Duration;

use broken_settings::{BROKEN_SETTINGS, assert_broken_settings_errors};
use master_process::{Finished, run_to_exit};

/// `check` and usage errors need no server: they must be over in well under this.
const QUICK: Duration = Duration::from_secs(10);

/// The repository root, where the test runs the binary so that paths print as written here.
fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn plantkeeper(args: &[&str]) -> Finished {
    run_to_exit(repo_root(), args, QUICK)
}

#[test]
fn check_accepts_the_contract_example_and_summarises_every_node() {
    let file = "crates/control/tests/fixtures/contract_example.toml";
    let run = plantkeeper(&["check", "--config", file]);
    assert_eq!(
        run.code(),
        0,
        "the contract's own example must pass: {run:?}"
    );
    assert!(
        run.stderr.is_empty(),
        "nothing on stderr for a valid file: {run:?}"
    );
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(
        lines
            .first()
            .is_some_and(|line| line.starts_with(&format!("{file}: ok"))),
        "the first line says the file is ok: {run:?}"
    );
    let node_lines = &lines[1..];
    for node in ["bed-1", "bed-2", "tank", "lamp"] {
        let count = node_lines
            .iter()
            .filter(|line| line.trim_start().starts_with(&format!("{node}:")))
            .count();
        assert_eq!(count, 1, "one summary line for node {node}: {run:?}");
    }
    assert_eq!(
        node_lines.len(),
        4,
        "exactly one summary line per node (4 nodes): {run:?}"
    );
}

#[test]
fn check_lists_every_error_with_file_line_column_and_field() {
    let run = plantkeeper(&["check", "--config", BROKEN_SETTINGS]);
    assert_eq!(run.code(), 2, "an invalid config exits 2: {run:?}");
    assert!(run.stdout.is_empty(), "errors go to stderr only: {run:?}");
    assert_broken_settings_errors(BROKEN_SETTINGS, &run.stderr);
    assert_eq!(
        run.stderr.lines().last(),
        Some(format!("{BROKEN_SETTINGS}: 6 errors").as_str()),
        "a closing line counts the errors: {run:?}"
    );
}

#[test]
fn check_rejects_a_misspelt_on_when_and_suggests_the_right_key() {
    let dir = tempfile::tempdir().expect("temporary dir");
    let settings = r#"[nodes.bed-1]
token = "token-of-bed-1-0123456789"
[nodes.bed-1.outputs.valve]
on_wen = "soil_moisture < 30"
"#;
    std::fs::write(dir.path().join("typo.toml"), settings).expect("write the settings");
    let run = run_to_exit(dir.path(), &["check", "--config", "typo.toml"], QUICK);
    assert_eq!(
        run.code(),
        2,
        "a typo must never silently disable a rule: {run:?}"
    );
    let errors: Vec<&str> = run
        .stderr_lines()
        .into_iter()
        .filter(|line| line.starts_with("typo.toml:4:"))
        .collect();
    assert_eq!(
        errors,
        [
            "typo.toml:4:1: nodes.bed-1.outputs.valve.on_wen: unknown key `on_wen`; did you mean `on_when`?"
        ],
        "the typo is named, positioned and corrected; stderr:\n{}",
        run.stderr
    );
}

#[test]
fn check_of_a_missing_file_exits_2_with_one_line() {
    let dir = tempfile::tempdir().expect("temporary dir");
    let run = run_to_exit(dir.path(), &["check", "--config", "nowhere.toml"], QUICK);
    assert_eq!(
        run.code(),
        2,
        "a missing settings file is a usage error: {run:?}"
    );
    let lines = run.stderr_lines();
    assert_eq!(lines.len(), 1, "one line on stderr: {run:?}");
    assert!(
        lines[0].contains("nowhere.toml"),
        "the line names the file: {run:?}"
    );
}

#[test]
fn serve_with_a_missing_file_says_so_in_one_line_without_repeating_the_cause() {
    let dir = tempfile::tempdir().expect("temporary dir");
    let run = run_to_exit(dir.path(), &["serve", "--config", "nowhere.toml"], QUICK);
    assert_eq!(
        run.code(),
        2,
        "a missing settings file is a usage error for serve as for check: {run:?}"
    );
    let lines = run.stderr_lines();
    assert_eq!(lines.len(), 1, "one line on stderr: {run:?}");
    assert!(
        lines[0].contains("nowhere.toml"),
        "the line names the file: {run:?}"
    );
    assert_eq!(
        lines[0].matches("No such file or directory").count(),
        1,
        "the cause is said once: {run:?}"
    );
}

#[test]
fn version_prints_the_package_version() {
    let run = plantkeeper(&["--version"]);
    assert_eq!(run.code(), 0, "{run:?}");
    assert_eq!(
        run.stdout.trim(),
        format!("plantkeeper {}", env!("CARGO_PKG_VERSION")),
        "{run:?}"
    );
}

#[test]
fn help_works_for_the_program_and_every_subcommand() {
    let cases: [(&[&str], &[&str]); 5] = [
        (&["--help"], &["check", "serve", "demo"]),
        (&["help"], &["check", "serve", "demo"]),
        (&["check", "--help"], &["--config"]),
        (&["serve", "--help"], &["--config"]),
        (&["demo", "--help"], &["--listen", "--data", "--speed"]),
    ];
    for (args, mentions) in cases {
        let run = plantkeeper(args);
        assert_eq!(
            run.code(),
            0,
            "`plantkeeper {}` exits 0: {run:?}",
            args.join(" ")
        );
        assert!(
            run.stdout.contains("Usage:"),
            "`plantkeeper {}` prints a usage line: {run:?}",
            args.join(" ")
        );
        for mention in mentions {
            assert!(
                run.stdout.contains(mention),
                "`plantkeeper {}` mentions `{mention}`: {run:?}",
                args.join(" ")
            );
        }
    }
}

#[test]
fn demo_with_speed_zero_is_a_usage_error_and_starts_nothing() {
    let dir = tempfile::tempdir().expect("temporary dir");
    let run = run_to_exit(dir.path(), &["demo", "--speed", "0"], QUICK);
    assert_eq!(run.code(), 2, "speed 0 is a usage error: {run:?}");
    assert!(
        run.stderr.contains("--speed"),
        "the error names the option: {run:?}"
    );
    assert!(
        !dir.path().join("plantkeeper-demo").exists(),
        "a refused demo must not create its data directory"
    );
}

#[test]
fn a_command_line_without_a_command_is_a_usage_error() {
    let run = plantkeeper(&[]);
    assert_eq!(run.code(), 2, "no subcommand is a usage error: {run:?}");
    assert!(run.stdout.is_empty(), "usage errors go to stderr: {run:?}");
}

#[test]
fn check_into_a_closed_pipe_ends_quietly_without_a_panic() {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let mut child = Command::new(master_process::BINARY)
        .current_dir(repo_root())
        .args([
            "check",
            "--config",
            "crates/control/tests/fixtures/contract_example.toml",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start plantkeeper check");
    // The reader goes away before the first line is written, like `check … | head -0`.
    drop(child.stdout.take());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr is piped")
        .read_to_string(&mut stderr)
        .expect("read stderr");
    child.wait().expect("check ends");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
        "a closed output pipe must end check quietly, got stderr: {stderr}"
    );
}
