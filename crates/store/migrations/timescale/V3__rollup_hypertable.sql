-- TimescaleDB, step 3 (Timescale licence, after V2): the writer's hourly rollup
-- (`readings_rollup`, migrations/postgres/V3) becomes a hypertable with 30-day chunks, so the
-- retention the store sets at every start (`[storage] keep_hourly`, see
-- `timescale_retention_sql`) drops whole chunks. Its key `(series_id, hour)` holds the time
-- column, as TimescaleDB requires. Not compressed: the writer still upserts into old hours
-- when a node's backlog arrives late.
--
-- One statement per line ending in `;` and no `;` inside a statement (see V1).

SELECT create_hypertable('readings_rollup', 'hour', chunk_time_interval => 2592000000::BIGINT, migrate_data => true);
SELECT set_integer_now_func('readings_rollup', 'pk_now_ms');
