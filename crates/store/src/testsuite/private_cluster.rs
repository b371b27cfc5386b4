//! A PostgreSQL cluster of a test's own, for tests that stop and restart the server: created
//! with `initdb` in a temporary directory, started with `pg_ctl` on a free loopback port, and
//! stopped and deleted when dropped. The shared server is never touched.
//!
//! The binaries are looked for in `PLANTKEEPER_PG_BIN` if set, else the newest
//! `/usr/lib/postgresql/VERSION/bin` (Debian's layout). Missing binaries follow
//! [`require_service`](super::require_service): the test is skipped, or fails with
//! `PLANTKEEPER_REQUIRE_SERVICES=1`. PostgreSQL refuses to run as root: as root, the commands
//! run as the `postgres` user through `runuser`, and the directory is made writable for it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::require_service;

/// The environment variable naming the directory of `initdb` and `pg_ctl`.
pub const PG_BIN_ENV: &str = "PLANTKEEPER_PG_BIN";

/// A running private cluster (trust authentication, user `postgres`, database `postgres`).
pub struct PrivateCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    /// `Some("postgres")` when running as root.
    run_as: Option<&'static str>,
}

impl PrivateCluster {
    /// Creates and starts a cluster; `None` when the binaries are missing and skipping is
    /// allowed.
    ///
    /// # Panics
    /// When the binaries exist but the cluster cannot be created or started (with the
    /// server's log), or when they are missing and `PLANTKEEPER_REQUIRE_SERVICES=1`.
    pub fn start() -> Option<PrivateCluster> {
        let bin = match find_bin() {
            Ok(bin) => bin,
            Err(why) => {
                require_service(
                    "PostgreSQL binaries (initdb, pg_ctl)",
                    "this machine",
                    Err(why),
                );
                return None;
            }
        };
        let run_as = is_root().then_some("postgres");
        let dir = tempfile::Builder::new()
            .prefix("plantkeeper-pg-")
            .tempdir()
            .expect("creating a temporary directory");
        if run_as.is_some() {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777))
                .expect("opening the temporary directory to the postgres user");
        }
        let port = free_port();
        let cluster = PrivateCluster {
            dir,
            bin,
            port,
            run_as,
        };
        let data = cluster.data_dir();
        cluster.run(
            "initdb",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-A".as_ref(),
                "trust".as_ref(),
                "-U".as_ref(),
                "postgres".as_ref(),
                "-E".as_ref(),
                "UTF8".as_ref(),
                "--no-sync".as_ref(),
            ],
        );
        cluster.start_server();
        Some(cluster)
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Kills the server the hard way (`pg_ctl stop -m immediate`: no checkpoint, clients cut),
    /// like a crash or a pulled cable; it recovers from its WAL at the next start.
    pub fn stop_immediately(&self) {
        let data = self.data_dir();
        self.run(
            "pg_ctl",
            &[
                "stop".as_ref(),
                "-D".as_ref(),
                data.as_os_str(),
                "-m".as_ref(),
                "immediate".as_ref(),
                "-w".as_ref(),
            ],
        );
    }

    /// Starts the server again on the same port, waiting until it accepts connections.
    pub fn start_server(&self) {
        let data = self.data_dir();
        let log = self.dir.path().join("server.log");
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.path().display()
        );
        self.run(
            "pg_ctl",
            &[
                "start".as_ref(),
                "-D".as_ref(),
                data.as_os_str(),
                "-l".as_ref(),
                log.as_os_str(),
                "-o".as_ref(),
                options.as_ref(),
                "-w".as_ref(),
                "-t".as_ref(),
                "20".as_ref(),
            ],
        );
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Runs `program` of the binaries, as the postgres user if root; panics on failure with
    /// its output and the server log.
    fn run(&self, program: &str, args: &[&std::ffi::OsStr]) {
        let path = self.bin.join(program);
        let mut command = match self.run_as {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.args(["-u", user, "--"]).arg(&path);
                command
            }
            None => Command::new(&path),
        };
        command.args(args).current_dir(self.dir.path());
        let output = command
            .output()
            .unwrap_or_else(|error| panic!("cannot run {}: {error}", path.display()));
        if !output.status.success() {
            panic!(
                "{program} failed ({}):\n{}\nserver log:\n{}",
                output.status,
                describe(&output),
                std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
            );
        }
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let path = self.bin.join("pg_ctl");
        let data = self.data_dir();
        let mut command = match self.run_as {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.args(["-u", user, "--"]).arg(&path);
                command
            }
            None => Command::new(&path),
        };
        // Stopped already is fine; the directory goes with `dir`.
        let _ = command
            .args(["stop", "-m", "immediate", "-w", "-D"])
            .arg(&data)
            .output();
    }
}

fn describe(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The directory holding `initdb` and `pg_ctl`.
fn find_bin() -> Result<PathBuf, String> {
    let has_both = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(dir) = std::env::var_os(PG_BIN_ENV) {
        let dir = PathBuf::from(dir);
        return if has_both(&dir) {
            Ok(dir)
        } else {
            Err(format!(
                "{PG_BIN_ENV}={} has no initdb and pg_ctl",
                dir.display()
            ))
        };
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|error| format!("/usr/lib/postgresql: {error}"))?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            has_both(&bin).then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| bin)
        .ok_or_else(|| "no /usr/lib/postgresql/VERSION/bin with initdb and pg_ctl".to_owned())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("finding a free loopback port")
}
