//! Opening connections with PlantKeeper's settings, and bringing the schema up to date.
//!
//! Memory is budgeted here: the master must stay small on a Raspberry Pi, so the page caches
//! add up to about 12 MiB with the default two readers ([`WRITER_CACHE_KIB`] plus
//! [`READER_CACHE_KIB`] per reader), and memory-mapped I/O stays off.

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

use super::{Synchronous, database_error};
use crate::StoreError;

refinery::embed_migrations!("migrations/sqlite");

/// Page cache of the write connection: 8 Ki pages of 1 KiB, enough for the newest index leaf of
/// every series of 1 000 four-sensor nodes plus the report index, so commits do not re-read
/// pages (measured: 21.8k → 24.5k reports/s with `plantkeeper bench`).
const WRITER_CACHE_KIB: i64 = 8 * 1024;
/// Page cache of each read connection.
const READER_CACHE_KIB: i64 = 2 * 1024;
/// How long a connection waits for a lock held by another connection (a checkpoint, another
/// process) before failing with "database is locked".
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// The write-ahead log is truncated back to this size after a checkpoint, so a burst does not
/// leave a large file behind.
const WAL_SIZE_LIMIT_BYTES: i64 = 64 * 1024 * 1024;
/// Prepared statements kept by a connection: every statement of the writer and the readers.
const STATEMENT_CACHE: usize = 32;
/// Page size of a new database. Readings arrive for thousands of series at once, so each
/// commit dirties one index leaf per series; small pages make each of those writes small and
/// let the writer's cache hold every series' newest leaf.
const PAGE_SIZE: i64 = 1024;
/// SQLite's own checkpoint runs inside a commit once the log has this many pages; the
/// checkpoint thread normally keeps it far below.
pub(crate) const AUTOCHECKPOINT_PAGES: i64 = 64 * 1024;
/// Page cache of the checkpoint connection (it only copies pages).
const CHECKPOINTER_CACHE_KIB: i64 = 256;

/// Opens the write connection: creates the file and its directory if needed, switches to WAL,
/// applies the durability level and runs the pending migrations.
pub(crate) fn open_writer(path: &Path, synchronous: Synchronous) -> Result<Connection, StoreError> {
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|error| {
            StoreError::Database(format!("creating the directory {}: {error}", dir.display()))
        })?;
    }
    let mut connection =
        Connection::open(path).map_err(database_error(&format!("opening {}", path.display())))?;
    configure(&connection, WRITER_CACHE_KIB)?;
    // Effective only while the file is new (before the first table); harmless afterwards.
    connection
        .execute_batch(&format!("PRAGMA page_size = {PAGE_SIZE};"))
        .map_err(database_error("setting the page size"))?;
    // Returns the mode it switched to: a file system that cannot do WAL answers something else.
    let journal_mode: String = connection
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .map_err(database_error("switching to WAL"))?;
    if !journal_mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Database(format!(
            "switching to WAL: {} stays in `{journal_mode}` mode",
            path.display()
        )));
    }
    connection
        .execute_batch(&format!(
            "PRAGMA synchronous = {}; PRAGMA journal_size_limit = {WAL_SIZE_LIMIT_BYTES}; \
             PRAGMA wal_autocheckpoint = {AUTOCHECKPOINT_PAGES};",
            synchronous.pragma_value()
        ))
        .map_err(database_error("setting durability"))?;
    migrations::runner()
        .run(&mut connection)
        .map_err(|error| StoreError::Database(format!("applying migrations: {error}")))?;
    Ok(connection)
}

/// Opens a read connection on a database the writer has already created and migrated.
pub(crate) fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let connection = Connection::open(path).map_err(database_error(&format!(
        "opening {} for reading",
        path.display()
    )))?;
    configure(&connection, READER_CACHE_KIB)?;
    connection
        .execute_batch("PRAGMA query_only = ON;")
        .map_err(database_error("making a read connection read-only"))?;
    Ok(connection)
}

/// Opens the connection of the checkpoint thread.
pub(crate) fn open_checkpointer(path: &Path) -> Result<Connection, StoreError> {
    let connection = Connection::open(path).map_err(database_error(&format!(
        "opening {} for checkpoints",
        path.display()
    )))?;
    configure(&connection, CHECKPOINTER_CACHE_KIB)?;
    Ok(connection)
}

/// Settings every connection shares.
fn configure(connection: &Connection, cache_kib: i64) -> Result<(), StoreError> {
    connection
        .busy_timeout(BUSY_TIMEOUT)
        .map_err(database_error("setting busy_timeout"))?;
    connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // A negative cache_size is in KiB rather than in pages.
    connection
        .execute_batch(&format!(
            "PRAGMA cache_size = -{cache_kib}; PRAGMA mmap_size = 0;"
        ))
        .map_err(database_error("setting the page cache"))
}
