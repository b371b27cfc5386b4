//! `plantkeeper ap-config`: the files of the access point, checked line by line, then by the
//! real tools — `dnsmasq --test`, and hostapd reading its file inside a private network
//! namespace (no wireless device there, so it stops at the driver after parsing). Without
//! dnsmasq, hostapd or `unshare`, those two print one `skipped:` line, or fail when
//! `PLANTKEEPER_REQUIRE_SERVICES=1` (CI installs dnsmasq-base and hostapd).

mod master_process;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use master_process::{Finished, run_to_exit};
use plantkeeper_store::testsuite::require_service;

const LIMIT: Duration = Duration::from_secs(20);

/// Runs `ap-config` with `args` writing into `dir/ap`.
fn ap_config(dir: &Path, args: &[&str]) -> Finished {
    let mut all = vec!["ap-config", "--out", "ap"];
    all.extend_from_slice(args);
    run_to_exit(dir, &all, LIMIT)
}

const GARDEN: [&str; 10] = [
    "--ssid",
    "Garden",
    "--passphrase",
    "correct horse battery",
    "--country",
    "DE",
    "--lease",
    "bed-1=24:6F:28:AA:BB:CC",
    "--lease",
    "tank=24-6f-28-aa-bb-cd",
];

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join("ap").join(name))
        .unwrap_or_else(|error| panic!("cannot read {name}: {error}"))
}

/// The `key=value` lines of a file, comments and blank lines left out; a key may repeat.
fn settings(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (key, value) = line
                .split_once('=')
                .unwrap_or_else(|| panic!("not key=value: {line}"));
            (key.to_owned(), value.to_owned())
        })
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect()
}

#[test]
fn writes_hostapd_dnsmasq_and_the_static_address() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let run = ap_config(dir.path(), &GARDEN);
    assert_eq!(run.code(), 0, "{}", run.stderr);
    for name in [
        "hostapd.conf",
        "dnsmasq-plantkeeper.conf",
        "10-plantkeeper-ap.network",
        "99-plantkeeper-unmanaged.conf",
        "INSTALL.txt",
    ] {
        assert!(
            run.stdout.contains(&format!("wrote ap/{name}")),
            "{name}: {}",
            run.stdout
        );
    }

    let hostapd: BTreeMap<String, String> = settings(&read(dir.path(), "hostapd.conf"))
        .into_iter()
        .collect();
    let expected: BTreeMap<String, String> = pairs(&[
        ("interface", "wlan0"),
        ("driver", "nl80211"),
        ("ssid", "Garden"),
        ("country_code", "DE"),
        ("ieee80211d", "1"),
        ("hw_mode", "g"),
        ("channel", "6"),
        ("ieee80211n", "1"),
        ("wmm_enabled", "1"),
        ("auth_algs", "1"),
        ("ignore_broadcast_ssid", "0"),
        ("macaddr_acl", "0"),
        ("wpa", "2"),
        ("wpa_key_mgmt", "WPA-PSK"),
        ("rsn_pairwise", "CCMP"),
        ("wpa_passphrase", "correct horse battery"),
    ])
    .into_iter()
    .collect();
    assert_eq!(hostapd, expected);
    let mode = std::fs::metadata(dir.path().join("ap/hostapd.conf"))
        .expect("hostapd.conf exists")
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o777,
        0o600,
        "the passphrase is readable by root only"
    );

    assert_eq!(
        lines(&read(dir.path(), "dnsmasq-plantkeeper.conf")),
        [
            "interface=wlan0",
            "bind-dynamic",
            "domain-needed",
            "bogus-priv",
            "domain=lan",
            "local=/lan/",
            "dhcp-authoritative",
            "dhcp-range=10.3.141.50,10.3.141.254,255.255.255.0,12h",
            "dhcp-option=option:router,10.3.141.1",
            "dhcp-option=option:dns-server,10.3.141.1",
            "host-record=plantkeeper.lan,plantkeeper,10.3.141.1",
            "dhcp-host=24:6f:28:aa:bb:cc,10.3.141.10,bed-1",
            "dhcp-host=24:6f:28:aa:bb:cd,10.3.141.11,tank",
        ]
    );
    assert_eq!(
        lines(&read(dir.path(), "10-plantkeeper-ap.network")),
        [
            "[Match]",
            "Name=wlan0",
            "[Link]",
            "RequiredForOnline=no",
            "[Network]",
            "Address=10.3.141.1/24",
            "ConfigureWithoutCarrier=yes",
            "LinkLocalAddressing=no",
            "IPv6AcceptRA=no",
        ]
    );
    assert_eq!(
        lines(&read(dir.path(), "99-plantkeeper-unmanaged.conf")),
        ["[keyfile]", "unmanaged-devices=interface-name:wlan0"]
    );
    let install = read(dir.path(), "INSTALL.txt");
    for step in [
        "sudo install -m 600 hostapd.conf /etc/hostapd/hostapd.conf",
        "sudo install -m 644 dnsmasq-plantkeeper.conf /etc/dnsmasq.d/plantkeeper.conf",
        "sudo install -m 644 10-plantkeeper-ap.network /etc/systemd/network/10-plantkeeper-ap.network",
        "sudo systemctl unmask hostapd",
    ] {
        assert!(install.contains(step), "{step}: {install}");
    }
    assert!(run.stdout.contains(&install), "the steps are printed too");
}

