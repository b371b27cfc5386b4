//! The behaviour every [`Store`] engine must have, as one `pub async fn` per behaviour, so the
//! SQLite engine, a PostgreSQL engine and the master's fakes all run the same checks.
//!
//! Each function takes a fresh, empty store and panics (with a message saying what broke) when
//! the behaviour is missing. [`store_suite!`](crate::store_suite) turns all of them into
//! `#[tokio::test]`s for a store factory. The suite expects reads to keep working after
//! [`Store::close`] (only writes are refused), since it checks what a close committed.
//!
//! Enabled by the `testsuite` cargo feature.

pub mod private_cluster;

use std::sync::Arc;
use std::task::Poll;

use crate::{
    Event, EventRow, EventsQuery, HOUR_MS, NewReading, NewSettingsVersion, Point, ReadingsQuery,
    ReportRecord, SettingsSource, StateChange, Store, StoreError, WriteBatch, WriteReceipt,
};

/// Generates one `#[tokio::test]` per suite function. `$fresh` is an async fn returning
/// `(Arc<dyn Store>, guard)`: a new empty store, and whatever must live as long as it (a
/// temporary directory, a database name to drop). Every test closes its store at the end.
/// The calling crate needs `tokio` with the `macros` and `rt-multi-thread` features.
///
/// ```text
/// async fn fresh_store() -> (Arc<dyn Store>, tempfile::TempDir) { ... }
/// plantkeeper_store::store_suite!(fresh_store);
/// ```
///
/// For an engine that needs a server, `store_suite!(optional fresh_store)` takes an async fn
/// returning `Option<(Arc<dyn Store>, guard)>`: `None` (after [`require_service`] said the
/// server is unavailable and skipping is allowed) makes the test return at once.
#[macro_export]
macro_rules! store_suite {
    ($fresh:path) => {
        $crate::store_suite!(@list required $fresh);
    };
    (optional $fresh:path) => {
        $crate::store_suite!(@list optional $fresh);
    };
    (@list $mode:ident $fresh:path) => {
        $crate::store_suite!(@tests $mode $fresh;
            write_then_read_roundtrip,
            readings_average_per_step_bucket,
            retried_report_is_stored_once_and_flagged_duplicate,
            reports_without_boot_are_never_duplicates,
            epoch_increases_at_every_begin,
            events_are_merged_newest_first_with_node_filter_and_limit,
            state_changes_since_are_oldest_first,
            last_report_at_is_the_newest_receive_time_of_the_node,
            concurrent_writers_are_all_acknowledged_and_stored,
            close_commits_queued_writes_then_refuses_writes,
            non_finite_reading_is_refused_and_the_store_goes_on,
            reports_older_than_two_days_are_pruned_and_no_longer_deduplicated,
            hourly_steps_from_the_rollup_equal_the_raw_averages,
            retention_expires_raw_readings_then_hourly_rollups,
            settings_versions_are_numbered_listed_newest_first_and_found,
            settings_version_is_committed_with_concurrent_writes,
        );
    };
    (@tests required $fresh:path; $($name:ident),+ $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let (store, _guard) = $fresh().await;
                $crate::testsuite::$name(::std::sync::Arc::clone(&store)).await;
                store.close().await.expect("closing the store after the test");
            }
        )+
    };
    (@tests optional $fresh:path; $($name:ident),+ $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some((store, _guard)) = $fresh().await else {
                    return;
                };
                $crate::testsuite::$name(::std::sync::Arc::clone(&store)).await;
                store.close().await.expect("closing the store after the test");
            }
        )+
    };
}

/// The environment variable that turns an unavailable service into a test failure (CI sets it
/// to `1`); without it, tests that need the service are skipped with one line on stderr.
pub const REQUIRE_SERVICES_ENV: &str = "PLANTKEEPER_REQUIRE_SERVICES";

/// The one rule for tests that need a real service (PostgreSQL, an MQTT broker, a browser):
/// `availability` is the outcome of trying to reach `service` at `address`.
///
/// Returns `true` when it is available. Otherwise, when [`REQUIRE_SERVICES_ENV`] is `1`,
/// panics saying what is missing; else prints, once per service and address in this process,
/// `skipped: SERVICE not reachable at ADDRESS: WHY (set PLANTKEEPER_REQUIRE_SERVICES=1 to fail
/// instead)` straight to stderr (past the test harness's capture, so it shows), and returns
/// `false`: the caller returns without testing.
pub fn require_service(service: &str, address: &str, availability: Result<(), String>) -> bool {
    let Err(why) = availability else {
        return true;
    };
    if std::env::var(REQUIRE_SERVICES_ENV).is_ok_and(|value| value == "1") {
        panic!(
            "{service} is required ({REQUIRE_SERVICES_ENV}=1) but not reachable at {address}: {why}"
        );
    }
    static ANNOUNCED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let key = format!("{service} {address}");
    let mut announced = ANNOUNCED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !announced.contains(&key) {
        announced.push(key);
        use std::io::Write;
        // Failing to print a skip notice is not worth failing the test run for.
        let _ = writeln!(
            std::io::stderr(),
            "skipped: {service} not reachable at {address}: {why} \
             (set {REQUIRE_SERVICES_ENV}=1 to fail instead)"
        );
    }
    false
}

