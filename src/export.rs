//! `plantkeeper export`: a node's raw readings as CSV or JSON Lines, streamed from the store
//! chunk by chunk (a year of readings never sits in memory).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use jiff::Timestamp;
use plantkeeper_control::load::{LoadError, load_file};
use plantkeeper_store::{ExportQuery, ExportRow};
use tokio::sync::mpsc;

use crate::cli::CommandError;
use crate::database::open_store;

/// Chunks in flight between the store and the writer: with the store's chunk of 1024 rows,
/// at most a few thousand rows are in memory.
const CHUNKS_IN_FLIGHT: usize = 2;

/// Options of `export`.
#[derive(Debug, Clone, clap::Args)]
pub struct ExportArgs {
    /// The settings file (names the database).
    #[arg(long, short)]
    pub config: PathBuf,
    /// The node whose readings are exported.
    #[arg(long)]
    pub node: String,
    /// Only this sensor (default: every sensor of the node).
    #[arg(long)]
    pub sensor: Option<String>,
    /// Inclusive start, RFC 3339 (e.g. `2026-05-01T00:00:00Z`); default: the beginning.
    #[arg(long, value_name = "RFC3339")]
    pub from: Option<String>,
    /// Exclusive end, RFC 3339; default: no end.
    #[arg(long, value_name = "RFC3339")]
    pub to: Option<String>,
    /// `csv` (header `time,node,sensor,value`) or `jsonl` (one JSON object per line).
    #[arg(long, default_value = "csv")]
    pub format: String,
    /// Write here instead of standard output.
    #[arg(long)]
    pub output: Option<PathBuf>,
}

/// The output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated values with a header line (RFC 4180 quoting).
    Csv,
    /// One JSON object per line.
    JsonLines,
}

/// The checked arguments: what to read and how to write it.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportPlan {
    /// What the store is asked for.
    pub query: ExportQuery,
    /// How rows are written.
    pub format: Format,
}

/// Checks the arguments; each error is one line naming the option.
pub fn plan(args: &ExportArgs) -> Result<ExportPlan, String> {
    let name_ok = |text: &str| {
        !text.is_empty()
            && text.len() <= 64
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    if !name_ok(&args.node) {
        return Err(format!(
            "--node: expected a node id (letters, digits, `-`, `_`), got `{}`",
            args.node
        ));
    }
    if let Some(sensor) = args.sensor.as_deref().filter(|sensor| !name_ok(sensor)) {
        return Err(format!("--sensor: expected a sensor name, got `{sensor}`"));
    }
    let time = |option: &str, text: &Option<String>, default: i64| {
        match text {
        None => Ok(default),
        Some(text) => text
            .parse::<Timestamp>()
            .map(|at| at.as_millisecond())
            .map_err(|error| {
                format!("{option}: expected an RFC 3339 time like `2026-05-01T00:00:00Z`, got `{text}`: {error}")
            }),
    }
    };
    let from_ms = time("--from", &args.from, i64::MIN)?;
    let to_ms = time("--to", &args.to, i64::MAX)?;
    if from_ms >= to_ms {
        return Err(format!(
            "--to: must be after --from ({} is not after {})",
            args.to.as_deref().unwrap_or("the end"),
            args.from.as_deref().unwrap_or("the beginning")
        ));
    }
    let format = match args.format.as_str() {
        "csv" => Format::Csv,
        "jsonl" => Format::JsonLines,
        other => {
            return Err(format!(
                "--format: expected `csv` or `jsonl`, got `{other}`"
            ));
        }
    };
    Ok(ExportPlan {
        query: ExportQuery {
            node: args.node.clone(),
            sensor: args.sensor.clone(),
            from_ms,
            to_ms,
        },
        format,
    })
}

/// Runs `export`: bad arguments or settings exit 2, a store failure exits 1.
pub async fn run_export(args: ExportArgs) -> Result<(), CommandError> {
    let plan = plan(&args)
        .map_err(|line| CommandError::InvalidSettings(vec![format!("error: {line}")]))?;
    let settings = load_file(&args.config).map_err(|error| match error {
        LoadError::Invalid(errors) => {
            CommandError::InvalidSettings(errors.iter().map(ToString::to_string).collect())
        }
        other => CommandError::InvalidSettings(vec![format!("error: {other}")]),
    })?;
    let base_dir = args
        .config
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let output: Box<dyn Write + Send> = match &args.output {
        Some(path) => Box::new(File::create(path).map_err(|error| {
            CommandError::InvalidSettings(vec![format!(
                "error: --output: cannot create {}: {error}",
                path.display()
            )])
        })?),
        None => Box::new(io::stdout()),
    };
    let store = open_store(&settings, &base_dir).await?;
    let (sink, chunks) = mpsc::channel(CHUNKS_IN_FLIGHT);
    let node = plan.query.node.clone();
    let writer = tokio::task::spawn_blocking(move || {
        write_rows(BufWriter::new(output), plan.format, &node, chunks)
    });
    let exported = store.export(plan.query, sink).await;
    let written = writer.await.context("the output writer stopped")?;
    store.close().await?;
    exported?;
    match written {
        // The reader went away (`plantkeeper export ... | head`): end quietly, like other
        // Unix tools; the store stopped reading when the writer stopped taking chunks.
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other.context("writing the export")?),
    }
}

