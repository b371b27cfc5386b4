//! The demo imports its generated settings as a version, so the settings API and its history
//! work there as under `serve` (docs/api.md): a grower trying the dashboard and the API on the
//! demo can read, change and roll back settings.

use plantkeeper::cli::DemoArgs;
use plantkeeper::demo::start_demo;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_serves_its_settings_and_takes_a_change() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let args = DemoArgs {
        listen: "127.0.0.1:0".parse().expect("address"),
        data: dir.path().to_path_buf(),
        speed: 1.0,
        run_for: None,
    };
    let demo = start_demo(&args).await.expect("demo starts");
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/settings", demo.base_url);

    let answer = client
        .get(&url)
        .bearer_auth(&demo.admin_token)
        .send()
        .await
        .expect("GET settings");
    assert_eq!(answer.status(), 200, "the demo has a settings version");
    let version = answer
        .headers()
        .get("x-settings-version")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let text = answer.text().await.expect("settings text");
    assert!(
        text.contains("[nodes.bed-1]"),
        "the running settings are the generated ones: {text}"
    );
    assert_eq!(version.as_deref(), Some("1"), "a fresh demo runs version 1");

    // A change through the API becomes version 2 and is listed in the history.
    let changed = format!("{text}\n# tried on the demo\n");
    let put = client
        .put(&url)
        .bearer_auth(&demo.admin_token)
        .header("content-type", "application/toml")
        .body(changed)
        .send()
        .await
        .expect("PUT settings");
    let status = put.status();
    let body = put.text().await.expect("PUT answer");
    assert_eq!(status, 200, "the change is accepted: {body}");
    let versions = client
        .get(format!("{url}/versions"))
        .bearer_auth(&demo.admin_token)
        .send()
        .await
        .expect("GET versions")
        .text()
        .await
        .expect("versions body");
    assert!(
        versions.contains("\"version\":2") || versions.contains("\"version\": 2"),
        "version 2 is in the history: {versions}"
    );
    demo.stop().await.expect("demo stops cleanly");
}
