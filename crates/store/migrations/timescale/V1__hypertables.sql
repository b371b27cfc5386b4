-- TimescaleDB, step 1 (any edition, Apache licence included): readings and state changes
-- become hypertables with one-day chunks. Applied by the store after the plain PostgreSQL
-- migrations, only when the `timescaledb` extension is installed in the database, with its
-- own history table (`refinery_timescale_history`).
--
-- Timestamps are BIGINT milliseconds (see migrations/postgres/V1__init.sql), so the chunk
-- interval is in milliseconds too, and TimescaleDB needs a function telling it "now" in that
-- unit for policies and continuous aggregates.
--
-- One statement per line ending in `;` and no `;` inside a statement: the test that checks
-- this file against plain PostgreSQL splits it that way.

CREATE FUNCTION pk_now_ms() RETURNS BIGINT LANGUAGE SQL STABLE RETURN (extract(epoch FROM now()) * 1000)::BIGINT;

SELECT create_hypertable('readings', 'ts', chunk_time_interval => 86400000::BIGINT, migrate_data => true);
SELECT set_integer_now_func('readings', 'pk_now_ms');

SELECT create_hypertable('state_changes', 'ts', chunk_time_interval => 86400000::BIGINT, migrate_data => true);
SELECT set_integer_now_func('state_changes', 'pk_now_ms');
