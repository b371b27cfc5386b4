//! The firmware's build-time configuration: `PK_*` environment variables, validated here
//! (the firmware's `build.rs` calls [`from_env`] and stops the build with the error) so a
//! wrong value never reaches a board. Every error names its variable.
//!
//! | variable | default | meaning |
//! | --- | --- | --- |
//! | `PK_WIFI_SSID` | required | Wi-Fi network, 1–32 bytes |
//! | `PK_WIFI_PASSWORD` | empty (open network) | WPA2 passphrase, 8–63 bytes |
//! | `PK_MASTER_URL` | `http://10.3.141.1:8001` | the master, `http://HOST[:PORT]` |
//! | `PK_NODE_ID` | required | this node's id in the master's config |
//! | `PK_NODE_TOKEN` | required | its bearer token (from `plantkeeper node add`) |
//! | `PK_OUTPUT_NAME` | `valve` | the relay's output name in the master's config |
//! | `PK_SENSOR_NAME` | `soil_moisture` | the soil sensor's name |
//! | `PK_RELAY_GPIO` | `5` | relay pin: 0, 1, 3, 4, 5, 6, 7 or 10 |
//! | `PK_RELAY_ACTIVE_LOW` | `false` | `true` for relay boards switched ON by a low pin |
//! | `PK_SOIL_GPIO` | `3` | soil sensor pin (ADC1): 0, 1, 3 or 4 |
//! | `PK_SOIL_DRY_RAW` | `2800` | raw ADC value in dry soil (0 %) |
//! | `PK_SOIL_WET_RAW` | `1200` | raw ADC value in water (100 %) |
//! | `PK_RELAY_MAX_ON_MS` | `600000` | local hard cap of one run, whatever the master says |
//! | `PK_WATCHDOG_MS` | `10000` | hardware watchdog timeout, 1000–60000 |
//! | `PK_HTTP_TIMEOUT_MS` | `4000` | whole HTTP exchange, 500–10000 (below any lease) |
//! | `PK_REPORT_EVERY_MS` | `5000` | report period until the master says otherwise |
//! | `PK_BACKOFF_MIN_MS` / `PK_BACKOFF_MAX_MS` | `1000` / `60000` | retry back-off bounds |

use core::fmt;

use plantkeeper_protocol::{MAX_SPAN_MS, is_valid_node_id, is_valid_sensor_name};

use crate::calibration::TwoPoint;

/// Every variable [`from_env`] reads (for `cargo:rerun-if-env-changed`).
pub const VARIABLES: [&str; 18] = [
    "PK_WIFI_SSID",
    "PK_WIFI_PASSWORD",
    "PK_MASTER_URL",
    "PK_NODE_ID",
    "PK_NODE_TOKEN",
    "PK_OUTPUT_NAME",
    "PK_SENSOR_NAME",
    "PK_RELAY_GPIO",
    "PK_RELAY_ACTIVE_LOW",
    "PK_SOIL_GPIO",
    "PK_SOIL_DRY_RAW",
    "PK_SOIL_WET_RAW",
    "PK_RELAY_MAX_ON_MS",
    "PK_WATCHDOG_MS",
    "PK_HTTP_TIMEOUT_MS",
    "PK_REPORT_EVERY_MS",
    "PK_BACKOFF_MIN_MS",
    "PK_BACKOFF_MAX_MS",
];

/// The master used when `PK_MASTER_URL` is not set (the Raspberry Pi access point's address).
pub const DEFAULT_MASTER_URL: &str = "http://10.3.141.1:8001";

/// ESP32-C3 pins a relay may use: not a strapping pin (2, 8, 9), not the SPI flash (11–17),
/// not USB (18, 19) or the console UART (20, 21).
pub const RELAY_PINS: [u8; 8] = [0, 1, 3, 4, 5, 6, 7, 10];

/// ESP32-C3 pins the soil sensor may use: ADC1 channels (ADC2 is unusable with Wi-Fi on),
/// without strapping pin 2.
pub const SOIL_PINS: [u8; 4] = [0, 1, 3, 4];

