//! The access point's validated inputs ([`ApPlan`]), checked field by field: every mistake in
//! one run, each as `--FIELD: message`.

use std::fmt;
use std::net::Ipv4Addr;

use plantkeeper_control::condition::parse::{NODE_ID_RULE, is_valid_node_id};
use plantkeeper_control::load::{MDNS_NAME_RULE, is_valid_dns_label};

use super::countries::{CHANNELS_1_TO_11, is_country_code};

/// Host number of the first fixed lease (`.10` on a /24); RaspAP's pool starts at `.50`.
const FIRST_FIXED_HOST: u32 = 10;
/// Host number where the default DHCP pool starts (RaspAP's `.50`).
const DEFAULT_POOL_START_HOST: u32 = 50;

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

/// A node's fixed DHCP lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixedLease {
    /// The node id, also its host name on the network.
    pub node: String,
    /// The node's Wi-Fi MAC address.
    pub mac: [u8; 6],
    /// The address it always gets.
    pub address: Ipv4Addr,
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
    if let Some(bad) = passphrase.chars().find(|c| !matches!(c, ' '..='~')) {
        return Err(format!(
            "a WPA2 passphrase is printable ASCII (space to `~`); {bad:?} is not"
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

/// `IP/PREFIX` → the address and prefix; the address must be a host of its network.
fn parse_address(text: &str) -> Result<(Ipv4Addr, u8), String> {
    let expected =
        format!("expected an IPv4 address with prefix like `10.3.141.1/24`, got `{text}`");
    let (ip, prefix) = text.split_once('/').ok_or_else(|| expected.clone())?;
    let ip: Ipv4Addr = ip.parse().map_err(|_| expected.clone())?;
    let prefix: u8 = prefix.parse().map_err(|_| expected.clone())?;
    if !(8..=29).contains(&prefix) {
        return Err(format!(
            "the prefix must be 8 to 29 (room for nodes), got /{prefix}"
        ));
    }
    let host = u32::from(ip) & !mask(prefix);
    if host == 0 || host == !mask(prefix) {
        return Err(format!(
            "{ip} is the network or broadcast address of /{prefix}; use a host address such as {}",
            Ipv4Addr::from((u32::from(ip) & mask(prefix)) + 1)
        ));
    }
    Ok((ip, prefix))
}

fn mask(prefix: u8) -> u32 {
    u32::MAX << (32 - u32::from(prefix))
}

/// The host numbers of `network` that may be handed out: first and last usable.
fn hosts((ip, prefix): (Ipv4Addr, u8)) -> (u32, u32) {
    let base = u32::from(ip) & mask(prefix);
    (base + 1, base + !mask(prefix) - 1)
}

/// Network + 50 to the last host (RaspAP's .50–.254 on a /24).
fn default_pool(network: (Ipv4Addr, u8)) -> Result<(Ipv4Addr, Ipv4Addr), String> {
    let (first, last) = hosts(network);
    let start = first - 1 + DEFAULT_POOL_START_HOST;
    if start >= last {
        return Err(format!(
            "/{} is too small for the default pool (host .{DEFAULT_POOL_START_HOST} upward); give --dhcp-range START,END",
            network.1
        ));
    }
    Ok((Ipv4Addr::from(start), Ipv4Addr::from(last)))
}

/// `START,END` inside the network, not holding the access point's address.
fn parse_pool(text: &str, network: (Ipv4Addr, u8)) -> Result<(Ipv4Addr, Ipv4Addr), String> {
    let expected = format!("expected `START,END` like `10.3.141.50,10.3.141.254`, got `{text}`");
    let (start, end) = text.split_once(',').ok_or_else(|| expected.clone())?;
    let start: Ipv4Addr = start.trim().parse().map_err(|_| expected.clone())?;
    let end: Ipv4Addr = end.trim().parse().map_err(|_| expected.clone())?;
    let (first, last) = hosts(network);
    for ip in [start, end] {
        if !(first..=last).contains(&u32::from(ip)) {
            return Err(format!(
                "{ip} is not a host of {}/{}",
                Ipv4Addr::from(first - 1),
                network.1
            ));
        }
    }
    if start > end {
        return Err(format!("{start} comes after {end}"));
    }
    if (start..=end).contains(&network.0) {
        return Err(format!(
            "the pool holds the access point's own address {}",
            network.0
        ));
    }
    Ok((start, end))
}

/// `NODE=MAC` entries → fixed leases on the free addresses from host .10 upward, outside the
/// pool and past the access point's address.
fn parse_leases(
    entries: &[String],
    network: (Ipv4Addr, u8),
    (pool_start, pool_end): (Ipv4Addr, Ipv4Addr),
) -> Result<Vec<FixedLease>, String> {
    let (first, last) = hosts(network);
    let mut next = first - 1 + FIRST_FIXED_HOST;
    let mut leases: Vec<FixedLease> = Vec::new();
    for entry in entries {
        let (node, mac) = entry.split_once('=').ok_or_else(|| {
            format!("expected `NODE=MAC` like `bed-1=24:6f:28:aa:bb:cc`, got `{entry}`")
        })?;
        if !is_valid_node_id(node) {
            return Err(format!("`{node}` in `{entry}`: {NODE_ID_RULE}"));
        }
        let mac = parse_mac(mac).map_err(|message| format!("`{entry}`: {message}"))?;
        if let Some(other) = leases
            .iter()
            .find(|lease| lease.node == node || lease.mac == mac)
        {
            return Err(format!(
                "`{entry}` repeats the node or MAC of `{}={}`",
                other.node,
                format_mac(&other.mac)
            ));
        }
        while next == u32::from(network.0)
            || (u32::from(pool_start)..=u32::from(pool_end)).contains(&next)
        {
            next += 1;
        }
        if next > last {
            return Err(format!(
                "no free address left for `{node}` outside the DHCP pool; widen the network or shrink --dhcp-range"
            ));
        }
        leases.push(FixedLease {
            node: node.to_owned(),
            mac,
            address: Ipv4Addr::from(next),
        });
        next += 1;
    }
    Ok(leases)
}

/// `aa:bb:cc:dd:ee:ff` (or with `-`), a unicast address.
fn parse_mac(text: &str) -> Result<[u8; 6], String> {
    let expected = format!("expected a MAC address like `24:6f:28:aa:bb:cc`, got `{text}`");
    let parts: Vec<&str> = text.split([':', '-']).collect();
    if parts.len() != 6 {
        return Err(expected);
    }
    let mut mac = [0u8; 6];
    for (byte, part) in mac.iter_mut().zip(&parts) {
        if part.len() != 2 {
            return Err(expected);
        }
        *byte = u8::from_str_radix(part, 16).map_err(|_| expected.clone())?;
    }
    if mac[0] & 1 == 1 || mac == [0; 6] {
        return Err(format!(
            "{text} is a multicast or all-zero address, not a node's"
        ));
    }
    Ok(mac)
}

/// `aa:bb:cc:dd:ee:ff`, lower case.
pub fn format_mac(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|byte| format!("{byte:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs() {
        assert_eq!(
            parse_mac("24:6F:28:aa:bb:cc"),
            Ok([0x24, 0x6f, 0x28, 0xaa, 0xbb, 0xcc])
        );
        assert_eq!(
            parse_mac("24-6f-28-aa-bb-cc").map(|mac| format_mac(&mac)),
            Ok("24:6f:28:aa:bb:cc".to_owned())
        );
        for bad in [
            "24:6f:28:aa:bb",
            "24:6f:28:aa:bb:cc:dd",
            "246f28aabbcc",
            "24:6f:28:aa:bb:zz",
            "2:46f:28:aa:bb:cc",
            "+1:6f:28:aa:bb:cc",
        ] {
            assert!(parse_mac(bad).is_err(), "{bad}");
        }
        assert!(
            parse_mac("01:00:5e:00:00:fb")
                .unwrap_err()
                .contains("multicast")
        );
        assert!(parse_mac("00:00:00:00:00:00").is_err());
    }

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

    #[test]
    fn addresses_and_pools() {
        let network = parse_address("10.3.141.1/24").expect("valid");
        assert_eq!(
            default_pool(network),
            Ok((
                "10.3.141.50".parse().expect("ip"),
                "10.3.141.254".parse().expect("ip")
            ))
        );
        assert!(
            parse_address("10.3.141.0/24")
                .unwrap_err()
                .contains("network or broadcast")
        );
        assert!(parse_address("10.3.141.255/24").is_err());
        assert!(parse_address("10.3.141.1/30").is_err());
        assert!(parse_address("10.3.141.1").is_err());
        assert!(
            parse_pool("10.3.141.1,10.3.141.20", network)
                .unwrap_err()
                .contains("own address")
        );
        assert!(
            parse_pool("10.3.142.5,10.3.142.20", network)
                .unwrap_err()
                .contains("not a host")
        );
        assert!(
            parse_pool("10.3.141.90,10.3.141.80", network)
                .unwrap_err()
                .contains("after")
        );
        assert!(default_pool(parse_address("192.168.4.1/27").expect("valid")).is_err());
    }

    #[test]
    fn fixed_leases_skip_the_pool_and_the_access_point() {
        let entries = |count: u8| -> Vec<String> {
            (1..=count)
                .map(|n| format!("node-{n}=02:00:00:00:00:{n:02x}"))
                .collect()
        };
        let ip = |text: &str| -> Ipv4Addr { text.parse().expect("an address") };
        let network = parse_address("10.3.141.1/24").expect("valid");
        let leases = parse_leases(
            &entries(2),
            network,
            (ip("10.3.141.50"), ip("10.3.141.254")),
        )
        .expect("room");
        assert_eq!(leases[0].address, ip("10.3.141.10"));
        assert_eq!(leases[1].address, ip("10.3.141.11"));
        assert_eq!(leases[1].node, "node-2");

        // The access point sits on .10 and the pool starts at .12: one address (.11) is free.
        let network = parse_address("10.3.141.10/24").expect("valid");
        let pool = (ip("10.3.141.12"), ip("10.3.141.254"));
        let one = parse_leases(&entries(1), network, pool).expect("room for one");
        assert_eq!(one[0].address, ip("10.3.141.11"));
        let error = parse_leases(&entries(2), network, pool).expect_err("no room for two");
        assert!(
            error.contains("no free address left for `node-2`"),
            "{error}"
        );
    }

    #[test]
    fn lease_entries_are_checked() {
        let network = parse_address("10.3.141.1/24").expect("valid");
        let pool = default_pool(network).expect("a pool");
        let check = |entries: &[&str]| {
            let entries: Vec<String> = entries.iter().map(|entry| (*entry).to_owned()).collect();
            parse_leases(&entries, network, pool)
        };
        assert!(
            check(&["bed-1"])
                .unwrap_err()
                .contains("expected `NODE=MAC`")
        );
        assert!(
            check(&["Bed=02:00:00:00:00:01"])
                .unwrap_err()
                .contains("node ids start")
        );
        assert!(
            check(&["bed-1=02:00:00:00:00"])
                .unwrap_err()
                .contains("expected a MAC")
        );
        let repeated = check(&["a=02:00:00:00:00:01", "b=02:00:00:00:00:01"]).unwrap_err();
        assert!(
            repeated.contains("repeats the node or MAC of `a=02:00:00:00:00:01`"),
            "{repeated}"
        );
        assert!(check(&["a=02:00:00:00:00:01", "a=02:00:00:00:00:02"]).is_err());
    }
}
