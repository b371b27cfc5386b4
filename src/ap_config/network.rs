//! Addresses on the access point's network: the AP's own address and prefix, the DHCP pool,
//! and fixed leases (node id, MAC, an address outside the pool).

use std::net::Ipv4Addr;

use plantkeeper_control::condition::parse::{NODE_ID_RULE, is_valid_node_id};

/// Host number of the first fixed lease (`.10` on a /24); RaspAP's pool starts at `.50`.
const FIRST_FIXED_HOST: u32 = 10;
/// Host number where the default DHCP pool starts (RaspAP's `.50`).
const DEFAULT_POOL_START_HOST: u32 = 50;

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

/// `IP/PREFIX` → the address and prefix; the address must be a host of its network.
pub(super) fn parse_address(text: &str) -> Result<(Ipv4Addr, u8), String> {
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

pub(super) fn mask(prefix: u8) -> u32 {
    u32::MAX << (32 - u32::from(prefix))
}

/// The host numbers of `network` that may be handed out: first and last usable.
fn hosts((ip, prefix): (Ipv4Addr, u8)) -> (u32, u32) {
    let base = u32::from(ip) & mask(prefix);
    (base + 1, base + !mask(prefix) - 1)
}

/// Network + 50 to the last host (RaspAP's .50–.254 on a /24).
pub(super) fn default_pool(network: (Ipv4Addr, u8)) -> Result<(Ipv4Addr, Ipv4Addr), String> {
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
pub(super) fn parse_pool(
    text: &str,
    network: (Ipv4Addr, u8),
) -> Result<(Ipv4Addr, Ipv4Addr), String> {
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
pub(super) fn parse_leases(
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