/// A reading of `sensor` at `at_ms`.
pub fn reading(sensor: &str, at_ms: i64, value: f64) -> NewReading {
    NewReading {
        sensor: sensor.to_owned(),
        at_ms,
        value,
    }
}

/// A report of `node` received at `received_at_ms`.
pub fn report(
    node: &str,
    boot: Option<u32>,
    seq: u32,
    received_at_ms: i64,
    readings: Vec<NewReading>,
) -> ReportRecord {
    ReportRecord {
        node: node.to_owned(),
        boot,
        seq,
        received_at_ms,
        readings,
    }
}

/// A batch of reports only.
pub fn reports_batch(reports: Vec<ReportRecord>) -> WriteBatch {
    WriteBatch {
        reports,
        ..WriteBatch::default()
    }
}

/// Every raw reading of `node`/`sensor` in `[from_ms, to_ms)`.
pub async fn raw_points(
    store: &dyn Store,
    node: &str,
    sensor: &str,
    from_ms: i64,
    to_ms: i64,
) -> Vec<Point> {
    let query = ReadingsQuery {
        node: node.to_owned(),
        sensor: sensor.to_owned(),
        from_ms,
        to_ms,
        step_ms: None,
        limit: usize::MAX,
    };
    store.readings(query).await.expect("reading raw points")
}

fn readings_query(from_ms: i64, to_ms: i64, step_ms: Option<i64>, limit: usize) -> ReadingsQuery {
    ReadingsQuery {
        node: "bed-1".to_owned(),
        sensor: "soil_moisture".to_owned(),
        from_ms,
        to_ms,
        step_ms,
        limit,
    }
}

/// Points equal within 1e-9 on values, exactly on times.
fn assert_points(actual: &[Point], expected: &[Point], what: &str) {
    let same = actual.len() == expected.len()
        && actual
            .iter()
            .zip(expected)
            .all(|(a, e)| a.0 == e.0 && (a.1 - e.1).abs() < 1e-9);
    assert!(same, "{what}: expected {expected:?}, got {actual:?}");
}

/// Written readings come back in range, oldest first, per sensor, limited to the oldest ones;
/// an unknown node or sensor has no readings.
pub async fn write_then_read_roundtrip(store: Arc<dyn Store>) {
    let batch = reports_batch(vec![report(
        "bed-1",
        Some(7),
        1,
        1_000,
        vec![
            reading("soil_moisture", 300, 30.5),
            reading("soil_moisture", 100, 10.5),
            reading("soil_moisture", 200, 20.5),
            reading("temperature", 200, 21.0),
        ],
    )]);
    let receipt = store.write(batch).await.expect("writing one report");
    assert_eq!(
        receipt.duplicate,
        vec![false],
        "a first report is not a duplicate"
    );

    let all = store
        .readings(readings_query(0, 1_000, None, 100))
        .await
        .expect("reading back");
    assert_points(
        &all,
        &[(100, 10.5), (200, 20.5), (300, 30.5)],
        "all soil readings, oldest first",
    );

    let window = store
        .readings(readings_query(100, 300, None, 100))
        .await
        .expect("reading a window");
    assert_points(
        &window,
        &[(100, 10.5), (200, 20.5)],
        "[from, to) includes from, excludes to",
    );

    let limited = store
        .readings(readings_query(0, 1_000, None, 2))
        .await
        .expect("reading limited");
    assert_points(
        &limited,
        &[(100, 10.5), (200, 20.5)],
        "a limit keeps the oldest points",
    );

    let temperature = raw_points(store.as_ref(), "bed-1", "temperature", 0, 1_000).await;
    assert_points(
        &temperature,
        &[(200, 21.0)],
        "another sensor of the same node",
    );

    let unknown_sensor = raw_points(store.as_ref(), "bed-1", "no_such_sensor", 0, 1_000).await;
    assert!(
        unknown_sensor.is_empty(),
        "an unknown sensor has no readings: {unknown_sensor:?}"
    );
    let unknown_node = raw_points(store.as_ref(), "no-such-node", "soil_moisture", 0, 1_000).await;
    assert!(
        unknown_node.is_empty(),
        "an unknown node has no readings: {unknown_node:?}"
    );
}

