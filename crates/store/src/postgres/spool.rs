//! The local spool: where the PostgreSQL writer durably keeps the batches it could not commit
//! because the database was unreachable, until it can replay them.
//!
//! It is a small SQLite file (WAL, `synchronous = FULL`: every append is fsynced before it
//! returns, so a batch acknowledged from the spool survives a crash of the master). Batches
//! are kept in tables of their own rows (values as SQLite REAL, the exact same double), with
//! an `AUTOINCREMENT` id that is never reused, and a random identity of the file: the pair
//! `(identity, id)` names a spooled batch for ever, which is what makes the replay idempotent
//! (see `migrations/postgres/V2__spool_drained.sql`).
//!
//! The functions are blocking; the writer calls them through `spawn_blocking`.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::{Connection, OptionalExtension, params};

use crate::sqlite::state_change;
use crate::{Event, NewReading, ReportRecord, StoreError, WriteBatch};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS spool_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO spool_meta (key, value) VALUES ('identity', lower(hex(randomblob(16))));
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    spooled_at_ms INTEGER NOT NULL,
    refused TEXT
);
CREATE TABLE IF NOT EXISTS reports (
    batch INTEGER NOT NULL, idx INTEGER NOT NULL,
    node TEXT NOT NULL, boot INTEGER, seq INTEGER NOT NULL, received_at INTEGER NOT NULL,
    PRIMARY KEY (batch, idx)
);
CREATE TABLE IF NOT EXISTS readings (
    batch INTEGER NOT NULL, report INTEGER NOT NULL, idx INTEGER NOT NULL,
    sensor TEXT NOT NULL, ts INTEGER NOT NULL, value REAL NOT NULL,
    PRIMARY KEY (batch, report, idx)
);
CREATE TABLE IF NOT EXISTS state_changes (
    batch INTEGER NOT NULL, idx INTEGER NOT NULL,
    ts INTEGER NOT NULL, node TEXT NOT NULL, output TEXT NOT NULL, power INTEGER NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (batch, idx)
);
CREATE TABLE IF NOT EXISTS events (
    batch INTEGER NOT NULL, idx INTEGER NOT NULL,
    ts INTEGER NOT NULL, kind TEXT NOT NULL, node TEXT, output TEXT, message TEXT NOT NULL,
    PRIMARY KEY (batch, idx)
);
";

/// The spool file, shared between the writer task and its blocking calls.
#[derive(Clone)]
pub(crate) struct Spool {
    connection: Arc<Mutex<Connection>>,
    identity: String,
    path: String,
}

/// A batch read back from the spool.
pub(crate) struct Spooled {
    /// Its id in this spool.
    pub(crate) id: i64,
    /// What was spooled.
    pub(crate) batch: WriteBatch,
}

