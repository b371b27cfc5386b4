//! The PostgreSQL writer's lanes against the real server: with `write_connections: 2` two
//! more connections commit groups of plain writes (reports and readings of existing series)
//! while the writer's own connection commits the work that must stay in order. These tests
//! check what the lanes must keep: every acknowledged report stored exactly once even when a
//! retry races its original on another connection, state changes and events still visible in
//! id order, and nothing lost when a lane's connection dies in the middle of a group.
//!
//! Each test proves the lanes were used: they connect when they get their first group, and
//! their backends show in `pg_stat_activity` as `plantkeeper writer lane SCHEMA`. Tests are
//! skipped when the server is unreachable, as in `postgres_suite.rs`.

mod postgres_support;

use std::collections::BTreeMap;
use std::sync::Arc;

use plantkeeper_store::postgres::PostgresOptions;
use plantkeeper_store::testsuite::{raw_points, reading, report, reports_batch};
use plantkeeper_store::{Event, ReportRecord, StateChange, Store, StoreError, WriteReceipt};
use postgres_support::{
    TestSchema, admin_client, assert_ids_became_visible_in_order, lock_readings,
    one_waits_on_a_lock, open_with,
};
use tokio_postgres::Client;

/// The sensor every report of these tests carries one reading of.
const SENSOR: &str = "t";

/// The store in `schema` with its two lanes.
async fn open_with_lanes(schema: &TestSchema) -> Arc<dyn Store> {
    let options = PostgresOptions {
        write_connections: 2,
        ..PostgresOptions::default()
    };
    Arc::new(open_with(schema, options).await)
}

/// Report `seq` of `node` (boot 1), received at `seq` ms, with one reading at `seq` ms.
fn numbered_report(node: &str, seq: u32) -> ReportRecord {
    let at = i64::from(seq);
    report(
        node,
        Some(1),
        seq,
        at,
        vec![reading(SENSOR, at, f64::from(seq))],
    )
}

/// Writes report `seq` of `node` alone.
async fn write_report(store: &dyn Store, node: &str, seq: u32) -> Result<WriteReceipt, StoreError> {
    store
        .write(reports_batch(vec![numbered_report(node, seq)]))
        .await
}

/// Writes report 0 of every node in one batch: it creates their series on the writer's own
/// connection, so that later reports of these nodes suit a lane.
async fn create_series(store: &dyn Store, nodes: &[String]) {
    let first_reports = nodes.iter().map(|node| numbered_report(node, 0)).collect();
    let receipt = store
        .write(reports_batch(first_reports))
        .await
        .expect("writing the first report of every node");
    assert_eq!(
        receipt.duplicate,
        vec![false; nodes.len()],
        "the first reports are new"
    );
}

/// The times of the stored readings of `node`, oldest first.
async fn stored_times(store: &dyn Store, node: &str) -> Vec<i64> {
    raw_points(store, node, SENSOR, 0, 1_000_000)
        .await
        .into_iter()
        .map(|(at, _)| at)
        .collect()
}

/// The `application_name` of the lanes' connections in `schema`.
fn lane_name(schema: &TestSchema) -> String {
    format!("plantkeeper writer lane {}", schema.name())
}

/// The `application_name` of the writer's own connection in `schema`.
fn writer_name(schema: &TestSchema) -> String {
    format!("plantkeeper writer {}", schema.name())
}

/// `(state, last statement)` of every lane backend of `schema`, sorted.
async fn lane_backends(observer: &Client, schema: &TestSchema) -> Vec<(String, String)> {
    let mut backends: Vec<(String, String)> = observer
        .query(
            "SELECT state, query FROM pg_stat_activity WHERE application_name = $1",
            &[&lane_name(schema)],
        )
        .await
        .expect("looking for the lanes' backends")
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    backends.sort();
    backends
}

/// Writes two more reports of `node`, one after the other (each lane takes one of them: an
/// idle lane waits for the next group while the other waits for its turn), then asserts that
/// both lanes are connected, outside any transaction, and that the last statement of each was
/// a `COMMIT`: the lanes commit groups themselves. Fails when there are no lanes, when a lane
/// rolls back what it was given, or leaves its transaction open.
async fn assert_both_lanes_commit(
    store: &dyn Store,
    observer: &Client,
    schema: &TestSchema,
    node: &str,
    next_seqs: [u32; 2],
) {
    for seq in next_seqs {
        let receipt = write_report(store, node, seq)
            .await
            .expect("a plain write after the others");
        assert_eq!(receipt.duplicate, vec![false], "{node} seq {seq} is new");
    }
    let committed = ("idle".to_owned(), "COMMIT".to_owned());
    assert_eq!(
        lane_backends(observer, schema).await,
        vec![committed.clone(), committed],
        "both lanes are connected and each committed its last group"
    );
}

