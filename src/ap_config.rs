//! `plantkeeper ap-config`: writes the configuration of the garden's Wi-Fi access point for a
//! plain hostapd + dnsmasq setup on a Raspberry Pi (docs/raspberry-pi.md): `plan` validates the
//! options (`network` the addresses and leases, `countries` the country code), `render`
//! produces the files, this module writes them.

mod countries;
mod network;
pub mod plan;
pub mod render;

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use plan::{ApRequest, plan};
use render::{ApFile, render};

/// Options of `ap-config`.
#[derive(Debug, Clone, clap::Args)]
pub struct ApConfigArgs {
    /// The network's name (SSID), 1 to 32 bytes.
    #[arg(long)]
    pub ssid: String,
    /// The WPA2 passphrase, 8 to 63 printable ASCII characters.
    #[arg(long)]
    pub passphrase: String,
    /// ISO 3166-1 alpha-2 country code (`DE`, `GB`, `US`): the channels and power allowed.
    #[arg(long)]
    pub country: String,
    /// 2.4 GHz channel, 1 to 13 (1 to 11 in US and CA); 1, 6 and 11 do not overlap.
    #[arg(long, default_value = "6")]
    pub channel: String,
    /// The wireless interface that becomes the access point.
    #[arg(long, default_value = "wlan0")]
    pub interface: String,
    /// The access point's (the master's) address and prefix.
    #[arg(long, default_value = "10.3.141.1/24")]
    pub address: String,
    /// The DHCP pool `START,END`; default host .50 to the last host (RaspAP's).
    #[arg(long)]
    pub dhcp_range: Option<String>,
    /// A fixed lease `NODE=MAC` (repeat for each node): addresses from host .10 upward.
    #[arg(long = "lease", value_name = "NODE=MAC")]
    pub leases: Vec<String>,
    /// The master's name on the network: `NAME.lan`.
    #[arg(long, default_value = "plantkeeper")]
    pub name: String,
    /// Where to write the files (created if missing; files in it are replaced).
    #[arg(long, default_value = "plantkeeper-ap")]
    pub out: PathBuf,
}

/// Runs `ap-config`: exit 0 with the files written and the install steps printed, 2 listing
/// every invalid option as `--OPTION: message`, 1 when a file cannot be written.
pub fn run_ap_config(args: &ApConfigArgs) -> ExitCode {
    let request = ApRequest {
        ssid: args.ssid.clone(),
        passphrase: args.passphrase.clone(),
        country: args.country.clone(),
        channel: args.channel.clone(),
        interface: args.interface.clone(),
        address: args.address.clone(),
        dhcp_range: args.dhcp_range.clone(),
        leases: args.leases.clone(),
        name: args.name.clone(),
    };
    let plan = match plan(&request) {
        Ok(plan) => plan,
        Err(errors) => {
            for error in errors {
                eprintln!("error: {error}");
            }
            return ExitCode::from(2);
        }
    };
    let files = render(&plan);
    if let Err(error) = write_all(&args.out, &files) {
        eprintln!("error: {error:#}");
        return ExitCode::from(1);
    }
    for file in &files {
        println!("wrote {}", args.out.join(file.name).display());
    }
    if let Some(install) = files.iter().find(|file| file.name == "INSTALL.txt") {
        print!("\n{}", install.text);
    }
    ExitCode::SUCCESS
}

fn write_all(dir: &Path, files: &[ApFile]) -> anyhow::Result<()> {
    use anyhow::Context as _;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for file in files {
        let path = dir.join(file.name);
        // Replace, never edit in place: the new file gets its own mode (0600 for secrets).
        let _ = std::fs::remove_file(&path);
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(file.mode)
            .open(&path)
            .and_then(|mut out| out.write_all(file.text.as_bytes()))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
