//! PostgreSQL going away while the store is in use, on a cluster of the test's own
//! ([`PrivateCluster`]: `initdb` + `pg_ctl` in a temporary directory, so the shared server is
//! never disturbed): writes keep being acknowledged through the local spool, and once the
//! server is back every acknowledged reading, state change and event is stored exactly once.
//!
//! Skipped without the PostgreSQL binaries, unless `PLANTKEEPER_REQUIRE_SERVICES=1`.

use std::path::Path;
use std::time::{Duration, Instant};

use plantkeeper_store::postgres::{PostgresOptions, PostgresStore};
use plantkeeper_store::testsuite::private_cluster::PrivateCluster;
use plantkeeper_store::testsuite::{raw_points, reading, report};
use plantkeeper_store::{Event, EventRow, EventsQuery, StateChange, Store, WriteBatch};

/// Reports 0..BEFORE are written with the server up, BEFORE..DURING while it is down.
const BEFORE: u32 = 10;
const DURING: u32 = 40;

async fn start_cluster() -> Option<PrivateCluster> {
    tokio::task::spawn_blocking(PrivateCluster::start)
        .await
        .expect("the cluster start did not panic")
}

async fn open(cluster_url: &str, spool: &Path) -> PostgresStore {
    PostgresStore::open(
        cluster_url,
        PostgresOptions {
            spool: Some(spool.to_owned()),
            ..PostgresOptions::default()
        },
    )
    .await
    .expect("opening the store on the private cluster")
}

/// Report `seq` of node `bed` (boot 7): two readings and a state change, at `1000 * seq`.
fn batch(seq: u32) -> WriteBatch {
    let at = i64::from(seq) * 1000;
    WriteBatch {
        reports: vec![report(
            "bed",
            Some(7),
            seq,
            at,
            vec![
                reading("soil", at, f64::from(seq)),
                reading("air", at, f64::from(seq) + 0.5),
            ],
        )],
        state_changes: vec![StateChange {
            at_ms: at,
            node: "bed".to_owned(),
            output: "valve".to_owned(),
            power: seq.is_multiple_of(2),
            reason: format!("report {seq}"),
        }],
        events: Vec::new(),
    }
}