/// Writes the header (CSV) and every chunk received, then flushes.
fn write_rows(
    mut out: impl Write,
    format: Format,
    node: &str,
    mut chunks: mpsc::Receiver<Vec<ExportRow>>,
) -> io::Result<()> {
    if format == Format::Csv {
        writeln!(out, "time,node,sensor,value")?;
    }
    while let Some(chunk) = chunks.blocking_recv() {
        for row in &chunk {
            write_row(&mut out, format, node, row)?;
        }
    }
    out.flush()
}

/// One line of output.
fn write_row(out: &mut impl Write, format: Format, node: &str, row: &ExportRow) -> io::Result<()> {
    let time = Timestamp::from_millisecond(row.at_ms)
        .map(|at| format!("{at:.3}"))
        .unwrap_or_else(|_| row.at_ms.to_string());
    match format {
        Format::Csv => writeln!(
            out,
            "{},{},{},{}",
            csv_field(&time),
            csv_field(node),
            csv_field(&row.sensor),
            row.value
        ),
        Format::JsonLines => {
            let line = serde_json::json!({
                "time": time,
                "node": node,
                "sensor": row.sensor,
                "value": row.value,
            });
            writeln!(out, "{line}")
        }
    }
}

/// A CSV field, quoted (RFC 4180) when it holds a comma, a quote or a line break.
pub fn csv_field(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\"")).into()
    } else {
        text.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[(&str, &str)]) -> ExportArgs {
        let mut args = ExportArgs {
            config: PathBuf::from("pk.toml"),
            node: "bed-1".to_owned(),
            sensor: None,
            from: None,
            to: None,
            format: "csv".to_owned(),
            output: None,
        };
        for (key, value) in extra {
            let value = (*value).to_owned();
            match *key {
                "from" => args.from = Some(value),
                "to" => args.to = Some(value),
                "format" => args.format = value,
                "node" => args.node = value,
                "sensor" => args.sensor = Some(value),
                _ => unreachable!("test option {key}"),
            }
        }
        args
    }

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(csv_field("soil_moisture"), "soil_moisture");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
    }

    #[test]
    fn times_are_rfc3339_and_bounds_default_to_everything() {
        let plan = plan(&args(&[
            ("from", "2026-05-01T00:00:00Z"),
            ("to", "2026-05-01T04:00:00+02:00"),
        ]))
        .expect("valid");
        assert_eq!(plan.query.from_ms, 1_777_593_600_000);
        assert_eq!(plan.query.to_ms, 1_777_593_600_000 + 2 * 3_600_000);
        let everything = super::plan(&args(&[])).expect("valid");
        assert_eq!(
            (everything.query.from_ms, everything.query.to_ms),
            (i64::MIN, i64::MAX)
        );
    }

    #[test]
    fn each_bad_option_is_named_in_one_line() {
        for (option, extra) in [
            ("--from", ("from", "yesterday")),
            ("--to", ("to", "2026-13-01T00:00:00Z")),
            ("--format", ("format", "xml")),
            ("--node", ("node", "bed 1")),
            ("--sensor", ("sensor", "a,b")),
        ] {
            let error = plan(&args(&[extra])).expect_err(option);
            assert!(error.starts_with(&format!("{option}: ")), "{error}");
            assert!(!error.contains('\n'), "one line: {error}");
        }
        let reversed = plan(&args(&[
            ("from", "2026-05-02T00:00:00Z"),
            ("to", "2026-05-01T00:00:00Z"),
        ]))
        .expect_err("reversed range");
        assert!(
            reversed.starts_with("--to: must be after --from"),
            "{reversed}"
        );
    }
}
