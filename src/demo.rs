//! `plantkeeper demo`: the master on the embedded store plus the simulated garden of
//! CONTRACT §6, all on one accelerated clock, with a live status line in the terminal.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow};
use plantkeeper_control::load::load_settings;
use plantkeeper_master::Master;
use plantkeeper_master::app::{serve, shutdown_signal};
use plantkeeper_master::clock::{AcceleratedClock, SharedClock};
use plantkeeper_master::read_api::{NodeStatus, node_views};
use plantkeeper_master::settings_history::adopt_at_start;
use plantkeeper_sim::{DemoTokens, GardenHandle, demo_settings_toml, run_garden};
use tokio::sync::{oneshot, watch};

use crate::cli::{CommandError, DemoArgs};
use crate::database::open_store;
use crate::logging::init_logging;

/// Name of the settings file the demo writes into its data directory.
pub const SETTINGS_FILE: &str = "plantkeeper.toml";
/// Name of the file holding the admin token.
pub const ADMIN_TOKEN_FILE: &str = "admin.token";
/// Real time between two status lines.
pub const STATUS_EVERY: Duration = Duration::from_secs(5);

/// A running demo: master, garden and the HTTP server.
pub struct RunningDemo {
    /// `http://ADDR` of the master.
    pub base_url: String,
    /// The master.
    pub master: Arc<Master>,
    /// The simulated garden.
    pub garden: GardenHandle,
    /// The admin token (also in `DIR/admin.token`).
    pub admin_token: String,
    stop_garden: watch::Sender<bool>,
    stop_server: oneshot::Sender<()>,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl RunningDemo {
    /// Stops the garden first (no more reports), then the server, which drains the store.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop_garden.send(true);
        self.garden.stop().await;
        let _ = self.stop_server.send(());
        self.server
            .await
            .map_err(|error| anyhow!("the server task failed: {error}"))?
    }
}

/// Starts the demo in `args.data`: writes the settings and admin token, opens the store,
/// starts the master on `args.listen` and the garden against it.
pub async fn start_demo(args: &DemoArgs) -> anyhow::Result<RunningDemo> {
    std::fs::create_dir_all(&args.data)
        .with_context(|| format!("creating the demo directory {}", args.data.display()))?;
    let mut tokens = DemoTokens::generate();
    tokens.admin = admin_token(&args.data, tokens.admin)?;

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} (is another demo running? try --listen 127.0.0.1:8002)",
                args.listen
            )
        })?;
    let listen = listener.local_addr()?;
    let timezone = jiff::tz::TimeZone::system()
        .iana_name()
        .unwrap_or("UTC")
        .to_owned();
    let toml = demo_settings_toml(&tokens, listen, "sqlite://plantkeeper.db", &timezone);
    let settings_path = args.data.join(SETTINGS_FILE);
    std::fs::write(&settings_path, &toml)
        .with_context(|| format!("writing {}", settings_path.display()))?;
    let mut settings =
        load_settings(&settings_path.display().to_string(), &toml).map_err(|errors| {
            let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
            anyhow!(
                "the generated demo settings are invalid (a bug):\n{}",
                lines.join("\n")
            )
        })?;
    // The generated settings have no `loki_url`: nothing to flush at the end.
    let logging = init_logging(&settings.telemetry)?;
    settings.dashboard.resolve_paths(&args.data);

    let store = open_store(&settings, &args.data).await?;
    let clock: SharedClock = Arc::new(AcceleratedClock::new(jiff::Timestamp::now(), args.speed));
    // The generated file is imported as a settings version (its node tokens are fresh at each
    // start), so the settings API and its history work in the demo as they do under `serve`.
    let adopted = adopt_at_start(
        store.as_ref(),
        &settings_path.display().to_string(),
        &toml,
        settings,
        &args.data,
        clock.now(),
    )
    .await?;
    let master = Master::start_versioned(
        Arc::new(adopted.settings),
        adopted.version,
        args.data.clone(),
        store,
        Arc::clone(&clock),
    )
    .await?;
    logging.register_metrics(master.metrics());
    let (stop_server, server_stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(serve(Arc::clone(&master), listener, async {
        let _ = server_stopped.await;
    }));
    let base_url = format!("http://{listen}");
    let (stop_garden, garden_stopped) = watch::channel(false);
    let garden = run_garden(&base_url, tokens.clone(), clock, garden_stopped).await?;
    Ok(RunningDemo {
        base_url,
        master,
        garden,
        admin_token: tokens.admin,
        stop_garden,
        stop_server,
        server,
    })
}

/// Keeps the admin token of an earlier demo in `dir` so bookmarks and scripts keep working;
/// otherwise stores `fresh` there (readable by the owner only).
fn admin_token(dir: &Path, fresh: String) -> anyhow::Result<String> {
    let path = dir.join(ADMIN_TOKEN_FILE);
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let existing = existing.trim();
        if existing.len() >= 16 && existing.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Ok(existing.to_owned());
        }
    }
    std::fs::write(&path, format!("{fresh}\n"))
        .with_context(|| format!("writing {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(fresh)
}

/// Runs the demo until Ctrl-C / SIGTERM (or `--run-for`), printing a status line every few seconds.
pub async fn run_demo(args: DemoArgs) -> Result<(), CommandError> {
    let demo = start_demo(&args).await?;
    println!(
        "PlantKeeper demo: master with a simulated garden (speed ×{})",
        args.speed
    );
    println!(
        "  dashboard   {}/  (log in with the admin token)",
        demo.base_url
    );
    println!(
        "  admin token {}  (also in {})",
        demo.admin_token,
        args.data.join(ADMIN_TOKEN_FILE).display()
    );
    println!("  settings    {}", args.data.join(SETTINGS_FILE).display());
    println!(
        "  try: curl -H \"Authorization: Bearer {}\" {}/api/v1/nodes",
        demo.admin_token, demo.base_url
    );
    println!("Ctrl-C stops cleanly.");
    let stop = async {
        match args.run_for {
            Some(limit) => {
                tokio::select! {
                    _ = tokio::time::sleep(limit) => {}
                    _ = shutdown_signal() => {}
                }
            }
            None => shutdown_signal().await,
        }
    };
    tokio::pin!(stop);
    let mut status = tokio::time::interval(STATUS_EVERY);
    status.tick().await;
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = status.tick() => println!("{}", status_line(&demo.master)),
        }
    }
    demo.stop().await?;
    println!("demo stopped; data kept in {}", args.data.display());
    Ok(())
}

/// One compact line: master clock time, then every node's readings and outputs.
pub fn status_line(master: &Master) -> String {
    let tz = master.settings().master.timezone.clone();
    let mut line = format!(
        "[{}]",
        master.now().to_zoned_datetime(tz).strftime("%H:%M:%S")
    );
    for view in node_views(master) {
        let _ = write!(line, " {}", view.id);
        match view.status {
            NodeStatus::Online => {}
            NodeStatus::Stale => line.push_str(" (stale)"),
            NodeStatus::NeverSeen => line.push_str(" (not seen yet)"),
        }
        for reading in view.readings.values() {
            let _ = write!(
                line,
                " {:.1}{}",
                reading.value,
                reading.unit.as_deref().unwrap_or("")
            );
        }
        for (name, output) in &view.outputs {
            let power = if output.power { "ON" } else { "off" };
            if *name == view.id {
                let _ = write!(line, " {power}");
            } else {
                let _ = write!(line, " {name} {power}");
            }
        }
        line.push_str(" |");
    }
    line.pop();
    line.trim_end().to_owned()
}
