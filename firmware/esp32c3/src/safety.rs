//! The safety task: the relay follows the lease keeper, and the hardware watchdog is fed
//! only while this task runs and the report loop keeps its promise to come back.

use core::sync::atomic::{AtomicU32, Ordering};

use embassy_time::Timer;
use esp_hal::gpio::Output;
use esp_hal::peripherals::TIMG1;
use esp_hal::timer::timg::Wdt;
use log::error;
use plantkeeper_node_logic::node::{KeeperCell, reached};

use crate::{SharedKeeper, now_ms, relay_level};

/// How often the relay is re-driven from the keeper.
const TICK_MS: u64 = 100;

/// The instant by which the report loop promises to start its next cycle (see [`promise`]).
static REPORT_DUE: AtomicU32 = AtomicU32::new(0);

/// Called by the report loop at the start of each cycle: it will be back within `within_ms`.
pub fn promise(within_ms: u32) {
    REPORT_DUE.store(now_ms().wrapping_add(within_ms), Ordering::Relaxed);
}

/// Drives the relay every [`TICK_MS`] and feeds the watchdog. A report loop that missed its
/// promise is stuck: the relay goes OFF and the watchdog is left to reset the chip.
#[embassy_executor::task]
pub async fn run(
    keeper: &'static SharedKeeper,
    mut relay: Output<'static>,
    mut watchdog: Wdt<TIMG1<'static>>,
) {
    // The report loop starts after Wi-Fi set-up; give it a first promise.
    promise(60_000);
    let mut stuck_logged = false;
    loop {
        let now = now_ms();
        let on = keeper.with(|keeper| keeper.relay_on(0, now));
        let stuck = reached(now, REPORT_DUE.load(Ordering::Relaxed));
        relay.set_level(relay_level(on && !stuck));
        if stuck {
            if !stuck_logged {
                error!("report loop stuck: relay OFF, waiting for the watchdog reset");
                stuck_logged = true;
            }
        } else {
            watchdog.feed();
        }
        Timer::after_millis(TICK_MS).await;
    }
}
