//! The write-ahead log is copied into the database file by the checkpoint thread, off the
//! commit path: after a burst of writes far below SQLite's own automatic checkpoint, the
//! database file (which in WAL mode changes only at checkpoints) grows within a few periods.

use std::time::Duration;

use plantkeeper_store::Store;
use plantkeeper_store::sqlite::{SqliteOptions, SqliteStore};
use plantkeeper_store::testsuite::{reading, report, reports_batch};

#[tokio::test]
async fn background_checkpoints_copy_the_log_into_the_database_file() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("pk.db");
    let store = SqliteStore::open(&path, SqliteOptions::default())
        .await
        .expect("open store");
    let size_before = std::fs::metadata(&path).expect("database file").len();
    for seq in 0..200u32 {
        let readings = (0..8)
            .map(|sensor| reading(&format!("s{sensor}"), i64::from(seq) * 1000, f64::from(seq)))
            .collect();
        store
            .write(reports_batch(vec![report(
                "bed-1",
                Some(1),
                seq,
                0,
                readings,
            )]))
            .await
            .expect("write");
    }
    let mut size_after = size_before;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        size_after = std::fs::metadata(&path).expect("database file").len();
        if size_after > size_before {
            break;
        }
    }
    assert!(
        size_after > size_before,
        "the database file stayed at {size_before} bytes: nothing was checkpointed"
    );
    store.close().await.expect("close");
}
