//! The simulated garden when no master answers: every node fails safe (relays OFF), keeps its
//! readings in a bounded backlog, and everything stops on request.

use std::sync::Arc;
use std::time::Duration;

use plantkeeper_master::clock::{AcceleratedClock, SharedClock};
use plantkeeper_sim::garden::NODE_IDS;
use plantkeeper_sim::node::BACKLOG_CAPACITY;
use plantkeeper_sim::{DemoTokens, run_garden};
use tokio::sync::watch;

/// A base URL where nothing listens: a port the OS just handed out and we closed again.
fn unreachable_master() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let address = listener.local_addr().expect("local address");
    drop(listener);
    format!("http://{address}")
}

fn fast_clock(speed: f64) -> SharedClock {
    let start = jiff::Timestamp::from_second(1_750_000_000).expect("valid timestamp");
    Arc::new(AcceleratedClock::new(start, speed))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garden_without_master_keeps_every_relay_off_and_dries_out() {
    let (_shutdown, shutdown_rx) = watch::channel(false);
    let garden = run_garden(
        &unreachable_master(),
        DemoTokens::generate(),
        fast_clock(600.0),
        shutdown_rx,
    )
    .await
    .expect("garden starts");
    let start = garden.snapshot();
    tokio::time::sleep(Duration::from_secs(2)).await; // ~20 minutes of clock time
    let later = garden.snapshot();

    assert_eq!(
        later.relays,
        Default::default(),
        "a relay is ON without any master"
    );
    assert!(
        later.state.elapsed >= Duration::from_secs(15 * 60),
        "physics advanced only {:?}",
        later.state.elapsed
    );
    for bed in 0..2 {
        assert!(
            later.state.bed_moisture_pct[bed] < start.state.bed_moisture_pct[bed] - 5.0,
            "bed {bed} did not dry out: {} → {}",
            start.state.bed_moisture_pct[bed],
            later.state.bed_moisture_pct[bed]
        );
    }
    assert!(
        later.state.temperature_c < start.state.temperature_c,
        "the enclosure warmed with the heater OFF"
    );
    for id in NODE_IDS {
        let stats = &later.nodes[id];
        assert!(
            stats.failures >= 2,
            "node {id} failed only {} times",
            stats.failures
        );
        assert_eq!(
            stats.reports_answered, 0,
            "node {id} got an answer from nowhere"
        );
        assert!(
            stats.backlog_len > 0 && stats.backlog_len <= BACKLOG_CAPACITY,
            "node {id} kept {} readings in its backlog",
            stats.backlog_len
        );
        assert!(
            stats.last_error.is_some(),
            "node {id} did not record why it failed"
        );
    }

    tokio::time::timeout(Duration::from_secs(5), garden.stop())
        .await
        .expect("the garden stops promptly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_shutdown_signal_stops_the_garden() {
    let (shutdown, shutdown_rx) = watch::channel(false);
    let garden = run_garden(
        &unreachable_master(),
        DemoTokens::generate(),
        fast_clock(100.0),
        shutdown_rx,
    )
    .await
    .expect("garden starts");
    tokio::time::sleep(Duration::from_millis(100)).await;
    shutdown.send(true).expect("garden listens");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let frozen = garden.snapshot();
    tokio::time::sleep(Duration::from_millis(300)).await; // 30 s of clock time
    assert_eq!(
        garden.snapshot().state.elapsed,
        frozen.state.elapsed,
        "physics kept running after shutdown"
    );
    tokio::time::timeout(Duration::from_secs(5), garden.stop())
        .await
        .expect("stop after shutdown returns");
}

#[tokio::test]
async fn missing_token_is_refused() {
    let mut tokens = DemoTokens::generate();
    tokens.nodes.remove("tank");
    let (_shutdown, shutdown_rx) = watch::channel(false);
    let result = run_garden(&unreachable_master(), tokens, fast_clock(1.0), shutdown_rx).await;
    let error = result
        .err()
        .expect("a garden without the tank's token must not start");
    assert_eq!(error.to_string(), "no token for demo node tank");
}
