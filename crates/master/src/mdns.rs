//! The master advertises itself over multicast DNS (`[master] mdns = true`): the service
//! `NAME._plantkeeper._tcp.local.` on the listen port, and the host `NAME.local.` with the
//! addresses nodes can reach — those of every non-loopback interface when the master listens
//! on an unspecified address (`0.0.0.0` or `[::]`), else only the listen address, announced on
//! its own interface. The advertisement is withdrawn (goodbye packets) by [`Advertisement::stop`].

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use anyhow::Context;
use mdns_sd::{IfKind, ServiceDaemon, ServiceInfo, UnregisterStatus};

/// The DNS-SD service type of a PlantKeeper master.
pub const SERVICE_TYPE: &str = "_plantkeeper._tcp.local.";

/// How long [`Advertisement::stop`] waits for the daemon to send the goodbye and to exit.
const STOP_TIMEOUT: Duration = Duration::from_secs(3);

/// A running advertisement; call [`Advertisement::stop`] to withdraw it.
pub struct Advertisement {
    daemon: ServiceDaemon,
    fullname: String,
}

impl Advertisement {
    /// Advertises `name` (a DNS label) for a master bound to `listen`. TXT records: `version`
    /// (this build) and `api` (`/api/v1`).
    pub fn start(name: &str, listen: SocketAddr) -> anyhow::Result<Advertisement> {
        let daemon = ServiceDaemon::new()
            .context("cannot start the mDNS responder (multicast DNS on UDP 5353)")?;
        let host = format!("{name}.local.");
        let properties = [("version", env!("CARGO_PKG_VERSION")), ("api", "/api/v1")];
        // A wildcard listen announces the addresses of its family's interfaces (`0.0.0.0`
        // takes IPv4 only: no IPv6 address nodes could not use); a specific one only itself.
        let wildcard_excludes: Option<&[IfKind]> = match listen.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => Some(&[IfKind::IPv6, IfKind::LoopbackV4]),
            IpAddr::V6(ip) if ip.is_unspecified() => {
                Some(&[IfKind::LoopbackV4, IfKind::LoopbackV6])
            }
            _ => None,
        };
        let info = match wildcard_excludes {
            Some(excluded) => {
                select(&daemon, false, excluded)?;
                ServiceInfo::new(
                    SERVICE_TYPE,
                    name,
                    &host,
                    (),
                    listen.port(),
                    &properties[..],
                )
                .map(ServiceInfo::enable_addr_auto)
            }
            None => {
                let ip = listen.ip();
                select(&daemon, false, &[IfKind::All])?;
                select(&daemon, true, &[IfKind::Addr(ip)])?;
                ServiceInfo::new(
                    SERVICE_TYPE,
                    name,
                    &host,
                    ip,
                    listen.port(),
                    &properties[..],
                )
            }
        }
        .context("cannot describe the mDNS service")?;
        let fullname = info.get_fullname().to_owned();
        daemon
            .register(info)
            .context("cannot register the mDNS service")?;
        Ok(Advertisement { daemon, fullname })
    }

    /// The advertised instance, e.g. `plantkeeper._plantkeeper._tcp.local.`.
    pub fn fullname(&self) -> &str {
        &self.fullname
    }

    /// Withdraws the service (the daemon sends goodbye records, so browsers drop it at once)
    /// and stops the responder. Blocks for at most a few seconds.
    pub fn stop(self) -> anyhow::Result<()> {
        let unregistered = self
            .daemon
            .unregister(&self.fullname)
            .context("cannot withdraw the mDNS service")?
            .recv_timeout(STOP_TIMEOUT)
            .context("the mDNS responder did not confirm the withdrawal")?;
        if !matches!(unregistered, UnregisterStatus::OK) {
            anyhow::bail!("the mDNS service {} was not registered", self.fullname);
        }
        self.daemon
            .shutdown()
            .context("cannot stop the mDNS responder")?
            .recv_timeout(STOP_TIMEOUT)
            .context("the mDNS responder did not stop")?;
        Ok(())
    }
}

/// Enables (`on`) or disables the interfaces of `kinds` in the daemon; later calls override
/// earlier ones.
fn select(daemon: &ServiceDaemon, on: bool, kinds: &[IfKind]) -> anyhow::Result<()> {
    let kinds = kinds.to_vec();
    let result = if on {
        daemon.enable_interface(kinds)
    } else {
        daemon.disable_interface(kinds)
    };
    result.context("cannot choose the mDNS interfaces")
}
