//! Upgrading from v0.1.0: the database a v0.1.0 master wrote (tests/fixtures/v0.1.0, recorded
//! by its make-fixture.sh) opens with the current code, which migrates it forward, and every
//! stored reading, state change, event and the epoch survive; the settings it ran with still
//! pass `check`.

mod master_process;

use std::path::{Path, PathBuf};
use std::time::Duration;

use master_process::run_to_exit;
use plantkeeper_store::sqlite::{SqliteOptions, SqliteStore};
use plantkeeper_store::{EventRow, EventsQuery, ReadingsQuery, Store};

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v0.1.0")
}

/// Opens a copy of the fixture database (the fixture itself stays as v0.1.0 wrote it).
async fn open_copy(dir: &Path) -> SqliteStore {
    let copy = dir.join("plantkeeper.db");
    std::fs::copy(fixture_dir().join("plantkeeper.db"), &copy)
        .unwrap_or_else(|error| panic!("cannot copy the fixture: {error}"));
    SqliteStore::open(&copy, SqliteOptions::default())
        .await
        .unwrap_or_else(|error| panic!("the v0.1.0 database does not open: {error}"))
}

#[tokio::test]
async fn a_v0_1_0_database_opens_with_its_data_and_epoch() {
    let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("no temporary dir: {error}"));
    let store = open_copy(dir.path()).await;

    // The four soil readings make-fixture.sh sent, the backlog entry 60 s before the first.
    let points = store
        .readings(ReadingsQuery {
            node: "bed-1".to_owned(),
            sensor: "soil_moisture".to_owned(),
            from_ms: 0,
            to_ms: i64::MAX,
            step_ms: None,
            limit: 100,
        })
        .await
        .unwrap_or_else(|error| panic!("readings: {error}"));
    let values: Vec<f64> = points.iter().map(|&(_, value)| value).collect();
    assert_eq!(values, [31.25, 25.5, 47.0, 20.0]);
    let backlog_age = points[1].0 - points[0].0;
    assert!(
        (60_000..61_000).contains(&backlog_age),
        "the backlog reading should be stored 60 s before its report, got {backlog_age} ms"
    );

    // Both switches with the reasons recorded then.
    let changes = store
        .state_changes_since(0)
        .await
        .unwrap_or_else(|error| panic!("state changes: {error}"));
    let summary: Vec<(bool, &str)> = changes
        .iter()
        .map(|change| (change.power, change.reason.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            (true, "soil_moisture 25.5 < 30"),
            (false, "soil_moisture 47.0 >= 45")
        ]
    );
    assert!(
        changes
            .iter()
            .all(|c| c.node == "bed-1" && c.output == "valve")
    );

    // The two starts and the override, oldest first.
    let mut events = store
        .events(EventsQuery {
            from_ms: 0,
            to_ms: i64::MAX,
            node: None,
            limit: 100,
        })
        .await
        .unwrap_or_else(|error| panic!("events: {error}"));
    events.sort_by_key(EventRow::at_ms);
    let kinds: Vec<&str> = events
        .iter()
        .filter_map(|row| match row {
            EventRow::Event(event) => Some(event.kind.as_str()),
            EventRow::StateChange(_) => None,
        })
        .collect();
    assert_eq!(kinds, ["master_started", "master_started", "override_set"]);

    let last_report = store
        .last_report_at("bed-1")
        .await
        .unwrap_or_else(|error| panic!("last report: {error}"));
    assert_eq!(last_report, points.last().map(|&(at_ms, _)| at_ms));

    // v0.1.0 started twice: the epoch keeps counting from there.
    let epoch = store
        .begin_epoch()
        .await
        .unwrap_or_else(|error| panic!("epoch: {error}"));
    assert_eq!(epoch, 3);
    store
        .check_writable()
        .await
        .unwrap_or_else(|error| panic!("the migrated store is not writable: {error}"));
    store
        .close()
        .await
        .unwrap_or_else(|error| panic!("close: {error}"));
}

#[test]
fn the_v0_1_0_settings_still_pass_check() {
    let run = run_to_exit(
        &fixture_dir(),
        &["check", "--config", "plantkeeper.toml"],
        Duration::from_secs(10),
    );
    assert_eq!(
        run.code(),
        0,
        "check refused the v0.1.0 settings: {}",
        run.stderr
    );
    assert!(
        run.stdout.contains("1 node, 1 output"),
        "unexpected summary: {}",
        run.stdout
    );
}