/// With a step, one point per step-aligned bucket (floor division, negative times included),
/// labelled with the bucket start, averaging the readings inside `[from, to)` only.
pub async fn readings_average_per_step_bucket(store: Arc<dyn Store>) {
    let readings = [
        (-15, 1.0),
        (-5, 2.0),
        (0, 1.0),
        (5, 2.0),
        (9, 6.0),
        (10, 8.0),
        (25, 4.0),
    ]
    .into_iter()
    .map(|(at, value)| reading("soil_moisture", at, value))
    .collect();
    store
        .write(reports_batch(vec![report(
            "bed-1",
            Some(1),
            1,
            30,
            readings,
        )]))
        .await
        .expect("writing readings");

    let step = |from, to, step, limit| readings_query(from, to, Some(step), limit);
    let buckets = store
        .readings(step(-20, 30, 10, 100))
        .await
        .expect("step 10 over [-20, 30)");
    assert_points(
        &buckets,
        &[(-20, 1.0), (-10, 2.0), (0, 3.0), (10, 8.0), (20, 4.0)],
        "buckets start at multiples of the step, below zero too, and average their points",
    );

    let odd = store
        .readings(step(-13, 21, 10, 100))
        .await
        .expect("step 10 over [-13, 21)");
    assert_points(
        &odd,
        &[(-10, 2.0), (0, 3.0), (10, 8.0)],
        "an unaligned range keeps aligned bucket starts and drops points outside it",
    );

    let sevens = store.readings(step(-20, 30, 7, 100)).await.expect("step 7");
    assert_points(
        &sevens,
        &[(-21, 1.0), (-7, 2.0), (0, 1.5), (7, 7.0), (21, 4.0)],
        "step 7: -15 in [-21, -14), -5 in [-7, 0), 0 and 5 in [0, 7), 9 and 10 in [7, 14)",
    );

    let limited = store
        .readings(step(-20, 30, 10, 2))
        .await
        .expect("step with limit");
    assert_points(
        &limited,
        &[(-20, 1.0), (-10, 2.0)],
        "a limit keeps the oldest buckets",
    );

    for bad_step in [0, -10] {
        match store.readings(step(-20, 30, bad_step, 100)).await {
            Err(StoreError::InvalidQuery(_)) => {}
            other => panic!("step {bad_step} should be an invalid query, got {other:?}"),
        }
    }
}

/// A retried report (same node, boot and seq) is stored once: the retry is flagged duplicate
/// and its readings are not stored again, even within one batch. Another boot or seq is new.
pub async fn retried_report_is_stored_once_and_flagged_duplicate(store: Arc<dyn Store>) {
    let original = report(
        "bed-1",
        Some(42),
        17,
        1_000,
        vec![reading("soil_moisture", 900, 40.0)],
    );
    let first = store
        .write(reports_batch(vec![original.clone()]))
        .await
        .expect("first write");
    assert_eq!(first.duplicate, vec![false], "the first delivery is new");

    let retry = store
        .write(reports_batch(vec![original.clone()]))
        .await
        .expect("retry");
    assert_eq!(
        retry.duplicate,
        vec![true],
        "the retry is flagged duplicate"
    );

    let mut other_boot = original.clone();
    other_boot.boot = Some(43);
    let mut other_seq = original.clone();
    other_seq.seq = 18;
    let mixed = store
        .write(reports_batch(vec![
            other_boot,
            original.clone(),
            other_seq.clone(),
            other_seq,
        ]))
        .await
        .expect("batch with a retry inside");
    assert_eq!(
        mixed.duplicate,
        vec![false, true, false, true],
        "per report, in order: new boot, old retry, new seq, same report twice in one batch"
    );

    let points = raw_points(store.as_ref(), "bed-1", "soil_moisture", 0, 2_000).await;
    assert_eq!(
        points.len(),
        3,
        "original, new boot and new seq stored once each: {points:?}"
    );
}

/// Without `boot` a report cannot be recognised, so it is never flagged and always stored.
pub async fn reports_without_boot_are_never_duplicates(store: Arc<dyn Store>) {
    let bootless = report(
        "bed-1",
        None,
        5,
        1_000,
        vec![reading("soil_moisture", 900, 40.0)],
    );
    for attempt in 1..=2 {
        let receipt = store
            .write(reports_batch(vec![bootless.clone()]))
            .await
            .expect("writing bootless");
        assert_eq!(
            receipt.duplicate,
            vec![false],
            "bootless report, attempt {attempt}"
        );
    }
    let points = raw_points(store.as_ref(), "bed-1", "soil_moisture", 0, 2_000).await;
    assert_eq!(
        points.len(),
        2,
        "both bootless deliveries are stored: {points:?}"
    );
}

