//! The dashboard password: an argon2id hash (PHC string) in `[dashboard] password_file`,
//! written by `plantkeeper admin set-password` and checked at each login.

use std::path::Path;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::TryRng;
use rand::rngs::SysRng;

/// Shortest password accepted by `set-password`.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// Why a password could not be hashed or checked.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// Too short.
    #[error("the password must be at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    /// The operating system gave no random salt.
    #[error("no random salt from the operating system: {0}")]
    Random(#[from] rand::rngs::SysError),
    /// argon2 refused.
    #[error("argon2: {0}")]
    Hash(argon2::password_hash::Error),
    /// The password file holds no argon2 PHC string.
    #[error("{path}: not an argon2 hash written by `plantkeeper admin set-password`: {error}")]
    Corrupt {
        /// The file.
        path: String,
        /// What is wrong.
        error: argon2::password_hash::Error,
    },
    /// The password file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

/// The argon2id hash (PHC string, default parameters, random 128-bit salt) of `password`.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort);
    }
    let mut salt = [0u8; 16];
    SysRng.try_fill_bytes(&mut salt)?;
    let salt = SaltString::encode_b64(&salt).map_err(PasswordError::Hash)?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(PasswordError::Hash)
}

/// Writes `hash` to `path` (owner-only permissions on Unix), replacing it atomically.
pub fn write_password_file(path: &Path, hash: &str) -> std::io::Result<()> {
    let temporary = path.with_extension("tmp");
    {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temporary)?;
        std::io::Write::write_all(&mut file, format!("{hash}\n").as_bytes())?;
        file.sync_all()?;
    }
    std::fs::rename(&temporary, path)
}

/// Whether `password` matches the hash in `path`; `Ok(false)` when no password is set (no
/// file). Slow on purpose (argon2): call it off the async threads.
pub fn verify_password_file(path: &Path, password: &str) -> Result<bool, PasswordError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(source) => {
            return Err(PasswordError::Io {
                path: path.display().to_string(),
                source,
            });
        }
    };
    let hash = PasswordHash::new(text.trim()).map_err(|error| PasswordError::Corrupt {
        path: path.display().to_string(),
        error,
    })?;
    Ok(Argon2::default()
        .verify_password(password.as_bytes(), &hash)
        .is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_hash_accepts_its_password_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("dashboard-password");
        assert!(!verify_password_file(&path, "no file yet at all").expect("no file is fine"));
        let hash = hash_password("correct horse battery").expect("hash");
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        write_password_file(&path, &hash).expect("write");
        assert!(verify_password_file(&path, "correct horse battery").expect("verify"));
        assert!(!verify_password_file(&path, "correct horse battery!").expect("verify"));
        assert!(matches!(
            hash_password("short"),
            Err(PasswordError::TooShort)
        ));
        std::fs::write(&path, "plain text").expect("write");
        assert!(matches!(
            verify_password_file(&path, "correct horse battery"),
            Err(PasswordError::Corrupt { .. })
        ));
    }
}
