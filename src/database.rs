//! Opening the store named by `[master] database`.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use plantkeeper_store::Store;
use plantkeeper_store::postgres::{PostgresOptions, PostgresStore, is_postgres_url};
use plantkeeper_store::sqlite::{SqliteOptions, SqliteStore};

/// Opens the store of a `database` setting: `sqlite://PATH` (a relative path is relative to
/// `base_dir`, the settings file's directory) or `postgres://`/`postgresql://` URL.
pub async fn open_store(database: &str, base_dir: &Path) -> anyhow::Result<Arc<dyn Store>> {
    if let Some(path) = database.strip_prefix("sqlite://") {
        let path = base_dir.join(path);
        let store = SqliteStore::open(&path, SqliteOptions::default())
            .await
            .with_context(|| format!("opening the SQLite store {}", path.display()))?;
        return Ok(Arc::new(store));
    }
    if is_postgres_url(database) {
        // The store's errors already name the server (password hidden) and say what failed.
        let store = PostgresStore::open(database, PostgresOptions::default())
            .await
            .context("opening the PostgreSQL store")?;
        return Ok(Arc::new(store));
    }
    bail!(
        "unsupported database `{database}`: expected sqlite://PATH or postgres://USER@HOST/DATABASE"
    )
}
