//! The store behaviour suite against the real PostgreSQL, each test in its own schema of the
//! database named by `PLANTKEEPER_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`), plus what only this engine has: reconnection,
//! TimescaleDB detection and migrations, URL errors.
//!
//! When the server cannot be reached the tests are skipped with one line on stderr, unless
//! `PLANTKEEPER_REQUIRE_SERVICES=1` (CI), which makes them fail
//! ([`plantkeeper_store::testsuite::require_service`]).

mod postgres_support;

use std::sync::Arc;
use std::time::Duration;

use plantkeeper_store::postgres::{PostgresOptions, PostgresStore, Timescale};
use plantkeeper_store::testsuite::{raw_points, reading, report, reports_batch};
use plantkeeper_store::{Event, StateChange, Store, StoreError, WriteBatch};
use postgres_support::{
    TestSchema, admin_client, assert_ids_became_visible_in_order, fresh_store, lock_readings,
    one_waits_on_a_lock, open_in, open_with, test_url,
};

plantkeeper_store::store_suite!(optional fresh_store);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn epoch_survives_reopen() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let store = open_in(&schema).await;
    assert_eq!(
        store.begin_epoch().await.expect("first epoch"),
        1,
        "first epoch"
    );
    store.close().await.expect("closing");
    let reopened = open_in(&schema).await;
    assert_eq!(
        reopened.begin_epoch().await.expect("epoch after reopen"),
        2,
        "the epoch is read back from the database after a reopen"
    );
    reopened.close().await.expect("closing again");
}

/// PostgreSQL refuses a NUL character in text: a job carrying one fails alone, while the jobs
/// sharing its group transaction (all started together) are committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_job_rolls_back_alone_and_the_rest_of_the_group_commits() {
    let Some((store, _schema)) = fresh_store().await else {
        return;
    };
    let writes = (0..20u32).map(|seq| {
        let mut batch = reports_batch(vec![report(
            "bed-1",
            Some(1),
            seq,
            i64::from(seq),
            vec![reading("t", i64::from(seq), 1.0)],
        )]);
        if seq == 7 {
            batch.events.push(Event {
                at_ms: 7,
                kind: "override_set".to_owned(),
                node: None,
                output: None,
                message: "bad \0 text".to_owned(),
            });
        }
        let store = Arc::clone(&store);
        async move { (seq, store.write(batch).await) }
    });
    for (seq, outcome) in futures_join_all(writes).await {
        match (seq, outcome) {
            (7, Err(StoreError::Database(message))) => assert!(
                message.contains("inserting an event"),
                "the error says what failed: {message}"
            ),
            (7, other) => panic!("the write with a NUL character should fail, got {other:?}"),
            (seq, Err(error)) => {
                panic!("write {seq} shared a group with a bad one and failed: {error}")
            }
            (_, Ok(_)) => {}
        }
    }
    let stored: Vec<i64> = raw_points(store.as_ref(), "bed-1", "t", 0, 100)
        .await
        .into_iter()
        .map(|(at, _)| at)
        .collect();
    let expected: Vec<i64> = (0..20).filter(|seq| *seq != 7).collect();
    assert_eq!(stored, expected, "every write but the failed one is stored");
    let retry_of_failed = store
        .write(reports_batch(vec![report(
            "bed-1",
            Some(1),
            7,
            7,
            Vec::new(),
        )]))
        .await
        .expect("the failed report sent again");
    assert_eq!(
        retry_of_failed.duplicate,
        vec![false],
        "the failed report left no trace"
    );
    store.close().await.expect("closing");
}

/// Starts every future at once (so the writes queue together) and waits for all of them.
async fn futures_join_all<F: std::future::Future + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut outputs = Vec::with_capacity(handles.len());
    for handle in handles {
        outputs.push(handle.await.expect("a write task panicked"));
    }
    outputs
}

