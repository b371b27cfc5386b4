//! The store behaviour suite against fresh SQLite stores, plus the behaviours only the SQLite
//! engine has (a file to reopen, pruning, URLs).

use std::sync::Arc;
use std::time::Duration;

use plantkeeper_store::Store;
use plantkeeper_store::sqlite::{SqliteOptions, SqliteStore, Synchronous};
use plantkeeper_store::testsuite::{raw_points, reading, report, reports_batch};
use tempfile::TempDir;

async fn fresh_store() -> (Arc<dyn Store>, TempDir) {
    let dir = tempfile::tempdir().expect("creating a temporary directory");
    let store = SqliteStore::open(&dir.path().join("pk.db"), SqliteOptions::default())
        .await
        .expect("opening a fresh SQLite store");
    (Arc::new(store), dir)
}

plantkeeper_store::store_suite!(fresh_store);

async fn open(dir: &TempDir) -> SqliteStore {
    SqliteStore::open(&dir.path().join("pk.db"), SqliteOptions::default())
        .await
        .expect("opening the SQLite store")
}

#[tokio::test]
async fn epoch_survives_reopen() {
    let dir = tempfile::tempdir().expect("creating a temporary directory");
    let store = open(&dir).await;
    store.begin_epoch().await.expect("first epoch");
    assert_eq!(
        store.begin_epoch().await.expect("second epoch"),
        2,
        "second epoch of a new file"
    );
    store.close().await.expect("closing");

    let reopened = open(&dir).await;
    assert_eq!(
        reopened.begin_epoch().await.expect("epoch after reopen"),
        3,
        "epoch after reopen"
    );
    reopened.close().await.expect("closing again");
}

#[tokio::test]
async fn acknowledged_writes_survive_a_store_that_is_never_closed() {
    let dir = tempfile::tempdir().expect("creating a temporary directory");
    let store = open(&dir).await;
    for seq in 0..20 {
        let at = i64::from(seq);
        let batch = reports_batch(vec![report(
            "bed-1",
            Some(9),
            seq,
            at,
            vec![reading("t", at, 1.0)],
        )]);
        store.write(batch).await.expect("writing");
    }
    // Neither closed nor dropped: its writer thread and connection stay as they are.
    std::mem::forget(store);

    let reopened = open(&dir).await;
    let points = raw_points(&reopened, "bed-1", "t", 0, 100).await;
    assert_eq!(
        points.len(),
        20,
        "every acknowledged write is in the file: {points:?}"
    );
    reopened.close().await.expect("closing");
}

#[tokio::test]
async fn dropping_without_close_neither_hangs_nor_loses_writes() {
    let dir = tempfile::tempdir().expect("creating a temporary directory");
    let store = open(&dir).await;
    let batch = reports_batch(vec![report(
        "bed-1",
        Some(1),
        1,
        5,
        vec![reading("t", 5, 2.5)],
    )]);
    store.write(batch).await.expect("writing");
    tokio::time::timeout(Duration::from_secs(5), async move { drop(store) })
        .await
        .expect("dropping the store returns at once");

    let reopened = open(&dir).await;
    let points = raw_points(&reopened, "bed-1", "t", 0, 100).await;
    assert_eq!(
        points,
        vec![(5, 2.5)],
        "the acknowledged write is in the file"
    );
    reopened.close().await.expect("closing");
}

#[tokio::test]
async fn open_url_resolves_against_the_base_dir_and_creates_directories() {
    let dir = tempfile::tempdir().expect("creating a temporary directory");
    let store = SqliteStore::open_url(
        "sqlite://data/nested/pk.db",
        dir.path(),
        SqliteOptions::default(),
    )
    .await
    .expect("opening by URL");
    store
        .check_writable()
        .await
        .expect("the new store is writable");
    store.close().await.expect("closing");
    assert!(
        dir.path().join("data/nested/pk.db").is_file(),
        "the database file is created under the base dir"
    );
}

#[tokio::test]
async fn synchronous_normal_store_round_trips() {
    let dir = tempfile::tempdir().expect("creating a temporary directory");
    let options = SqliteOptions {
        synchronous: Synchronous::Normal,
        max_batch: 10,
        read_connections: 1,
        ..SqliteOptions::default()
    };
    let store = SqliteStore::open(&dir.path().join("pk.db"), options)
        .await
        .expect("opening");
    let readings = (0..50).map(|at| reading("t", at, 1.0)).collect();
    store
        .write(reports_batch(vec![report("bed-1", None, 1, 0, readings)]))
        .await
        .expect("a batch larger than max_batch is committed whole");
    let points = raw_points(&store, "bed-1", "t", 0, 100).await;
    assert_eq!(points.len(), 50, "all 50 readings stored");
    store.close().await.expect("closing");
}
