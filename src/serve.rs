//! `plantkeeper serve --config FILE`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use plantkeeper_control::Settings;
use plantkeeper_control::load::{LoadError, apply_environment, load_settings};
use plantkeeper_master::Master;
use plantkeeper_master::app::{serve, shutdown_signal};
use plantkeeper_master::clock::{Clock, SystemClock};
use plantkeeper_master::mdns::Advertisement;
use plantkeeper_master::settings_history::adopt_at_start;

use crate::cli::CommandError;
use crate::database::open_store;
use crate::logging::init_logging;

/// Loads the settings, opens the store, picks the settings version to run (the file if it
/// changed since its last import, else the newest stored version; see docs/config.md), and
/// serves until SIGINT/SIGTERM.
pub async fn run_serve(config: PathBuf) -> Result<(), CommandError> {
    let (text, mut settings) = read_settings(&config).map_err(|error| match error {
        LoadError::Invalid(errors) => {
            CommandError::InvalidSettings(errors.iter().map(ToString::to_string).collect())
        }
        // An unreadable settings file is a usage error (exit 2), as for `check`.
        other => CommandError::InvalidSettings(vec![format!("error: {other}")]),
    })?;
    let logging = init_logging(&settings.telemetry)?;
    let listen = settings.master.listen;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} ([master] listen)"))?;
    let base_dir = config.parent().map(Path::to_path_buf).unwrap_or_default();
    let store = open_store(&settings, &base_dir).await?;
    settings.alerts.resolve_paths(&base_dir);
    settings.dashboard.resolve_paths(&base_dir);
    let advertised = settings
        .master
        .mdns
        .then(|| settings.master.mdns_name.clone());
    let clock = Arc::new(SystemClock);
    let adopted = adopt_at_start(
        store.as_ref(),
        &config.display().to_string(),
        &text,
        settings,
        &base_dir,
        clock.now(),
    )
    .await?;
    tracing::info!(
        version = adopted.version.number,
        imported = adopted.imported,
        "settings version in force"
    );
    let master = Master::start_versioned(
        Arc::new(adopted.settings),
        adopted.version,
        base_dir,
        store,
        clock,
    )
    .await?;
    logging.register_metrics(master.metrics());
    let bound = listener.local_addr().unwrap_or(listen);
    let advertisement = advertised.and_then(|name| start_advertising(&name, bound));
    tracing::info!(%listen, "serving");
    let served = serve(master, listener, shutdown_signal()).await;
    if let Some(advertisement) = advertisement {
        stop_advertising(advertisement).await;
    }
    logging.finish().await;
    served?;
    Ok(())
}

/// The settings file's text and its settings, with the environment overrides applied; the
/// text is read once, so what is validated is what is stored.
fn read_settings(path: &Path) -> Result<(String, Settings), LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        path: path.to_owned(),
        source,
    })?;
    let mut settings =
        load_settings(&path.display().to_string(), &text).map_err(LoadError::Invalid)?;
    apply_environment(&mut settings, |name| std::env::var_os(name))?;
    Ok((text, settings))
}

/// Starts the mDNS advertisement; a failure is logged and serving goes on (nodes that know
/// the master's address still reach it, and plants must not wait on name service).
fn start_advertising(name: &str, bound: SocketAddr) -> Option<Advertisement> {
    match Advertisement::start(name, bound) {
        Ok(advertisement) => {
            tracing::info!(
                service = advertisement.fullname(),
                host = %format!("{name}.local"),
                "advertising over mDNS"
            );
            Some(advertisement)
        }
        Err(error) => {
            tracing::error!(error = %format!("{error:#}"), "mDNS advertisement failed; nodes must use the master's address");
            None
        }
    }
}

/// Withdraws the advertisement (goodbye packets) off the async threads.
async fn stop_advertising(advertisement: Advertisement) {
    let stopped = tokio::task::spawn_blocking(move || advertisement.stop()).await;
    match stopped {
        Ok(Ok(())) => tracing::info!("mDNS advertisement withdrawn"),
        Ok(Err(error)) => tracing::warn!(error = %format!("{error:#}"), "mDNS withdrawal failed"),
        Err(error) => tracing::warn!(%error, "mDNS withdrawal failed"),
    }
}
