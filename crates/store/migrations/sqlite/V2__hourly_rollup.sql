-- Version 2: the hourly rollup and retention (docs/storage.md, "Retention and hourly rollup").
--
-- One row per series and hour (`hour`: the hour's start, ms since the epoch), maintained by the
-- writer in the same transaction as the raw readings. `samples` and `sum_value` give the
-- average of any whole-hour bucket (sum of sums / sum of samples), `min_value`/`max_value`
-- its range. The rollup outlives raw readings (`[storage] keep_raw`), until `keep_hourly`.
CREATE TABLE readings_rollup (
    series_id INTEGER NOT NULL,
    hour      INTEGER NOT NULL,
    samples   INTEGER NOT NULL,
    sum_value REAL    NOT NULL,
    min_value REAL    NOT NULL,
    max_value REAL    NOT NULL,
    PRIMARY KEY (series_id, hour)
) STRICT, WITHOUT ROWID;

-- Readings stored before this version get their rollup now (floor to the hour, negative times
-- included).
INSERT INTO readings_rollup (series_id, hour, samples, sum_value, min_value, max_value)
SELECT series_id, ts - ((ts % 3600000) + 3600000) % 3600000 AS hour,
       count(*), sum(value), min(value), max(value)
FROM readings GROUP BY series_id, hour;
