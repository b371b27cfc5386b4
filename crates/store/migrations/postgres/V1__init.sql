-- PlantKeeper's PostgreSQL schema, version 1: the same tables as the SQLite schema, so both
-- engines answer every query identically (see migrations/sqlite/V1__init.sql).
--
-- Column types, once for all tables:
-- * Timestamps (`ts`, `received_at`) are BIGINT milliseconds since the Unix epoch, UTC, as in
--   SQLite: exact, the same integer arithmetic for `step` buckets (floor division) in both
--   engines, and every i64 the Store trait accepts fits. Grafana reads them through the
--   `readings_view` below (a `timestamptz` column) or with `$__unixEpochGroup`-style macros.
-- * Sensor values are DOUBLE PRECISION: the IEEE 754 double the node sent.
-- * `boot` and `seq` are the node's u32 numbers; BIGINT holds every u32 exactly.
-- * No FOREIGN KEY: the single writer takes every series id from `series` itself.
--
-- Every object is created unqualified: it lands in the first schema of the connection's
-- `search_path` (the store's `schema` option), so test runs can live side by side.

-- The store's own small values: `epoch` (the master's start counter) and `heartbeat` (the
-- writable probe).
CREATE TABLE meta (
    key   TEXT   NOT NULL PRIMARY KEY,
    value BIGINT NOT NULL
);

-- One row per (node, sensor); readings refer to it by id.
CREATE TABLE series (
    id     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    node   TEXT NOT NULL,
    sensor TEXT NOT NULL,
    UNIQUE (node, sensor)
);

-- Sensor values, the bulk of the database. No primary key (TimescaleDB turns this table into
-- a hypertable when present, see migrations/timescale).
CREATE TABLE readings (
    series_id BIGINT           NOT NULL,
    ts        BIGINT           NOT NULL,
    value     DOUBLE PRECISION NOT NULL
);
CREATE INDEX readings_by_series_time ON readings (series_id, ts);

-- Reports received recently, to recognise a retried report by (node, boot, seq). A UNIQUE
-- constraint treats NULLs as distinct (the default NULLS DISTINCT), so a report without
-- `boot` is never a duplicate, exactly as in SQLite. The writer prunes rows older than two
-- days.
CREATE TABLE reports (
    node        TEXT   NOT NULL,
    boot        BIGINT,
    seq         BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    UNIQUE (node, boot, seq)
);
CREATE INDEX reports_by_received_at ON reports (received_at);
CREATE INDEX reports_by_node_received_at ON reports (node, received_at);

-- Every output switching ON or OFF, with the reason a grower reads. `id` orders changes that
-- share a millisecond. The key is (id, ts) rather than (id) because a TimescaleDB hypertable
-- needs its time column in every unique index.
CREATE TABLE state_changes (
    id     BIGINT GENERATED ALWAYS AS IDENTITY,
    ts     BIGINT  NOT NULL,
    node   TEXT    NOT NULL,
    output TEXT    NOT NULL,
    power  BOOLEAN NOT NULL,
    reason TEXT    NOT NULL,
    PRIMARY KEY (id, ts)
);
CREATE INDEX state_changes_by_time ON state_changes (ts);
CREATE INDEX state_changes_by_node_time ON state_changes (node, ts);

-- Everything else worth recording: master start, overrides, alerts, setting changes.
CREATE TABLE events (
    id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ts      BIGINT NOT NULL,
    kind    TEXT   NOT NULL,
    node    TEXT,
    output  TEXT,
    message TEXT   NOT NULL
);
CREATE INDEX events_by_time ON events (ts);
CREATE INDEX events_by_node_time ON events (node, ts);

-- Readings with a real timestamp and names, for Grafana panels and ad-hoc SQL.
CREATE VIEW readings_view AS
SELECT to_timestamp(r.ts / 1000.0) AS time, s.node, s.sensor, r.value
FROM readings r JOIN series s ON s.id = r.series_id;
