//! Settings that the environment may override, so a service manager can supply a secret that
//! is not written in the settings file (e.g. a systemd `EnvironmentFile=`).

use super::error::LoadError;
use super::formats::parse_sha256_hex;
use crate::settings::Settings;

/// The SHA-256 of the admin token (64 hex characters); overrides `[master] admin_token_sha256`.
pub const ADMIN_TOKEN_SHA256_ENV: &str = "PLANTKEEPER_ADMIN_TOKEN_SHA256";

/// Applies the overrides found by `lookup` (a variable's value, `None` when unset) to
/// `settings`. A variable that is set must be valid: an empty or malformed value is an error
/// naming the variable, never silently ignored.
pub fn apply_environment(
    settings: &mut Settings,
    lookup: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> Result<(), LoadError> {
    let Some(value) = lookup(ADMIN_TOKEN_SHA256_ENV) else {
        return Ok(());
    };
    let invalid = |message: String| LoadError::Environment {
        variable: ADMIN_TOKEN_SHA256_ENV,
        message,
    };
    let text = value
        .to_str()
        .ok_or_else(|| invalid("is not valid UTF-8".to_owned()))?;
    if text.is_empty() {
        return Err(invalid(
            "is set but empty; unset it or give the SHA-256 of the admin token".to_owned(),
        ));
    }
    settings.master.admin_token_sha256 = Some(parse_sha256_hex(text).map_err(invalid)?);
    Ok(())
}
