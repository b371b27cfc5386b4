//! Validates the `PK_*` configuration with the same code the host tests
//! (`plantkeeper_node_logic::config`) and writes it as constants into `$OUT_DIR/config.rs`,
//! so a bad value stops the build with an error naming the variable.

use std::fmt::Write as _;
use std::{env, fs, path::PathBuf, process};

use plantkeeper_node_logic::config::{self, VARIABLES};

fn main() {
    for variable in VARIABLES {
        println!("cargo:rerun-if-env-changed={variable}");
    }
    let values: Vec<(&str, Option<String>)> = VARIABLES
        .iter()
        .map(|name| (*name, env::var(name).ok()))
        .collect();
    let config = match config::from_env(|name| {
        values
            .iter()
            .find(|(key, _)| *key == name)
            .and_then(|(_, value)| value.as_deref())
    }) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: PlantKeeper firmware configuration: {error}");
            eprintln!("(see docs/esp32c3.md, \"Configuration\")");
            process::exit(1);
        }
    };
    let mut out = String::new();
    let mut constant = |name: &str, kind: &str, value: &dyn std::fmt::Debug| {
        // `{:?}` of a str or number is a valid Rust literal.
        let _ = writeln!(out, "pub const {name}: {kind} = {value:?};");
    };
    constant("WIFI_SSID", "&str", &config.wifi_ssid);
    constant("WIFI_PASSWORD", "&str", &config.wifi_password);
    let report_url = format!(
        "http://{}:{}/api/v1/nodes/{}/report",
        config.master_host, config.master_port, config.node_id
    );
    constant("REPORT_URL", "&str", &report_url);
    constant(
        "AUTHORIZATION",
        "&str",
        &format!("Bearer {}", config.node_token),
    );
    constant("NODE_ID", "&str", &config.node_id);
    constant("OUTPUT_NAME", "&str", &config.output_name);
    constant("SENSOR_NAME", "&str", &config.sensor_name);
    constant("RELAY_GPIO", "u8", &config.relay_gpio);
    constant("RELAY_ACTIVE_LOW", "bool", &config.relay_active_low);
    constant("SOIL_GPIO", "u8", &config.soil_gpio);
    constant("SOIL_DRY_RAW", "u16", &config.soil.dry());
    constant("SOIL_WET_RAW", "u16", &config.soil.wet());
    constant("RELAY_MAX_ON_MS", "u32", &config.relay_max_on_ms);
    constant("WATCHDOG_MS", "u32", &config.watchdog_ms);
    constant("HTTP_TIMEOUT_MS", "u32", &config.http_timeout_ms);
    constant("REPORT_EVERY_MS", "u32", &config.report_every_ms);
    constant("BACKOFF_MIN_MS", "u32", &config.backoff_min_ms);
    constant("BACKOFF_MAX_MS", "u32", &config.backoff_max_ms);
    // Pins are typed peripherals in esp-hal, so the chosen ones are picked by macros.
    let _ = writeln!(
        out,
        "macro_rules! relay_pin {{ ($p:ident) => {{ $p.GPIO{} }} }}",
        config.relay_gpio
    );
    let _ = writeln!(
        out,
        "macro_rules! soil_pin {{ ($p:ident) => {{ $p.GPIO{} }} }}",
        config.soil_gpio
    );
    let path = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("config.rs");
    if let Err(error) = fs::write(&path, out) {
        eprintln!("error: cannot write {}: {error}", path.display());
        process::exit(1);
    }
}
