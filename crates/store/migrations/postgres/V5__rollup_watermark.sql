-- Version 5: the hourly rollup (V3) is no longer updated in every write transaction. The
-- writer rolls up whole hours of raw readings once they are past, in one transaction that also
-- moves the watermark `meta.rollup_before` (the first hour not rolled up yet, ms since the
-- epoch); a reading stored later for an hour before the watermark (a node's backlog, a replayed
-- spool) is added to its rollup row in its own write transaction. Queries read the rollup for
-- the hours before the watermark and raw readings after it (crates/store/src/postgres/
-- rollup_watermark.rs).
--
-- Until now the writer kept the rollup complete for every stored reading, so the watermark of
-- an existing database is the hour after its newest rollup row. A database without rollup rows
-- gets no watermark: the writer's first roll-up reads every raw reading.
INSERT INTO meta (key, value)
SELECT 'rollup_before', max(hour) + 3600000 FROM readings_rollup HAVING count(*) > 0;
