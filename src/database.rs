//! Opening the store named by `[master] database`.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use plantkeeper_control::Settings;
use plantkeeper_control::load::DEFAULT_SPOOL;
use plantkeeper_store::Store;
use plantkeeper_store::postgres::{PostgresOptions, PostgresStore, is_postgres_url};
use plantkeeper_store::sqlite::{SqliteOptions, SqliteStore};

/// Opens the store of `[master] database`: `sqlite://PATH` (a relative path is relative to
/// `base_dir`, the settings file's directory) or a `postgres://`/`postgresql://` URL, with
/// `[storage] spool` (default [`DEFAULT_SPOOL`], relative to `base_dir` too) as its outage
/// spool.
pub async fn open_store(settings: &Settings, base_dir: &Path) -> anyhow::Result<Arc<dyn Store>> {
    let database = settings.master.database.as_str();
    if let Some(path) = database.strip_prefix("sqlite://") {
        let path = base_dir.join(path);
        let store = SqliteStore::open(&path, SqliteOptions::default())
            .await
            .with_context(|| format!("opening the SQLite store {}", path.display()))?;
        return Ok(Arc::new(store));
    }
    if is_postgres_url(database) {
        // The store's errors already name the server (password hidden) and say what failed.
        let spool = settings.storage.spool.as_deref().unwrap_or(DEFAULT_SPOOL);
        let options = PostgresOptions {
            spool: Some(base_dir.join(spool)),
            ..PostgresOptions::default()
        };
        let store = PostgresStore::open(database, options)
            .await
            .context("opening the PostgreSQL store")?;
        return Ok(Arc::new(store));
    }
    bail!(
        "unsupported database `{database}`: expected sqlite://PATH or postgres://USER@HOST/DATABASE"
    )
}
