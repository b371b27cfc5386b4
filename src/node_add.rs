//! `plantkeeper node add ID [--kind KIND]`: provisions a node in one step. Prints a fresh random
//! token, the `[nodes.ID]` block to paste into the master's settings (with the token's SHA-256
//! only) and a ready `config.json` for the MicroPython client (firmware/micropython).
//!
//! The output has three parts, each introduced by a `--- ... ---` line so scripts can cut it:
//! `token: ...`, then the TOML block, then the JSON.

use std::fmt::Write as _;
use std::process::ExitCode;

use plantkeeper_control::condition::parse::{NODE_ID_RULE, is_valid_node_id};
use plantkeeper_master::auth::token_digest;
use rand::TryRng;
use rand::rngs::SysRng;
use serde_json::json;

/// Random bytes in a token; printed as hex, so the token has twice as many characters.
pub const TOKEN_BYTES: usize = 32;

/// Line that starts the TOML block in the output.
pub const TOML_MARKER: &str =
    "--- add to the master's settings file, then run `plantkeeper check` ---";
/// Line that starts the `config.json` in the output.
pub const JSON_MARKER: &str =
    "--- config.json for the node (firmware/micropython; set the Wi-Fi password) ---";

/// What the node does; decides its sensors, its output and the example it follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum NodeKind {
    /// Soil probe and a valve.
    Sprinkler,
    /// Water level and a pump.
    Tank,
    /// Temperature and humidity, no relay.
    Enclosure,
    /// A heater relay driven by the enclosure's temperature.
    Heater,
    /// A cooler relay driven by the enclosure's temperature.
    Cooler,
    /// A humidifier relay driven by the enclosure's humidity.
    Humidifier,
    /// A grow light on a schedule.
    Lamp,
}

/// Options of `node add`.
#[derive(Debug, Clone, clap::Args)]
pub struct NodeAddArgs {
    /// The new node's id: `[a-z0-9][a-z0-9_-]{0,62}`.
    pub id: String,
    /// What the node does.
    #[arg(long, value_enum, default_value = "sprinkler")]
    pub kind: NodeKind,
    /// The master's URL as the node reaches it (`http://HOST:PORT`).
    #[arg(long, default_value = "http://10.3.141.1:8001")]
    pub master_url: String,
    /// The garden's Wi-Fi network (RaspAP's default name unless told).
    #[arg(long, default_value = "raspi-webgui")]
    pub wifi_ssid: String,
}

/// Runs `node add`: exit 0 with the three parts on stdout, 2 on bad arguments, 1 when the
/// operating system's random source fails.
pub fn run_node_add(args: &NodeAddArgs) -> ExitCode {
    if !is_valid_node_id(&args.id) {
        eprintln!("error: invalid node id `{}`: {NODE_ID_RULE}", args.id);
        return ExitCode::from(2);
    }
    if let Err(message) = check_master_url(&args.master_url) {
        eprintln!("error: --master-url: {message}");
        return ExitCode::from(2);
    }
    let token = match fresh_token() {
        Ok(token) => token,
        Err(error) => {
            eprintln!("error: the operating system's random source failed: {error}");
            return ExitCode::from(1);
        }
    };
    print!("{}", provisioning_text(args, &token));
    ExitCode::SUCCESS
}

/// A token of [`TOKEN_BYTES`] bytes from the operating system's random source, as hex.
pub fn fresh_token() -> Result<String, rand::rngs::SysError> {
    let mut bytes = [0u8; TOKEN_BYTES];
    SysRng.try_fill_bytes(&mut bytes)?;
    Ok(hex(&bytes))
}

/// The whole output for `token`: token line, TOML block, config.json.
pub fn provisioning_text(args: &NodeAddArgs, token: &str) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "token: {token}");
    let _ = writeln!(
        text,
        "(shown once: the master keeps only its SHA-256; the node sends it, from config.json)"
    );
    let _ = writeln!(text);
    let _ = writeln!(text, "{TOML_MARKER}");
    text.push_str(&toml_block(&args.id, args.kind, token));
    let _ = writeln!(text);
    let _ = writeln!(text, "{JSON_MARKER}");
    text.push_str(&config_json(args, token));
    text.push('\n');
    text
}

