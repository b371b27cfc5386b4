//! `[storage]`: where the PostgreSQL engine keeps writes while the database is unreachable.

use super::reader::{Fields, Reader};
use crate::settings::StorageSettings;

/// Default `spool` of a PostgreSQL database, beside the settings file.
pub const DEFAULT_SPOOL: &str = "plantkeeper-spool.db";

const KEYS: [&str; 1] = ["spool"];

/// Reads `[storage]` (absent = defaults). `database` is `[master] database`: a spool only
/// serves a PostgreSQL database, so naming one for SQLite is an error.
pub(super) fn read_storage(
    reader: &mut Reader<'_>,
    fields: Option<Fields<'_, '_>>,
    database: &str,
) -> StorageSettings {
    let mut storage = StorageSettings::default();
    let Some(fields) = fields else {
        return storage;
    };
    reader.reject_unknown_keys(fields, &KEYS, &[]);
    if let Some(value) = fields.get("spool") {
        let field = fields.field("spool");
        if let Some(path) = reader.string(value, &field, "a file path like `plantkeeper-spool.db`")
        {
            if path.trim().is_empty() {
                reader.error(&value.span(), &field, "the spool path is empty");
            } else if !database.starts_with("postgres://") && !database.starts_with("postgresql://")
            {
                reader.error(
                    &value.span(),
                    &field,
                    "a spool only serves a PostgreSQL database (`[master] database = \
                     \"postgres://...\"`); SQLite writes locally already",
                );
            } else {
                storage.spool = Some(path.to_owned());
            }
        }
    }
    storage
}
