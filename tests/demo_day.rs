//! End to end: the real master (SQLite store, HTTP on 127.0.0.1) and the simulated garden,
//! run for several simulated hours at high speed. The control loop must keep every bed
//! between its thresholds, the tank above its interlock and the enclosure warm, over real
//! HTTP with leases honoured.

use std::sync::Arc;
use std::time::Duration;

use plantkeeper_control::load::load_settings;
use plantkeeper_master::Master;
use plantkeeper_master::app::serve;
use plantkeeper_master::clock::{AcceleratedClock, SharedClock};
use plantkeeper_sim::garden::NODE_IDS;
use plantkeeper_sim::{DemoTokens, demo_settings_toml, run_garden};
use plantkeeper_store::Store;
use plantkeeper_store::sqlite::{SqliteOptions, SqliteStore};
use tokio::sync::watch;

/// Clock seconds per real second.
const SPEED: f64 = 300.0;
/// Simulated time covered by the run.
const SIMULATED: Duration = Duration::from_secs(4 * 3600);
/// How often the test samples the garden, in real time.
const SAMPLE_EVERY: Duration = Duration::from_millis(50);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn master_keeps_the_simulated_garden_in_range_for_hours() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a port");
    let address = listener.local_addr().expect("local address");
    let tokens = DemoTokens::generate();
    let database = format!("sqlite://{}", dir.path().join("demo.db").display());
    let toml = demo_settings_toml(&tokens, address, &database, "UTC");
    let settings = Arc::new(
        load_settings("demo.toml", &toml)
            .unwrap_or_else(|errors| panic!("demo config invalid: {errors:#?}")),
    );

    // 04:00 UTC: the lamp's 06:00-22:00 window opens two simulated hours in.
    let start = "2026-06-01T04:00:00Z".parse().expect("valid time");
    let clock: SharedClock = Arc::new(AcceleratedClock::new(start, SPEED));
    let store = SqliteStore::open(&dir.path().join("demo.db"), SqliteOptions::default())
        .await
        .expect("open store");
    let store: Arc<dyn Store> = Arc::new(store);
    let master = Master::start(settings, store, Arc::clone(&clock))
        .await
        .expect("master starts");
    let (stop_master, master_stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(master, listener, async {
        let _ = master_stopped.await;
    }));

    let (_shutdown, shutdown_rx) = watch::channel(false);
    let garden = run_garden(
        &format!("http://{address}"),
        tokens,
        Arc::clone(&clock),
        shutdown_rx,
    )
    .await
    .expect("garden starts");

    let mut temperature = (f64::MAX, f64::MIN);
    let mut heater_ran = false;
    let mut pump_ran = false;
    let mut lamp_lit = false;
    loop {
        tokio::time::sleep(SAMPLE_EVERY).await;
        let snapshot = garden.snapshot();
        // Skip the first simulated minutes: the enclosure starts a little above 18 °C.
        if snapshot.state.elapsed > Duration::from_secs(600) {
            temperature = (
                temperature.0.min(snapshot.state.temperature_c),
                temperature.1.max(snapshot.state.temperature_c),
            );
        }
        heater_ran |= snapshot.relays.heater;
        pump_ran |= snapshot.relays.pump;
        lamp_lit |= snapshot.relays.lamp;
        if snapshot.state.elapsed >= SIMULATED {
            break;
        }
    }
    let end = garden.snapshot();
    garden.stop().await;
    let _ = stop_master.send(());
    server
        .await
        .expect("server task")
        .expect("master stops cleanly");

    let state = &end.state;
    let thresholds = [(30.0, 45.0), (35.0, 50.0)];
    for (bed, (on_below, off_at)) in thresholds.into_iter().enumerate() {
        let extremes = state.bed_moisture_extremes[bed];
        assert!(
            extremes.min > on_below - 1.5,
            "bed {} dried to {:.2} (valve ON below {on_below})",
            bed + 1,
            extremes.min
        );
        assert!(
            extremes.max < off_at + 3.0,
            "bed {} was flooded to {:.2} (valve OFF at {off_at})",
            bed + 1,
            extremes.max
        );
        assert!(
            extremes.max > off_at - 1.0,
            "bed {} was never watered up to {off_at}: max {:.2}",
            bed + 1,
            extremes.max
        );
    }
    assert!(
        state.tank_level_min_pct > 20.0,
        "the tank fell to {:.2}, below the valves' interlock",
        state.tank_level_min_pct
    );
    assert!(
        heater_ran && pump_ran && lamp_lit,
        "a relay never switched: heater {heater_ran}, pump {pump_ran}, lamp {lamp_lit}"
    );
    assert!(
        temperature.0 > 17.0 && temperature.1 < 22.5,
        "enclosure temperature ranged {:.2}..{:.2} °C, expected about 18..21",
        temperature.0,
        temperature.1
    );
    for id in NODE_IDS {
        let stats = &end.nodes[id];
        assert!(
            stats.reports_answered * 10 >= stats.reports_sent * 9 && stats.reports_answered > 100,
            "node {id}: only {} of {} reports answered (last error: {:?})",
            stats.reports_answered,
            stats.reports_sent,
            stats.last_error
        );
    }
}