/// The lines of a file without comments and blank lines.
fn lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .collect()
}

#[test]
fn options_change_every_file() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let run = ap_config(
        dir.path(),
        &[
            "--ssid",
            "Gärten 2",
            "--passphrase",
            "12345678",
            "--country",
            "US",
            "--channel",
            "11",
            "--interface",
            "wlan1",
            "--address",
            "192.168.50.5/26",
            "--dhcp-range",
            "192.168.50.20,192.168.50.60",
            "--name",
            "greenhouse",
            "--lease",
            "n1=02:00:00:00:00:01",
        ],
    );
    assert_eq!(run.code(), 0, "{}", run.stderr);
    let hostapd = settings(&read(dir.path(), "hostapd.conf"));
    for expected in [
        ("interface", "wlan1"),
        ("ssid", "Gärten 2"),
        ("utf8_ssid", "1"),
        ("country_code", "US"),
        ("channel", "11"),
        ("wpa_passphrase", "12345678"),
    ] {
        assert!(
            hostapd.contains(&(expected.0.to_owned(), expected.1.to_owned())),
            "{expected:?} in {hostapd:?}"
        );
    }
    let dnsmasq = read(dir.path(), "dnsmasq-plantkeeper.conf");
    for expected in [
        "interface=wlan1\n",
        "dhcp-range=192.168.50.20,192.168.50.60,255.255.255.192,12h\n",
        "host-record=greenhouse.lan,greenhouse,192.168.50.5\n",
        "dhcp-option=option:router,192.168.50.5\n",
        // Host .10 of 192.168.50.0/26 is free (the pool starts at .20).
        "dhcp-host=02:00:00:00:00:01,192.168.50.10,n1\n",
    ] {
        assert!(dnsmasq.contains(expected), "{expected} in {dnsmasq}");
    }
    assert!(read(dir.path(), "10-plantkeeper-ap.network").contains("Address=192.168.50.5/26\n"));
    assert!(read(dir.path(), "99-plantkeeper-unmanaged.conf").contains("interface-name:wlan1\n"));
}

#[test]
fn invalid_options_name_the_option_and_write_nothing() {
    let cases: [(&[&str], &str); 12] = [
        (
            &["--ssid", ""],
            "error: --ssid: a network name has 1 to 32 bytes, `` has 0",
        ),
        (
            &["--ssid", &"x".repeat(33)],
            "error: --ssid: a network name has 1 to 32 bytes",
        ),
        (&["--ssid", "a\nb"], "error: --ssid: control characters"),
        (
            &["--passphrase", "short"],
            "error: --passphrase: a WPA2 passphrase has 8 to 63 characters, this one has 5",
        ),
        (
            &["--passphrase", &"p".repeat(64)],
            "error: --passphrase: a WPA2 passphrase has 8 to 63 characters, this one has 64",
        ),
        (
            &["--passphrase", "pässword123"],
            "error: --passphrase: a WPA2 passphrase is printable ASCII (space to `~`); character 2 is not",
        ),
        (
            &["--country", "UK"],
            "error: --country: expected an ISO 3166-1 alpha-2 country code such as `DE`, `FR` or `US`, got `UK` (the United Kingdom is `GB`)",
        ),
        (&["--country", "de"], "(upper case: `DE`)"),
        (
            &["--channel", "14"],
            "error: --channel: channel 14 is 802.11b in Japan only",
        ),
        (
            &["--country", "US", "--channel", "13"],
            "error: --channel: channel 13 is not allowed in US",
        ),
        (
            &["--lease", "bed-1=24:6f:28:aa:bb"],
            "error: --lease: `bed-1=24:6f:28:aa:bb`: expected a MAC address",
        ),
        (
            &["--lease", "Bed=24:6f:28:aa:bb:cc"],
            "error: --lease: `Bed` in `Bed=24:6f:28:aa:bb:cc`: node ids start",
        ),
    ];
    for (changes, expected) in cases {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut args: Vec<&str> = GARDEN[..6].to_vec();
        for pair in changes.chunks(2) {
            match args.iter().position(|arg| *arg == pair[0]) {
                Some(index) => args[index + 1] = pair[1],
                None => args.extend_from_slice(pair),
            }
        }
        let run = ap_config(dir.path(), &args);
        assert_eq!(run.code(), 2, "{changes:?}: {}", run.stderr);
        assert!(run.stderr.contains(expected), "{changes:?}: {}", run.stderr);
        assert!(!dir.path().join("ap").exists(), "{changes:?} wrote files");
        if changes[0] == "--passphrase" {
            assert!(
                !run.stderr.contains(changes[1]),
                "the passphrase was echoed: {}",
                run.stderr
            );
        }
    }
    // Every mistake at once, one line each.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let run = ap_config(
        dir.path(),
        &[
            "--ssid",
            "",
            "--passphrase",
            "x",
            "--country",
            "XX",
            "--interface",
            "wlan 0",
            "--address",
            "10.3.141.255/24",
            "--name=-pk",
        ],
    );
    assert_eq!(run.code(), 2);
    let options: Vec<&str> = run
        .stderr_lines()
        .iter()
        .map(|line| line.split(':').nth(1).unwrap_or_default().trim())
        .collect();
    assert_eq!(
        options,
        [
            "--ssid",
            "--passphrase",
            "--country",
            "--interface",
            "--address",
            "--name"
        ],
        "{}",
        run.stderr
    );
}

