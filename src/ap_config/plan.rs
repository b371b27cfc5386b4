//! The access point's validated inputs ([`ApPlan`]), checked field by field: every mistake in
//! one run, each as `--FIELD: message`.

use std::fmt;
use std::net::Ipv4Addr;

use plantkeeper_control::load::{MDNS_NAME_RULE, is_valid_dns_label};

use super::countries::{CHANNELS_1_TO_11, is_country_code};
pub use super::network::{FixedLease, format_mac};
use super::network::{default_pool, mask, parse_address, parse_leases, parse_pool};

/// What `ap-config` was asked for, as typed.
#[derive(Debug, Clone)]
pub struct ApRequest {
    /// `--ssid`.
    pub ssid: String,
    /// `--passphrase`.
    pub passphrase: String,
    /// `--country`.
    pub country: String,
    /// `--channel`.
    pub channel: String,
    /// `--interface`.
    pub interface: String,
    /// `--address` (`IP/PREFIX`).
    pub address: String,
    /// `--dhcp-range` (`START,END`), derived from the address when absent.
    pub dhcp_range: Option<String>,
    /// `--lease NODE=MAC`, in order.
    pub leases: Vec<String>,
    /// `--name`: the master's name on the access point's network (`NAME.lan`).
    pub name: String,
}

/// Validated settings of the access point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApPlan {
    /// Network name, 1 to 32 bytes.
    pub ssid: String,
    /// WPA2 passphrase, 8 to 63 printable ASCII characters.
    pub passphrase: String,
    /// ISO 3166-1 alpha-2 country code.
    pub country: String,
    /// 2.4 GHz channel.
    pub channel: u8,
    /// The wireless interface.
    pub interface: String,
    /// The access point's (and master's) address.
    pub address: Ipv4Addr,
    /// Its prefix length.
    pub prefix: u8,
    /// First address of the DHCP pool.
    pub pool_start: Ipv4Addr,
    /// Last address of the DHCP pool.
    pub pool_end: Ipv4Addr,
    /// Fixed leases, in the order asked.
    pub leases: Vec<FixedLease>,
    /// The master's DNS label on the network (`NAME.lan`).
    pub name: String,
}

impl ApPlan {
    /// The network mask, e.g. `255.255.255.0`.
    pub fn netmask(&self) -> Ipv4Addr {
        Ipv4Addr::from(mask(self.prefix))
    }
}

/// One invalid argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgError {
    /// The option, e.g. `--passphrase`.
    pub option: &'static str,
    /// What is wrong, and what would be right.
    pub message: String,
}

impl fmt::Display for ArgError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}: {}", self.option, self.message)
    }
}

/// Collects the errors of one request.
#[derive(Default)]
struct Errors(Vec<ArgError>);

impl Errors {
    fn check<T>(&mut self, option: &'static str, result: Result<T, String>) -> Option<T> {
        result
            .map_err(|message| self.0.push(ArgError { option, message }))
            .ok()
    }
}

/// Validates every field; all errors at once.
pub fn plan(request: &ApRequest) -> Result<ApPlan, Vec<ArgError>> {
    let mut errors = Errors::default();
    let ssid = errors.check("--ssid", check_ssid(&request.ssid));
    let passphrase = errors.check("--passphrase", check_passphrase(&request.passphrase));
    let country = errors.check("--country", check_country(&request.country));
    let channel = errors.check(
        "--channel",
        check_channel(&request.channel, country.unwrap_or_default()),
    );
    let interface = errors.check("--interface", check_interface(&request.interface));
    let network = errors.check("--address", parse_address(&request.address));
    let name = errors.check("--name", check_name(&request.name));
    let pool = network.and_then(|network| {
        let pool = match &request.dhcp_range {
            Some(text) => parse_pool(text, network),
            None => default_pool(network),
        };
        errors.check("--dhcp-range", pool)
    });
    let leases = match (network, pool) {
        (Some(network), Some(pool)) => {
            errors.check("--lease", parse_leases(&request.leases, network, pool))
        }
        _ => None,
    };
    match (
        ssid, passphrase, country, channel, interface, network, pool, leases, name,
    ) {
        (
            Some(()),
            Some(()),
            Some(country),
            Some(channel),
            Some(()),
            Some((address, prefix)),
            Some((pool_start, pool_end)),
            Some(leases),
            Some(()),
        ) if errors.0.is_empty() => Ok(ApPlan {
            ssid: request.ssid.clone(),
            passphrase: request.passphrase.clone(),
            country: country.to_owned(),
            channel,
            interface: request.interface.clone(),
            address,
            prefix,
            pool_start,
            pool_end,
            leases,
            name: request.name.clone(),
        }),
        _ => Err(errors.0),
    }
}

