//! Opening the store named by `[master] database`.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use plantkeeper_control::Settings;
use plantkeeper_control::load::DEFAULT_SPOOL;
use plantkeeper_control::settings::StorageSettings;
use plantkeeper_store::postgres::{PostgresOptions, PostgresStore, is_postgres_url};
use plantkeeper_store::sqlite::{SqliteOptions, SqliteStore};
use plantkeeper_store::{Retention, Store};

/// Opens the store of `[master] database`: `sqlite://PATH` (a relative path is relative to
/// `base_dir`, the settings file's directory) or a `postgres://`/`postgresql://` URL, with
/// `[storage] spool` (default [`DEFAULT_SPOOL`], relative to `base_dir` too) as its outage
/// spool, keeping readings as long as `[storage] keep_raw` / `keep_hourly` say.
pub async fn open_store(settings: &Settings, base_dir: &Path) -> anyhow::Result<Arc<dyn Store>> {
    let database = settings.master.database.as_str();
    if let Some(path) = database.strip_prefix("sqlite://") {
        let path = base_dir.join(path);
        let options = SqliteOptions {
            retention: retention(&settings.storage),
            ..SqliteOptions::default()
        };
        let store = SqliteStore::open(&path, options)
            .await
            .with_context(|| format!("opening the SQLite store {}", path.display()))?;
        return Ok(Arc::new(store));
    }
    if is_postgres_url(database) {
        // The store's errors already name the server (password hidden) and say what failed.
        let spool = settings.storage.spool.as_deref().unwrap_or(DEFAULT_SPOOL);
        let options = PostgresOptions {
            spool: Some(base_dir.join(spool)),
            retention: retention(&settings.storage),
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

/// The store's retention from `[storage]` (durations beyond `i64` milliseconds saturate; the
/// loader caps them far below).
pub fn retention(storage: &StorageSettings) -> Retention {
    let millis =
        |duration: std::time::Duration| i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
    Retention {
        keep_raw_ms: millis(storage.keep_raw),
        keep_hourly_ms: millis(storage.keep_hourly),
    }
}
