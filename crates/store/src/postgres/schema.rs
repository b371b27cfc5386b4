//! Bringing the database up to date at open: the store's schema, the plain PostgreSQL
//! migrations, and the TimescaleDB migrations when that extension is installed.
//!
//! The two migration paths have their own history tables, so a database that gains
//! TimescaleDB later (or a Timescale licence) gets the missing steps at the next start.

use refinery::Target;
use tokio_postgres::Client;
use tracing::info;

use super::database_error;
use crate::{Retention, StoreError};

mod plain {
    refinery::embed_migrations!("migrations/postgres");
}

mod timescale {
    refinery::embed_migrations!("migrations/timescale");
}

/// History table of the TimescaleDB migrations (the plain ones use refinery's default).
const TIMESCALE_HISTORY: &str = "refinery_timescale_history";
/// The last TimescaleDB migration that the Apache-licensed edition can run (hypertables);
/// the later ones need the Timescale licence (compression, policies, continuous aggregates).
const LAST_APACHE_TIMESCALE_MIGRATION: i32 = 1;

/// What the database offers beyond plain PostgreSQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Timescale {
    /// The `timescaledb` extension is not installed in this database.
    Absent,
    /// Installed, at `version`, under `license` (`apache` or `timescale`, the
    /// `timescaledb.license` setting).
    Present {
        /// The extension's version, e.g. `2.14.2`.
        version: String,
        /// The edition's licence.
        license: String,
    },
}

impl Timescale {
    /// Whether the licence allows compression, retention policies and continuous aggregates.
    pub fn has_community_features(&self) -> bool {
        matches!(self, Timescale::Present { license, .. } if license == "timescale")
    }
}

/// Creates `schema` if given, applies the plain migrations, then the TimescaleDB ones allowed
/// by what [`detect_timescale`] finds. Returns what it found.
pub(crate) async fn migrate(
    client: &mut Client,
    schema: Option<&str>,
    retention: Retention,
) -> Result<Timescale, StoreError> {
    if let Some(schema) = schema {
        // The name was checked by `connection_config` ([a-z_][a-z0-9_]*): no quoting needed.
        client
            .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
            .await
            .map_err(database_error("creating the schema"))?;
    }
    plain::migrations::runner()
        .run_async(client)
        .await
        .map_err(|error| StoreError::Database(format!("applying migrations: {error}")))?;
    let timescale = detect_timescale(client).await?;
    if let Timescale::Present { version, license } = &timescale {
        let target = if timescale.has_community_features() {
            Target::Latest
        } else {
            Target::Version(LAST_APACHE_TIMESCALE_MIGRATION)
        };
        let mut runner = timescale::migrations::runner().set_target(target);
        runner.set_migration_table_name(TIMESCALE_HISTORY);
        runner.run_async(client).await.map_err(|error| {
            StoreError::Database(format!("applying the TimescaleDB migrations: {error}"))
        })?;
        if timescale.has_community_features() {
            for statement in timescale_retention_sql(retention) {
                client
                    .batch_execute(&statement)
                    .await
                    .map_err(database_error("setting the TimescaleDB retention policies"))?;
            }
        }
        info!(%version, %license, "TimescaleDB present: hypertables in use");
    } else {
        info!("TimescaleDB absent: plain PostgreSQL tables");
    }
    Ok(timescale)
}

/// Whether the `timescaledb` extension is installed in the connected database, and with which
/// licence. The licence setting is read only when the extension is there (it is an unknown
/// setting otherwise).
pub async fn detect_timescale(client: &Client) -> Result<Timescale, StoreError> {
    let row = client
        .query_opt(
            "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'",
            &[],
        )
        .await
        .map_err(database_error("looking for the TimescaleDB extension"))?;
    let Some(row) = row else {
        return Ok(Timescale::Absent);
    };
    let version: String = row.get(0);
    let license: String = client
        .query_one("SELECT current_setting('timescaledb.license', true)", &[])
        .await
        .map_err(database_error("reading the TimescaleDB licence"))?
        .get::<_, Option<String>>(0)
        .unwrap_or_else(|| "apache".to_owned());
    Ok(Timescale::Present { version, license })
}

/// The TimescaleDB migrations' SQL, `(name, sql)` in order: for the test that checks them
/// against plain PostgreSQL, where they cannot run.
pub fn timescale_migration_sql() -> Vec<(String, String)> {
    timescale::migrations::runner()
        .get_migrations()
        .iter()
        .map(|migration| {
            (
                format!("V{}__{}", migration.version(), migration.name()),
                migration.sql().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// The TimescaleDB retention policies of `retention`, set at every start (after the
/// migrations, licence permitting) so that a changed `[storage]` takes effect: each policy is
/// removed and added again, raw readings dropped after `keep_raw`, hourly rollups after
/// `keep_hourly` (whole chunks; the writer's own batched deletes find nothing left).
pub fn timescale_retention_sql(retention: Retention) -> Vec<String> {
    [
        ("readings", retention.keep_raw_ms),
        ("readings_rollup", retention.keep_hourly_ms),
    ]
    .into_iter()
    .flat_map(|(table, kept_ms)| {
        [
            format!("SELECT remove_retention_policy('{table}', if_exists => true)"),
            format!("SELECT add_retention_policy('{table}', drop_after => {kept_ms}::BIGINT)"),
        ]
    })
    .collect()
}