/// A fresh store's first epoch is 1 and every `begin_epoch` adds one.
pub async fn epoch_increases_at_every_begin(store: Arc<dyn Store>) {
    let first = store.begin_epoch().await.expect("first epoch");
    let second = store.begin_epoch().await.expect("second epoch");
    let third = store.begin_epoch().await.expect("third epoch");
    assert_eq!((first, second, third), (1, 2, 3), "epochs of a fresh store");
}

fn change(at_ms: i64, node: &str, power: bool) -> StateChange {
    StateChange {
        at_ms,
        node: node.to_owned(),
        output: "valve".to_owned(),
        power,
        reason: format!("change at {at_ms}"),
    }
}

fn event(at_ms: i64, node: Option<&str>) -> Event {
    Event {
        at_ms,
        kind: "override_set".to_owned(),
        node: node.map(str::to_owned),
        output: node.map(|_| "valve".to_owned()),
        message: format!("event at {at_ms}"),
    }
}

/// State changes and events come back together, newest first, within `[from, to)`, filtered
/// by node when asked, at most `limit` (the newest).
pub async fn events_are_merged_newest_first_with_node_filter_and_limit(store: Arc<dyn Store>) {
    let batch = WriteBatch {
        reports: Vec::new(),
        state_changes: vec![
            change(100, "bed-1", true),
            change(300, "bed-2", true),
            change(500, "bed-1", false),
        ],
        events: vec![
            event(200, Some("bed-1")),
            event(400, None),
            event(600, Some("bed-2")),
        ],
    };
    store
        .write(batch)
        .await
        .expect("writing changes and events");

    let query = |from_ms, to_ms, node: Option<&str>, limit| EventsQuery {
        from_ms,
        to_ms,
        node: node.map(str::to_owned),
        limit,
    };
    let times = |rows: &[EventRow]| rows.iter().map(EventRow::at_ms).collect::<Vec<_>>();

    let all = store
        .events(query(0, 1_000, None, 100))
        .await
        .expect("all events");
    assert_eq!(
        times(&all),
        vec![600, 500, 400, 300, 200, 100],
        "merged, newest first"
    );
    assert_eq!(
        all[1],
        EventRow::StateChange(change(500, "bed-1", false)),
        "a state change row"
    );
    assert_eq!(
        all[2],
        EventRow::Event(event(400, None)),
        "an event row without node"
    );

    let window = store
        .events(query(200, 500, None, 100))
        .await
        .expect("window");
    assert_eq!(
        times(&window),
        vec![400, 300, 200],
        "[from, to) includes from, excludes to"
    );

    let bed_1 = store
        .events(query(0, 1_000, Some("bed-1"), 100))
        .await
        .expect("bed-1 events");
    assert_eq!(
        times(&bed_1),
        vec![500, 200, 100],
        "only bed-1 rows, node-less events excluded"
    );

    let newest = store
        .events(query(0, 1_000, None, 2))
        .await
        .expect("limited events");
    assert_eq!(
        times(&newest),
        vec![600, 500],
        "a limit keeps the newest rows"
    );
}

/// `state_changes_since` returns changes at or after the time, oldest first, insertion order
/// kept within a millisecond.
pub async fn state_changes_since_are_oldest_first(store: Arc<dyn Store>) {
    let first = change(100, "bed-1", true);
    let mut same_ms = change(200, "bed-1", false);
    same_ms.reason = "first at 200".to_owned();
    let mut same_ms_later = change(200, "bed-2", true);
    same_ms_later.reason = "second at 200".to_owned();
    let later = change(300, "bed-2", false);
    for changes in [
        vec![later.clone(), same_ms.clone()],
        vec![same_ms_later.clone(), first],
    ] {
        let batch = WriteBatch {
            state_changes: changes,
            ..WriteBatch::default()
        };
        store.write(batch).await.expect("writing state changes");
    }
    let since = store
        .state_changes_since(200)
        .await
        .expect("state changes since 200");
    assert_eq!(
        since,
        vec![same_ms, same_ms_later, later],
        "from 200 on, oldest first"
    );
}

