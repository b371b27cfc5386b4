//! `plantkeeper admin set-password`: stores the argon2id hash of the dashboard password in
//! `[dashboard] password_file` (default `dashboard-password` next to the settings file).

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use plantkeeper_control::load::load_file;
use plantkeeper_master::dashboard::password::{hash_password, write_password_file};

/// Options of `admin set-password`.
#[derive(Debug, Clone, clap::Args)]
pub struct SetPasswordArgs {
    /// The settings file (its `[dashboard] password_file` says where the hash goes).
    #[arg(long, short)]
    pub config: PathBuf,
    /// Read the password from the first line of this file instead of twice from stdin.
    #[arg(long)]
    pub password_file: Option<PathBuf>,
}

/// Runs `admin set-password`: exit 0 when stored, 2 on bad input, 1 when writing fails.
pub fn run_set_password(args: &SetPasswordArgs) -> ExitCode {
    let settings = match load_file(&args.config) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let password = match read_password(args.password_file.as_deref()) {
        Ok(password) => password,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    let hash = match hash_password(&password) {
        Ok(hash) => hash,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let mut dashboard = settings.dashboard;
    dashboard.resolve_paths(args.config.parent().unwrap_or(Path::new("")));
    if let Err(error) = write_password_file(&dashboard.password_file, &hash) {
        eprintln!(
            "error: cannot write {}: {error}",
            dashboard.password_file.display()
        );
        return ExitCode::from(1);
    }
    println!(
        "dashboard password stored (argon2id) in {}; it applies at the next login",
        dashboard.password_file.display()
    );
    ExitCode::SUCCESS
}

/// The password: the first line of `file`, or two equal lines from stdin.
fn read_password(file: Option<&Path>) -> Result<String, String> {
    if let Some(file) = file {
        let text = std::fs::read_to_string(file)
            .map_err(|error| format!("--password-file {}: {error}", file.display()))?;
        return Ok(text.lines().next().unwrap_or("").to_owned());
    }
    eprintln!("New dashboard password, then the same again (one line each):");
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    let mut next = || -> Result<String, String> {
        match lines.next() {
            Some(Ok(line)) => Ok(line),
            Some(Err(error)) => Err(format!("reading stdin: {error}")),
            None => Err("stdin ended before the password was given twice".to_owned()),
        }
    };
    let first = next()?;
    let second = next()?;
    if first != second {
        return Err("the two passwords differ; nothing stored".to_owned());
    }
    Ok(first)
}
