//! PlantKeeper node firmware for the ESP32-C3: a Wi-Fi station that reports its soil sensor
//! to the master and drives one relay only while the master's lease holds (CONTRACT §4).
//!
//! This binary is glue: the decisions (report encoding, answer parsing, the lease rule,
//! calibration, back-off, backlog) live in `plantkeeper_node_logic` and
//! `plantkeeper_protocol`, which the host tests. Tasks:
//! - `safety`: drives the relay from the lease keeper every 100 ms and feeds the hardware
//!   watchdog; it never touches the network.
//! - `report`: samples, reports, applies answers, keeps a backlog and backs off.
//! - `wifi::connection` / `wifi::net`: station with reconnect, and the embassy-net stack (DHCP).
#![no_std]
#![no_main]

#[macro_use]
mod config {
    //! The build-time configuration validated by `build.rs`.
    include!(concat!(env!("OUT_DIR"), "/config.rs"));
}
mod report;
mod safety;
mod soil;
mod wifi;

use core::cell::RefCell;

use critical_section::Mutex;
use embassy_executor::Spawner;
use embassy_net::StackResources;
use esp_backtrace as _;
use esp_hal::analog::adc::{Adc, AdcConfig, Attenuation};
use esp_hal::clock::CpuClock;
use esp_hal::gpio::{Level, Output, OutputConfig};
use esp_hal::rng::Rng;
use esp_hal::time::Duration;
use esp_hal::timer::timg::{MwdtStage, TimerGroup};
use log::info;
use plantkeeper_node_logic::node::{KeeperCell, Node, RECENT, Timing};
use plantkeeper_protocol::LeaseKeeper;
use static_cell::StaticCell;

esp_bootloader_esp_idf::esp_app_desc!();

/// Backlog capacity in samples (one soil reading each, about 60 bytes of report).
pub const BACKLOG: usize = 256;

/// The relay's lease keeper, shared by the safety task (which drives the relay from it) and
/// the report loop (which feeds it answers), behind a critical section held only for the
/// keeper's own short calls.
pub struct SharedKeeper(Mutex<RefCell<LeaseKeeper<1, RECENT>>>);

impl KeeperCell<1> for SharedKeeper {
    fn with<R>(&self, f: impl FnOnce(&mut LeaseKeeper<1, RECENT>) -> R) -> R {
        critical_section::with(|cs| f(&mut self.0.borrow_ref_mut(cs)))
    }
}

/// The report cycle: one sensor, one relay.
pub type FirmwareNode = Node<'static, SharedKeeper, 1, 1, BACKLOG>;

/// The node's wrapping millisecond clock.
pub fn now_ms() -> u32 {
    // Truncation is the point: the node clock wraps every ~49.7 days, and every comparison
    // on it is a wrapping one.
    embassy_time::Instant::now().as_millis() as u32
}

/// The pin level that switches the relay OFF.
pub const fn relay_level(on: bool) -> Level {
    if on != config::RELAY_ACTIVE_LOW {
        Level::High
    } else {
        Level::Low
    }
}

#[esp_rtos::main]
async fn main(spawner: Spawner) -> ! {
    let peripherals = esp_hal::init(esp_hal::Config::default().with_cpu_clock(CpuClock::max()));
    // Rule 1: the relay is OFF before anything else runs.
    let relay = Output::new(
        relay_pin!(peripherals),
        relay_level(false),
        OutputConfig::default(),
    );
    // The hardware watchdog resets the chip unless the safety task feeds it.
    let mut watchdog = TimerGroup::new(peripherals.TIMG1).wdt;
    watchdog.set_timeout(
        MwdtStage::Stage0,
        Duration::from_millis(u64::from(config::WATCHDOG_MS)),
    );
    watchdog.enable();

    esp_println::logger::init_logger_from_env();
    info!(
        "PlantKeeper node {} -> {} (relay GPIO{}, soil GPIO{})",
        config::NODE_ID,
        config::REPORT_URL,
        config::RELAY_GPIO,
        config::SOIL_GPIO
    );

    esp_alloc::heap_allocator!(size: 72 * 1024);
    let timg0 = TimerGroup::new(peripherals.TIMG0);
    esp_rtos::start(timg0.timer0, peripherals.FROM_CPU_INTR0);

    let rng = Rng::new();
    static KEEPER: StaticCell<SharedKeeper> = StaticCell::new();
    let keeper: &'static SharedKeeper =
        KEEPER.init(SharedKeeper(Mutex::new(RefCell::new(LeaseKeeper::new([
            Some(config::RELAY_MAX_ON_MS),
        ])))));
    spawner.spawn(safety::run(keeper, relay, watchdog).expect("safety task spawns once"));
    static NODE: StaticCell<FirmwareNode> = StaticCell::new();
    let node = NODE.init(Node::new(
        keeper,
        [config::SENSOR_NAME],
        [config::OUTPUT_NAME],
        Timing {
            report_every_ms: config::REPORT_EVERY_MS,
            backoff_min_ms: config::BACKOFF_MIN_MS,
            backoff_max_ms: config::BACKOFF_MAX_MS,
        },
        rng.random(),
    ));

    let mut adc_config = AdcConfig::new();
    let soil_pin = adc_config.enable_pin(soil_pin!(peripherals), Attenuation::_11dB);
    let adc = Adc::new(peripherals.ADC1, adc_config).into_async();
    let soil = soil::Soil::new(adc, soil_pin);

    let (controller, interface) = wifi::start(peripherals.WIFI);
    static RESOURCES: StaticCell<StackResources<3>> = StaticCell::new();
    let seed = u64::from(rng.random()) << 32 | u64::from(rng.random());
    let (stack, runner) = embassy_net::new(
        interface,
        embassy_net::Config::dhcpv4(Default::default()),
        RESOURCES.init(StackResources::new()),
        seed,
    );
    spawner.spawn(wifi::connection(controller).expect("wifi task spawns once"));
    spawner.spawn(wifi::net(runner).expect("net task spawns once"));

    report::run(node, stack, soil, rng).await
}
