//! The demo garden's physics (CONTRACT §6): simple, deterministic for a given seed, with a
//! little noise on what the sensors read.
//!
//! - **Enclosure**: temperature relaxes toward the outside temperature (which follows a slow
//!   daily swing) and rises while the heater is ON; humidity relaxes toward a value that falls
//!   as the air warms.
//! - **Beds**: soil moisture falls steadily and rises while the bed's valve is ON, the pump
//!   runs and the tank has water.
//! - **Tank**: the level falls while the pump runs; a float valve opens below
//!   [`FLOAT_VALVE_OPENS_BELOW_PCT`] and refills it slowly up to [`FLOAT_VALVE_CLOSES_AT_PCT`],
//!   so a day-long run never empties it.
//! - **Lamp**: no physics beyond a `light` reading and a little warmth.
//!
//! Rates are chosen for the thresholds of [`crate::demo_config`]: at speed 1 the beds cross
//! their ON thresholds within the first minute, and one valve run (~2 minutes) refills a bed
//! well within its `max_on`.

use std::collections::BTreeMap;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// The enclosure node id: sensors `temperature` (°C) and `humidity` (%).
pub const ENCLOSURE: &str = "enclosure";
/// The first bed's node id: sensor `soil_moisture` (%), output `valve`.
pub const BED_1: &str = "bed-1";
/// The second bed's node id: sensor `soil_moisture` (%), output `valve`.
pub const BED_2: &str = "bed-2";
/// The tank node id: sensor `level` (%), output `pump`.
pub const TANK: &str = "tank";
/// The heater node id: output `heater`, no sensor.
pub const HEATER: &str = "heater";
/// The lamp node id: sensor `light` (lx), output `light`.
pub const LAMP: &str = "lamp";
/// Every node of the demo garden.
pub const NODE_IDS: [&str; 6] = [ENCLOSURE, BED_1, BED_2, TANK, HEATER, LAMP];

/// Soil moisture lost per minute, in percentage points.
pub const DRYING_PCT_PER_MIN: f64 = 0.6;
/// Soil moisture gained per minute while a bed is watered.
pub const WATERING_PCT_PER_MIN: f64 = 8.0;
/// Tank level lost per minute while the pump runs.
pub const PUMP_DRAIN_PCT_PER_MIN: f64 = 1.2;
/// Tank level gained per minute while the float valve is open; more than the pump draws, so
/// even a pump that never stops cannot empty the tank.
pub const FLOAT_REFILL_PCT_PER_MIN: f64 = 1.5;
/// The float valve opens when the level falls below this.
pub const FLOAT_VALVE_OPENS_BELOW_PCT: f64 = 30.0;
/// The float valve closes when the level reaches this.
pub const FLOAT_VALVE_CLOSES_AT_PCT: f64 = 90.0;
/// Heating power of the heater, in °C per minute.
pub const HEATER_C_PER_MIN: f64 = 0.6;
/// Heating from the lamp, in °C per minute.
pub const LAMP_C_PER_MIN: f64 = 0.05;
/// Fraction of the inside/outside temperature difference lost per minute.
pub const COOLING_PER_MIN: f64 = 1.0 / 40.0;
/// Mean outside temperature over a day.
pub const OUTSIDE_MEAN_C: f64 = 11.0;
/// Half the daily outside temperature swing.
pub const OUTSIDE_SWING_C: f64 = 3.0;
/// Illuminance at the lamp's sensor while the lamp is ON.
pub const LAMP_ON_LUX: f64 = 12_000.0;
/// Illuminance at the lamp's sensor while it is OFF.
pub const AMBIENT_LUX: f64 = 20.0;

/// The longest span integrated in one go; longer steps are split so accelerated runs stay stable.
const SUB_STEP: Duration = Duration::from_secs(1);
const DAY_SECS: f64 = 86_400.0;

/// The relays the garden's physics responds to, as the nodes actually have them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayStates {
    /// `bed-1.valve`.
    pub bed_1_valve: bool,
    /// `bed-2.valve`.
    pub bed_2_valve: bool,
    /// `tank.pump`.
    pub pump: bool,
    /// `heater.heater`.
    pub heater: bool,
    /// `lamp.light`.
    pub lamp: bool,
}

/// The lowest and highest value seen since the garden started.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Extremes {
    /// Lowest value seen.
    pub min: f64,
    /// Highest value seen.
    pub max: f64,
}

impl Extremes {
    fn starting_at(value: f64) -> Self {
        Self {
            min: value,
            max: value,
        }
    }

    fn record(&mut self, value: f64) {
        self.min = self.min.min(value);
        self.max = self.max.max(value);
    }
}