/// The `[nodes.ID]` block: the token's SHA-256, the sensors and the output of `kind`. Rules that
/// need other nodes (the tank interlock, the enclosure's readings) are written commented out, so
/// the block passes `check` on its own.
pub fn toml_block(id: &str, kind: NodeKind, token: &str) -> String {
    let digest = hex(&token_digest(token));
    let mut block = format!("[nodes.{id}]\ntoken_sha256 = \"{digest}\"\n");
    let body = match kind {
        NodeKind::Sprinkler => format!(
            r#"sensors.soil_moisture = {{ min = 0, max = 100, unit = "%" }}

[nodes.{id}.outputs.valve]
on_when  = "soil_moisture < 30"       # water when the soil is this dry
off_when = "soil_moisture >= 45"      # stop once it is this wet
# require = ["tank.level >= 20"]      # name your tank node to protect its pump
max_on   = "2m"                       # one run never lasts longer
min_off  = "10m"                      # let the water soak in between runs
"#
        ),
        NodeKind::Tank => format!(
            r#"sensors.level = {{ min = 0, max = 100, unit = "%" }}

[nodes.{id}.outputs.pump]
# on_when = "bed-1.valve or bed-2.valve"   # name the beds this pump feeds
require = ["level >= 20"]                 # never run the pump dry
max_on  = "5m"
"#
        ),
        NodeKind::Enclosure => r#"sensors.temperature = { min = -20, max = 60, unit = "°C" }
sensors.humidity = { min = 0, max = 100, unit = "%" }
"#
        .to_owned(),
        NodeKind::Heater => format!(
            r#"
[nodes.{id}.outputs.heater]
# on_when  = "enclosure.temperature < 18"    # name your enclosure node
# off_when = "enclosure.temperature >= 21"
max_on = "30m"
"#
        ),
        NodeKind::Cooler => format!(
            r#"
[nodes.{id}.outputs.cooler]
# on_when  = "enclosure.temperature > 28"    # name your enclosure node
# off_when = "enclosure.temperature <= 25"
max_on = "30m"
"#
        ),
        NodeKind::Humidifier => format!(
            r#"
[nodes.{id}.outputs.humidifier]
# on_when  = "enclosure.humidity < 50"       # name your enclosure node
# off_when = "enclosure.humidity >= 65"
max_on = "15m"
"#
        ),
        NodeKind::Lamp => format!(
            r#"
[nodes.{id}.outputs.light]
schedule = ["06:00-22:00"]                 # a schedule alone is a timer
"#
        ),
    };
    block.push_str(&body);
    block
}

/// The MicroPython client's `config.json`, wired like `firmware/micropython/examples/<kind>/`.
pub fn config_json(args: &NodeAddArgs, token: &str) -> String {
    let relay = |name: &str, max_on_ms: u64| json!({ name: { "pin": 26, "active_low": false, "max_on_ms": max_on_ms } });
    let (sensors, outputs) = match args.kind {
        NodeKind::Sprinkler => (
            json!([{ "type": "soil_adc", "name": "soil_moisture", "pin": 34, "dry": 52000, "wet": 21000 }]),
            relay("valve", 300_000),
        ),
        NodeKind::Tank => (
            json!([{ "type": "hcsr04", "name": "level", "trigger": 5, "echo": 18, "empty_cm": 120, "full_cm": 20 }]),
            relay("pump", 600_000),
        ),
        NodeKind::Enclosure => (json!([{ "type": "dht22", "pin": 4 }]), json!({})),
        NodeKind::Heater => (json!([]), relay("heater", 1_800_000)),
        NodeKind::Cooler => (json!([]), relay("cooler", 1_800_000)),
        NodeKind::Humidifier => (json!([]), relay("humidifier", 900_000)),
        NodeKind::Lamp => (json!([]), relay("light", 57_600_000)),
    };
    let config = json!({
        "wifi": { "ssid": args.wifi_ssid, "password": "ChangeMe" },
        "master": args.master_url,
        "node": args.id,
        "token": token,
        "sensors": sensors,
        "outputs": outputs,
    });
    serde_json::to_string_pretty(&config)
        .expect("a serde_json::Value with string keys always serialises")
}

/// The node client accepts only `http://HOST[:PORT]` (no path, no https).
fn check_master_url(url: &str) -> Result<(), String> {
    let expected = || format!("expected a URL like `http://10.3.141.1:8001`, got `{url}`");
    let rest = url.strip_prefix("http://").ok_or_else(expected)?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let (host, port) = match rest.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (rest, None),
    };
    if host.is_empty() || rest.contains('/') {
        return Err(expected());
    }
    match port.map(str::parse::<u16>) {
        None | Some(Ok(1..)) => Ok(()),
        Some(_) => Err(format!("the port must be 1-65535, got `{url}`")),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut text, byte| {
        let _ = write!(text, "{byte:02x}");
        text
    })
}