/// `last_report_at` is the newest receive time of the node's reports, a retry's included;
/// `None` for a node without reports.
pub async fn last_report_at_is_the_newest_receive_time_of_the_node(store: Arc<dyn Store>) {
    let first = report("bed-1", Some(3), 1, 100, Vec::new());
    let second = report("bed-1", None, 2, 300, Vec::new());
    let other_node = report("bed-2", Some(3), 1, 500, Vec::new());
    store
        .write(reports_batch(vec![first.clone(), second, other_node]))
        .await
        .expect("reports");
    let last = store
        .last_report_at("bed-1")
        .await
        .expect("bed-1's last report");
    assert_eq!(
        last,
        Some(300),
        "the newest of bed-1's reports, not bed-2's"
    );

    let mut retry = first;
    retry.received_at_ms = 700;
    let receipt = store
        .write(reports_batch(vec![retry]))
        .await
        .expect("a late retry");
    assert_eq!(receipt.duplicate, vec![true], "the retry is a duplicate");
    let last = store
        .last_report_at("bed-1")
        .await
        .expect("bed-1's last report after a retry");
    assert_eq!(
        last,
        Some(700),
        "a retry received later shows the node was alive then"
    );

    let unknown = store
        .last_report_at("no-such-node")
        .await
        .expect("unknown node");
    assert_eq!(unknown, None, "a node without reports");
}

/// Many tasks writing at once are all acknowledged and every row is stored.
pub async fn concurrent_writers_are_all_acknowledged_and_stored(store: Arc<dyn Store>) {
    const TASKS: u32 = 200;
    const WRITES: u32 = 50;
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..TASKS {
        let store = Arc::clone(&store);
        tasks.spawn(async move {
            let node = format!("node-{task}");
            for seq in 0..WRITES {
                let at = i64::from(seq);
                let batch = reports_batch(vec![report(
                    &node,
                    Some(task),
                    seq,
                    at,
                    vec![reading("level", at, f64::from(seq))],
                )]);
                let receipt = store.write(batch).await.map_err(|error| (seq, error))?;
                assert_eq!(receipt.duplicate, vec![false], "{node} seq {seq} is new");
            }
            Ok::<_, (u32, StoreError)>(())
        });
    }
    while let Some(outcome) = tasks.join_next().await {
        if let Err((seq, error)) = outcome.expect("writer task panicked") {
            panic!("a concurrent write (seq {seq}) failed: {error}");
        }
    }
    for task in 0..TASKS {
        let node = format!("node-{task}");
        let points = raw_points(store.as_ref(), &node, "level", 0, i64::from(WRITES)).await;
        assert_eq!(
            points.len(),
            WRITES as usize,
            "every acknowledged write of {node} is stored"
        );
    }
}

/// `close` commits every write that was started before it (its future polled once); afterwards
/// writes fail with [`StoreError::Closed`], and closing again is fine.
pub async fn close_commits_queued_writes_then_refuses_writes(store: Arc<dyn Store>) {
    const WRITES: u32 = 100;
    store
        .check_writable()
        .await
        .expect("an open store is writable");
    let mut pending: Vec<_> = (0..WRITES)
        .map(|seq| {
            let at = i64::from(seq);
            let batch = reports_batch(vec![report(
                "tank",
                Some(1),
                seq,
                at,
                vec![reading("level", at, 50.0)],
            )]);
            Some(store.write(batch))
        })
        .collect();
    let mut outcomes: Vec<Option<Result<WriteReceipt, StoreError>>> =
        (0..WRITES).map(|_| None).collect();
    // Start every write (one poll each) without waiting for any, then close.
    std::future::poll_fn(|context| {
        for (slot, outcome) in pending.iter_mut().zip(outcomes.iter_mut()) {
            if let Some(Poll::Ready(result)) =
                slot.as_mut().map(|write| write.as_mut().poll(context))
            {
                *outcome = Some(result);
                *slot = None;
            }
        }
        Poll::Ready(())
    })
    .await;
    store
        .close()
        .await
        .expect("closing while writes are in flight");
    for (slot, outcome) in pending.into_iter().zip(outcomes.iter_mut()) {
        if let Some(write) = slot {
            *outcome = Some(write.await);
        }
    }

    for (seq, outcome) in outcomes.iter().enumerate() {
        match outcome {
            Some(Ok(_)) => {}
            other => panic!("write {seq}, started before close, should be committed: {other:?}"),
        }
    }
    let stored = raw_points(store.as_ref(), "tank", "level", 0, i64::from(WRITES)).await;
    assert_eq!(
        stored.len(),
        WRITES as usize,
        "every write started before close is stored"
    );

    let late = store
        .write(reports_batch(vec![report(
            "tank",
            Some(1),
            999,
            0,
            Vec::new(),
        )]))
        .await;
    assert!(
        matches!(late, Err(StoreError::Closed)),
        "a write after close: {late:?}"
    );
    let epoch = store.begin_epoch().await;
    assert!(
        matches!(epoch, Err(StoreError::Closed)),
        "begin_epoch after close: {epoch:?}"
    );
    let writable = store.check_writable().await;
    assert!(
        matches!(writable, Err(StoreError::Closed)),
        "check_writable after close: {writable:?}"
    );
    store.close().await.expect("closing a second time");
}