fn check_ssid(ssid: &str) -> Result<(), String> {
    if ssid.is_empty() || ssid.len() > 32 {
        return Err(format!(
            "a network name has 1 to 32 bytes, `{ssid}` has {}",
            ssid.len()
        ));
    }
    if ssid.chars().any(char::is_control) {
        return Err("control characters (newline, tab, …) are not allowed".to_owned());
    }
    if ssid.trim() != ssid {
        return Err(format!(
            "`{ssid}` starts or ends with a space, which phones and config files easily lose"
        ));
    }
    Ok(())
}

fn check_passphrase(passphrase: &str) -> Result<(), String> {
    // Never echo the secret, not even one character of it: say where the fault is.
    if let Some(position) = passphrase.chars().position(|c| !matches!(c, ' '..='~')) {
        return Err(format!(
            "a WPA2 passphrase is printable ASCII (space to `~`); character {} is not",
            position + 1
        ));
    }
    let length = passphrase.len();
    if !(8..=63).contains(&length) {
        return Err(format!(
            "a WPA2 passphrase has 8 to 63 characters, this one has {length}"
        ));
    }
    Ok(())
}

fn check_country(country: &str) -> Result<&str, String> {
    if is_country_code(country) {
        return Ok(country);
    }
    let hint = match country.to_ascii_uppercase().as_str() {
        "UK" => " (the United Kingdom is `GB`)".to_owned(),
        upper if is_country_code(upper) => format!(" (upper case: `{upper}`)"),
        _ => String::new(),
    };
    Err(format!(
        "expected an ISO 3166-1 alpha-2 country code such as `DE`, `FR` or `US`, got `{country}`{hint}; it sets the channels and power the law allows"
    ))
}

fn check_channel(text: &str, country: &str) -> Result<u8, String> {
    let channel: u8 = text
        .parse()
        .map_err(|_| format!("expected a 2.4 GHz channel number 1 to 13, got `{text}`"))?;
    match channel {
        1..=11 => Ok(channel),
        12 | 13 if CHANNELS_1_TO_11.contains(&country) => Err(format!(
            "channel {channel} is not allowed in {country} (channels 1 to 11 only); 1, 6 or 11 avoid overlap"
        )),
        12 | 13 => Ok(channel),
        14 => Err(
            "channel 14 is 802.11b in Japan only; ESP32 nodes and hw_mode=g use 1 to 13".to_owned(),
        ),
        _ => Err(format!("expected a 2.4 GHz channel 1 to 13, got {channel}")),
    }
}

fn check_interface(name: &str) -> Result<(), String> {
    let valid = (1..=15).contains(&name.len())
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.'))
        && name != "."
        && name != "..";
    if valid {
        Ok(())
    } else {
        Err(format!(
            "expected a network interface name like `wlan0` (1 to 15 characters a-z, 0-9, `-`, `_`, `.`), got `{name}`"
        ))
    }
}

fn check_name(name: &str) -> Result<(), String> {
    if is_valid_dns_label(name) {
        Ok(())
    } else {
        Err(format!("`{name}` is not {MDNS_NAME_RULE}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels() {
        assert_eq!(check_channel("6", "DE"), Ok(6));
        assert_eq!(check_channel("13", "DE"), Ok(13));
        assert!(
            check_channel("13", "US")
                .unwrap_err()
                .contains("not allowed in US")
        );
        assert!(check_channel("12", "CA").is_err());
        assert!(
            check_channel("14", "JP")
                .unwrap_err()
                .contains("Japan only")
        );
        for bad in ["0", "15", "36", "-1", "six", ""] {
            assert!(check_channel(bad, "DE").is_err(), "{bad}");
        }
    }
}
