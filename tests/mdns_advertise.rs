//! `[master] mdns = true`: `plantkeeper serve` advertises `_plantkeeper._tcp.local.` with host
//! `plantkeeper.local.`, its port and its non-loopback addresses, and withdraws it on SIGTERM —
//! observed by a real mDNS querier (mdns-sd browsing in this process).
//!
//! Multicast must not leave this machine, so the test runs in a private network namespace
//! made with `unshare -n` (root): its own loopback, and a veth pair `pk0`/`pk1` with the access
//! point's address 10.3.141.1/24 (and a second one, .2) on `pk0`. The outer test re-runs this test binary inside it for
//! the ignored inner test. Without `unshare`/`ip` or the right to make a namespace it prints one
//! `skipped:` line, or fails when `PLANTKEEPER_REQUIRE_SERVICES=1`.

mod master_process;

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use master_process::{BINARY, ChildGuard, free_port, garden_toml};
use mdns_sd::{ServiceDaemon, ServiceEvent};
use plantkeeper_store::testsuite::require_service;

/// Set inside the namespace, for the inner test.
const INSIDE_ENV: &str = "PLANTKEEPER_TEST_MDNS_NETNS";
/// The address the master has on the namespace's "access point" interface.
const AP_ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 3, 141, 1);
/// A second address on the same interface.
const SECOND_ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 3, 141, 2);
/// The interfaces of the namespace: the inner test refuses to run anywhere else.
const NAMESPACE_INTERFACES: [&str; 3] = ["lo", "pk0", "pk1"];
/// Builds the namespace's network, then runs the inner test (`$0` is this test binary).
const SETUP: &str = "set -e
ip link set lo up
ip link add pk0 type veth peer name pk1
ip addr add 10.3.141.1/24 dev pk0
ip addr add 10.3.141.2/24 dev pk0
ip link set pk0 up
ip link set pk1 up
exec \"$0\" --exact inner_advertises_and_withdraws --ignored --nocapture --test-threads 1";
/// How long a browser may wait for the announcement (probing takes about a second).
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(15);

#[test]
fn serve_advertises_and_withdraws_over_mdns() {
    let available = Command::new("unshare")
        .args(["-n", "--", "ip", "link", "show", "lo"])
        .output()
        .map_err(|error| format!("cannot run `unshare`: {error}"))
        .and_then(|output| {
            if output.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "`unshare -n ip link` failed (root and iproute2 are needed): {}",
                    String::from_utf8_lossy(&output.stderr).trim()
                ))
            }
        });
    if !require_service("a private network namespace", "unshare -n", available) {
        return;
    }
    let test_binary = std::env::current_exe().expect("the test binary's path");
    let output = Command::new("unshare")
        .args(["-n", "--", "sh", "-c", SETUP])
        .arg(test_binary)
        .env(INSIDE_ENV, "1")
        .output()
        .expect("unshare runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the inner test failed in the namespace ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains("test inner_advertises_and_withdraws ... ok"),
        "the inner test did not run:\n{stdout}\n{stderr}"
    );
}

#[test]
#[ignore = "run by serve_advertises_and_withdraws_over_mdns inside a private network namespace"]
fn inner_advertises_and_withdraws() {
    assert_inside_namespace();
    let browser = ServiceDaemon::new().expect("an mDNS querier");
    let events = browser
        .browse("_plantkeeper._tcp.local.")
        .expect("browsing starts");
    // On 0.0.0.0 with the default name: both addresses of pk0, not loopback, no IPv6.
    advertised_then_withdrawn(
        &events,
        "mdns = true\nlisten = \"0.0.0.0:",
        "plantkeeper",
        &[AP_ADDRESS, SECOND_ADDRESS],
    );
    // On one address with another name: that address only.
    advertised_then_withdrawn(
        &events,
        "mdns = true\nmdns_name = \"greenhouse\"\nlisten = \"10.3.141.1:",
        "greenhouse",
        &[AP_ADDRESS],
    );
    let _ = browser.shutdown();
}

