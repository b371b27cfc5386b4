//! The settings history: which stored version runs when the master starts, and how a new
//! version (from the API or a rollback) is checked, diffed and stored.
//!
//! **Across restarts** (docs/config.md): the settings file is imported as a new version when
//! its text differs from the last version imported from the file (or nothing was imported
//! yet); otherwise the newest stored version runs, so changes made through the API survive a
//! restart until the file itself is edited. `PLANTKEEPER_ADMIN_TOKEN_SHA256` applies to every
//! version that runs, as it does to the file.

use std::path::Path;
use std::sync::Arc;

use jiff::Timestamp;
use plantkeeper_control::Settings;
use plantkeeper_control::load::{ConfigError, LoadError, apply_environment, load_settings};
use plantkeeper_store::{NewSettingsVersion, SettingsSource, SettingsVersion, Store, StoreError};
use similar::{ChangeTag, TextDiff};

use crate::master::RunningVersion;

/// The name stored settings texts are loaded under; errors are positioned `LINE:COL` in it.
pub const SETTINGS_DOCUMENT: &str = "settings";

/// The settings a starting master runs, and which stored version they are.
#[derive(Debug)]
pub struct Adopted {
    /// The validated settings (environment overrides applied).
    pub settings: Settings,
    /// The stored version and its text.
    pub version: RunningVersion,
    /// Whether the file was imported as a new version at this start.
    pub imported: bool,
}

/// Why a master cannot start on its stored settings.
#[derive(Debug, thiserror::Error)]
pub enum AdoptError {
    /// The store could not be read or written.
    #[error("settings history: {0}")]
    Store(#[from] StoreError),
    /// The newest stored version no longer loads (for example after an upgrade that tightened
    /// a rule); editing the settings file imports the file instead.
    #[error(
        "stored settings version {version} (the newest, from {source_name}) is not valid any more; edit the settings file so it is imported, or fix it through the API:\n{}",
        render(.errors)
    )]
    StoredInvalid {
        /// The version that failed.
        version: u64,
        /// Where it came from.
        source_name: &'static str,
        /// Every problem.
        errors: Vec<ConfigError>,
    },
    /// The newest stored version differs from the settings file in a setting that is fixed
    /// at start (`listen`, `database`, ...).
    #[error(
        "stored settings version {version} differs from the settings file in settings fixed at start; edit the settings file so it is imported:\n{}",
        render(.errors)
    )]
    Mismatch {
        /// The version that differs.
        version: u64,
        /// Each setting that differs.
        errors: Vec<ConfigError>,
    },
    /// An environment override is invalid.
    #[error("{0}")]
    Environment(LoadError),
}

