//! The Wi-Fi station: connects with the configured credentials and reconnects with back-off
//! whenever the link drops; embassy-net runs DHCP on top.

use embassy_net::Runner;
use embassy_time::Timer;
use esp_hal::peripherals::WIFI;
use esp_radio::wifi::sta::StationConfig;
use esp_radio::wifi::{AuthenticationMethodConfig, Config, Interface, WifiController};
use log::{info, warn};
use plantkeeper_node_logic::backoff::Backoff;

use crate::config;

/// Creates the controller (station mode with the configured network) and the station
/// interface. Without a working radio the node cannot do its job: the panic resets it.
pub fn start(wifi: WIFI<'static>) -> (WifiController<'static>, Interface) {
    let mut controller =
        WifiController::new(wifi, Default::default()).expect("the Wi-Fi driver starts");
    let authentication = if config::WIFI_PASSWORD.is_empty() {
        AuthenticationMethodConfig::Open
    } else {
        AuthenticationMethodConfig::Wpa2Personal(
            config::WIFI_PASSWORD
                .try_into()
                .expect("build.rs checked the password length"),
        )
    };
    let station = StationConfig::default()
        .with_ssid(
            config::WIFI_SSID
                .try_into()
                .expect("build.rs checked the SSID length"),
        )
        .with_authentication(authentication);
    controller
        .set_config(&Config::Station(station))
        .expect("a station configuration is accepted");
    (controller, Interface::station())
}

/// Keeps the station connected: connect, wait for a disconnect, retry with back-off.
#[embassy_executor::task]
pub async fn connection(mut controller: WifiController<'static>) {
    let mut backoff = Backoff::new(1_000, 30_000);
    let rng = esp_hal::rng::Rng::new();
    loop {
        match controller.connect_async().await {
            Ok(_) => {
                info!("Wi-Fi connected to {}", config::WIFI_SSID);
                backoff.succeed();
                let reason = controller.wait_for_disconnect_async().await;
                warn!("Wi-Fi disconnected: {reason:?}");
            }
            Err(error) => {
                let wait = backoff.fail(rng.random());
                warn!("Wi-Fi connect failed ({error:?}); retrying in {wait} ms");
                Timer::after_millis(u64::from(wait)).await;
            }
        }
    }
}

/// Runs the network stack.
#[embassy_executor::task]
pub async fn net(mut runner: Runner<'static, Interface>) {
    runner.run().await
}
