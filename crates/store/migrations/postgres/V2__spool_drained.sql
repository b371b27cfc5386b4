-- Replays from a master's local spool (see crates/store/src/postgres/spool.rs): per spool file
-- (its random identity), the id of the newest batch replayed. Spooled batches have ids that are
-- never reused and are replayed oldest first, so a batch whose id is not above `last_batch` is
-- already stored. The replay updates this row in the same transaction as the batch's rows: a
-- batch whose replay committed but whose removal from the spool did not (the master stopped in
-- between) is skipped the next time, and nothing is stored twice. Readings have no key of their
-- own to deduplicate on (giving them one would cost every write an index), and state changes
-- and events none either. One row per spool file.
CREATE TABLE spool_drained (
    spool      TEXT   NOT NULL PRIMARY KEY,
    last_batch BIGINT NOT NULL,
    drained_at BIGINT NOT NULL
);
