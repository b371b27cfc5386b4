-- TimescaleDB, step 2 (Timescale licence, `timescaledb.license = 'timescale'`: the Apache
-- edition has no compression, policies or continuous aggregates): compression segmented by
-- series, a retention policy on raw readings, and an hourly continuous aggregate that outlives
-- them. All durations are in milliseconds, like the `ts` columns.
--
-- One statement per line ending in `;` and no `;` inside a statement (see V1).

-- Chunks older than 7 days are compressed; one segment per series (readings) or node (state
-- changes), ordered by time, which is how every query reads them.
ALTER TABLE readings SET (timescaledb.compress, timescaledb.compress_segmentby = 'series_id', timescaledb.compress_orderby = 'ts');
SELECT add_compression_policy('readings', compress_after => 604800000::BIGINT);
ALTER TABLE state_changes SET (timescaledb.compress, timescaledb.compress_segmentby = 'node', timescaledb.compress_orderby = 'ts, id');
SELECT add_compression_policy('state_changes', compress_after => 604800000::BIGINT);

-- Raw readings are kept 365 days; the hourly aggregate below keeps their averages for ever.
SELECT add_retention_policy('readings', drop_after => 31536000000::BIGINT);

-- One row per series and hour. Refreshed every hour over the last 3 days, so buckets whose
-- raw readings were dropped by retention are never recomputed (and so never lost).
CREATE MATERIALIZED VIEW readings_hourly WITH (timescaledb.continuous) AS SELECT series_id, time_bucket(3600000::BIGINT, ts) AS bucket, avg(value) AS avg_value, min(value) AS min_value, max(value) AS max_value, count(*) AS samples FROM readings GROUP BY series_id, time_bucket(3600000::BIGINT, ts) WITH NO DATA;
SELECT add_continuous_aggregate_policy('readings_hourly', start_offset => 259200000::BIGINT, end_offset => 3600000::BIGINT, schedule_interval => INTERVAL '1 hour');
