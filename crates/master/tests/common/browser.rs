//! The browser harness of the dashboard tests: a chromedriver of the test's own driving
//! headless Chromium, screenshots under `target/screenshots/`, and the login form.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use plantkeeper_store::testsuite::require_service;
use serde_json::json;

use super::TestMaster;

/// A chromedriver on a free port, killed on drop.
pub struct Driver {
    child: Child,
    url: String,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

/// Starts chromedriver, or `None` (after `require_service`) when it is not installed.
pub async fn start_driver() -> Option<(Driver, Client)> {
    let found = Command::new("chromedriver")
        .arg("--version")
        .output()
        .map_err(|error| {
            format!("chromedriver: {error} (apt-get install chromium chromium-driver)")
        })
        .and_then(|output| {
            if output.status.success() {
                Ok(())
            } else {
                Err("chromedriver --version failed".to_owned())
            }
        });
    if !require_service("chromedriver", "PATH", found) {
        return None;
    }
    let port = free_port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let url = format!("http://127.0.0.1:{port}");
    let profile = tempfile::tempdir().expect("profile dir");
    let driver = Driver {
        child,
        url,
        _profile: profile,
    };
    let started = Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "chromedriver did not listen within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1000,900",
    ]
    .iter()
    .map(|arg| (*arg).to_owned())
    .chain([format!(
        "--user-data-dir={}",
        driver._profile.path().display()
    )])
    .collect::<Vec<_>>();
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".to_owned(),
        json!({ "args": args, "binary": chromium_binary() }),
    );
    // chromedriver listens on loopback over plain HTTP: no TLS stack needed (fantoccini's
    // rustls feature would pull aws-lc-rs and its C build).
    let client = ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("a browser session");
    Some((driver, client))
}

fn chromium_binary() -> String {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|path| std::path::Path::new(path).exists())
        .unwrap_or("/usr/bin/chromium")
        .to_owned()
}

/// `target/screenshots/NAME.png` (honouring CARGO_TARGET_DIR).
pub async fn screenshot(client: &Client, name: &str) {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let dir = target.join("screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    let png = client.screenshot().await.expect("screenshot");
    std::fs::write(dir.join(format!("{name}.png")), png).expect("screenshot written");
}

/// Logs in through the login form with `secret` (the admin token or the password).
pub async fn log_in(client: &Client, master: &TestMaster, secret: &str) {
    client
        .goto(&format!("{}/", master.base))
        .await
        .expect("goto");
    let field = client
        .wait()
        .at_most(Duration::from_secs(5))
        .for_element(Locator::Css("#secret"))
        .await
        .expect("login form");
    field.send_keys(secret).await.expect("typed");
    client
        .find(Locator::Css("#login"))
        .await
        .expect("button")
        .click()
        .await
        .expect("clicked");
}