/// A validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config<'a> {
    /// Wi-Fi network name.
    pub wifi_ssid: &'a str,
    /// WPA2 passphrase; empty for an open network.
    pub wifi_password: &'a str,
    /// The master's host name or IPv4 address.
    pub master_host: &'a str,
    /// The master's TCP port.
    pub master_port: u16,
    /// This node's id.
    pub node_id: &'a str,
    /// This node's bearer token.
    pub node_token: &'a str,
    /// The relay's output name.
    pub output_name: &'a str,
    /// The soil sensor's name.
    pub sensor_name: &'a str,
    /// Relay GPIO number.
    pub relay_gpio: u8,
    /// Whether a low pin switches the relay ON.
    pub relay_active_low: bool,
    /// Soil sensor GPIO number (an ADC1 channel).
    pub soil_gpio: u8,
    /// The soil sensor's calibration.
    pub soil: TwoPoint,
    /// Local hard cap of one relay run.
    pub relay_max_on_ms: u32,
    /// Hardware watchdog timeout.
    pub watchdog_ms: u32,
    /// Bound on one whole HTTP exchange (connect, send, answer).
    pub http_timeout_ms: u32,
    /// Report period until the master answers with its own.
    pub report_every_ms: u32,
    /// Shortest retry back-off.
    pub backoff_min_ms: u32,
    /// Longest retry back-off.
    pub backoff_max_ms: u32,
}

/// A configuration variable with a bad value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigError {
    /// The variable, e.g. `PK_NODE_ID`.
    pub variable: &'static str,
    /// What is wrong, e.g. `must be set`.
    pub problem: &'static str,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.variable, self.problem)
    }
}

fn error(variable: &'static str, problem: &'static str) -> ConfigError {
    ConfigError { variable, problem }
}

/// Reads the variables through `get` (which returns `None` for an unset variable; an empty
/// value counts as unset) and validates them.
pub fn from_env<'a>(
    get: impl Fn(&'static str) -> Option<&'a str>,
) -> Result<Config<'a>, ConfigError> {
    let get = |name| get(name).filter(|value: &&str| !value.is_empty());
    let required = |name| get(name).ok_or(error(name, "must be set"));
    let number = |name, default: u32, low: u32, high: u32, problem| match get(name) {
        None => Ok(default),
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|value| (low..=high).contains(value))
            .ok_or(error(name, problem)),
    };

    let wifi_ssid = required("PK_WIFI_SSID")?;
    if wifi_ssid.len() > 32 {
        return Err(error("PK_WIFI_SSID", "must be at most 32 bytes"));
    }
    let wifi_password = get("PK_WIFI_PASSWORD").unwrap_or("");
    if !wifi_password.is_empty() && !(8..=63).contains(&wifi_password.len()) {
        return Err(error(
            "PK_WIFI_PASSWORD",
            "must be 8 to 63 bytes (or unset for an open network)",
        ));
    }
    let (master_host, master_port) =
        parse_master_url(get("PK_MASTER_URL").unwrap_or(DEFAULT_MASTER_URL))?;

    let node_id = required("PK_NODE_ID")?;
    if !is_valid_node_id(node_id) {
        return Err(error(
            "PK_NODE_ID",
            "must be 1 to 63 of a-z 0-9 _ -, starting with a letter or digit",
        ));
    }
    let node_token = required("PK_NODE_TOKEN")?;
    if node_token.len() > 256 || !node_token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(error(
            "PK_NODE_TOKEN",
            "must be at most 256 printable ASCII characters without spaces",
        ));
    }
    let name = |variable, default| {
        let value = get(variable).unwrap_or(default);
        if is_valid_sensor_name(value) {
            Ok(value)
        } else {
            Err(error(variable, "must be 1 to 64 of a-z 0-9 _"))
        }
    };
    let output_name = name("PK_OUTPUT_NAME", "valve")?;
    let sensor_name = name("PK_SENSOR_NAME", "soil_moisture")?;

    let relay_gpio = pin(
        "PK_RELAY_GPIO",
        get("PK_RELAY_GPIO"),
        5,
        &RELAY_PINS,
        "must be one of 0, 1, 3, 4, 5, 6, 7, 10",
    )?;
    let relay_active_low = match get("PK_RELAY_ACTIVE_LOW") {
        None | Some("false" | "0") => false,
        Some("true" | "1") => true,
        Some(_) => return Err(error("PK_RELAY_ACTIVE_LOW", "must be true or false")),
    };
    let soil_gpio = pin(
        "PK_SOIL_GPIO",
        get("PK_SOIL_GPIO"),
        3,
        &SOIL_PINS,
        "must be one of the ADC1 pins 0, 1, 3, 4",
    )?;
    if soil_gpio == relay_gpio {
        return Err(error(
            "PK_SOIL_GPIO",
            "must not be the relay's pin (PK_RELAY_GPIO)",
        ));
    }

    let raw = |name, default| number(name, default, 0, 4095, "must be a raw ADC value 0 to 4095");
    let dry = raw("PK_SOIL_DRY_RAW", 2800)?;
    let wet = raw("PK_SOIL_WET_RAW", 1200)?;
    // Both fit a u16: `raw` bounds them to 0..=4095.
    let soil = TwoPoint::new(dry as u16, wet as u16).ok_or(error(
        "PK_SOIL_WET_RAW",
        "must differ from PK_SOIL_DRY_RAW by at least 100 (calibration::MIN_SPAN)",
    ))?;

    let relay_max_on_ms = number(
        "PK_RELAY_MAX_ON_MS",
        600_000,
        1_000,
        MAX_SPAN_MS,
        "must be 1000 to 1073741824 ms",
    )?;
    let watchdog_ms = number(
        "PK_WATCHDOG_MS",
        10_000,
        1_000,
        60_000,
        "must be 1000 to 60000 ms",
    )?;
    let http_timeout_ms = number(
        "PK_HTTP_TIMEOUT_MS",
        4_000,
        500,
        10_000,
        "must be 500 to 10000 ms",
    )?;
    let report_every_ms = number(
        "PK_REPORT_EVERY_MS",
        5_000,
        1_000,
        300_000,
        "must be 1000 to 300000 ms",
    )?;
    let backoff_min_ms = number(
        "PK_BACKOFF_MIN_MS",
        1_000,
        100,
        60_000,
        "must be 100 to 60000 ms",
    )?;
    let backoff_max_ms = number(
        "PK_BACKOFF_MAX_MS",
        60_000,
        100,
        600_000,
        "must be 100 to 600000 ms",
    )?;
    if backoff_max_ms < backoff_min_ms {
        return Err(error(
            "PK_BACKOFF_MAX_MS",
            "must not be below PK_BACKOFF_MIN_MS",
        ));
    }

    Ok(Config {
        wifi_ssid,
        wifi_password,
        master_host,
        master_port,
        node_id,
        node_token,
        output_name,
        sensor_name,
        relay_gpio,
        relay_active_low,
        soil_gpio,
        soil,
        relay_max_on_ms,
        watchdog_ms,
        http_timeout_ms,
        report_every_ms,
        backoff_min_ms,
        backoff_max_ms,
    })
}