impl Spool {
    /// Opens (creating if needed) the spool at `path`.
    ///
    /// # Errors
    /// [`StoreError::Database`] naming the file when it cannot be opened or set up.
    pub(crate) fn open(path: &Path) -> Result<Spool, StoreError> {
        let shown = path.display().to_string();
        let failed = |what: &str, error: rusqlite::Error| {
            StoreError::Database(format!("spool {shown}: {what}: {error}"))
        };
        let connection = Connection::open(path).map_err(|error| failed("opening", error))?;
        let journal: String = connection
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(|error| failed("switching to WAL", error))?;
        if !journal.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Database(format!(
                "spool {shown}: stays in `{journal}` journal mode, WAL needed"
            )));
        }
        connection
            .execute_batch("PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;")
            .map_err(|error| failed("setting durability", error))?;
        connection
            .execute_batch(SCHEMA)
            .map_err(|error| failed("creating its tables", error))?;
        let identity: String = connection
            .query_row(
                "SELECT value FROM spool_meta WHERE key = 'identity'",
                [],
                |row| row.get(0),
            )
            .map_err(|error| failed("reading its identity", error))?;
        Ok(Spool {
            connection: Arc::new(Mutex::new(connection)),
            identity,
            path: shown,
        })
    }

    /// The file's random identity: with a batch id, names a spooled batch for ever.
    pub(crate) fn identity(&self) -> &str {
        &self.identity
    }

    /// How many batches wait to be replayed (refused ones excluded).
    pub(crate) fn pending(&self) -> Result<usize, StoreError> {
        let count: i64 = self
            .lock()
            .query_row(
                "SELECT count(*) FROM batches WHERE refused IS NULL",
                [],
                |row| row.get(0),
            )
            .map_err(self.error("counting spooled batches"))?;
        Ok(usize::try_from(count).unwrap_or(0))
    }

    /// Durably appends `batch` (committed and fsynced on return); returns its id.
    pub(crate) fn append(&self, batch: &WriteBatch, now_ms: i64) -> Result<i64, StoreError> {
        let mut connection = self.lock();
        let transaction = connection
            .transaction()
            .map_err(self.error("starting a transaction"))?;
        let id = append_rows(&transaction, batch, now_ms).map_err(self.error("appending"))?;
        transaction.commit().map_err(self.error("committing"))?;
        Ok(id)
    }

    /// The oldest batch still to replay.
    pub(crate) fn oldest(&self) -> Result<Option<Spooled>, StoreError> {
        let connection = self.lock();
        let id: Option<i64> = connection
            .query_row(
                "SELECT min(id) FROM batches WHERE refused IS NULL",
                [],
                |row| row.get(0),
            )
            .optional()
            .map_err(self.error("finding the oldest batch"))?
            .flatten();
        let Some(id) = id else {
            return Ok(None);
        };
        let batch = read_batch(&connection, id).map_err(self.error("reading a batch"))?;
        Ok(Some(Spooled { id, batch }))
    }

    /// Deletes batch `id` (after PostgreSQL committed it).
    pub(crate) fn remove(&self, id: i64) -> Result<(), StoreError> {
        let mut connection = self.lock();
        let transaction = connection
            .transaction()
            .map_err(self.error("starting a transaction"))?;
        for table in ["reports", "readings", "state_changes", "events"] {
            transaction
                .execute(&format!("DELETE FROM {table} WHERE batch = ?1"), [id])
                .map_err(self.error("removing a replayed batch"))?;
        }
        transaction
            .execute("DELETE FROM batches WHERE id = ?1", [id])
            .map_err(self.error("removing a replayed batch"))?;
        transaction.commit().map_err(self.error("committing"))
    }

    /// Marks batch `id` as refused by PostgreSQL (kept in the file, no longer replayed).
    pub(crate) fn refuse(&self, id: i64, why: &str) -> Result<(), StoreError> {
        self.lock()
            .execute(
                "UPDATE batches SET refused = ?2 WHERE id = ?1",
                params![id, why],
            )
            .map(drop)
            .map_err(self.error("marking a refused batch"))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (transactions roll back).
        self.connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn error(&self, what: &'static str) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |error| StoreError::Database(format!("spool {}: {what}: {error}", self.path))
    }
}

fn append_rows(
    transaction: &rusqlite::Transaction<'_>,
    batch: &WriteBatch,
    now_ms: i64,
) -> rusqlite::Result<i64> {
    transaction.execute("INSERT INTO batches (spooled_at_ms) VALUES (?1)", [now_ms])?;
    let id = transaction.last_insert_rowid();
    let mut insert_report = transaction.prepare_cached(
        "INSERT INTO reports (batch, idx, node, boot, seq, received_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    let mut insert_reading = transaction.prepare_cached(
        "INSERT INTO readings (batch, report, idx, sensor, ts, value) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for (r, report) in (0_i64..).zip(&batch.reports) {
        insert_report.execute(params![
            id,
            r,
            report.node,
            report.boot,
            report.seq,
            report.received_at_ms
        ])?;
        for (i, reading) in (0_i64..).zip(&report.readings) {
            insert_reading.execute(params![
                id,
                r,
                i,
                reading.sensor,
                reading.at_ms,
                reading.value
            ])?;
        }
    }
    let mut insert_change = transaction.prepare_cached(
        "INSERT INTO state_changes (batch, idx, ts, node, output, power, reason) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for (i, change) in (0_i64..).zip(&batch.state_changes) {
        insert_change.execute(params![
            id,
            i,
            change.at_ms,
            change.node,
            change.output,
            change.power,
            change.reason
        ])?;
    }
    let mut insert_event = transaction.prepare_cached(
        "INSERT INTO events (batch, idx, ts, kind, node, output, message) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for (i, event) in (0_i64..).zip(&batch.events) {
        insert_event.execute(params![
            id,
            i,
            event.at_ms,
            event.kind,
            event.node,
            event.output,
            event.message
        ])?;
    }
    Ok(id)
}

