//! The benchmark's printed results: a table, the master's memory, the durability check and the
//! command line that reproduces the run.

use std::time::Duration;

use super::BenchArgs;
use super::children::MemoryUsage;
use super::load::{PACED_PERIOD, PhaseResult};
use super::postgres::CopyResult;

/// Everything one run measured.
pub struct Summary<'a> {
    /// The command that reproduces the run.
    pub command_line: String,
    /// CPU count and model.
    pub machine: String,
    /// The options.
    pub args: &'a BenchArgs,
    /// Phase A against the ceiling, unless skipped.
    pub ceiling: Option<&'a PhaseResult>,
    /// The PostgreSQL run's schema and COPY ceiling, with `--database`.
    pub postgres: Option<PostgresSummary>,
    /// Phase A against the master.
    pub throughput: &'a PhaseResult,
    /// Phase B against the master.
    pub paced: &'a PhaseResult,
    /// The master's memory during phase B.
    pub memory: MemoryUsage,
    /// Reports the master answered 200 in both phases.
    pub acknowledged: u64,
    /// `acknowledged × readings`.
    pub expected_readings: u64,
    /// Readings found in the database after the master stopped.
    pub stored_readings: u64,
}

/// What a `--database` run adds.
pub struct PostgresSummary {
    /// The run's schema.
    pub schema: String,
    /// The raw `COPY` of the same rows.
    pub copy: CopyResult,
}

/// Prints the summary on stdout.
pub fn print_summary(summary: &Summary<'_>) {
    print!("{}", render(summary));
}

fn render(summary: &Summary<'_>) -> String {
    let args = summary.args;
    let mut out = String::new();
    out.push_str("PlantKeeper master load benchmark\n");
    out.push_str(&format!("machine:  {}\n", summary.machine));
    out.push_str(&format!(
        "load:     {} nodes (one valve each), {} readings per report, {} per phase\n",
        args.nodes,
        args.readings,
        humantime::format_duration(args.duration)
    ));
    out.push_str(&format!("command:  {}\n\n", summary.command_line));
    out.push_str(&format!(
        "{:<40} {:>10} {:>8} {:>8} {:>8} {:>7}\n",
        "phase", "reports/s", "p50 ms", "p99 ms", "max ms", "errors"
    ));
    let closed = format!("{} connections, closed loop", args.concurrency);
    if let Some(ceiling) = summary.ceiling {
        out.push_str(&row(&format!("A  ceiling, {closed}"), ceiling));
    }
    out.push_str(&row(&format!("A  master, {closed}"), summary.throughput));
    if let Some(ceiling) = summary.ceiling {
        let ratio = summary.throughput.per_second() / ceiling.per_second().max(f64::MIN_POSITIVE);
        out.push_str(&format!(
            "{:<40} {:>10.2}\n",
            "   ratio master / ceiling", ratio
        ));
    }
    out.push_str(&row(
        &format!(
            "B  master, {} nodes × 1 per {}, paced{}",
            args.nodes,
            humantime::format_duration(PACED_PERIOD),
            if args.connection_per_report {
                ", new connection each"
            } else {
                ""
            }
        ),
        summary.paced,
    ));
    if let Some(postgres) = &summary.postgres {
        out.push_str(&postgres_block(postgres, summary.throughput, args.readings));
    }
    out.push_str(&format!(
        "\nmaster memory in phase B: VmRSS up to {}, VmHWM {} (peak since start)\n",
        mib(summary.memory.rss_kib),
        mib(summary.memory.peak_kib)
    ));
    let verdict = if summary.stored_readings == summary.expected_readings {
        "OK"
    } else {
        "MISMATCH"
    };
    out.push_str(&format!(
        "durability: {} acknowledged reports × {} readings = {} expected, {} stored after SIGTERM: {verdict}\n",
        summary.acknowledged, args.readings, summary.expected_readings, summary.stored_readings
    ));
    let errors = [
        ("A ceiling", summary.ceiling),
        ("A master", Some(summary.throughput)),
        ("B master", Some(summary.paced)),
    ];
    for (phase, result) in errors {
        if let Some(error) = result.and_then(|result| result.first_error.as_deref()) {
            out.push_str(&format!("first error in {phase}: {error}\n"));
        }
    }
    out
}

/// The store against raw `COPY`: reports/s and rows/s (a report is one `reports` row and its
/// readings rows) of each, and the ratio.
fn postgres_block(postgres: &PostgresSummary, master: &PhaseResult, readings: u32) -> String {
    let copy = &postgres.copy;
    let master_rows = master.per_second() * f64::from(readings + 1);
    let mut out = format!(
        "\nPostgreSQL, schema {} (dropped at the end):\n{:<40} {:>10} {:>10}\n",
        postgres.schema, "", "reports/s", "rows/s"
    );
    out.push_str(&format!(
        "{:<40} {:>10.0} {:>10.0}\n",
        "   COPY binary, 400 reports per commit",
        copy.reports_per_second(),
        copy.rows_per_second()
    ));
    out.push_str(&format!(
        "{:<40} {:>10.0} {:>10.0}\n",
        "   master, phase A",
        master.per_second(),
        master_rows
    ));
    out.push_str(&format!(
        "{:<40} {:>10.3}\n",
        "   ratio master / COPY (rows/s)",
        master_rows / copy.rows_per_second().max(f64::MIN_POSITIVE)
    ));
    out
}

fn row(label: &str, result: &PhaseResult) -> String {
    let millis = |duration: Duration| format!("{:.2}", duration.as_secs_f64() * 1000.0);
    let (p50, p99, max) = result.latencies.summary().map_or_else(
        || ("-".to_owned(), "-".to_owned(), "-".to_owned()),
        |summary| {
            (
                millis(summary.p50),
                millis(summary.p99),
                millis(summary.max),
            )
        },
    );
    format!(
        "{label:<40} {:>10.0} {p50:>8} {p99:>8} {max:>8} {:>7}\n",
        result.per_second(),
        result.errors
    )
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}