fn pin(
    variable: &'static str,
    value: Option<&str>,
    default: u8,
    allowed: &[u8],
    problem: &'static str,
) -> Result<u8, ConfigError> {
    match value {
        None => Ok(default),
        Some(text) => text
            .parse::<u8>()
            .ok()
            .filter(|gpio| allowed.contains(gpio))
            .ok_or(error(variable, problem)),
    }
}

/// Splits `http://HOST[:PORT][/]` into host and port (80 when absent).
fn parse_master_url(url: &str) -> Result<(&str, u16), ConfigError> {
    const VARIABLE: &str = "PK_MASTER_URL";
    if url.starts_with("https://") {
        return Err(error(
            VARIABLE,
            "https is not supported (the node has no TLS); use http:// on the garden network",
        ));
    }
    let rest = url
        .strip_prefix("http://")
        .ok_or(error(VARIABLE, "must start with http://"))?;
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.contains('/') {
        return Err(error(VARIABLE, "must be http://HOST[:PORT] without a path"));
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => (
            host,
            port.parse::<u16>()
                .ok()
                .filter(|port| *port > 0)
                .ok_or(error(VARIABLE, "port must be 1 to 65535"))?,
        ),
        None => (authority, 80),
    };
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    if !host_ok {
        return Err(error(VARIABLE, "host must be a name or an IPv4 address"));
    }
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: [(&str, &str); 3] = [
        ("PK_WIFI_SSID", "garden"),
        ("PK_NODE_ID", "bed-1"),
        ("PK_NODE_TOKEN", "s3cret-token"),
    ];

    fn load(vars: &[(&'static str, &'static str)]) -> Result<Config<'static>, ConfigError> {
        from_env(|name| {
            vars.iter()
                .rev()
                .chain(MINIMAL.iter())
                .find(|(key, _)| *key == name)
                .map(|(_, value)| *value)
        })
    }

    #[test]
    fn defaults_fill_everything_but_the_required() {
        let config = load(&[]).expect("minimal config");
        assert_eq!(
            (config.master_host, config.master_port),
            ("10.3.141.1", 8001)
        );
        assert_eq!(
            (config.output_name, config.sensor_name),
            ("valve", "soil_moisture")
        );
        assert_eq!(
            (config.relay_gpio, config.soil_gpio, config.relay_active_low),
            (5, 3, false)
        );
        assert_eq!(
            (config.watchdog_ms, config.http_timeout_ms),
            (10_000, 4_000)
        );
        assert_eq!(
            config.soil,
            TwoPoint::new(2800, 1200).expect("default points")
        );
        assert_eq!(config.wifi_password, "");
    }

    #[test]
    fn required_variables_are_named_when_missing() {
        for variable in ["PK_WIFI_SSID", "PK_NODE_ID", "PK_NODE_TOKEN"] {
            let result = from_env(|name| {
                MINIMAL
                    .iter()
                    .find(|(key, _)| *key == name && *key != variable)
                    .map(|(_, value)| *value)
            });
            assert_eq!(result, Err(error(variable, "must be set")));
        }
    }

    #[test]
    fn each_bad_value_names_its_variable() {
        let cases: [(&str, &str); 18] = [
            ("PK_WIFI_SSID", "this-ssid-is-much-longer-than-32-bytes"),
            ("PK_WIFI_PASSWORD", "short"),
            ("PK_MASTER_URL", "https://10.3.141.1:8001"),
            ("PK_NODE_ID", "Bed 1"),
            ("PK_NODE_TOKEN", "has space"),
            ("PK_OUTPUT_NAME", "Valve"),
            ("PK_SENSOR_NAME", "soil-moisture"),
            ("PK_RELAY_GPIO", "9"),
            ("PK_RELAY_ACTIVE_LOW", "yes"),
            ("PK_SOIL_GPIO", "5"),
            ("PK_SOIL_DRY_RAW", "5000"),
            ("PK_SOIL_WET_RAW", "2750"),
            ("PK_RELAY_MAX_ON_MS", "0"),
            ("PK_WATCHDOG_MS", "100"),
            ("PK_HTTP_TIMEOUT_MS", "20000"),
            ("PK_REPORT_EVERY_MS", "ten"),
            ("PK_BACKOFF_MIN_MS", "-1"),
            ("PK_BACKOFF_MAX_MS", "500"),
        ];
        for (variable, value) in cases {
            let error = load(&[(variable, value)]).expect_err(value);
            assert_eq!(error.variable, variable, "{value:?}: {error}");
        }
    }

    #[test]
    fn relay_and_soil_pins_must_differ() {
        let error = load(&[("PK_RELAY_GPIO", "4"), ("PK_SOIL_GPIO", "4")]).expect_err("same pin");
        assert_eq!(error.variable, "PK_SOIL_GPIO");
    }

    #[test]
    fn master_urls() {
        for (url, host, port) in [
            ("http://10.3.141.1:8001", "10.3.141.1", 8001),
            ("http://master.local/", "master.local", 80),
        ] {
            let config = load(&[("PK_MASTER_URL", url)]).expect(url);
            assert_eq!((config.master_host, config.master_port), (host, port));
        }
        for bad in [
            "ftp://x",
            "http://",
            "http://x:0",
            "http://x:99999",
            "http://x/api",
            "http://a b",
        ] {
            let error = load(&[("PK_MASTER_URL", bad)]).expect_err(bad);
            assert_eq!(error.variable, "PK_MASTER_URL");
        }
    }

    #[test]
    fn variables_lists_exactly_the_variables_read() {
        let seen: [core::cell::Cell<bool>; VARIABLES.len()] = Default::default();
        let config = from_env(|name| {
            let index = VARIABLES.iter().position(|known| *known == name);
            assert!(index.is_some(), "{name} is read but not in VARIABLES");
            if let Some(index) = index {
                seen[index].set(true);
            }
            MINIMAL
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| *value)
        });
        assert!(config.is_ok(), "{config:?}");
        for (name, seen) in VARIABLES.iter().zip(&seen) {
            assert!(seen.get(), "{name} is listed but never read");
        }
    }
}