/// The garden's true physical state (what sensors measure, before their noise).
#[derive(Debug, Clone, PartialEq)]
pub struct GardenState {
    /// Clock time simulated so far.
    pub elapsed: Duration,
    /// Enclosure air temperature, °C.
    pub temperature_c: f64,
    /// Enclosure relative humidity, %.
    pub humidity_pct: f64,
    /// Outside temperature, °C.
    pub outside_temperature_c: f64,
    /// Soil moisture of `bed-1` and `bed-2`, %.
    pub bed_moisture_pct: [f64; 2],
    /// Extremes of each bed's moisture since the start.
    pub bed_moisture_extremes: [Extremes; 2],
    /// Tank level, %.
    pub tank_level_pct: f64,
    /// Lowest tank level since the start.
    pub tank_level_min_pct: f64,
    /// Whether the float valve is refilling the tank.
    pub float_valve_open: bool,
    /// Illuminance at the lamp's sensor, lx.
    pub light_lux: f64,
}

/// The simulated garden.
#[derive(Debug)]
pub struct Garden {
    state: GardenState,
    rng: StdRng,
}

/// Where the demo garden starts: just above the beds' and the heater's ON thresholds, so
/// something switches within the first minute at speed 1.
const START_BED_MOISTURE_PCT: [f64; 2] = [30.2, 35.3];
const START_TEMPERATURE_C: f64 = 18.05;
const START_HUMIDITY_PCT: f64 = 64.0;
const START_TANK_LEVEL_PCT: f64 = 45.0;