/// Whether `dnsmasq` can be run (skip-or-fail otherwise).
fn dnsmasq_available() -> bool {
    let available = Command::new("dnsmasq")
        .arg("--version")
        .output()
        .map_err(|error| format!("{error} (apt-get install dnsmasq-base)"))
        .map(|_| ());
    require_service("dnsmasq", "PATH", available)
}

#[test]
fn dnsmasq_accepts_the_file() {
    if !dnsmasq_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    assert_eq!(ap_config(dir.path(), &GARDEN).code(), 0);
    let file = dir.path().join("ap/dnsmasq-plantkeeper.conf");
    let test = |path: &Path| {
        Command::new("dnsmasq")
            .arg("--test")
            .arg(format!("--conf-file={}", path.display()))
            .output()
            .expect("dnsmasq runs")
    };
    let output = test(&file);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The check can fail: a misspelt option is refused.
    let broken = dir.path().join("broken.conf");
    std::fs::write(
        &broken,
        read(dir.path(), "dnsmasq-plantkeeper.conf").replace("dhcp-range", "dhcp-rnage"),
    )
    .expect("written");
    assert!(
        !test(&broken).status.success(),
        "dnsmasq accepted a misspelt option"
    );
}

#[test]
fn the_raspap_snippet_matches_ap_config_and_dnsmasq_accepts_it() {
    let snippet =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/raspap/dnsmasq-plantkeeper.conf");
    let text = std::fs::read_to_string(&snippet).expect("the RaspAP snippet exists");
    let dir = tempfile::tempdir().expect("a temporary directory");
    assert_eq!(ap_config(dir.path(), &GARDEN).code(), 0);
    let generated = read(dir.path(), "dnsmasq-plantkeeper.conf");
    let name_line = "host-record=plantkeeper.lan,plantkeeper,10.3.141.1\n";
    assert!(generated.contains(name_line) && text.contains(name_line));
    assert!(text.contains("dhcp-host=24:6f:28:a1:b2:c3,10.3.141.10,bed-1\n"));

    if !dnsmasq_available() {
        return;
    }
    let output = Command::new("dnsmasq")
        .arg("--test")
        .arg(format!("--conf-file={}", snippet.display()))
        .output()
        .expect("dnsmasq runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn hostapd_reads_the_file_without_errors() {
    let available = Command::new("hostapd")
        .arg("-v")
        .output()
        .map_err(|error| format!("{error} (apt-get install hostapd)"))
        .and_then(|_| {
            let output = Command::new("unshare")
                .args(["-n", "true"])
                .output()
                .map_err(|error| format!("cannot run `unshare`: {error}"))?;
            if output.status.success() {
                Ok(())
            } else {
                Err(
                    "`unshare -n` failed: hostapd is only run in a namespace without Wi-Fi devices"
                        .to_owned(),
                )
            }
        });
    if !require_service("hostapd in a private network namespace", "PATH", available) {
        return;
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let args: Vec<&str> = GARDEN
        .iter()
        .map(|arg| if *arg == "Garden" { "Gärten" } else { arg })
        .collect();
    assert_eq!(ap_config(dir.path(), &args).code(), 0);
    let parse = |path: &Path| -> String {
        // No wireless device exists in the new namespace: hostapd parses the file, then
        // fails to start the driver and exits.
        let output = Command::new("timeout")
            .args(["10", "unshare", "-n", "--", "hostapd", "-d"])
            .arg(path)
            .output()
            .expect("hostapd runs");
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    };
    let file = dir.path().join("ap/hostapd.conf");
    let log = parse(&file);
    assert!(log.contains("Configuration file:"), "{log}");
    assert!(!log.contains("errors found in configuration file"), "{log}");
    assert!(
        log.contains("nl80211"),
        "hostapd got past the configuration to the driver: {log}"
    );
    // The check can fail: an unknown item is reported.
    let broken = dir.path().join("broken.conf");
    std::fs::write(
        &broken,
        read(dir.path(), "hostapd.conf").replace("wpa_key_mgmt", "wpa_keymgmt"),
    )
    .expect("written");
    let log = parse(&broken);
    assert!(
        log.contains("unknown configuration item 'wpa_keymgmt'"),
        "{log}"
    );
}