/// Waits until `soil` of `bed` has `count` points (the spool drained), at most 20 s.
async fn wait_for_points(store: &PostgresStore, count: usize) -> Vec<(i64, f64)> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(points) = store
            .readings(plantkeeper_store::ReadingsQuery {
                node: "bed".to_owned(),
                sensor: "soil".to_owned(),
                from_ms: 0,
                to_ms: i64::MAX,
                step_ms: None,
                limit: usize::MAX,
            })
            .await
            && points.len() >= count
        {
            return points;
        }
        assert!(
            Instant::now() < deadline,
            "the spooled readings did not reach PostgreSQL within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the store's spool is empty, at most 20 s.
async fn wait_until_replayed(store: &PostgresStore) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while store.spooled() > 0 {
        assert!(
            Instant::now() < deadline,
            "the spool was not replayed within 20 s ({} batches left)",
            store.spooled()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_during_an_outage_are_acknowledged_and_stored_exactly_once_after_it() {
    let Some(cluster) = start_cluster().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("temporary dir");
    let spool = dir.path().join("spool.db");
    let store = open(&cluster.url(), &spool).await;
    for seq in 0..BEFORE {
        store
            .write(batch(seq))
            .await
            .expect("a write with the server up");
    }

    let stopping = &cluster;
    tokio::task::block_in_place(|| stopping.stop_immediately());
    for seq in BEFORE..DURING {
        let receipt = store
            .write(batch(seq))
            .await
            .unwrap_or_else(|error| panic!("write {seq} during the outage: {error}"));
        assert_eq!(receipt.duplicate, vec![false]);
    }
    // A node's retry of a report stored before the outage, and an event.
    store
        .write(batch(3))
        .await
        .expect("a retry during the outage is acknowledged");
    store
        .write(WriteBatch {
            events: vec![Event {
                at_ms: 99,
                kind: "override_set".to_owned(),
                node: Some("bed".to_owned()),
                output: Some("valve".to_owned()),
                message: "during the outage".to_owned(),
            }],
            ..WriteBatch::default()
        })
        .await
        .expect("an event during the outage is acknowledged");
    assert!(
        store.check_writable().await.is_err(),
        "the writable probe tells the database is unreachable"
    );
    assert!(store.spooled() > 0, "the outage's writes are in the spool");

    let starting = &cluster;
    tokio::task::block_in_place(|| starting.start_server());
    wait_until_replayed(&store).await;
    let points = wait_for_points(&store, DURING as usize).await;
    let expected: Vec<(i64, f64)> = (0..DURING)
        .map(|seq| (i64::from(seq) * 1000, f64::from(seq)))
        .collect();
    assert_eq!(
        points, expected,
        "every acknowledged reading exactly once, the retry not stored twice"
    );
    assert_eq!(
        raw_points(&store, "bed", "air", 0, i64::MAX).await.len(),
        DURING as usize
    );
    // Once the readings are there, a last write passes straight through.
    store
        .write(batch(DURING))
        .await
        .expect("a write after the outage");
    store.close().await.expect("closing");

    // The state changes and the event: read after a reopen, which also replays nothing again.
    let reopened = open(&cluster.url(), &spool).await;
    let changes = reopened
        .state_changes_since(0)
        .await
        .expect("state changes");
    let reasons: Vec<String> = changes.iter().map(|change| change.reason.clone()).collect();
    let mut expected_reasons: Vec<String> =
        (0..=DURING).map(|seq| format!("report {seq}")).collect();
    // The retry's state change is the master's own new decision: recorded again, as always.
    expected_reasons.push("report 3".to_owned());
    let mut sorted = reasons.clone();
    sorted.sort();
    expected_reasons.sort();
    assert_eq!(
        sorted, expected_reasons,
        "each state change once: {reasons:?}"
    );
    let events = reopened
        .events(EventsQuery {
            from_ms: 0,
            to_ms: 100,
            node: None,
            limit: 100,
        })
        .await
        .expect("events");
    let outage_events = events
        .iter()
        .filter(|row| matches!(row, EventRow::Event(event) if event.message == "during the outage"))
        .count();
    assert_eq!(outage_events, 1, "the outage's event once: {events:?}");
    assert_eq!(
        raw_points(&reopened, "bed", "soil", 0, i64::MAX)
            .await
            .len(),
        DURING as usize + 1,
        "the reopen replayed nothing again"
    );
    reopened.close().await.expect("closing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_interrupted_before_the_spool_forgot_it_is_not_stored_twice() {
    let Some(cluster) = start_cluster().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("temporary dir");
    let spool = dir.path().join("spool.db");
    let store = open(&cluster.url(), &spool).await;
    store
        .write(batch(0))
        .await
        .expect("a write with the server up");
    let stopping = &cluster;
    tokio::task::block_in_place(|| stopping.stop_immediately());
    for seq in 1..5 {
        store.write(batch(seq)).await.expect("a spooled write");
    }
    store.close().await.expect("closing during the outage");
    // The spool as it was before any replay: what a master killed between the replay's commit
    // and the spool's removal finds at its next start.
    let copy = dir.path().join("spool-copy.db");
    std::fs::copy(&spool, &copy).expect("copying the spool");

    let starting = &cluster;
    tokio::task::block_in_place(|| starting.start_server());
    let store = open(&cluster.url(), &spool).await;
    wait_for_points(&store, 5).await;
    store.close().await.expect("closing");
    let store = open(&cluster.url(), &copy).await;
    assert_eq!(store.spooled(), 4, "the copy holds the four outage batches");
    wait_until_replayed(&store).await;
    store
        .write(batch(5))
        .await
        .expect("a write after the replay");
    let points = wait_for_points(&store, 6).await;
    assert_eq!(
        points.len(),
        6,
        "the copied spool's batches were recognised as stored: {points:?}"
    );
    assert_eq!(
        store.state_changes_since(0).await.expect("changes").len(),
        6
    );
    store.close().await.expect("closing");
}
