//! The master's settings file for N simulated nodes, written in the benchmark's temporary
//! directory: plain tokens, one soil sensor and one valve driven by it per node, reports every
//! second, the SQLite store next to the file, or the PostgreSQL database given.

use std::fmt::Write as _;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};

use anyhow::Context;

/// The database file, relative to the settings file.
const DATABASE_FILE: &str = "bench.db";

/// The written settings.
pub struct BenchConfig {
    /// The settings file.
    pub path: PathBuf,
    /// Where the master listens.
    pub listen: SocketAddr,
    /// The SQLite database the master writes (unused with a PostgreSQL database).
    pub database: PathBuf,
}

/// The id of node `index`.
pub fn node_id(index: u32) -> String {
    format!("node-{index:05}")
}

/// The plain bearer token of node `index` (at least 16 characters, as the loader requires).
pub fn node_token(index: u32) -> String {
    format!("bench-token-of-node-{index:05}")
}

/// Writes `plantkeeper.toml` for `nodes` nodes in `dir`, listening on a free local port, with
/// `postgres_url` as the database if given (else SQLite beside the file).
pub fn write(dir: &Path, nodes: u32, postgres_url: Option<&str>) -> anyhow::Result<BenchConfig> {
    let listen = free_local_port()?;
    let path = dir.join("plantkeeper.toml");
    let database = match postgres_url {
        Some(url) => url.to_owned(),
        None => format!("sqlite://{DATABASE_FILE}"),
    };
    std::fs::write(&path, settings_text(listen, nodes, &database))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(BenchConfig {
        path,
        listen,
        database: dir.join(DATABASE_FILE),
    })
}

fn settings_text(listen: SocketAddr, nodes: u32, database: &str) -> String {
    // A TOML basic string: quotes and backslashes escaped.
    let database = database.replace('\\', "\\\\").replace('"', "\\\"");
    let mut text = format!(
        "[master]\nlisten = \"{listen}\"\ndatabase = \"{database}\"\n\n\
         [telemetry]\nlog = \"info\"\n\n\
         [defaults]\nreport_every = \"1s\"\nstale_after = \"10s\"\nlease = \"10s\"\n"
    );
    for index in 0..nodes {
        let id = node_id(index);
        let _ = write!(
            text,
            "\n[nodes.{id}]\ntoken = \"{token}\"\n\
             sensors.soil_moisture = {{ min = 0, max = 100, unit = \"%\" }}\n\
             [nodes.{id}.outputs.valve]\n\
             on_when = \"soil_moisture < 30\"\noff_when = \"soil_moisture >= 45\"\n",
            token = node_token(index)
        );
    }
    text
}

/// A local port nobody listens on right now (the master binds it a moment later).
fn free_local_port() -> anyhow::Result<SocketAddr> {
    let probe = TcpListener::bind("127.0.0.1:0").context("finding a free local port")?;
    probe.local_addr().context("finding a free local port")
}

#[cfg(test)]
mod tests {
    use super::*;
    use plantkeeper_control::load::load_settings;

    #[test]
    fn the_written_settings_pass_the_loader_with_one_valve_per_node() {
        let text = settings_text(
            SocketAddr::from(([127, 0, 0, 1], 8001)),
            3,
            "postgres://pk@127.0.0.1/db?options=-c%20search_path%3Dpk_bench_1%2Cpublic",
        );
        let settings = match load_settings("bench.toml", &text) {
            Ok(settings) => settings,
            Err(errors) => panic!("the bench settings are refused: {errors:?}\n{text}"),
        };
        assert_eq!(settings.nodes.len(), 3, "one table per node");
        for node in settings.nodes.values() {
            assert_eq!(node.outputs.len(), 1, "one valve per node");
        }
    }
}
