//! `plantkeeper admin set-password` as a process: the hash lands in `[dashboard]
//! password_file` (next to the settings by default), owner-only, and checks the password.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use plantkeeper_master::dashboard::password::verify_password_file;

fn set_password(config: &Path, extra: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_plantkeeper"))
        .args(["admin", "set-password", "--config"])
        .arg(config)
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("plantkeeper starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("stdin written");
    child.wait_with_output().expect("finishes")
}

#[test]
fn the_password_is_read_twice_and_stored_as_argon2id() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("garden.toml");
    std::fs::write(&config, "[master]\n").expect("config");
    let stored = dir.path().join("dashboard-password");

    let run = set_password(
        &config,
        &[],
        "a long garden password\nanother one entirely\n",
    );
    assert_eq!(run.status.code(), Some(2), "{run:?}");
    assert!(String::from_utf8_lossy(&run.stderr).contains("differ"));
    assert!(!stored.exists());
    let run = set_password(&config, &[], "short\nshort\n");
    assert_eq!(run.status.code(), Some(2), "{run:?}");
    assert!(String::from_utf8_lossy(&run.stderr).contains("at least 10"));

    let run = set_password(
        &config,
        &[],
        "a long garden password\na long garden password\n",
    );
    assert_eq!(run.status.code(), Some(0), "{run:?}");
    let text = std::fs::read_to_string(&stored).expect("stored");
    assert!(text.starts_with("$argon2id$"), "{text}");
    assert!(!text.contains("garden"), "no plain text");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&stored)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(verify_password_file(&stored, "a long garden password").expect("verify"));
    assert!(!verify_password_file(&stored, "a long garden passwor").expect("verify"));
}

#[test]
fn a_password_file_and_a_configured_location_are_honoured() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("garden.toml");
    std::fs::write(
        &config,
        "[dashboard]\npassword_file = \"secrets/pw.hash\"\n",
    )
    .expect("config");
    std::fs::create_dir(dir.path().join("secrets")).expect("dir");
    let input = dir.path().join("input");
    std::fs::write(&input, "from a file, not stdin\n").expect("input");
    let run = set_password(
        &config,
        &["--password-file", &input.display().to_string()],
        "",
    );
    assert_eq!(run.status.code(), Some(0), "{run:?}");
    let stored = dir.path().join("secrets/pw.hash");
    assert!(verify_password_file(&stored, "from a file, not stdin").expect("verify"));

    std::fs::write(&config, "[dashboard]\npublic_read = 1\n").expect("config");
    let run = set_password(
        &config,
        &["--password-file", &input.display().to_string()],
        "",
    );
    assert_eq!(
        run.status.code(),
        Some(2),
        "an invalid config is refused: {run:?}"
    );
    assert!(String::from_utf8_lossy(&run.stderr).contains("dashboard.public_read"));
}
