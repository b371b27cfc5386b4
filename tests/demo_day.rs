//! End to end, through the code path of `plantkeeper demo --speed N`: the real master (SQLite
//! store, HTTP on 127.0.0.1) and the simulated garden on one accelerated clock, for a whole
//! simulated day. The control loop must keep every bed between its thresholds, the tank above
//! its interlock and the enclosure warm, over real HTTP with leases honoured.

use std::time::Duration;

use plantkeeper::cli::DemoArgs;
use plantkeeper::demo::start_demo;
use plantkeeper_sim::garden::NODE_IDS;

/// Clock seconds per real second: a simulated day in six minutes. A node is silent after 15 s
/// of clock time without a report, which at this speed is 62 ms of real time; at 360 (42 ms) a
/// scheduling hiccup of the 2-core CI machine now and then made a node silent just as its bed
/// crossed its threshold, and `min_off` then let it dry 1.6 points below.
const SPEED: f64 = 240.0;
/// Simulated time covered by the run.
const SIMULATED: Duration = Duration::from_secs(24 * 3600);
/// How often the test samples the garden, in real time.
const SAMPLE_EVERY: Duration = Duration::from_millis(20);

/// The demo's data directory, in memory where the machine has /dev/shm: this test is about
/// control over HTTP, and at this speed one slow fsync of a shared CI disk (tens of ms) is
/// tens of simulated seconds in which every node looks silent. Durability has its own tests
/// (crates/store/tests/sqlite_durability.rs, tests/serve_lifecycle.rs).
fn data_dir() -> tempfile::TempDir {
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(dir) = tempfile::tempdir_in(shm)
    {
        return dir;
    }
    tempfile::tempdir().expect("temporary directory")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_keeps_every_bed_between_its_thresholds_for_a_simulated_day() {
    let dir = data_dir();
    let args = DemoArgs {
        listen: "127.0.0.1:0".parse().expect("address"),
        data: dir.path().to_path_buf(),
        speed: SPEED,
        run_for: None,
    };
    let demo = start_demo(&args).await.expect("demo starts");
    let garden = &demo.garden;

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
    demo.stop().await.expect("demo stops cleanly");

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
