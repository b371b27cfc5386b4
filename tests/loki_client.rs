//! The Loki client in-process against real HTTP receivers: the bounded queue drops the newest
//! lines and counts them, transient failures are retried with back-off, a refused batch is not.

mod loki_receiver;

use std::collections::BTreeMap;
use std::time::Duration;

use loki_receiver::{HangingLoki, Receiver};
use plantkeeper::loki::{self, BatchOptions, LokiHandle, LokiLayer};
use plantkeeper_master::metrics::{Metrics, NodeCounts};
use tracing_subscriber::layer::SubscriberExt;

fn labels() -> BTreeMap<String, String> {
    BTreeMap::from([("app".to_owned(), "plantkeeper".to_owned())])
}

fn quick_options(max_lines: usize) -> BatchOptions {
    BatchOptions {
        max_lines,
        max_wait: Duration::from_millis(50),
        push_timeout: Duration::from_secs(2),
        retry_delays: vec![Duration::from_millis(20), Duration::from_millis(40)],
    }
}

/// Logs `count` info lines through `layer` on this thread.
fn log_lines(layer: LokiLayer, count: usize) {
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        for n in 0..count {
            tracing::info!(node = "bed-1", n, "line {n}");
        }
    });
}

/// The value of `sample` once the client's counters are in a registry.
fn counter(handle: &LokiHandle, sample: &str) -> f64 {
    let metrics = Metrics::new();
    handle.metrics().register(&metrics);
    let text = metrics.encode(NodeCounts::default(), 0);
    text.lines()
        .find_map(|line| line.strip_prefix(sample)?.strip_prefix(' '))
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no sample `{sample}` in:\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_drops_the_newest_lines_and_counts_them() {
    let hanging = HangingLoki::start().await;
    let (layer, handle) = loki::start(&hanging.url, labels(), quick_options(5), 10).expect("start");
    log_lines(layer, 100);
    let dropped = counter(
        &handle,
        "plantkeeper_loki_dropped_lines_total{reason=\"queue_full\"}",
    );
    // 10 wait in the queue and the pusher holds at most one batch of 5: the rest is dropped,
    // without the logging thread ever waiting.
    assert!(
        (85.0..=90.0).contains(&dropped),
        "{dropped} lines dropped of 100"
    );
    handle.finish(Duration::from_millis(100)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_failures_are_retried_until_the_batch_is_accepted() {
    let receiver = Receiver::start(&[500, 503]).await;
    let (layer, handle) =
        loki::start(&receiver.url, labels(), quick_options(100), 1000).expect("start");
    log_lines(layer, 3);
    let pushes = receiver
        .wait_for(Duration::from_secs(5), |pushes| pushes.len() >= 3)
        .await;
    // The same batch three times: 500, 503, then accepted.
    assert_eq!(pushes.len(), 3);
    for push in &pushes {
        assert_eq!(push.body, pushes[0].body);
        assert_eq!(push.line_count(), 3);
    }
    let (stream_labels, lines) = &pushes[0].streams()[0];
    assert_eq!(stream_labels["level"], "info");
    assert_eq!(stream_labels["kind"], "log");
    let first: serde_json::Value = serde_json::from_str(&lines[0].1).expect("JSON line");
    assert_eq!(first["node"], "bed-1");
    assert_eq!(first["message"], "line 0");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(counter(&handle, "plantkeeper_loki_pushed_lines_total"), 3.0);
    assert_eq!(
        counter(&handle, "plantkeeper_loki_push_failures_total"),
        2.0
    );
    handle.finish(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_loki_refuses_is_dropped_without_retry() {
    let receiver = Receiver::start(&[400]).await;
    let (layer, handle) =
        loki::start(&receiver.url, labels(), quick_options(100), 1000).expect("start");
    log_lines(layer, 4);
    receiver
        .wait_for(Duration::from_secs(5), |pushes| !pushes.is_empty())
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.pushes().len(), 1, "a refused batch was retried");
    assert_eq!(
        counter(
            &handle,
            "plantkeeper_loki_dropped_lines_total{reason=\"push_failed\"}"
        ),
        4.0
    );
    handle.finish(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finishing_pushes_what_is_still_queued() {
    let receiver = Receiver::start(&[]).await;
    let options = BatchOptions {
        max_wait: Duration::from_secs(60),
        ..quick_options(1000)
    };
    let (layer, handle) = loki::start(&receiver.url, labels(), options, 1000).expect("start");
    log_lines(layer, 7);
    handle.finish(Duration::from_secs(2)).await;
    let lines: usize = receiver
        .pushes()
        .iter()
        .map(loki_receiver::Push::line_count)
        .sum();
    assert_eq!(lines, 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_that_times_out_closes_its_connection() {
    let hanging = HangingLoki::start().await;
    let options = BatchOptions {
        push_timeout: Duration::from_millis(100),
        ..quick_options(100)
    };
    let (layer, handle) = loki::start(&hanging.url, labels(), options, 1000).expect("start");
    log_lines(layer, 2);
    // Three attempts of 100 ms with 20 + 40 ms between them, then the batch is dropped.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while counter(
        &handle,
        "plantkeeper_loki_dropped_lines_total{reason=\"push_failed\"}",
    ) < 2.0
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the batch was never given up"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(hanging.accepted(), 3, "one connection per attempt");
    assert_eq!(hanging.closed(), 3, "timed-out connections must not linger");
    assert_eq!(
        counter(&handle, "plantkeeper_loki_push_failures_total"),
        3.0
    );
    handle.finish(Duration::from_secs(1)).await;
}