fn read_batch(connection: &Connection, id: i64) -> rusqlite::Result<WriteBatch> {
    let mut reports: Vec<ReportRecord> = connection
        .prepare_cached(
            "SELECT node, boot, seq, received_at FROM reports WHERE batch = ?1 ORDER BY idx",
        )?
        .query_map([id], |row| {
            Ok(ReportRecord {
                node: row.get(0)?,
                boot: row.get(1)?,
                seq: row.get(2)?,
                received_at_ms: row.get(3)?,
                readings: Vec::new(),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut readings = connection.prepare_cached(
        "SELECT report, sensor, ts, value FROM readings WHERE batch = ?1 ORDER BY report, idx",
    )?;
    let mut rows = readings.query([id])?;
    while let Some(row) = rows.next()? {
        let report: i64 = row.get(0)?;
        let reading = NewReading {
            sensor: row.get(1)?,
            at_ms: row.get(2)?,
            value: row.get(3)?,
        };
        if let Some(report) = usize::try_from(report)
            .ok()
            .and_then(|report| reports.get_mut(report))
        {
            report.readings.push(reading);
        }
    }
    let state_changes = connection
        .prepare_cached(
            "SELECT ts, node, output, power, reason FROM state_changes WHERE batch = ?1 \
             ORDER BY idx",
        )?
        .query_map([id], state_change)?
        .collect::<rusqlite::Result<_>>()?;
    let events = connection
        .prepare_cached(
            "SELECT ts, kind, node, output, message FROM events WHERE batch = ?1 ORDER BY idx",
        )?
        .query_map([id], |row| {
            Ok(Event {
                at_ms: row.get(0)?,
                kind: row.get(1)?,
                node: row.get(2)?,
                output: row.get(3)?,
                message: row.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(WriteBatch {
        reports,
        state_changes,
        events,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StateChange;

    #[test]
    fn a_batch_comes_back_exactly_and_goes_once_removed() {
        let dir = tempfile::tempdir().expect("temporary dir");
        let path = dir.path().join("spool.db");
        let batch = WriteBatch {
            reports: vec![
                ReportRecord {
                    node: "bed".to_owned(),
                    boot: Some(u32::MAX),
                    seq: 7,
                    received_at_ms: 1_000,
                    readings: vec![
                        NewReading {
                            sensor: "soil".to_owned(),
                            at_ms: 990,
                            value: 0.1 + 0.2,
                        },
                        NewReading {
                            sensor: "air".to_owned(),
                            at_ms: 995,
                            value: -1e-300,
                        },
                    ],
                },
                ReportRecord {
                    node: "tank".to_owned(),
                    boot: None,
                    seq: 0,
                    received_at_ms: 1_001,
                    readings: Vec::new(),
                },
            ],
            state_changes: vec![StateChange {
                at_ms: 1_000,
                node: "bed".to_owned(),
                output: "valve".to_owned(),
                power: true,
                reason: "soil 0.3 < 30".to_owned(),
            }],
            events: vec![Event {
                at_ms: 1_002,
                kind: "override_set".to_owned(),
                node: None,
                output: Some("valve".to_owned()),
                message: "set".to_owned(),
            }],
        };
        let spool = Spool::open(&path).expect("open");
        let first = spool.append(&batch, 5).expect("append");
        let second = spool.append(&WriteBatch::default(), 6).expect("append");
        assert!(second > first);
        assert_eq!(spool.pending().expect("pending"), 2);
        let identity = spool.identity().to_owned();
        drop(spool);

        let spool = Spool::open(&path).expect("reopen");
        assert_eq!(
            spool.identity(),
            identity,
            "the identity is kept in the file"
        );
        let oldest = spool.oldest().expect("read").expect("a batch");
        assert_eq!(oldest.id, first);
        assert_eq!(oldest.batch, batch, "every field comes back bit for bit");
        spool.remove(first).expect("remove");
        spool.refuse(second, "refused for a test").expect("refuse");
        assert_eq!(spool.pending().expect("pending"), 0);
        assert!(spool.oldest().expect("read").is_none());
        let third = spool.append(&batch, 7).expect("append");
        assert!(third > second, "ids are never reused");
    }
}
