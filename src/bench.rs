//! `plantkeeper bench`: the master's load benchmark (results in docs/BENCHMARKS.md).
//!
//! It writes a settings file for N nodes (one sensor-driven valve each) in a temporary
//! directory, starts the master from that file as a child process — so the memory measured is
//! the master's alone — and a trivial axum endpoint as another child process (the HTTP ceiling:
//! the same server stack doing no work). Then, over real HTTP/1.1 keep-alive connections:
//!
//! * **phase A**, maximum throughput: a closed loop of `--concurrency` connections for
//!   `--duration`, first against the ceiling, then against the master;
//! * **phase B**, paced: every node reports once a second, spread evenly (open loop), against
//!   the master, while its resident memory is sampled;
//! * **durability**: the master is stopped with SIGTERM and its SQLite file must hold exactly
//!   `acknowledged reports × readings` readings, else the command fails (exit 1).
//!
//! With `--database postgres://…` the master runs on PostgreSQL in a schema of the run's own
//! (dropped at the end), the durability check counts that schema's readings, and before the
//! master starts the same rows are written with raw binary `COPY` ([`postgres`]): the store's
//! ceiling, printed with the ratio.
//!
//! Speed is reported, never judged here: the table shows the ratio to the ceiling measured in
//! the same run.

mod ceiling;
mod children;
mod durability;
mod http_client;
mod latency;
mod load;
mod machine;
mod postgres;
mod reports;
mod settings_file;
mod table;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};

pub use self::ceiling::run_ceiling;
use self::children::ChildProcess;
use self::load::{PhaseResult, closed_loop, paced};
use self::postgres::BenchDatabase;
use self::reports::Reports;
use self::table::{PostgresSummary, Summary, print_summary};
use crate::cli::CommandError;

/// Options of `plantkeeper bench`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// How many simulated nodes (each with its own token, one sensor-driven valve).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub nodes: u32,
    /// How long each phase runs (e.g. `10s`).
    #[arg(long, default_value = "10s", value_parser = parse_phase_duration)]
    pub duration: Duration,
    /// Connections of the maximum-throughput phase (closed loop, keep-alive).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub concurrency: u32,
    /// Readings in each report.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub readings: u32,
    /// Do not measure the HTTP ceiling (the ratio column is then left out).
    #[arg(long)]
    pub skip_ceiling: bool,
    /// In phase B, open a new connection for every report and close it after the answer, as
    /// MicroPython's `urequests` does, instead of one keep-alive connection per node.
    #[arg(long)]
    pub connection_per_report: bool,
    /// Run the master on this PostgreSQL database (`postgres://USER@HOST[:PORT]/DATABASE`), in
    /// a schema of its own, and measure raw `COPY` of the same rows as the store's ceiling.
    #[arg(long, value_parser = parse_postgres_url)]
    pub database: Option<String>,
}

impl BenchArgs {
    /// The command line that reproduces this run, every option spelled out.
    pub fn command_line(&self) -> String {
        format!(
            "plantkeeper bench --nodes {} --duration {} --concurrency {} --readings {}{}{}",
            self.nodes,
            humantime::format_duration(self.duration),
            self.concurrency,
            self.readings,
            if self.skip_ceiling {
                " --skip-ceiling"
            } else {
                ""
            },
            if self.connection_per_report {
                " --connection-per-report"
            } else {
                ""
            }
        ) + &self
            .database
            .as_deref()
            .map(|url| {
                format!(
                    " --database {}",
                    plantkeeper_store::postgres::redacted_url(url)
                )
            })
            .unwrap_or_default()
    }
}

fn parse_postgres_url(text: &str) -> Result<String, String> {
    if plantkeeper_store::postgres::is_postgres_url(text) {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "expected a postgres://USER@HOST[:PORT]/DATABASE URL, got `{text}`"
        ))
    }
}

fn parse_phase_duration(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text).map_err(|error| error.to_string())?;
    if (Duration::from_secs(1)..=Duration::from_secs(3600)).contains(&duration) {
        Ok(duration)
    } else {
        Err(format!("a phase lasts from 1s to 1h, got {text}"))
    }
}

