//! CONTRACT §2's example garden, loaded by the real loader, decided by the engine.

mod engine_common;

use std::path::Path;
use std::sync::Arc;

use engine_common::{Run, local};
use plantkeeper_control::Settings;
use plantkeeper_control::load::load_file;

const ZONE: &str = "Europe/Paris";

fn contract_example() -> Arc<Settings> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/contract_example.toml");
    match load_file(&path) {
        Ok(settings) => Arc::new(settings),
        Err(error) => panic!("the contract example must load:\n{error}"),
    }
}

#[test]
fn dry_bed_opens_its_valve_and_the_pump_follows_until_max_on() {
    // Wednesday 15 May 2024, 12:00: inside bed-1's 06:00-21:00 schedule.
    let mut run = Run::start(contract_example(), local(ZONE, "2024-05-15T12:00"));
    run.report("tank", &[("level", 80.0)]);
    run.report("bed-1", &[("soil_moisture", 28.1)]);
    run.report("bed-2", &[("soil_moisture", 40.0)]);
    run.report("lamp", &[]);
    let decisions = run.evaluate();
    let said = |key: &str| {
        let id = run.id(key);
        let decision = decisions
            .iter()
            .find(|d| d.output == id)
            .expect("every output decided");
        (decision.power, decision.reason.to_string())
    };
    assert_eq!(
        said("bed-1.valve"),
        (true, "soil_moisture 28.1 < 30".to_owned())
    );
    assert_eq!(
        said("bed-2.valve"),
        (false, "soil_moisture 40.0 >= 35".to_owned())
    );
    assert_eq!(said("tank.pump"), (true, "bed-1.valve is ON".to_owned()));
    assert_eq!(
        said("lamp.light"),
        (true, "inside mon-fri 07:00-20:00".to_owned())
    );

    for _ in 0..12 {
        run.advance(10);
        for node in ["tank", "bed-1", "bed-2"] {
            let readings: &[(&str, f64)] = match node {
                "tank" => &[("level", 80.0)],
                _ => &[("soil_moisture", 28.1)],
            };
            run.report(node, readings);
        }
        run.evaluate();
    }
    let cut = run.state.output(run.id("bed-1.valve"));
    assert_eq!(
        (cut.power, cut.reason.to_string()),
        (false, "max_on 2m reached".to_owned())
    );
    run.advance(1);
    run.report("bed-1", &[("soil_moisture", 28.1)]);
    assert_eq!(
        run.power_and_reason("bed-1.valve"),
        (false, "min_off 10m: resting until 12:12".to_owned())
    );
    assert_eq!(
        run.power_and_reason("tank.pump"),
        (true, "bed-2.valve is ON".to_owned()),
        "bed-2 dried to 28.1 < 35 and keeps the pump running"
    );
}

#[test]
fn lamp_is_off_at_night_and_lists_every_window() {
    let mut run = Run::start(contract_example(), local(ZONE, "2024-05-15T03:00"));
    run.report("lamp", &[]);
    assert_eq!(
        run.power_and_reason("lamp.light"),
        (
            false,
            "outside mon-fri 07:00-20:00, sat,sun 09:00-18:00, sunrise+30m-sunset".to_owned()
        )
    );
}
