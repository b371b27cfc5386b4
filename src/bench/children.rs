//! The benchmark's child processes — the master (`plantkeeper serve`) and the HTTP ceiling
//! (`plantkeeper bench-ceiling`) — started from the same executable, watched, and stopped with
//! SIGTERM so the master shuts down as in production (in-flight requests finish, the store is
//! drained and closed).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rustix::process::{Pid, Signal, kill_process};

use super::http_client::Connection;
use super::settings_file::BenchConfig;

/// How long a child may take to start listening (the master also opens and migrates its
/// database and restores its state).
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a child may take to exit after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(60);
/// Pause between two polls of a starting or stopping child.
const POLL_PAUSE: Duration = Duration::from_millis(20);

/// A running child process, killed if dropped before [`stop`](Self::stop).
pub struct ChildProcess {
    name: &'static str,
    child: Child,
    address: SocketAddr,
    log_path: PathBuf,
    stopped: bool,
}

/// Resident memory of a process, from `/proc/PID/status`, in KiB.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemoryUsage {
    /// `VmRSS`: resident now.
    pub rss_kib: u64,
    /// `VmHWM`: the highest resident size since the process started.
    pub peak_kib: u64,
}

impl ChildProcess {
    /// Starts `executable serve --config FILE`, its output going to `master.log` in `workdir`,
    /// and waits until `/healthz` answers 200 (a store write commits).
    pub async fn start_master(
        executable: &Path,
        config: &BenchConfig,
        workdir: &Path,
    ) -> anyhow::Result<ChildProcess> {
        let log_path = workdir.join("master.log");
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("creating {}", log_path.display()))?;
        let errors = log.try_clone().context("sharing the master's log file")?;
        let child = Command::new(executable)
            .arg("serve")
            .arg("--config")
            .arg(&config.path)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(errors)
            .spawn()
            .with_context(|| format!("starting {} serve", executable.display()))?;
        let mut master = ChildProcess {
            name: "master",
            child,
            address: config.listen,
            log_path,
            stopped: false,
        };
        master.wait_until_healthy().await?;
        Ok(master)
    }

    /// Starts `executable bench-ceiling --listen 127.0.0.1:0` and reads the address it bound
    /// from its first line of output.
    pub async fn start_ceiling(executable: &Path) -> anyhow::Result<ChildProcess> {
        let mut child = Command::new(executable)
            .args(["bench-ceiling", "--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {} bench-ceiling", executable.display()))?;
        let Some(stdout) = child.stdout.take() else {
            bail!("the ceiling's standard output was not captured");
        };
        let first_line = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line).map(|_| line)
        })
        .await
        .context("waiting for the ceiling's address")?
        .context("reading the ceiling's address")?;
        let mut ceiling = ChildProcess {
            name: "ceiling",
            child,
            address: SocketAddr::from(([127, 0, 0, 1], 0)),
            log_path: PathBuf::from("(standard error)"),
            stopped: false,
        };
        ceiling.address = first_line.trim().parse().with_context(|| {
            format!(
                "the ceiling printed `{}`, not an address",
                first_line.trim()
            )
        })?;
        Ok(ceiling)
    }

    /// Where the child listens.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Where the child's output goes.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The child's resident memory now and at its peak.
    pub fn memory(&self) -> anyhow::Result<MemoryUsage> {
        let path = format!("/proc/{}/status", self.child.id());
        let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| {
                    rest.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .ok()
                })
                .with_context(|| format!("no `{name}` line in {path}"))
        };
        Ok(MemoryUsage {
            rss_kib: field("VmRSS:")?,
            peak_kib: field("VmHWM:")?,
        })
    }

    /// Sends SIGTERM and waits for a successful exit.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        let pid = i32::try_from(self.child.id())
            .ok()
            .and_then(Pid::from_raw)
            .with_context(|| format!("the {} has no valid process id", self.name))?;
        kill_process(pid, Signal::TERM)
            .with_context(|| format!("sending SIGTERM to the {}", self.name))?;
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait()? {
                break status;
            }
            if started.elapsed() > STOP_TIMEOUT {
                bail!(
                    "the {} did not exit within {STOP_TIMEOUT:?} of SIGTERM (log: {})",
                    self.name,
                    self.log_path.display()
                );
            }
            tokio::time::sleep(POLL_PAUSE).await;
        };
        self.stopped = true;
        self.check_exit(status)
    }

    fn check_exit(&self, status: ExitStatus) -> anyhow::Result<()> {
        if status.success() {
            Ok(())
        } else {
            bail!(
                "the {} exited with {status} (log: {})",
                self.name,
                self.log_path.display()
            )
        }
    }

    async fn wait_until_healthy(&mut self) -> anyhow::Result<()> {
        let started = Instant::now();
        let mut last_problem = String::from("not reachable yet");
        while started.elapsed() < START_TIMEOUT {
            if let Some(status) = self.child.try_wait()? {
                self.stopped = true;
                bail!(
                    "the {} exited during start-up with {status}; its log:\n{}",
                    self.name,
                    std::fs::read_to_string(&self.log_path).unwrap_or_default()
                );
            }
            match probe_health(self.address).await {
                Ok(()) => return Ok(()),
                Err(problem) => last_problem = format!("{problem:#}"),
            }
            tokio::time::sleep(POLL_PAUSE).await;
        }
        bail!(
            "the {} did not become healthy within {START_TIMEOUT:?} ({last_problem}; log: {})",
            self.name,
            self.log_path.display()
        )
    }
}

async fn probe_health(address: SocketAddr) -> anyhow::Result<()> {
    let mut connection = Connection::open(address).await?;
    let status = connection.get("/healthz").await?;
    if status.is_success() {
        Ok(())
    } else {
        bail!("/healthz answered {status}")
    }
}

impl Drop for ChildProcess {
    /// A child left running (the benchmark failed half-way) is killed, never orphaned.
    fn drop(&mut self) {
        if !self.stopped {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
