//! `PLANTKEEPER_ADMIN_TOKEN_SHA256` overrides `[master] admin_token_sha256` for `check` and
//! `serve` (a systemd `EnvironmentFile=` supplies it on a Raspberry Pi); an invalid value is a
//! usage error naming the variable.

mod master_process;

use std::process::{Command, Stdio};
use std::time::Duration;

use master_process::{ADMIN_TOKEN, ADMIN_TOKEN_SHA256, BINARY, MasterProcess, garden_toml};

const VARIABLE: &str = "PLANTKEEPER_ADMIN_TOKEN_SHA256";
/// `printf %s file-token-0123456789 | sha256sum`: the token the settings file names.
const FILE_TOKEN: &str = "file-token-0123456789";
const FILE_TOKEN_SHA256: &str = "03c558835893881b6288c899732a6adbf324b9dd08af11990bd8a3656c015acd";

/// The test garden with the settings file's admin digest replaced by [`FILE_TOKEN_SHA256`].
fn settings_with_file_token(port: u16) -> String {
    garden_toml(port, "").replace(ADMIN_TOKEN_SHA256, FILE_TOKEN_SHA256)
}

fn check_with_env(dir: &std::path::Path, value: &str) -> (i32, String, String) {
    std::fs::write(dir.join("plantkeeper.toml"), settings_with_file_token(8001))
        .expect("settings written");
    let output = Command::new(BINARY)
        .args(["check", "--config", "plantkeeper.toml"])
        .current_dir(dir)
        .env(VARIABLE, value)
        .stdin(Stdio::null())
        .output()
        .expect("check runs");
    (
        output.status.code().expect("an exit code"),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn check_refuses_an_invalid_value_naming_the_variable() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (code, _, stderr) = check_with_env(dir.path(), "not-a-digest");
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(
        stderr.trim(),
        "error: PLANTKEEPER_ADMIN_TOKEN_SHA256: expected 64 hexadecimal characters (a SHA-256 digest, e.g. from `printf %s TOKEN | sha256sum`), got 12 characters"
    );
    let (code, _, stderr) = check_with_env(dir.path(), "");
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("PLANTKEEPER_ADMIN_TOKEN_SHA256: is set but empty"),
        "{stderr}"
    );
}

#[test]
fn check_says_where_the_admin_token_comes_from() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (code, stdout, stderr) = check_with_env(dir.path(), ADMIN_TOKEN_SHA256);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("admin token: SHA-256 from PLANTKEEPER_ADMIN_TOKEN_SHA256 (overrides [master] admin_token_sha256)"),
        "{stdout}"
    );
}

#[tokio::test]
async fn serve_takes_the_admin_token_from_the_environment() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let without = MasterProcess::start(dir.path(), settings_with_file_token).await;
    assert_eq!(
        admin_status(&without, FILE_TOKEN).await,
        200,
        "the file's token, unset variable"
    );
    assert_eq!(admin_status(&without, ADMIN_TOKEN).await, 401);
    drop(without);

    let with = MasterProcess::start_with_env(
        dir.path(),
        &[(VARIABLE, ADMIN_TOKEN_SHA256)],
        settings_with_file_token,
    )
    .await;
    assert_eq!(
        admin_status(&with, ADMIN_TOKEN).await,
        200,
        "the environment's token"
    );
    assert_eq!(
        admin_status(&with, FILE_TOKEN).await,
        401,
        "the file's token is overridden"
    );
}

/// The status of `GET /api/v1/nodes` with `token`.
async fn admin_status(master: &MasterProcess, token: &str) -> u16 {
    master
        .http
        .get(format!("{}/api/v1/nodes", master.base))
        .bearer_auth(token)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect("the master answers")
        .status()
        .as_u16()
}
