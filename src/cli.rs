//! Command-line parsing (CONTRACT §1) and dispatch. Exit codes: 0 ok, 2 usage or invalid
//! config, 1 runtime failure.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// PlantKeeper: the master decides, nodes obey, plants live.
#[derive(Debug, Parser)]
#[command(name = "plantkeeper", version, about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the master with a simulated garden on the embedded store.
    Demo(DemoArgs),
    /// Run the master.
    Serve {
        /// The settings file.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Validate a settings file: every error with file, line, column and field.
    Check {
        /// The settings file.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Manage nodes: `node add ID` provisions one (token, settings block, config.json).
    Node {
        /// What to do with nodes.
        #[command(subcommand)]
        command: NodeCommand,
    },
    /// Dashboard administration: `admin set-password` stores the dashboard password's hash.
    Admin {
        /// What to do.
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Write the Wi-Fi access point's files (hostapd, dnsmasq, static address) for a Raspberry Pi.
    ApConfig(crate::ap_config::ApConfigArgs),
    /// Export a node's readings as CSV or JSON Lines (docs/export.md).
    Export(crate::export::ExportArgs),
    /// Measure the master under load: reports/s, latency, memory, durability (docs/BENCHMARKS.md).
    Bench(crate::bench::BenchArgs),
    /// Ask a running master's /healthz: exit 0 when healthy, 1 otherwise (container HEALTHCHECK).
    Healthcheck(crate::healthcheck::HealthcheckArgs),
    /// The benchmark's HTTP ceiling: a trivial report endpoint (started by `bench`).
    #[command(hide = true)]
    BenchCeiling {
        /// Where to listen; the bound address is printed on stdout.
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
    },
}

/// The `node` subcommands.
#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// Print a fresh token, the `[nodes.ID]` block and a config.json for a new node.
    Add(crate::node_add::NodeAddArgs),
}

/// The `admin` subcommands.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Store the dashboard password (read twice from stdin, or from --password-file) as an
    /// argon2id hash in `[dashboard] password_file`.
    SetPassword(crate::admin::SetPasswordArgs),
}

/// Options of `demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Where the dashboard and API listen.
    #[arg(long, default_value = "127.0.0.1:8001")]
    pub listen: SocketAddr,
    /// Where the demo keeps its settings, database and admin token.
    #[arg(long, default_value = "./plantkeeper-demo")]
    pub data: PathBuf,
    /// Run simulated time this many times faster than real time (1 to 10000).
    #[arg(long, default_value_t = 1.0, value_parser = parse_speed)]
    pub speed: f64,
    /// Stop by itself after this much real time (e.g. `30s`); runs until Ctrl-C otherwise.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub run_for: Option<std::time::Duration>,
}

fn parse_speed(text: &str) -> Result<f64, String> {
    let speed: f64 = text
        .parse()
        .map_err(|_| format!("expected a number such as 60, got `{text}`"))?;
    if speed.is_finite() && (1.0..=10_000.0).contains(&speed) {
        Ok(speed)
    } else {
        Err(format!("speed must be from 1 to 10000, got {text}"))
    }
}

/// Runs a parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    if matches!(
        cli.command,
        Command::Check { .. } | Command::Node { .. } | Command::ApConfig(_)
    ) {
        crate::sigpipe::exit_quietly_on_closed_output();
    }
    match cli.command {
        Command::Check { config } => crate::check::run_check(&config),
        Command::Serve { config } => runtime_then(|| crate::serve::run_serve(config)),
        Command::Demo(args) => runtime_then(|| crate::demo::run_demo(args)),
        Command::Node {
            command: NodeCommand::Add(args),
        } => crate::node_add::run_node_add(&args),
        Command::Admin {
            command: AdminCommand::SetPassword(args),
        } => crate::admin::run_set_password(&args),
        Command::ApConfig(args) => crate::ap_config::run_ap_config(&args),
        Command::Export(args) => runtime_then(|| crate::export::run_export(args)),
        Command::Bench(args) => runtime_then(|| crate::bench::run_bench(args)),
        Command::Healthcheck(args) => runtime_then(|| crate::healthcheck::run_healthcheck(args)),
        Command::BenchCeiling { listen } => runtime_then(|| crate::bench::run_ceiling(listen)),
    }
}

/// Runs an async command on a fresh runtime, mapping its error to exit code 1 (or 2 for
/// invalid settings).
fn runtime_then<F, Fut>(command: F) -> ExitCode
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<(), CommandError>>,
{
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(command()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(CommandError::InvalidSettings(lines)) => {
            for line in lines {
                eprintln!("{line}");
            }
            ExitCode::from(2)
        }
        Err(CommandError::Runtime(error)) => {
            eprintln!("error: {error:#}");
            ExitCode::from(1)
        }
    }
}

/// Why a command failed.
#[derive(Debug)]
pub enum CommandError {
    /// The settings are invalid: one line per error (exit 2).
    InvalidSettings(Vec<String>),
    /// Anything else (exit 1).
    Runtime(anyhow::Error),
}

impl<E: Into<anyhow::Error>> From<E> for CommandError {
    fn from(error: E) -> Self {
        CommandError::Runtime(error.into())
    }
}
