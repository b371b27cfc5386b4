//! `plantkeeper check --config FILE`.

use std::path::Path;
use std::process::ExitCode;

use plantkeeper_control::load::{ADMIN_TOKEN_SHA256_ENV, LoadError, load_file_with_env};
use plantkeeper_control::summary::{node_summaries, settings_summary};

/// Validates the file: exit 0 with a one-line summary per node, or exit 2 listing every error
/// as `FILE:LINE:COL: path.to.field: message` (or `VARIABLE: message` for an invalid
/// environment override).
pub fn run_check(path: &Path) -> ExitCode {
    match load_file_with_env(path) {
        Ok(settings) => {
            println!("{}: ok, {}", path.display(), settings_summary(&settings));
            if std::env::var_os(ADMIN_TOKEN_SHA256_ENV).is_some() {
                println!(
                    "  admin token: SHA-256 from {ADMIN_TOKEN_SHA256_ENV} (overrides [master] admin_token_sha256)"
                );
            }
            for line in node_summaries(&settings) {
                println!("  {line}");
            }
            ExitCode::SUCCESS
        }
        Err(LoadError::Invalid(errors)) => {
            for error in &errors {
                eprintln!("{error}");
            }
            eprintln!(
                "{}: {} error{}",
                path.display(),
                errors.len(),
                if errors.len() == 1 { "" } else { "s" }
            );
            ExitCode::from(2)
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(2)
        }
    }
}