impl Garden {
    /// The demo garden in its starting state; `seed` fixes the sensor noise.
    pub fn new(seed: u64) -> Self {
        let bed_moisture_pct = START_BED_MOISTURE_PCT;
        Self {
            state: GardenState {
                elapsed: Duration::ZERO,
                temperature_c: START_TEMPERATURE_C,
                humidity_pct: START_HUMIDITY_PCT,
                outside_temperature_c: outside_temperature(Duration::ZERO),
                bed_moisture_pct,
                bed_moisture_extremes: bed_moisture_pct.map(Extremes::starting_at),
                tank_level_pct: START_TANK_LEVEL_PCT,
                tank_level_min_pct: START_TANK_LEVEL_PCT,
                float_valve_open: false,
                light_lux: AMBIENT_LUX,
            },
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// The true physical state.
    pub fn state(&self) -> &GardenState {
        &self.state
    }

    /// Advances the physics by `dt` of clock time with `relays` held throughout.
    pub fn step(&mut self, dt: Duration, relays: &RelayStates) {
        let mut remaining = dt;
        while !remaining.is_zero() {
            let sub = remaining.min(SUB_STEP);
            self.integrate(sub.as_secs_f64() / 60.0, relays);
            self.state.elapsed += sub;
            remaining -= sub;
        }
    }

    /// One explicit Euler step of `minutes` (at most a second's worth).
    fn integrate(&mut self, minutes: f64, relays: &RelayStates) {
        let state = &mut self.state;

        // Tank: the pump draws water, the float valve (with hysteresis) refills.
        let pumping = relays.pump && state.tank_level_pct > 0.0;
        if state.tank_level_pct < FLOAT_VALVE_OPENS_BELOW_PCT {
            state.float_valve_open = true;
        } else if state.tank_level_pct >= FLOAT_VALVE_CLOSES_AT_PCT {
            state.float_valve_open = false;
        }
        let mut level = state.tank_level_pct;
        if pumping {
            level -= PUMP_DRAIN_PCT_PER_MIN * minutes;
        }
        if state.float_valve_open {
            level += FLOAT_REFILL_PCT_PER_MIN * minutes;
        }
        state.tank_level_pct = level.clamp(0.0, 100.0);
        state.tank_level_min_pct = state.tank_level_min_pct.min(state.tank_level_pct);

        // Beds: steady drying, watering while the valve is open and water is pumped.
        let valves = [relays.bed_1_valve, relays.bed_2_valve];
        for (bed, valve) in valves.into_iter().enumerate() {
            let mut moisture = state.bed_moisture_pct[bed] - DRYING_PCT_PER_MIN * minutes;
            if valve && pumping {
                moisture += WATERING_PCT_PER_MIN * minutes;
            }
            state.bed_moisture_pct[bed] = moisture.clamp(0.0, 100.0);
            state.bed_moisture_extremes[bed].record(state.bed_moisture_pct[bed]);
        }

        // Enclosure: Newton cooling toward outside, heater and lamp warm it.
        state.outside_temperature_c = outside_temperature(state.elapsed);
        let mut warming = -COOLING_PER_MIN * (state.temperature_c - state.outside_temperature_c);
        if relays.heater {
            warming += HEATER_C_PER_MIN;
        }
        if relays.lamp {
            warming += LAMP_C_PER_MIN;
        }
        state.temperature_c += warming * minutes;
        let humidity_target = (85.0 - 2.0 * (state.temperature_c - 10.0)).clamp(30.0, 95.0);
        state.humidity_pct += (humidity_target - state.humidity_pct) * (minutes / 15.0).min(1.0);

        state.light_lux = if relays.lamp {
            LAMP_ON_LUX
        } else {
            AMBIENT_LUX
        };
    }

    /// What `node`'s sensors read now (true state plus a little noise, rounded to the
    /// sensor's resolution). An unknown node, or one without sensors, reads nothing.
    pub fn readings(&mut self, node: &str) -> BTreeMap<String, f64> {
        let state = self.state.clone();
        let mut read = |name: &str, value: f64, noise: f64, min: f64, max: f64| {
            let noisy = value + self.rng.random_range(-noise..=noise);
            (
                (name.to_owned()),
                round_to_hundredths(noisy.clamp(min, max)),
            )
        };
        match node {
            ENCLOSURE => BTreeMap::from([
                read("temperature", state.temperature_c, 0.1, -20.0, 60.0),
                read("humidity", state.humidity_pct, 0.5, 0.0, 100.0),
            ]),
            BED_1 => BTreeMap::from([read(
                "soil_moisture",
                state.bed_moisture_pct[0],
                0.2,
                0.0,
                100.0,
            )]),
            BED_2 => BTreeMap::from([read(
                "soil_moisture",
                state.bed_moisture_pct[1],
                0.2,
                0.0,
                100.0,
            )]),
            TANK => BTreeMap::from([read("level", state.tank_level_pct, 0.2, 0.0, 100.0)]),
            LAMP => BTreeMap::from([read(
                "light",
                state.light_lux,
                0.02 * state.light_lux,
                0.0,
                100_000.0,
            )]),
            _ => BTreeMap::new(),
        }
    }
}

/// Outside temperature after `elapsed`: a daily cosine starting at its warmest, so the first
/// hours cool the enclosure and the heater has work to do.
fn outside_temperature(elapsed: Duration) -> f64 {
    let phase = std::f64::consts::TAU * elapsed.as_secs_f64() / DAY_SECS;
    OUTSIDE_MEAN_C + OUTSIDE_SWING_C * phase.cos()
}

fn round_to_hundredths(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    fn watering_bed_1() -> RelayStates {
        RelayStates {
            bed_1_valve: true,
            pump: true,
            ..RelayStates::default()
        }
    }

    #[test]
    fn moisture_falls_with_valve_off() {
        let mut garden = Garden::new(1);
        let before = garden.state().bed_moisture_pct;
        garden.step(10 * MINUTE, &RelayStates::default());
        let after = garden.state().bed_moisture_pct;
        for bed in 0..2 {
            let expected = before[bed] - 10.0 * DRYING_PCT_PER_MIN;
            assert!(
                (after[bed] - expected).abs() < 1e-9,
                "bed {bed}: {} → {}, expected {expected}",
                before[bed],
                after[bed]
            );
        }
    }

    #[test]
    fn moisture_rises_with_valve_on_and_pump_running() {
        let mut garden = Garden::new(1);
        let before = garden.state().bed_moisture_pct;
        garden.step(2 * MINUTE, &watering_bed_1());
        let after = garden.state().bed_moisture_pct;
        assert!(
            after[0] > before[0] + 10.0,
            "bed-1 did not get wetter: {} → {}",
            before[0],
            after[0]
        );
        assert!(
            after[1] < before[1],
            "bed-2 got wetter with its valve closed"
        );
    }

    #[test]
    fn open_valve_without_pump_does_not_water() {
        let mut garden = Garden::new(1);
        let before = garden.state().bed_moisture_pct[0];
        garden.step(
            MINUTE,
            &RelayStates {
                bed_1_valve: true,
                ..RelayStates::default()
            },
        );
        assert!(
            garden.state().bed_moisture_pct[0] < before,
            "a bed was watered with the pump off"
        );
    }

    #[test]
    fn pump_drains_the_tank() {
        let mut garden = Garden::new(1);
        let before = garden.state().tank_level_pct;
        garden.step(5 * MINUTE, &watering_bed_1());
        let drained = before - garden.state().tank_level_pct;
        assert!(
            (drained - 5.0 * PUMP_DRAIN_PCT_PER_MIN).abs() < 1e-9,
            "drained {drained} in 5 minutes"
        );
    }

    #[test]
    fn float_valve_refills_a_low_tank_up_to_its_closing_level() {
        let mut garden = Garden::new(1);
        for _ in 0..60 {
            if garden.state().float_valve_open {
                break;
            }
            garden.step(MINUTE, &watering_bed_1());
        }
        let level = garden.state().tank_level_pct;
        assert!(
            garden.state().float_valve_open,
            "the float valve never opened, tank at {level}"
        );
        assert!(
            (FLOAT_VALVE_OPENS_BELOW_PCT - 1.5..FLOAT_VALVE_OPENS_BELOW_PCT + 1.5).contains(&level),
            "the float valve opened at {level}"
        );
        garden.step(12 * 60 * MINUTE, &RelayStates::default());
        let state = garden.state();
        assert!(
            (FLOAT_VALVE_CLOSES_AT_PCT..FLOAT_VALVE_CLOSES_AT_PCT + 0.1)
                .contains(&state.tank_level_pct),
            "tank at {} after refilling, expected the float valve to stop at {FLOAT_VALVE_CLOSES_AT_PCT}",
            state.tank_level_pct
        );
        assert!(
            !state.float_valve_open,
            "the float valve stayed open on a full tank"
        );
    }

    #[test]
    fn pump_running_all_day_never_empties_the_tank() {
        let mut garden = Garden::new(1);
        garden.step(Duration::from_secs(86_400), &watering_bed_1());
        let lowest = garden.state().tank_level_min_pct;
        assert!(
            lowest > FLOAT_VALVE_OPENS_BELOW_PCT - 1.0,
            "the tank fell to {lowest} with the float valve open"
        );
    }

    #[test]
    fn heater_warms_the_enclosure_and_it_cools_without() {
        let mut heated = Garden::new(1);
        let mut unheated = Garden::new(1);
        let start = heated.state().temperature_c;
        heated.step(
            10 * MINUTE,
            &RelayStates {
                heater: true,
                ..RelayStates::default()
            },
        );
        unheated.step(10 * MINUTE, &RelayStates::default());
        assert!(
            heated.state().temperature_c > start + 3.0,
            "heater warmed only to {}",
            heated.state().temperature_c
        );
        assert!(
            unheated.state().temperature_c < start,
            "the enclosure did not cool toward outside"
        );
    }

    #[test]
    fn heater_beats_the_coldest_night() {
        let coldest_loss = COOLING_PER_MIN * (21.0 - (OUTSIDE_MEAN_C - OUTSIDE_SWING_C));
        assert!(
            HEATER_C_PER_MIN > coldest_loss,
            "the heater cannot reach 21 °C on the coldest night"
        );
    }

    #[test]
    fn beds_start_just_above_their_on_thresholds_and_cross_within_a_minute() {
        let mut garden = Garden::new(1);
        let thresholds = [30.0, 35.0];
        for (moisture, threshold) in garden.state().bed_moisture_pct.iter().zip(thresholds) {
            assert!(
                *moisture > threshold,
                "a bed starts at {moisture}, already below {threshold}"
            );
        }
        garden.step(MINUTE, &RelayStates::default());
        for (moisture, threshold) in garden.state().bed_moisture_pct.iter().zip(thresholds) {
            assert!(
                *moisture < threshold,
                "a bed is still at {moisture} ≥ {threshold} after a minute"
            );
        }
    }

    #[test]
    fn one_long_step_equals_many_short_ones() {
        let mut long = Garden::new(1);
        let mut short = Garden::new(1);
        long.step(10 * MINUTE, &watering_bed_1());
        for _ in 0..600 {
            short.step(Duration::from_secs(1), &watering_bed_1());
        }
        assert_eq!(long.state(), short.state(), "step size changed the physics");
    }

    #[test]
    fn readings_are_noisy_but_close_and_seeded() {
        let mut first = Garden::new(7);
        let mut second = Garden::new(7);
        let reading = first.readings(BED_1)["soil_moisture"];
        let truth = START_BED_MOISTURE_PCT[0];
        assert!(
            (reading - truth).abs() <= 0.21,
            "bed-1 read {reading}, truth is {truth}"
        );
        assert_eq!(
            second.readings(BED_1)["soil_moisture"],
            reading,
            "the same seed gave different noise"
        );
        assert_eq!(first.readings(ENCLOSURE).len(), 2);
        assert!(
            first.readings(HEATER).is_empty(),
            "the heater has no sensor"
        );
        assert!(first.readings("nope").is_empty());
    }

    #[test]
    fn lamp_lights_its_sensor() {
        let mut garden = Garden::new(1);
        garden.step(
            Duration::from_secs(1),
            &RelayStates {
                lamp: true,
                ..RelayStates::default()
            },
        );
        assert!(
            garden.readings(LAMP)["light"] > 10_000.0,
            "the lamp sensor stayed dark with the lamp ON"
        );
    }
}
