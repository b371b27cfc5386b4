//! Opening the store named by `[master] database`.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use plantkeeper_store::Store;
use plantkeeper_store::sqlite::{SqliteOptions, SqliteStore};

/// Opens the store of a `database` setting; a relative SQLite path is relative to `base_dir`
/// (the settings file's directory).
pub async fn open_store(database: &str, base_dir: &Path) -> anyhow::Result<Arc<dyn Store>> {
    if let Some(path) = database.strip_prefix("sqlite://") {
        let path = base_dir.join(path);
        let store = SqliteStore::open(&path, SqliteOptions::default())
            .await
            .with_context(|| format!("opening the SQLite store {}", path.display()))?;
        return Ok(Arc::new(store));
    }
    if database.starts_with("postgres://") || database.starts_with("postgresql://") {
        bail!(
            "the PostgreSQL store is not available in this build yet; use database = \"sqlite://plantkeeper.db\""
        );
    }
    bail!("unsupported database `{database}`: expected sqlite://PATH")
}