/// A NaN reading is refused before anything is queued, naming the reading, and the store goes
/// on: the refused report was not recorded, so the same report with a finite value is new.
pub async fn non_finite_reading_is_refused_and_the_store_goes_on(store: Arc<dyn Store>) {
    let nan = reports_batch(vec![report(
        "bed-1",
        Some(1),
        1,
        0,
        vec![reading("t", 0, f64::NAN)],
    )]);
    match store.write(nan).await {
        Err(StoreError::InvalidQuery(message)) => {
            assert!(
                message.contains("`t`") && message.contains("bed-1"),
                "names the reading: {message}"
            )
        }
        other => panic!("a NaN reading should be refused, got {other:?}"),
    }
    let fine = reports_batch(vec![report(
        "bed-1",
        Some(1),
        1,
        0,
        vec![reading("t", 0, 1.0)],
    )]);
    let receipt = store
        .write(fine)
        .await
        .expect("a finite reading after a refused one");
    assert_eq!(
        receipt.duplicate,
        vec![false],
        "the refused report was not recorded"
    );
}

/// Report identities are kept two days for dedupe, measured against the newest report time
/// written: an older retry is stored again, a younger one is still recognised.
pub async fn reports_older_than_two_days_are_pruned_and_no_longer_deduplicated(
    store: Arc<dyn Store>,
) {
    const DAY_MS: i64 = 24 * 3600 * 1000;
    let old = report("bed-1", Some(1), 1, 0, Vec::new());
    let recent = report("bed-1", Some(1), 2, 2 * DAY_MS, Vec::new());
    store
        .write(reports_batch(vec![old.clone(), recent.clone()]))
        .await
        .expect("first reports");
    // The writer prunes every few dozen transactions, relative to the newest report time.
    for seq in 100..300 {
        let later = report("bed-2", Some(1), seq, 3 * DAY_MS, Vec::new());
        store
            .write(reports_batch(vec![later]))
            .await
            .expect("later reports");
    }
    let retries = store
        .write(reports_batch(vec![old, recent]))
        .await
        .expect("retries");
    assert_eq!(
        retries.duplicate,
        vec![false, true],
        "a 3-day-old report is forgotten by dedupe, a 1-day-old one is still recognised"
    );
}

/// The average of `points` per `step` bucket (floor division), oldest first: what a `step`
/// query must answer, computed here from the raw points.
fn expected_buckets(points: &[Point], step: i64) -> Vec<Point> {
    let mut buckets: std::collections::BTreeMap<i64, (f64, f64)> = Default::default();
    for (ts, value) in points {
        let entry = buckets
            .entry(ts - ts.rem_euclid(step))
            .or_insert((0.0, 0.0));
        entry.0 += value;
        entry.1 += 1.0;
    }
    buckets
        .into_iter()
        .map(|(bucket, (sum, count))| (bucket, sum / count))
        .collect()
}

/// A `step` of whole hours is answered from the hourly rollup (partial end hours from raw
/// readings) and equals the raw average per bucket: aligned and unaligned ranges, times before
/// 1970, several steps, a limit, and a retried report that must not be counted twice.
pub async fn hourly_steps_from_the_rollup_equal_the_raw_averages(store: Arc<dyn Store>) {
    // Every 7 minutes over 30 hours around the epoch, values that are not round.
    let start = -5 * HOUR_MS - 13 * 60_000;
    let mut reports = Vec::new();
    for seq in 0..260u32 {
        let at = start + i64::from(seq) * 7 * 60_000;
        let value = 20.0 + (f64::from(seq) * 0.731).sin() * 7.3 + f64::from(seq % 5) * 0.01;
        reports.push(report(
            "bed-1",
            Some(1),
            seq,
            at,
            vec![
                reading("soil_moisture", at, value),
                reading("temp", at, -value),
            ],
        ));
    }
    // Two writes, the second with a retry of the first's last report (a duplicate).
    let retry = reports[129].clone();
    let second: Vec<ReportRecord> = std::iter::once(retry)
        .chain(reports.split_off(130))
        .collect();
    store
        .write(reports_batch(reports))
        .await
        .expect("first half");
    let receipt = store
        .write(reports_batch(second))
        .await
        .expect("second half");
    assert_eq!(
        receipt.duplicate.first(),
        Some(&true),
        "the retry is a duplicate"
    );

    let end = start + 260 * 7 * 60_000;
    let raw = raw_points(store.as_ref(), "bed-1", "soil_moisture", start, end).await;
    assert_eq!(raw.len(), 260, "every raw reading once");
    let ranges = [
        (start, end),
        (-3 * HOUR_MS, 20 * HOUR_MS),
        (-3 * HOUR_MS + 1, 20 * HOUR_MS - 1),
        (HOUR_MS + 30 * 60_000, 7 * HOUR_MS + 59 * 60_000),
    ];
    for (from, to) in ranges {
        for step in [HOUR_MS, 2 * HOUR_MS, 24 * HOUR_MS] {
            let in_range: Vec<Point> = raw
                .iter()
                .copied()
                .filter(|(ts, _)| (from..to).contains(ts))
                .collect();
            let expected = expected_buckets(&in_range, step);
            let answer = store
                .readings(readings_query(from, to, Some(step), usize::MAX))
                .await
                .expect("a bucketed query");
            assert_points(&answer, &expected, &format!("[{from}, {to}) step {step}"));
            let limited = store
                .readings(readings_query(from, to, Some(step), 3))
                .await
                .expect("a limited bucketed query");
            let oldest: Vec<Point> = expected.iter().copied().take(3).collect();
            assert_points(
                &limited,
                &oldest,
                &format!("[{from}, {to}) step {step} limit 3"),
            );
        }
    }
}

