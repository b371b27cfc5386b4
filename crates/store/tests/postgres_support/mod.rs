//! What the PostgreSQL tests share: the server's URL, whether it is reachable (probed once per
//! test binary), and a schema of their own per test, dropped at the end.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use plantkeeper_store::Store;
use plantkeeper_store::postgres::{PostgresOptions, PostgresStore};
use plantkeeper_store::testsuite::require_service;
use tokio::sync::OnceCell;
use tokio_postgres::{Client, Config, NoTls};

/// The environment variable naming the test server.
pub const URL_ENV: &str = "PLANTKEEPER_TEST_POSTGRES_URL";
/// The server CI and this machine have.
pub const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The test server's URL.
pub fn test_url() -> String {
    std::env::var(URL_ENV).unwrap_or_else(|_| DEFAULT_URL.to_owned())
}

/// Whether the tests can use the server; see `require_service` for what happens when not.
pub async fn available() -> bool {
    static PROBE: OnceCell<Result<(), String>> = OnceCell::const_new();
    let probe = PROBE.get_or_init(probe).await.clone();
    require_service("PostgreSQL", &test_url(), probe)
}

async fn probe() -> Result<(), String> {
    let client = connect().await?;
    client
        .simple_query("SELECT 1")
        .await
        .map(drop)
        .map_err(|error| error.to_string())
}

async fn connect() -> Result<Client, String> {
    let mut config: Config = test_url()
        .parse()
        .map_err(|error| format!("invalid URL: {error}"))?;
    config.connect_timeout(Duration::from_secs(3));
    let (client, connection) =
        config
            .connect(NoTls)
            .await
            .map_err(|error| match std::error::Error::source(&error) {
                Some(source) => format!("{error}: {source}"),
                None => error.to_string(),
            })?;
    tokio::spawn(connection);
    Ok(client)
}

/// A connection of the test's own, for looking at or acting on the server.
pub async fn admin_client() -> Client {
    connect().await.expect("connecting to the test server")
}

/// A schema for one test: `pk_test_<pid>_<n>`, emptied first (a crashed run with the same pid
/// may have left it) and dropped with everything in it when this is dropped.
pub struct TestSchema {
    name: String,
}

impl TestSchema {
    /// A new empty schema name, or `None` when the server is unavailable (and skipping is
    /// allowed).
    pub async fn create() -> Option<TestSchema> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        if !available().await {
            return None;
        }
        let name = format!(
            "pk_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        admin_client()
            .await
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
            .await
            .expect("dropping a stale test schema");
        Some(TestSchema { name })
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop cannot await, and may run inside a runtime: a thread with its own runtime.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|error| error.to_string())?;
            runtime.block_on(async {
                connect()
                    .await?
                    // A test that panicked may still hold locks in a transaction on another
                    // connection: give up rather than wait for ever.
                    .batch_execute(&format!(
                        "SET lock_timeout = '10s'; DROP SCHEMA IF EXISTS {name} CASCADE"
                    ))
                    .await
                    .map_err(|error| error.to_string())
            })
        })
        .join();
        if let Ok(Err(error)) = dropped {
            eprintln!("could not drop test schema {}: {error}", self.name);
        }
    }
}

/// Opens the store in `schema`.
pub async fn open_in(schema: &TestSchema) -> PostgresStore {
    open_with(schema, PostgresOptions::default()).await
}

/// Opens the store in `schema` with `options` (whose `schema` is replaced).
pub async fn open_with(schema: &TestSchema, options: PostgresOptions) -> PostgresStore {
    let options = PostgresOptions {
        schema: Some(schema.name().to_owned()),
        ..options
    };
    PostgresStore::open(&test_url(), options)
        .await
        .expect("opening the PostgreSQL store in its test schema")
}

/// A fresh store in a schema of its own, or `None` when the server is unavailable (and
/// skipping is allowed).
pub async fn fresh_store() -> Option<(Arc<dyn Store>, TestSchema)> {
    let schema = TestSchema::create().await?;
    let store = open_in(&schema).await;
    Some((Arc::new(store), schema))
}

/// The ids of `state_changes` and of `events` in `schema`, each ascending.
pub async fn ordered_ids(observer: &Client, schema: &TestSchema) -> (Vec<i64>, Vec<i64>) {
    let ids = |table: &str| {
        let sql = format!("SELECT id FROM {}.{table} ORDER BY id", schema.name());
        async move {
            observer
                .query(&sql, &[])
                .await
                .expect("reading ids")
                .iter()
                .map(|row| row.get::<_, i64>(0))
                .collect::<Vec<i64>>()
        }
    };
    (ids("state_changes").await, ids("events").await)
}

/// Watches the state change and event ids of `schema` until every writer task is done, then
/// asserts that every id list seen meanwhile is a prefix of the final one (no reader saw a row
/// while one with a lower id was still uncommitted) and that the observer looked more than a
/// few times. Returns the final ids.
pub async fn assert_ids_became_visible_in_order(
    observer: &Client,
    schema: &TestSchema,
    writers: Vec<tokio::task::JoinHandle<()>>,
) -> (Vec<i64>, Vec<i64>) {
    let mut snapshots = Vec::new();
    while !writers.iter().all(tokio::task::JoinHandle::is_finished) {
        snapshots.push(ordered_ids(observer, schema).await);
    }
    for writer in writers {
        writer.await.expect("a writer task");
    }
    let (final_changes, final_events) = ordered_ids(observer, schema).await;
    assert!(
        snapshots.len() > 5,
        "the observer looked while writes went on"
    );
    for (changes, events) in &snapshots {
        assert_eq!(
            changes.as_slice(),
            &final_changes[..changes.len().min(final_changes.len())],
            "a reader saw state change ids that are not a prefix of the final ones"
        );
        assert_eq!(
            events.as_slice(),
            &final_events[..events.len().min(final_events.len())],
            "a reader saw event ids that are not a prefix of the final ones"
        );
    }
    (final_changes, final_events)
}

/// Waits (up to 5 s) until exactly one backend named `application_name` waits on a lock;
/// returns whether it happened.
pub async fn one_waits_on_a_lock(observer: &Client, application_name: &str) -> bool {
    for _ in 0..500 {
        let waiting: i64 = observer
            .query_one(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE application_name = $1 AND wait_event_type = 'Lock'",
                &[&application_name],
            )
            .await
            .expect("watching the backends")
            .get(0);
        if waiting == 1 {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

/// Opens a transaction on `admin` that holds `schema`'s readings table locked (ACCESS
/// EXCLUSIVE) until it ends, so a write waits inside its own transaction.
pub async fn lock_readings<'a>(
    admin: &'a mut Client,
    schema: &TestSchema,
) -> tokio_postgres::Transaction<'a> {
    let locker = admin.transaction().await.expect("beginning the lock");
    locker
        .batch_execute(&format!(
            "LOCK TABLE {}.readings IN ACCESS EXCLUSIVE MODE",
            schema.name()
        ))
        .await
        .expect("locking readings");
    locker
}
