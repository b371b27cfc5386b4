//! The rows of the settings history: every version of the master's settings that ran.

use crate::StoreError;

/// How a settings version came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingsSource {
    /// Imported from the settings file when the master started.
    File,
    /// Sent with `PUT /api/v1/settings`.
    Api,
    /// `POST /api/v1/settings/rollback/{version}`: an older version's text made current again.
    Rollback,
}

impl SettingsSource {
    /// The stored name: `file`, `api` or `rollback`.
    pub fn as_str(self) -> &'static str {
        match self {
            SettingsSource::File => "file",
            SettingsSource::Api => "api",
            SettingsSource::Rollback => "rollback",
        }
    }

    /// The source of a stored name.
    ///
    /// # Errors
    /// [`StoreError::Database`] for a name the schema does not allow.
    pub fn parse(name: &str) -> Result<SettingsSource, StoreError> {
        match name {
            "file" => Ok(SettingsSource::File),
            "api" => Ok(SettingsSource::Api),
            "rollback" => Ok(SettingsSource::Rollback),
            other => Err(StoreError::Database(format!(
                "unknown settings source `{other}` in settings_versions"
            ))),
        }
    }
}

/// A settings version to store; the store numbers it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSettingsVersion {
    /// When it was made (ms).
    pub created_at_ms: i64,
    /// Who made it: `admin token`, `settings file PATH`, `rollback of 3 by admin token`.
    pub author: String,
    /// How it was made.
    pub source: SettingsSource,
    /// The whole TOML text.
    pub text: String,
    /// One line saying what changed, e.g. `+2 -1 lines`.
    pub summary: String,
    /// The unified diff of the text against the previous version (empty for the first).
    pub diff: String,
}

/// A stored version without its text: one row of the history.
#[derive(Debug, Clone, PartialEq)]
pub struct SettingsVersionInfo {
    /// 1, 2, 3, ... in the order they were stored.
    pub version: u64,
    /// When it was made (ms).
    pub created_at_ms: i64,
    /// Who made it.
    pub author: String,
    /// How it was made.
    pub source: SettingsSource,
    /// One line saying what changed.
    pub summary: String,
}

/// A stored version with its text and diff.
#[derive(Debug, Clone, PartialEq)]
pub struct SettingsVersion {
    /// Number, time, author, source and summary.
    pub info: SettingsVersionInfo,
    /// The whole TOML text.
    pub text: String,
    /// The unified diff against the previous version.
    pub diff: String,
}