/// Starts `plantkeeper serve` with `listen_line` in place of the test garden's loopback
/// `listen = "127.0.0.1:` prefix; checks that `name` is resolved with the port and exactly
/// `addresses`, then that SIGTERM withdraws it.
fn advertised_then_withdrawn(
    events: &mdns_sd::Receiver<ServiceEvent>,
    listen_line: &str,
    name: &str,
    addresses: &[Ipv4Addr],
) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let port = free_port();
    let config = dir.path().join("plantkeeper.toml");
    let settings = garden_toml(port, "").replace("listen = \"127.0.0.1:", listen_line);
    std::fs::write(&config, settings).expect("settings written");
    let stderr_path = dir.path().join("stderr.log");
    let stderr = std::fs::File::create(&stderr_path).expect("a log file");
    let mut master = ChildGuard::spawn(
        Command::new(BINARY)
            .args(["serve", "--config"])
            .arg(&config)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr),
    );
    let log = || std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let fullname = format!("{name}._plantkeeper._tcp.local.");

    let resolved = next_event(events, RESOLVE_TIMEOUT, |event| match event {
        ServiceEvent::ServiceResolved(service) if service.get_fullname() == fullname => {
            Some(service)
        }
        _ => None,
    })
    .unwrap_or_else(|| {
        panic!(
            "no {fullname} resolved within {RESOLVE_TIMEOUT:?}; master stderr: {}",
            log()
        )
    });
    assert_eq!(resolved.get_hostname(), format!("{name}.local."));
    assert_eq!(resolved.get_port(), port);
    let found: BTreeSet<IpAddr> = resolved
        .get_addresses()
        .iter()
        .map(|address| address.to_ip_addr())
        .collect();
    let expected: BTreeSet<IpAddr> = addresses.iter().copied().map(IpAddr::V4).collect();
    assert_eq!(found, expected, "{listen_line}");
    assert_eq!(
        resolved
            .get_property_val_str("version")
            .expect("a version TXT record"),
        env!("CARGO_PKG_VERSION")
    );

    master.sigterm();
    let status = master
        .wait_for_exit(Duration::from_secs(10))
        .expect("the master stops on SIGTERM");
    assert!(status.success(), "exit {status}: {}", log());
    let removed = next_event(events, Duration::from_secs(5), |event| match event {
        ServiceEvent::ServiceRemoved(_, removed) if removed == fullname => Some(()),
        _ => None,
    });
    assert!(
        removed.is_some(),
        "{fullname} was not withdrawn within 5 s of SIGTERM; master stderr: {}",
        log()
    );
}

/// The first event within `limit` that `wanted` maps to something (blocking: the master is
/// another process, nothing else runs on this test's runtime meanwhile).
fn next_event<T>(
    events: &mdns_sd::Receiver<ServiceEvent>,
    limit: Duration,
    wanted: impl Fn(ServiceEvent) -> Option<T>,
) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        if let Some(found) = wanted(events.recv_timeout(left).ok()?) {
            return Some(found);
        }
    }
}

/// Panics unless this process sees exactly the namespace's interfaces, so the inner test can
/// never multicast on a real network by mistake (e.g. under `cargo test -- --ignored`).
fn assert_inside_namespace() {
    assert_eq!(
        std::env::var(INSIDE_ENV).as_deref(),
        Ok("1"),
        "run only by serve_advertises_and_withdraws_over_mdns"
    );
    // /proc/self/net follows this process's namespace (/sys/class/net follows sysfs's mount).
    let devices = std::fs::read_to_string("/proc/self/net/dev").expect("/proc/self/net/dev");
    let interfaces: BTreeSet<String> = devices
        .lines()
        .filter_map(|line| Some(line.split_once(':')?.0.trim().to_owned()))
        .filter(|name| !name.contains(' ') && !name.contains('|'))
        .collect();
    assert_eq!(
        interfaces,
        NAMESPACE_INTERFACES
            .iter()
            .map(|name| name.to_string())
            .collect(),
        "not inside the test's network namespace"
    );
}