/// Concurrent plain writes on the lanes store every acknowledged report exactly once, and a
/// retry racing its original (sent at the same time, so often in a group committed at the same
/// time on the other lane) is flagged duplicate exactly once: of the two receipts of each
/// report one says new and the other duplicate, and each report's reading is stored once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_retries_on_lanes_store_each_report_once_and_flag_one_duplicate() {
    const NODES: usize = 40;
    const REPORTS_PER_NODE: u32 = 25;
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let store = open_with_lanes(&schema).await;
    let observer = admin_client().await;
    let nodes: Vec<String> = (0..NODES).map(|node| format!("node-{node}")).collect();
    create_series(store.as_ref(), &nodes).await;

    let senders: Vec<_> = nodes
        .iter()
        .map(|node| {
            let store = Arc::clone(&store);
            let node = node.clone();
            tokio::spawn(async move {
                let mut receipts = Vec::new();
                for seq in 1..=REPORTS_PER_NODE {
                    let send = || {
                        let store = Arc::clone(&store);
                        let node = node.clone();
                        tokio::spawn(async move { write_report(store.as_ref(), &node, seq).await })
                    };
                    let (original, retry) = tokio::join!(send(), send());
                    for receipt in [original, retry] {
                        let receipt = receipt
                            .expect("a write task")
                            .unwrap_or_else(|error| panic!("{node} seq {seq} failed: {error}"));
                        receipts.push(((node.clone(), seq), receipt.duplicate));
                    }
                }
                receipts
            })
        })
        .collect();
    let mut flags_of_report: BTreeMap<(String, u32), Vec<Vec<bool>>> = BTreeMap::new();
    for sender in senders {
        for (report, duplicate) in sender.await.expect("a sender task") {
            flags_of_report.entry(report).or_default().push(duplicate);
        }
    }

    assert_eq!(
        flags_of_report.len(),
        NODES * REPORTS_PER_NODE as usize,
        "every report was sent"
    );
    for ((node, seq), mut flags) in flags_of_report {
        flags.sort();
        assert_eq!(
            flags,
            vec![vec![false], vec![true]],
            "{node} seq {seq}: one delivery is new, the other a duplicate"
        );
    }
    let expected: Vec<i64> = (0..=i64::from(REPORTS_PER_NODE)).collect();
    for node in &nodes {
        assert_eq!(
            stored_times(store.as_ref(), node).await,
            expected,
            "{node}: each report's reading is stored exactly once"
        );
    }
    assert_both_lanes_commit(
        store.as_ref(),
        &observer,
        &schema,
        &nodes[0],
        [REPORTS_PER_NODE + 1, REPORTS_PER_NODE + 2],
    )
    .await;
    store.close().await.expect("closing");
}

