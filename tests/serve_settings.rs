//! `plantkeeper serve` as a real process: a settings change made through the API survives a
//! restart while the settings file is unchanged, and an edited file is imported as a new
//! version (docs/config.md, "Settings versions").

mod master_process;

use std::time::Duration;

use master_process::{ADMIN_TOKEN, MasterProcess, garden_toml};
use serde_json::json;

const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// The running settings' version and text.
async fn running_settings(master: &MasterProcess) -> (String, String) {
    let response = master
        .http
        .get(format!("{}/api/v1/settings", master.base))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("GET sent");
    assert_eq!(response.status(), 200);
    let version = response
        .headers()
        .get("x-settings-version")
        .and_then(|value| value.to_str().ok())
        .expect("X-Settings-Version header")
        .to_owned();
    (version, response.text().await.expect("body"))
}

fn stop(mut master: MasterProcess) {
    master.child.sigterm();
    let status = master.child.wait_for_exit(STOP_TIMEOUT);
    assert!(
        status.is_some_and(|status| status.success()),
        "SIGTERM must stop the master, got {status:?}; stderr: {}",
        master.stderr()
    );
}

#[tokio::test]
async fn an_api_change_survives_a_restart_until_the_file_is_edited() {
    let dir = tempfile::tempdir().expect("temporary dir");
    let master = MasterProcess::start(dir.path(), |port| garden_toml(port, "")).await;
    let port: u16 = master
        .base
        .rsplit(':')
        .next()
        .and_then(|port| port.parse().ok())
        .expect("a port in the base URL");
    let file = garden_toml(port, "");
    let (version, text) = running_settings(&master).await;
    assert_eq!((version.as_str(), text.as_str()), ("1", file.as_str()));

    let wetter = file.replace("soil_moisture < 30", "soil_moisture < 40");
    let put = master
        .http
        .put(format!("{}/api/v1/settings", master.base))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/toml")
        .body(wetter.clone())
        .send()
        .await
        .expect("PUT sent");
    assert_eq!(put.status(), 200);
    stop(master);

    // Same file: the API's version 2 runs after the restart, and decides.
    let master = MasterProcess::start_on_port(dir.path(), port, |port| garden_toml(port, "")).await;
    let (version, text) = running_settings(&master).await;
    assert_eq!((version.as_str(), text.as_str()), ("2", wetter.as_str()));
    let (status, answer) = master
        .report(
            "bed-1",
            &json!({"seq": 1, "boot": 1, "readings": {"soil_moisture": 35.0}}),
        )
        .await
        .expect("report sent");
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["outputs"]["valve"]["power"], true,
        "35 < 40 by the stored version: {answer}"
    );
    stop(master);

    // Edited file: imported as version 3 and run.
    let edited = |port| garden_toml(port, "report_every = \"10s\"");
    let master = MasterProcess::start_on_port(dir.path(), port, edited).await;
    let (version, text) = running_settings(&master).await;
    assert_eq!(
        (version.as_str(), text.as_str()),
        ("3", edited(port).as_str())
    );
    let history = master.admin_get("/api/v1/settings/versions").await;
    assert_eq!(history["versions"][0]["source"], "file", "{history}");
    stop(master);
}
