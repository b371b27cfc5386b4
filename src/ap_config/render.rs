//! The files of the access point, as text: hostapd's configuration, a dnsmasq drop-in, the
//! static address as a systemd-networkd unit, the NetworkManager snippet that leaves the
//! interface to them, and the install steps.

use std::fmt::Write as _;

use super::plan::{ApPlan, format_mac};

/// The DNS domain of the access point's network: the master is `NAME.lan`, a node `ID.lan`.
pub const DOMAIN: &str = "lan";
/// How long a DHCP lease lasts (dnsmasq's default).
const LEASE_TIME: &str = "12h";

/// One file to write: its name in the output directory, where it is installed, its mode and
/// its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApFile {
    /// Name in the output directory.
    pub name: &'static str,
    /// Where it belongs on the Raspberry Pi.
    pub install_to: &'static str,
    /// Unix permissions (the hostapd file holds the passphrase: 0600).
    pub mode: u32,
    /// The content.
    pub text: String,
}

/// Every file `ap-config` writes, in install order, then `INSTALL.txt`.
pub fn render(plan: &ApPlan) -> Vec<ApFile> {
    let mut files = vec![
        ApFile {
            name: "hostapd.conf",
            install_to: "/etc/hostapd/hostapd.conf",
            mode: 0o600,
            text: hostapd_conf(plan),
        },
        ApFile {
            name: "dnsmasq-plantkeeper.conf",
            install_to: "/etc/dnsmasq.d/plantkeeper.conf",
            mode: 0o644,
            text: dnsmasq_conf(plan),
        },
        ApFile {
            name: "10-plantkeeper-ap.network",
            install_to: "/etc/systemd/network/10-plantkeeper-ap.network",
            mode: 0o644,
            text: networkd_unit(plan),
        },
        ApFile {
            name: "99-plantkeeper-unmanaged.conf",
            install_to: "/etc/NetworkManager/conf.d/99-plantkeeper-unmanaged.conf",
            mode: 0o644,
            text: networkmanager_unmanaged(plan),
        },
    ];
    let install = install_steps(plan, &files);
    files.push(ApFile {
        name: "INSTALL.txt",
        install_to: "",
        mode: 0o644,
        text: install,
    });
    files
}

fn header(what: &str) -> String {
    format!(
        "# {what}\n# Written by `plantkeeper ap-config` (docs/raspberry-pi.md, \"The access point\").\n"
    )
}

/// hostapd: WPA2-PSK (CCMP) on 2.4 GHz, 802.11n, the regulatory domain announced (802.11d).
pub fn hostapd_conf(plan: &ApPlan) -> String {
    let mut text = header("hostapd: the garden's Wi-Fi access point.");
    let utf8 = if plan.ssid.is_ascii() {
        ""
    } else {
        "utf8_ssid=1\n"
    };
    let _ = write!(
        text,
        "interface={interface}
driver=nl80211
ssid={ssid}
{utf8}country_code={country}
ieee80211d=1
hw_mode=g
channel={channel}
ieee80211n=1
wmm_enabled=1
auth_algs=1
ignore_broadcast_ssid=0
macaddr_acl=0
wpa=2
wpa_key_mgmt=WPA-PSK
rsn_pairwise=CCMP
wpa_passphrase={passphrase}
",
        interface = plan.interface,
        ssid = plan.ssid,
        country = plan.country,
        channel = plan.channel,
        passphrase = plan.passphrase,
    );
    text
}

/// dnsmasq: DHCP pool, router and DNS pointing at the access point, the master's name and one
/// fixed lease per node asked for.
pub fn dnsmasq_conf(plan: &ApPlan) -> String {
    let mut text = header("dnsmasq: addresses and names on the garden's Wi-Fi.");
    let address = plan.address;
    let _ = write!(
        text,
        "interface={interface}
bind-dynamic
domain-needed
bogus-priv
domain={DOMAIN}
local=/{DOMAIN}/
dhcp-authoritative
dhcp-range={start},{end},{netmask},{LEASE_TIME}
dhcp-option=option:router,{address}
dhcp-option=option:dns-server,{address}
# The master by name: http://{name}.{DOMAIN}:8001
host-record={name}.{DOMAIN},{name},{address}
",
        interface = plan.interface,
        start = plan.pool_start,
        end = plan.pool_end,
        netmask = plan.netmask(),
        name = plan.name,
    );
    if !plan.leases.is_empty() {
        text.push_str(
            "# Fixed leases: each node always gets the same address and is known as ID.lan\n\
             # (a node prints its MAC when it boots).\n",
        );
    }
    for lease in &plan.leases {
        let _ = writeln!(
            text,
            "dhcp-host={},{},{}",
            format_mac(&lease.mac),
            lease.address,
            lease.node
        );
    }
    text
}

/// systemd-networkd: the access point's static address on the interface, also before a
/// client associates, without holding up boot.
pub fn networkd_unit(plan: &ApPlan) -> String {
    let mut text = header("systemd-networkd: the access point's static address.");
    let _ = write!(
        text,
        "[Match]
Name={interface}

[Link]
RequiredForOnline=no

[Network]
Address={address}/{prefix}
ConfigureWithoutCarrier=yes
LinkLocalAddressing=no
IPv6AcceptRA=no
",
        interface = plan.interface,
        address = plan.address,
        prefix = plan.prefix,
    );
    text
}

/// NetworkManager (Raspberry Pi OS bookworm): keep its hands off the access point's interface.
pub fn networkmanager_unmanaged(plan: &ApPlan) -> String {
    let mut text = header("NetworkManager: hostapd and systemd-networkd own this interface.");
    let _ = write!(
        text,
        "[keyfile]\nunmanaged-devices=interface-name:{}\n",
        plan.interface
    );
    text
}

fn install_steps(plan: &ApPlan, files: &[ApFile]) -> String {
    let mut text = format!(
        "PlantKeeper access point `{ssid}` on {interface}, {address}/{prefix}, channel {channel} ({country}).\n\
         DHCP pool {start} to {end}; the master is {name}.{DOMAIN} ({address}).\n\n\
         On the Raspberry Pi (Raspberry Pi OS bookworm), in this directory:\n\n\
         sudo apt-get install -y hostapd dnsmasq\n",
        ssid = plan.ssid,
        interface = plan.interface,
        address = plan.address,
        prefix = plan.prefix,
        channel = plan.channel,
        country = plan.country,
        start = plan.pool_start,
        end = plan.pool_end,
        name = plan.name,
    );
    for file in files {
        let _ = writeln!(
            text,
            "sudo install -m {:o} {} {}",
            file.mode, file.name, file.install_to
        );
    }
    text.push_str(
        "sudo rfkill unblock wlan\n\
         sudo systemctl restart NetworkManager\n\
         sudo systemctl enable --now systemd-networkd\n\
         sudo systemctl unmask hostapd\n\
         sudo systemctl enable --now hostapd\n\
         sudo systemctl restart dnsmasq\n\n",
    );
    let _ = writeln!(
        text,
        "Then in plantkeeper.toml: [master] listen = \"0.0.0.0:8001\" (and mdns = true), and in\n\
         each node's config.json: \"master_url\": \"http://{}:8001\".",
        plan.address
    );
    text
}
