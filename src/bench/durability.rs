//! The durability check: after the master stopped, count what its database really holds.

use std::path::Path;

use anyhow::Context;
use rusqlite::{Connection, OpenFlags};

/// The number of readings stored in the SQLite database at `path`, opened read-only.
pub fn count_readings(path: &Path) -> anyhow::Result<u64> {
    let connection = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("opening {} read-only", path.display()))?;
    let count: i64 = connection
        .query_row("SELECT count(*) FROM readings", [], |row| row.get(0))
        .with_context(|| format!("counting the readings in {}", path.display()))?;
    u64::try_from(count).context("SQLite counted a negative number of readings")
}