/// Ordered work stays ordered while the lanes run: half the writers send plain reports (lanes)
/// while the other half send state changes and events (the writer's own connection), all at
/// once; every id list an observer saw meanwhile is a prefix of the final one, and every row
/// and reading is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_changes_and_events_stay_in_id_order_while_lanes_commit_reports() {
    const WRITERS_OF_EACH_KIND: usize = 16;
    const WRITES_EACH: u32 = 25;
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let store = open_with_lanes(&schema).await;
    let observer = admin_client().await;
    let plain_nodes: Vec<String> = (0..WRITERS_OF_EACH_KIND)
        .map(|node| format!("plain-{node}"))
        .collect();
    let ordered_nodes: Vec<String> = (0..WRITERS_OF_EACH_KIND)
        .map(|node| format!("ordered-{node}"))
        .collect();
    create_series(store.as_ref(), &plain_nodes).await;

    let plain_writers = plain_nodes.iter().map(|node| {
        let store = Arc::clone(&store);
        let node = node.clone();
        tokio::spawn(async move {
            for seq in 1..=WRITES_EACH {
                write_report(store.as_ref(), &node, seq)
                    .await
                    .unwrap_or_else(|error| panic!("{node} seq {seq} failed: {error}"));
            }
        })
    });
    let ordered_writers = ordered_nodes.iter().map(|node| {
        let store = Arc::clone(&store);
        let node = node.clone();
        tokio::spawn(async move {
            for seq in 1..=WRITES_EACH {
                let mut batch = reports_batch(vec![numbered_report(&node, seq)]);
                batch.state_changes.push(StateChange {
                    at_ms: i64::from(seq),
                    node: node.clone(),
                    output: "valve".to_owned(),
                    power: seq % 2 == 0,
                    reason: "test".to_owned(),
                });
                batch.events.push(Event {
                    at_ms: i64::from(seq),
                    kind: "override_set".to_owned(),
                    node: Some(node.clone()),
                    output: None,
                    message: "test".to_owned(),
                });
                store
                    .write(batch)
                    .await
                    .unwrap_or_else(|error| panic!("{node} seq {seq} failed: {error}"));
            }
        })
    });
    let writers: Vec<_> = plain_writers.chain(ordered_writers).collect();

    let (final_changes, final_events) =
        assert_ids_became_visible_in_order(&observer, &schema, writers).await;
    let ordered_rows = WRITERS_OF_EACH_KIND * WRITES_EACH as usize;
    assert_eq!(final_changes.len(), ordered_rows, "every state change");
    assert_eq!(final_events.len(), ordered_rows, "every event");
    let plain_times: Vec<i64> = (0..=i64::from(WRITES_EACH)).collect();
    for node in &plain_nodes {
        assert_eq!(
            stored_times(store.as_ref(), node).await,
            plain_times,
            "{node}: every plain report's reading"
        );
    }
    let ordered_times: Vec<i64> = (1..=i64::from(WRITES_EACH)).collect();
    for node in &ordered_nodes {
        assert_eq!(
            stored_times(store.as_ref(), node).await,
            ordered_times,
            "{node}: the reading of every report sent with a state change"
        );
    }
    assert_both_lanes_commit(
        store.as_ref(),
        &observer,
        &schema,
        &plain_nodes[0],
        [WRITES_EACH + 1, WRITES_EACH + 2],
    )
    .await;
    store.close().await.expect("closing");
}

/// A lane's connection killed by the server while its group waits inside its transaction loses
/// nothing: the lane hands the group back, the writer applies it on its own connection, and
/// the write is acknowledged once committed and stored exactly once. The lane connects again
/// for its next group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_whose_lane_is_killed_is_committed_by_the_writer_and_stored_once() {
    const NODE: &str = "bed-1";
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let store = open_with_lanes(&schema).await;
    let observer = admin_client().await;
    create_series(store.as_ref(), &[NODE.to_owned()]).await;
    // Both lanes connected (their statements prepared), so the held write waits inside its
    // transaction, not while its lane connects.
    assert_both_lanes_commit(store.as_ref(), &observer, &schema, NODE, [1, 2]).await;

    // Hold the next write in its lane's transaction: another connection locks the readings.
    let mut admin = admin_client().await;
    let locker = lock_readings(&mut admin, &schema).await;
    let held = tokio::spawn({
        let store = Arc::clone(&store);
        async move { write_report(store.as_ref(), NODE, 3).await }
    });
    assert!(
        one_waits_on_a_lock(&observer, &lane_name(&schema)).await,
        "the held write waits on the lock in a lane's transaction"
    );
    let killed: i64 = observer
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE application_name = $1 AND wait_event_type = 'Lock'",
            &[&lane_name(&schema)],
        )
        .await
        .expect("terminating the waiting lane's backend")
        .get(0);
    assert_eq!(killed, 1, "the waiting lane's connection was terminated");
    assert!(
        one_waits_on_a_lock(&observer, &writer_name(&schema)).await,
        "the writer applies the group handed back, on its own connection (waiting on the lock)"
    );
    assert!(
        !held.is_finished(),
        "the held write is not answered before its group is committed"
    );
    locker.rollback().await.expect("releasing the lock");

    let receipt = held
        .await
        .expect("the held write's task")
        .expect("the held write is committed by the writer after its lane died");
    assert_eq!(receipt.duplicate, vec![false], "the held report is new");
    assert_eq!(
        stored_times(store.as_ref(), NODE).await,
        vec![0, 1, 2, 3],
        "the held report's reading is stored exactly once"
    );
    let retry = write_report(store.as_ref(), NODE, 3)
        .await
        .expect("the held report sent again");
    assert_eq!(
        retry.duplicate,
        vec![true],
        "the held report is committed: its retry is a duplicate"
    );
    assert_both_lanes_commit(store.as_ref(), &observer, &schema, NODE, [4, 5]).await;
    assert_eq!(
        stored_times(store.as_ref(), NODE).await,
        vec![0, 1, 2, 3, 4, 5],
        "every acknowledged report is stored once"
    );
    drop(admin);
    store.close().await.expect("closing");
}