fn render(errors: &[ConfigError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Why a settings text was refused.
#[derive(Debug)]
pub enum Refusal {
    /// The text is not valid settings; every problem, positioned.
    Invalid(Vec<ConfigError>),
    /// The text changes settings that need a restart; each one, positioned.
    RestartRequired(Vec<ConfigError>),
    /// An environment override is invalid (a problem of the running process, not the text).
    Environment(String),
}

/// Loads a settings text as `serve` loads the file: this process's environment overrides
/// applied, relative alert and dashboard file paths taken from `base_dir` (the settings
/// file's directory).
pub fn parse_settings(text: &str, base_dir: &Path) -> Result<Settings, Refusal> {
    let mut settings = load_settings(SETTINGS_DOCUMENT, text).map_err(Refusal::Invalid)?;
    apply_environment(&mut settings, |name| std::env::var_os(name))
        .map_err(|error| Refusal::Environment(error.to_string()))?;
    settings.alerts.resolve_paths(base_dir);
    settings.dashboard.resolve_paths(base_dir);
    Ok(settings)
}

/// Loads `text` (see [`parse_settings`]) as settings that may replace `running` while the
/// master runs: valid, and changing nothing fixed at start.
pub fn check_replacement(
    running: &Settings,
    text: &str,
    base_dir: &Path,
) -> Result<Settings, Refusal> {
    let settings = parse_settings(text, base_dir)?;
    let fixed =
        plantkeeper_control::load::restart_required(SETTINGS_DOCUMENT, text, running, &settings);
    if fixed.is_empty() {
        Ok(settings)
    } else {
        Err(Refusal::RestartRequired(fixed))
    }
}

/// Picks the settings a starting master runs (see the module doc): `file_settings` is the
/// validated file whose text is `file_text`, named `file_name` in the history, in `base_dir`.
pub async fn adopt_at_start(
    store: &dyn Store,
    file_name: &str,
    file_text: &str,
    file_settings: Settings,
    base_dir: &Path,
    now: Timestamp,
) -> Result<Adopted, AdoptError> {
    let last_import = store
        .newest_settings_version(Some(SettingsSource::File))
        .await?;
    let newest = store.newest_settings_version(None).await?;
    let unchanged = last_import
        .as_ref()
        .is_some_and(|import| import.text == file_text);
    match newest {
        Some(newest) if unchanged => {
            let from_file = last_import
                .as_ref()
                .is_some_and(|import| import.info.version == newest.info.version);
            if from_file {
                return Ok(Adopted {
                    settings: file_settings,
                    version: running(&newest),
                    imported: false,
                });
            }
            let settings =
                check_replacement(&file_settings, &newest.text, base_dir).map_err(|refusal| {
                    match refusal {
                        Refusal::Invalid(errors) => AdoptError::StoredInvalid {
                            version: newest.info.version,
                            source_name: newest.info.source.as_str(),
                            errors,
                        },
                        Refusal::RestartRequired(errors) => AdoptError::Mismatch {
                            version: newest.info.version,
                            errors,
                        },
                        Refusal::Environment(message) => {
                            AdoptError::Environment(LoadError::Environment {
                                variable: plantkeeper_control::load::ADMIN_TOKEN_SHA256_ENV,
                                message,
                            })
                        }
                    }
                })?;
            Ok(Adopted {
                settings,
                version: running(&newest),
                imported: false,
            })
        }
        newest => {
            let previous = newest.as_ref().map(|version| version.text.as_str());
            let number = store
                .add_settings_version(new_version(
                    now,
                    format!("settings file {file_name}"),
                    SettingsSource::File,
                    previous,
                    file_text,
                ))
                .await?;
            Ok(Adopted {
                settings: file_settings,
                version: RunningVersion {
                    number,
                    text: Arc::from(file_text),
                },
                imported: true,
            })
        }
    }
}

fn running(version: &SettingsVersion) -> RunningVersion {
    RunningVersion {
        number: version.info.version,
        text: Arc::from(version.text.as_str()),
    }
}

/// A version to store: `text` made by `author`, with its unified diff against `previous`
/// (the version it replaces; `None` for the first) and a one-line summary.
pub fn new_version(
    now: Timestamp,
    author: String,
    source: SettingsSource,
    previous: Option<&str>,
    text: &str,
) -> NewSettingsVersion {
    let (summary, diff) = match previous {
        None => (
            format!("first version ({} lines)", text.lines().count()),
            String::new(),
        ),
        Some(previous) => diff(previous, text),
    };
    NewSettingsVersion {
        created_at_ms: now.as_millisecond(),
        author,
        source,
        text: text.to_owned(),
        summary,
        diff,
    }
}

/// The unified diff (3 lines of context) from `old` to `new`, and a summary such as
/// `+2 -1 lines`.
pub fn diff(old: &str, new: &str) -> (String, String) {
    let lines = TextDiff::from_lines(old, new);
    let (mut added, mut removed) = (0_usize, 0_usize);
    for change in lines.iter_all_changes() {
        match change.tag() {
            ChangeTag::Insert => added += 1,
            ChangeTag::Delete => removed += 1,
            ChangeTag::Equal => {}
        }
    }
    let unified = lines
        .unified_diff()
        .context_radius(3)
        .header("previous", "new")
        .to_string();
    let summary = if added == 0 && removed == 0 {
        "no change".to_owned()
    } else {
        format!("+{added} -{removed} lines")
    };
    (summary, unified)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_counts_lines_and_is_unified() {
        let (summary, unified) = diff("a = 1\nb = 2\nc = 3\n", "a = 1\nb = 20\nc = 3\nd = 4\n");
        assert_eq!(summary, "+2 -1 lines");
        assert!(
            unified.starts_with("--- previous\n+++ new\n@@"),
            "{unified}"
        );
        assert!(unified.contains("\n-b = 2\n+b = 20\n"), "{unified}");
        assert!(unified.contains("\n+d = 4\n"), "{unified}");
        assert_eq!(diff("x\n", "x\n").0, "no change");
    }
}
