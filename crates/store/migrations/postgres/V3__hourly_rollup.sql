-- Version 3 (V2 is the write spool's): the hourly rollup, as in SQLite's V2 (see
-- migrations/sqlite/V2__hourly_rollup.sql). One row per series and hour (`hour`: the hour's
-- start, ms since the epoch), maintained by the writer in the same transaction as the raw
-- readings; it outlives them (`[storage] keep_raw`) until `keep_hourly`. Not named
-- `readings_hourly`: that is TimescaleDB's continuous aggregate (migrations/timescale/V2).
CREATE TABLE readings_rollup (
    series_id BIGINT           NOT NULL,
    hour      BIGINT           NOT NULL,
    samples   BIGINT           NOT NULL,
    sum_value DOUBLE PRECISION NOT NULL,
    min_value DOUBLE PRECISION NOT NULL,
    max_value DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (series_id, hour)
);

-- Readings stored before this version get their rollup now.
INSERT INTO readings_rollup (series_id, hour, samples, sum_value, min_value, max_value)
SELECT series_id, ts - ((ts % 3600000) + 3600000) % 3600000 AS hour,
       count(*), sum(value), min(value), max(value)
FROM readings GROUP BY 1, 2;
