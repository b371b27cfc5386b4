//! `plantkeeper serve --config FILE`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use plantkeeper_control::load::{LoadError, load_file};
use plantkeeper_master::Master;
use plantkeeper_master::app::{serve, shutdown_signal};
use plantkeeper_master::clock::SystemClock;

use crate::cli::CommandError;
use crate::database::open_store;
use crate::logging::init_logging;

/// Loads the settings, opens the store, and serves until SIGINT/SIGTERM.
pub async fn run_serve(config: PathBuf) -> Result<(), CommandError> {
    let settings = load_file(&config).map_err(|error| match error {
        LoadError::Invalid(errors) => {
            CommandError::InvalidSettings(errors.iter().map(ToString::to_string).collect())
        }
        // An unreadable settings file is a usage error (exit 2), as for `check`.
        other => CommandError::InvalidSettings(vec![format!("error: {other}")]),
    })?;
    init_logging(&settings.telemetry);
    let listen = settings.master.listen;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} ([master] listen)"))?;
    let base_dir = config.parent().map(Path::to_path_buf).unwrap_or_default();
    let store = open_store(&settings.master.database, &base_dir).await?;
    let master = Master::start(Arc::new(settings), store, Arc::new(SystemClock)).await?;
    tracing::info!(%listen, "serving");
    serve(master, listener, shutdown_signal()).await?;
    Ok(())
}
