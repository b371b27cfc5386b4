//! `plantkeeper check --config FILE`.

use std::path::Path;
use std::process::ExitCode;

use plantkeeper_control::load::{LoadError, load_file};
use plantkeeper_control::summary::{node_summaries, settings_summary};

/// Validates the file: exit 0 with a one-line summary per node, or exit 2 listing every error
/// as `FILE:LINE:COL: path.to.field: message`.
pub fn run_check(path: &Path) -> ExitCode {
    match load_file(path) {
        Ok(settings) => {
            println!("{}: ok, {}", path.display(), settings_summary(&settings));
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
