//! How a [`SqliteStore`](super::SqliteStore) is opened: durability level, batch size, read pool,
//! and the `sqlite://` database URL of the config file.

use std::path::{Path, PathBuf};

use crate::{Retention, StoreError};

/// What an acknowledged write survives (SQLite's `PRAGMA synchronous` in WAL mode).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Synchronous {
    /// Every commit is flushed to disk before it is acknowledged: an acknowledged report
    /// survives a power loss. The default.
    #[default]
    Full,
    /// Commits are flushed at checkpoints only: an acknowledged report survives a crash of the
    /// process, but the last commits may be lost on power loss. Faster on slow SD cards.
    Normal,
}

impl Synchronous {
    /// The value of `PRAGMA synchronous` for this level.
    pub(crate) fn pragma_value(self) -> &'static str {
        match self {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
        }
    }
}

/// Options of [`SqliteStore::open`](super::SqliteStore::open).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteOptions {
    /// What an acknowledged write survives.
    pub synchronous: Synchronous,
    /// At most about this many rows (readings, reports, state changes, events) per group-commit
    /// transaction. Concurrent writes are merged until the cap is reached; one write larger than
    /// the cap is still committed whole, in its own transaction.
    pub max_batch: usize,
    /// Connections reading beside the writer (WAL lets them run during a write). At least one
    /// is opened even if this is 0. Each holds a 2 MiB page cache (the writer 4 MiB), so the
    /// default two keep the store's caches at 8 MiB.
    pub read_connections: usize,
    /// How long raw readings and hourly rollups are kept.
    pub retention: Retention,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            synchronous: Synchronous::Full,
            max_batch: 2000,
            read_connections: 2,
            retention: Retention::default(),
        }
    }
}

/// The database file named by a `database = "sqlite://PATH"` setting.
///
/// A relative `PATH` is taken relative to `base_dir` (the config file's directory);
/// `sqlite:///abs/file.db` names an absolute path. `sqlite:PATH` is accepted as well.
///
/// # Errors
/// [`StoreError::InvalidQuery`] when the URL is not an `sqlite:` URL with a path, or carries
/// query parameters (none are supported).
pub fn database_path(url: &str, base_dir: &Path) -> Result<PathBuf, StoreError> {
    let invalid = |why: &str| {
        StoreError::InvalidQuery(format!(
            "database URL `{url}` {why}: expected `sqlite://PATH`, e.g. `sqlite://plantkeeper.db`"
        ))
    };
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or_else(|| invalid("is not an SQLite URL"))?;
    if path.contains('?') {
        return Err(invalid("has query parameters, which are not supported"));
    }
    if path.is_empty() {
        return Err(invalid("has no file path"));
    }
    Ok(base_dir.join(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_url_path_is_resolved_against_the_base_dir() {
        let path = database_path("sqlite://plantkeeper.db", Path::new("/etc/plantkeeper"));
        assert_eq!(
            path.ok(),
            Some(PathBuf::from("/etc/plantkeeper/plantkeeper.db"))
        );
    }

    #[test]
    fn absolute_url_path_ignores_the_base_dir() {
        let path = database_path(
            "sqlite:///var/lib/pk/data.db",
            Path::new("/etc/plantkeeper"),
        );
        assert_eq!(path.ok(), Some(PathBuf::from("/var/lib/pk/data.db")));
    }

    #[test]
    fn short_sqlite_scheme_is_accepted() {
        let path = database_path("sqlite:data/pk.db", Path::new("/srv"));
        assert_eq!(path.ok(), Some(PathBuf::from("/srv/data/pk.db")));
    }

    #[test]
    fn non_sqlite_urls_are_refused_with_the_expected_form() {
        for url in [
            "postgres://u:p@host/db",
            "sqlite://",
            "sqlite://pk.db?mode=rwc",
            "pk.db",
        ] {
            match database_path(url, Path::new("/srv")) {
                Err(StoreError::InvalidQuery(message)) => {
                    assert!(
                        message.contains("sqlite://PATH"),
                        "message for `{url}` should show the expected form: {message}"
                    )
                }
                other => panic!("`{url}` should be refused, got {other:?}"),
            }
        }
    }
}