/// The writer's connection is killed by the server (as a restart does) while a write waits
/// inside its transaction: that write gets an error, not an acknowledgement, and is not
/// stored; the next write reconnects and succeeds. Killed again while idle, the writer
/// reconnects without losing an acknowledged write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writer_reconnects_after_its_connection_is_killed_and_never_acks_a_lost_write() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    // Without lanes every write is on the writer's own connection (lanes: `postgres_lanes`).
    let options = PostgresOptions {
        write_connections: 1,
        ..PostgresOptions::default()
    };
    let store: Arc<dyn Store> = Arc::new(open_with(&schema, options).await);
    let write = |seq: u32| {
        let at = i64::from(seq);
        let store = Arc::clone(&store);
        async move {
            store
                .write(reports_batch(vec![report(
                    "bed-1",
                    Some(1),
                    seq,
                    at,
                    vec![reading("t", at, 1.0)],
                )]))
                .await
        }
    };
    write(0).await.expect("a write before the kill");

    // Hold the write in its transaction: another connection locks the readings table.
    let mut admin = admin_client().await;
    let writer_name = format!("plantkeeper writer {}", schema.name());
    let locker = lock_readings(&mut admin, &schema).await;
    let held = tokio::spawn(write(1));
    let observer = admin_client().await;
    assert!(
        one_waits_on_a_lock(&observer, &writer_name).await,
        "the write waits on the lock inside its transaction"
    );
    let kill = "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                WHERE application_name = $1";
    let killed: i64 = observer
        .query_one(kill, &[&writer_name])
        .await
        .expect("terminating the writer's backend")
        .get(0);
    assert_eq!(
        killed, 1,
        "the writer's connection was found and terminated"
    );
    let outcome = held.await.expect("the held write's task");
    assert!(
        matches!(outcome, Err(StoreError::Database(_))),
        "a write whose connection died before its commit gets an error: {outcome:?}"
    );
    locker.rollback().await.expect("releasing the lock");

    write(2)
        .await
        .expect("the next write reconnects and is stored");

    // Killed while idle: the next writes may fail while it reconnects, never falsely succeed.
    let killed: i64 = observer
        .query_one(kill, &[&writer_name])
        .await
        .expect("terminating the writer's backend again")
        .get(0);
    assert_eq!(killed, 1, "the reconnected writer was terminated");
    let mut acknowledged = vec![0i64, 2];
    for seq in 3..=30u32 {
        match write(seq).await {
            Ok(_) => acknowledged.push(i64::from(seq)),
            Err(StoreError::Database(_)) => {}
            Err(other) => panic!("unexpected error after the kill: {other}"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        acknowledged.contains(&30),
        "the writer reconnected: the last write succeeded ({acknowledged:?})"
    );
    let stored: Vec<i64> = raw_points(store.as_ref(), "bed-1", "t", 0, 100)
        .await
        .into_iter()
        .map(|(at, _)| at)
        .collect();
    assert_eq!(
        stored, acknowledged,
        "exactly the acknowledged writes are stored (write 1 died before its commit)"
    );
    let retry = write(1).await.expect("the failed write sent again");
    assert_eq!(
        retry.duplicate,
        vec![false],
        "the failed write was not stored"
    );
    drop(admin);
    store.close().await.expect("closing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timescale_is_detected_absent_here_and_the_plain_schema_is_used() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let store = open_in(&schema).await;
    let admin = admin_client().await;
    let installed: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'",
            &[],
        )
        .await
        .expect("looking at pg_extension")
        .get(0);
    let available: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_available_extensions WHERE name = 'timescaledb'",
            &[],
        )
        .await
        .expect("looking at pg_available_extensions")
        .get(0);
    assert_eq!(
        (installed, available),
        (0, 0),
        "this machine has no TimescaleDB (the test of the absent path)"
    );
    assert_eq!(
        store.timescale(),
        &Timescale::Absent,
        "detection says absent"
    );
    let tables: Vec<String> = admin
        .query(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1",
            &[&schema.name()],
        )
        .await
        .expect("listing the schema's tables")
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert!(
        tables.contains(&"refinery_schema_history".to_owned())
            && !tables.contains(&"refinery_timescale_history".to_owned()),
        "the plain migrations ran and the Timescale path did not: {tables:?}"
    );
    store.close().await.expect("closing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_url_fails_at_open_with_one_clear_line() {
    let closed_port = "postgres://pk:secret@127.0.0.1:1/test";
    let cases = [
        (closed_port.to_owned(), "connecting"),
        (
            "postgres://pk:secret@127.0.0.1:notaport/test".to_owned(),
            "is invalid",
        ),
    ];
    for (url, expected) in cases {
        let outcome = PostgresStore::open(&url, PostgresOptions::default()).await;
        let message = match outcome {
            Err(error) => error.to_string(),
            Ok(_) => panic!("opening `{url}` should fail"),
        };
        assert!(
            message.contains(expected) && !message.contains('\n') && !message.contains("secret"),
            "`{url}`: one line saying `{expected}`, without the password: {message}"
        );
    }
    // Reachable server, missing database: the server's own reason is in the line.
    if !postgres_support::available().await {
        return;
    }
    let mut url = test_url();
    url.truncate(url.rfind('/').expect("the test URL names a database"));
    url.push_str("/pk_no_such_database");
    match PostgresStore::open(&url, PostgresOptions::default()).await {
        Err(StoreError::Database(message)) => assert!(
            message.contains("pk_no_such_database") && message.contains("does not exist"),
            "the line names the missing database: {message}"
        ),
        Err(other) => panic!("a missing database is a database error, got {other}"),
        Ok(_) => panic!("opening a missing database should fail"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_of_epoch_heartbeat_and_write_commits_together() {
    let Some((store, _schema)) = fresh_store().await else {
        return;
    };
    let epoch = store.begin_epoch();
    let writable = store.check_writable();
    let batch = WriteBatch {
        state_changes: vec![plantkeeper_store::StateChange {
            at_ms: 5,
            node: "bed-1".to_owned(),
            output: "valve".to_owned(),
            power: true,
            reason: "test".to_owned(),
        }],
        ..WriteBatch::default()
    };
    let write = store.write(batch);
    let (epoch, writable, write) = tokio::join!(epoch, writable, write);
    assert_eq!(epoch.expect("epoch"), 1, "the epoch of a fresh schema");
    writable.expect("writable");
    write.expect("write");
    let changes = store.state_changes_since(0).await.expect("state changes");
    assert_eq!(changes.len(), 1, "the state change is stored");
    store.close().await.expect("closing");
}

/// Readers never see a state change or event while one with a lower id is still uncommitted
/// (every id list the observer saw during concurrent writes is a prefix of the final one): the
/// writer commits its groups one after another in id order, which any pipelining of its
/// transactions must keep.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_changes_and_events_become_visible_in_id_order() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let store: Arc<dyn Store> = Arc::new(open_in(&schema).await);
    let observer = admin_client().await;
    let writers: Vec<_> = (0..32u32)
        .map(|writer| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                for seq in 0..25u32 {
                    let node = format!("node-{writer}");
                    let mut batch = reports_batch(vec![report(
                        &node,
                        Some(1),
                        seq,
                        i64::from(seq),
                        vec![reading("t", i64::from(seq), 1.0)],
                    )]);
                    batch.state_changes.push(StateChange {
                        at_ms: 5,
                        node: node.clone(),
                        output: "valve".to_owned(),
                        power: seq % 2 == 0,
                        reason: "test".to_owned(),
                    });
                    batch.events.push(Event {
                        at_ms: 5,
                        kind: "override_set".to_owned(),
                        node: Some(node),
                        output: None,
                        message: "test".to_owned(),
                    });
                    store.write(batch).await.expect("a write");
                }
            })
        })
        .collect();
    let (final_changes, final_events) =
        assert_ids_became_visible_in_order(&observer, &schema, writers).await;
    assert_eq!(final_changes.len(), 32 * 25, "every state change is stored");
    assert_eq!(final_events.len(), 32 * 25, "every event is stored");
    store.close().await.expect("closing");
}
