//! How a [`PostgresStore`](super::PostgresStore) is opened: the `postgres://` URL of the config
//! file, the schema, the pool and the writer's batch size.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use tokio_postgres::Config;

use crate::{Retention, StoreError};

/// How long opening a connection may take before it counts as failed.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Options of [`PostgresStore::open`](super::PostgresStore::open).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresOptions {
    /// The schema holding PlantKeeper's tables, created if missing; `None` uses the first
    /// schema of the server's default `search_path` (normally `public`). Tests give each run its
    /// own schema. `[a-z_][a-z0-9_]{0,62}`.
    pub schema: Option<String>,
    /// At most about this many rows per group-commit transaction, as in SQLite. One write
    /// larger than the cap is still committed whole.
    pub max_batch: usize,
    /// Connections of the read pool (at least one), beside the writer's own connection.
    pub read_connections: usize,
    /// Connections committing reports and readings at the same time, so the server uses more
    /// than one core. 1 (or 0): the writer's own connection commits everything, one group after
    /// another; more: that many lanes, and the writer keeps its own connection for the work
    /// that must stay in order (see `docs/storage.md`).
    pub write_connections: usize,
    /// The local spool file (SQLite) where writes go, durably, while the database is
    /// unreachable, replayed when it is back; `None`: such writes fail (see `docs/storage.md`).
    pub spool: Option<PathBuf>,
    /// How long raw readings and hourly rollups are kept.
    pub retention: Retention,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            schema: None,
            max_batch: 2000,
            read_connections: 4,
            write_connections: 2,
            spool: None,
            retention: Retention::default(),
        }
    }
}

/// Whether `url` names a PostgreSQL database (`postgres://` or `postgresql://`).
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// `url` with its password replaced by `***`, for messages and logs.
pub fn redacted_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// The connection settings of `url` for the store's connections: PlantKeeper's application
/// name (`role` says which connection it is), a connect timeout unless the URL sets one, and
/// `search_path` set to the options' schema (then `public`, where extensions such as
/// TimescaleDB usually live).
///
/// # Errors
/// [`StoreError::InvalidQuery`] for a URL that is not a PostgreSQL URL, or an invalid schema.
pub(crate) fn connection_config(
    url: &str,
    options: &PostgresOptions,
    role: &str,
) -> Result<Config, StoreError> {
    let invalid = |why: String| {
        StoreError::InvalidQuery(format!(
            "database URL `{}` {why}: expected `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE`",
            redacted_url(url)
        ))
    };
    if !is_postgres_url(url) {
        return Err(invalid("is not a PostgreSQL URL".to_owned()));
    }
    let mut config =
        Config::from_str(url).map_err(|error| invalid(format!("is invalid ({error})")))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
    }
    let application_name = match &options.schema {
        Some(schema) => format!("plantkeeper {role} {schema}"),
        None => format!("plantkeeper {role}"),
    };
    config.application_name(&application_name);
    if let Some(schema) = &options.schema {
        check_schema_name(schema)?;
        let mut startup = config.get_options().unwrap_or_default().to_owned();
        if !startup.is_empty() {
            startup.push(' ');
        }
        startup.push_str(&format!("-c search_path={schema},public"));
        config.options(&startup);
    }
    Ok(config)
}

/// A schema name the store can use without quoting: `[a-z_][a-z0-9_]{0,62}`.
fn check_schema_name(schema: &str) -> Result<(), StoreError> {
    let mut chars = schema.chars();
    let valid = chars
        .next()
        .is_some_and(|first| first.is_ascii_lowercase() || first == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && schema.len() <= 63;
    if valid {
        Ok(())
    } else {
        Err(StoreError::InvalidQuery(format!(
            "schema `{schema}` is not a plain lower-case name ([a-z_][a-z0-9_]{{0,62}})"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_is_hidden_in_a_redacted_url() {
        assert_eq!(
            redacted_url("postgres://pk:s3cret@db.local:5432/plants?sslmode=disable"),
            "postgres://pk:***@db.local:5432/plants?sslmode=disable"
        );
        assert_eq!(
            redacted_url("postgres://pk@db.local/plants"),
            "postgres://pk@db.local/plants",
            "a URL without password is unchanged"
        );
    }

    #[test]
    fn schema_option_sets_the_search_path_and_application_name() {
        let options = PostgresOptions {
            schema: Some("pk_test_1".to_owned()),
            ..PostgresOptions::default()
        };
        let config = connection_config("postgres://postgres@127.0.0.1/test", &options, "writer")
            .expect("a valid URL");
        assert_eq!(
            config.get_options(),
            Some("-c search_path=pk_test_1,public")
        );
        assert_eq!(
            config.get_application_name(),
            Some("plantkeeper writer pk_test_1")
        );
        assert_eq!(
            config.get_connect_timeout(),
            Some(&DEFAULT_CONNECT_TIMEOUT),
            "a connect timeout is set when the URL has none"
        );
    }

    #[test]
    fn malformed_urls_and_schemas_are_refused_with_the_expected_form() {
        let options = PostgresOptions::default();
        for url in [
            "sqlite://pk.db",
            "postgres://pk:pw@host:notaport/db",
            "postgres://host/db?nosuchparameter=1",
        ] {
            match connection_config(url, &options, "writer") {
                Err(StoreError::InvalidQuery(message)) => assert!(
                    message.contains("postgres://USER") && !message.contains("pw@"),
                    "message for `{url}` shows the expected form, not the password: {message}"
                ),
                other => panic!("`{url}` should be refused, got {other:?}"),
            }
        }
        let bad_schema = PostgresOptions {
            schema: Some("Robert'); DROP TABLE readings".to_owned()),
            ..PostgresOptions::default()
        };
        assert!(
            matches!(
                connection_config("postgres://host/db", &bad_schema, "writer"),
                Err(StoreError::InvalidQuery(_))
            ),
            "a schema name that would need quoting is refused"
        );
    }
}