/// Runs the whole benchmark and prints its table; fails when the durability check does.
pub async fn run_bench(args: BenchArgs) -> Result<(), CommandError> {
    let Some(url) = args.database.as_deref() else {
        return run_bench_on(&args, None).await;
    };
    let mut database = BenchDatabase::create(url).await?;
    let result = run_bench_on(&args, Some(&mut database)).await;
    let dropped = database.drop_schema().await;
    result?;
    dropped?;
    Ok(())
}

/// The benchmark on SQLite, or on `database`'s schema.
async fn run_bench_on(
    args: &BenchArgs,
    mut database: Option<&mut BenchDatabase>,
) -> Result<(), CommandError> {
    let executable = std::env::current_exe().context("finding the plantkeeper executable")?;
    let workdir = tempfile::Builder::new()
        .prefix("plantkeeper-bench-")
        .tempdir()
        .context("creating the benchmark's temporary directory")?;

    let ceiling = if args.skip_ceiling {
        None
    } else {
        Some(measure_ceiling(&executable, args).await?)
    };
    let copy = match database.as_deref_mut() {
        Some(database) => Some(
            database
                .copy_ceiling(args.nodes, args.readings, args.duration)
                .await
                .context("the COPY ceiling")?,
        ),
        None => None,
    };

    let master_url = database.as_deref().map(BenchDatabase::master_url);
    let config = settings_file::write(workdir.path(), args.nodes, master_url.as_deref())?;
    let mut master = ChildProcess::start_master(&executable, &config, workdir.path()).await?;
    let reports = Arc::new(Reports::new(args.nodes, args.readings));
    let address = master.address();
    let throughput = closed_loop(
        address,
        Arc::clone(&reports),
        args.concurrency,
        args.duration,
    )
    .await
    .context("phase A against the master")?;
    let (paced_result, memory) = paced(
        address,
        Arc::clone(&reports),
        args.duration,
        args.connection_per_report,
        &master,
    )
    .await
    .context("phase B against the master")?;
    master.stop().await.context("stopping the master")?;

    let acknowledged = throughput.ok + paced_result.ok;
    let expected_readings = acknowledged * u64::from(args.readings);
    let stored_readings = match database.as_deref() {
        Some(database) => database.count_readings().await?,
        None => durability::count_readings(&config.database)?,
    };
    let postgres = match (database.as_deref(), copy) {
        (Some(database), Some(copy)) => Some(PostgresSummary {
            schema: database.schema.clone(),
            copy,
        }),
        _ => None,
    };
    let summary = Summary {
        command_line: args.command_line(),
        machine: machine::describe(),
        args,
        ceiling: ceiling.as_ref(),
        postgres,
        throughput: &throughput,
        paced: &paced_result,
        memory,
        acknowledged,
        expected_readings,
        stored_readings,
    };
    print_summary(&summary);
    if stored_readings != expected_readings {
        return Err(CommandError::Runtime(anyhow::anyhow!(
            "DURABILITY CHECK FAILED: {acknowledged} acknowledged reports × {} readings = \
             {expected_readings} expected, but the master's database holds {stored_readings} \
             (log: {})",
            args.readings,
            master.log_path().display()
        )));
    }
    Ok(())
}

/// Phase A against the ceiling process, which is stopped afterwards.
async fn measure_ceiling(executable: &Path, args: &BenchArgs) -> anyhow::Result<PhaseResult> {
    let mut ceiling = ChildProcess::start_ceiling(executable).await?;
    let result = closed_loop(
        ceiling.address(),
        Arc::new(Reports::new(args.nodes, args.readings)),
        args.concurrency,
        args.duration,
    )
    .await
    .context("phase A against the ceiling")?;
    ceiling.stop().await.context("stopping the ceiling")?;
    if result.ok == 0 {
        bail!(
            "the ceiling answered no report successfully: {}",
            result.first_error.as_deref().unwrap_or("no error recorded")
        );
    }
    Ok(result)
}
