-- PlantKeeper's SQLite schema, version 1.
--
-- Column types, once for all tables:
-- * Every table is STRICT, so SQLite enforces the declared types instead of storing whatever
--   it is given (a text "12" in a timestamp column would silently break ordering).
-- * Timestamps (`ts`, `received_at`) are INTEGER milliseconds since the Unix epoch, UTC: exact,
--   ordered, and a 6-byte varint for today's dates (an ISO text date would take 24 bytes).
-- * Sensor values are REAL: the IEEE 754 double the node sent, 8 bytes, no rounding.
-- * `boot` and `seq` are the node's u32 numbers; INTEGER (64-bit) holds every u32 exactly.
-- * Booleans (`power`) are INTEGER 0/1, SQLite having no boolean type; a CHECK keeps them so.
-- * Names (node, sensor, output, kind) and sentences are TEXT.
-- * No FOREIGN KEY: the store's single writer is the only one inserting, and it takes every
--   series id from `series` itself; an enforced key would cost a lookup per reading for nothing.

-- The store's own small values: `epoch` (the master's start counter) and `heartbeat` (the
-- writable probe). ANY because each key has its own type.
CREATE TABLE meta (
    key   TEXT NOT NULL PRIMARY KEY,
    value ANY
) STRICT, WITHOUT ROWID;

-- One row per (node, sensor), so that a reading row holds three numbers instead of repeating
-- two strings.
CREATE TABLE series (
    id     INTEGER PRIMARY KEY,
    node   TEXT NOT NULL,
    sensor TEXT NOT NULL,
    UNIQUE (node, sensor)
) STRICT;

-- Sensor values, the bulk of the database.
CREATE TABLE readings (
    series_id INTEGER NOT NULL,
    ts        INTEGER NOT NULL,
    value     REAL    NOT NULL
) STRICT;
CREATE INDEX readings_by_series_time ON readings (series_id, ts);

-- Reports received recently; they only serve to recognise a retried report, whose identity is
-- (node, boot, seq). SQLite treats NULLs as distinct in a UNIQUE constraint, so a report
-- without `boot` is never a duplicate here: without `boot`, deduplication is the master's
-- in-memory job. The writer prunes rows older than two days (hence the index on received_at).
CREATE TABLE reports (
    node        TEXT    NOT NULL,
    boot        INTEGER,
    seq         INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    UNIQUE (node, boot, seq)
) STRICT;
CREATE INDEX reports_by_received_at ON reports (received_at);

-- Every output switching ON or OFF, with the reason a grower reads. `id` orders changes that
-- share a millisecond.
CREATE TABLE state_changes (
    id     INTEGER PRIMARY KEY,
    ts     INTEGER NOT NULL,
    node   TEXT    NOT NULL,
    output TEXT    NOT NULL,
    power  INTEGER NOT NULL CHECK (power IN (0, 1)),
    reason TEXT    NOT NULL
) STRICT;
CREATE INDEX state_changes_by_time ON state_changes (ts);
CREATE INDEX state_changes_by_node_time ON state_changes (node, ts);

-- Everything else worth recording: master start, overrides, alerts, setting changes.
CREATE TABLE events (
    id      INTEGER PRIMARY KEY,
    ts      INTEGER NOT NULL,
    kind    TEXT    NOT NULL,
    node    TEXT,
    output  TEXT,
    message TEXT    NOT NULL
) STRICT;
CREATE INDEX events_by_time ON events (ts);
CREATE INDEX events_by_node_time ON events (node, ts);
