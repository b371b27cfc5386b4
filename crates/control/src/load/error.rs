//! The errors of loading a config file.

use std::path::PathBuf;

/// One problem in a config file, positioned for the user.
///
/// Displays as `FILE:LINE:COL: path.to.field: message` (CONTRACT §1), with a 1-based line and
/// a 1-based column counted in characters. `field` is the dotted path of the key the problem is
/// about (`nodes.bed-1.outputs.valve.on_when`, `alerts.channels[0].url`); it is empty for TOML
/// syntax errors that belong to no key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {field}: {message}")]
pub struct ConfigError {
    /// The file name as given to the loader.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// Dotted path of the field, e.g. `nodes.bed-1.outputs.valve.max_on`.
    pub field: String,
    /// What is wrong, and what would be right.
    pub message: String,
}

/// Why a config file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file that was being read.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The file was read but is not a valid config; every problem found is listed.
    #[error("{}", render_all(.0))]
    Invalid(Vec<ConfigError>),
    /// An environment variable that overrides a setting is set to an invalid value.
    #[error("{variable}: {message}")]
    Environment {
        /// The variable's name.
        variable: &'static str,
        /// What is wrong, and what would be right.
        message: String,
    },
}

fn render_all(errors: &[ConfigError]) -> String {
    let lines: Vec<String> = errors.iter().map(ConfigError::to_string).collect();
    lines.join("\n")
}
