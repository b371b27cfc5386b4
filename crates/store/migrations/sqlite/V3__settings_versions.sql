-- Every version of the master's settings (docs/config.md, "Settings versions"): the TOML text
-- that ran, who made it and how, and the unified diff against the previous version. Versions
-- are numbered 1, 2, 3, ... by the store's single writer; rows are never updated or deleted.
-- `source` is `file` (imported from the settings file at start), `api` (PUT /api/v1/settings)
-- or `rollback`.
CREATE TABLE settings_versions (
    version    INTEGER NOT NULL PRIMARY KEY,
    created_at INTEGER NOT NULL,
    author     TEXT    NOT NULL,
    source     TEXT    NOT NULL CHECK (source IN ('file', 'api', 'rollback')),
    text       TEXT    NOT NULL,
    summary    TEXT    NOT NULL,
    diff       TEXT    NOT NULL
) STRICT;