/// With the default retention (30 days raw, 5 years hourly), measured from the newest report
/// written: raw readings older than 30 days are deleted but their hourly averages stay; hourly
/// averages older than 5 years are deleted too; recent data is untouched.
pub async fn retention_expires_raw_readings_then_hourly_rollups(store: Arc<dyn Store>) {
    const DAY_MS: i64 = 24 * HOUR_MS;
    let now = 6 * 365 * DAY_MS;
    let ancient = 0;
    let old = now - 40 * DAY_MS;
    let recent = now - DAY_MS;
    let mut seq = 0u32;
    for at in [ancient, old, recent] {
        let batch = (0..6)
            .map(|minute| {
                seq += 1;
                let ts = at + minute * 10 * 60_000;
                report(
                    "bed-1",
                    Some(1),
                    seq,
                    ts,
                    vec![reading("soil_moisture", ts, f64::from(seq))],
                )
            })
            .collect();
        store.write(reports_batch(batch)).await.expect("readings");
    }
    // The writer expires old rows every few dozen transactions.
    for _ in 0..200 {
        seq += 1;
        store
            .write(reports_batch(vec![report(
                "bed-2",
                Some(1),
                seq,
                now,
                Vec::new(),
            )]))
            .await
            .expect("later reports");
    }
    let hourly = |at: i64| readings_query(at, at + HOUR_MS, Some(HOUR_MS), 10);
    for (at, name) in [(ancient, "6 years old"), (old, "40 days old")] {
        assert!(
            raw_points(store.as_ref(), "bed-1", "soil_moisture", at, at + HOUR_MS)
                .await
                .is_empty(),
            "raw readings {name} are deleted"
        );
    }
    assert_eq!(
        raw_points(
            store.as_ref(),
            "bed-1",
            "soil_moisture",
            recent,
            recent + HOUR_MS
        )
        .await
        .len(),
        6,
        "raw readings of yesterday are kept"
    );
    let ancient_hourly = store.readings(hourly(ancient)).await.expect("hourly query");
    assert!(
        ancient_hourly.is_empty(),
        "6-year-old hourly averages are deleted: {ancient_hourly:?}"
    );
    let old_hourly = store.readings(hourly(old)).await.expect("hourly query");
    assert_points(
        &old_hourly,
        &[(old, 9.5)],
        "the 40-day-old hour keeps its average",
    );
    let recent_hourly = store.readings(hourly(recent)).await.expect("hourly query");
    assert_points(&recent_hourly, &[(recent, 15.5)], "yesterday's hour");

    // A shorter step still draws the expired hours, from their hourly averages, and the kept
    // hours from the raw readings; a raw query (no step) stays raw.
    let five_minutes = 5 * 60_000;
    let across = store
        .readings(readings_query(
            old - HOUR_MS,
            recent + HOUR_MS,
            Some(five_minutes),
            100,
        ))
        .await
        .expect("5-minute query");
    let recent_buckets: Vec<Point> = (0..6)
        .map(|minute| (recent + minute * 10 * 60_000, 13.0 + minute as f64))
        .collect();
    let expected: Vec<Point> = std::iter::once((old, 9.5))
        .chain(recent_buckets.iter().copied())
        .collect();
    assert_points(
        &across,
        &expected,
        "expired hour from the rollup, then raw buckets",
    );
    let limited = store
        .readings(readings_query(
            old - HOUR_MS,
            recent + HOUR_MS,
            Some(five_minutes),
            2,
        ))
        .await
        .expect("limited query");
    assert_points(&limited, &expected[..2], "the oldest 2 points");
    let recent_only = store
        .readings(readings_query(
            recent,
            recent + HOUR_MS,
            Some(five_minutes),
            100,
        ))
        .await
        .expect("recent query");
    assert_points(&recent_only, &recent_buckets, "kept hours stay raw");
    assert!(
        raw_points(
            store.as_ref(),
            "bed-1",
            "soil_moisture",
            old - HOUR_MS,
            recent
        )
        .await
        .is_empty(),
        "a query without a step returns raw readings only"
    );
}

