-- Every version of the master's settings: the same table as migrations/sqlite/V3 (see there).
-- Versions are numbered 1, 2, 3, ... by the store's single writer; rows are never updated or
-- deleted.
CREATE TABLE settings_versions (
    version    BIGINT NOT NULL PRIMARY KEY,
    created_at BIGINT NOT NULL,
    author     TEXT   NOT NULL,
    source     TEXT   NOT NULL CHECK (source IN ('file', 'api', 'rollback')),
    text       TEXT   NOT NULL,
    summary    TEXT   NOT NULL,
    diff       TEXT   NOT NULL
);