fn settings_version(at_ms: i64, source: SettingsSource, text: &str) -> NewSettingsVersion {
    NewSettingsVersion {
        created_at_ms: at_ms,
        author: format!("author at {at_ms}"),
        source,
        text: text.to_owned(),
        summary: format!("summary at {at_ms}"),
        diff: format!("-old\n+{text}\n"),
    }
}

/// Settings versions are numbered 1, 2, 3 in the order stored; the history lists them newest
/// first without texts, within `limit`; one version comes back whole (text and diff, UTF-8
/// intact); the newest, and the newest of one source, are found; a fresh store has none.
pub async fn settings_versions_are_numbered_listed_newest_first_and_found(store: Arc<dyn Store>) {
    assert_eq!(
        store
            .newest_settings_version(None)
            .await
            .expect("newest of none"),
        None,
        "a fresh store has no settings version"
    );
    assert!(
        store
            .settings_versions(10)
            .await
            .expect("empty history")
            .is_empty()
    );
    let texts = [
        (SettingsSource::File, "[master]\n# bed ü 1\n"),
        (SettingsSource::Api, "[master]\n# two\n"),
        (SettingsSource::Rollback, "[master]\n# bed ü 1\n"),
    ];
    for (index, (source, text)) in texts.iter().enumerate() {
        let at = 1_000 * (index as i64 + 1);
        let number = store
            .add_settings_version(settings_version(at, *source, text))
            .await
            .expect("storing a settings version");
        assert_eq!(
            number,
            index as u64 + 1,
            "versions are numbered from 1 in order"
        );
    }
    let history = store.settings_versions(10).await.expect("history");
    let numbers: Vec<u64> = history.iter().map(|info| info.version).collect();
    assert_eq!(numbers, vec![3, 2, 1], "history is newest first");
    assert_eq!(history[0].source, SettingsSource::Rollback);
    assert_eq!(history[1].author, "author at 2000");
    assert_eq!(history[2].created_at_ms, 1000);
    assert_eq!(history[2].summary, "summary at 1000");
    let limited = store.settings_versions(2).await.expect("limited history");
    assert_eq!(
        limited.iter().map(|info| info.version).collect::<Vec<_>>(),
        vec![3, 2],
        "the limit keeps the newest"
    );

    let first = store
        .settings_version(1)
        .await
        .expect("reading version 1")
        .expect("version 1 exists");
    assert_eq!(first.text, texts[0].1, "the text comes back byte for byte");
    assert_eq!(first.diff, format!("-old\n+{}\n", texts[0].1));
    assert_eq!(first.info.source, SettingsSource::File);
    assert_eq!(store.settings_version(4).await.expect("reading 4"), None);

    let newest = store
        .newest_settings_version(None)
        .await
        .expect("newest")
        .expect("there is a newest");
    assert_eq!(newest.info.version, 3);
    let newest_api = store
        .newest_settings_version(Some(SettingsSource::Api))
        .await
        .expect("newest api")
        .expect("there is an api version");
    assert_eq!(newest_api.info.version, 2);
    assert_eq!(newest_api.text, texts[1].1);
}

/// A settings version shares the writer with concurrent batches: all are committed, numbers
/// are distinct and dense.
pub async fn settings_version_is_committed_with_concurrent_writes(store: Arc<dyn Store>) {
    let mut tasks = Vec::new();
    for index in 0..8_i64 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let batch = WriteBatch {
                events: vec![event(index, None)],
                ..WriteBatch::default()
            };
            store.write(batch).await.expect("concurrent event write");
            store
                .add_settings_version(settings_version(index, SettingsSource::Api, "x = 1\n"))
                .await
                .expect("concurrent settings version")
        }));
    }
    let mut numbers = Vec::new();
    for task in tasks {
        numbers.push(task.await.expect("task finished"));
    }
    numbers.sort_unstable();
    assert_eq!(
        numbers,
        (1..=8).collect::<Vec<u64>>(),
        "every version numbered once"
    );
    let history = store.settings_versions(100).await.expect("history");
    assert_eq!(history.len(), 8);
}
