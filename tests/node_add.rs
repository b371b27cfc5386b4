//! `plantkeeper node add` end to end: its TOML block pasted into a settings file passes `check`,
//! `serve` runs it, a report with the printed token is answered 200, and the printed
//! config.json names the same node and token.

mod master_process;

use std::time::Duration;

use master_process::{Finished, MasterProcess, garden_toml, run_to_exit};
use plantkeeper::node_add::{JSON_MARKER, TOML_MARKER};
use serde_json::{Value, json};

const QUICK: Duration = Duration::from_secs(10);

fn node_add(args: &[&str]) -> Finished {
    let dir = tempfile::tempdir().expect("temporary dir");
    let mut full = vec!["node", "add"];
    full.extend_from_slice(args);
    run_to_exit(dir.path(), &full, QUICK)
}

/// The output of a successful `node add`, cut into its three parts.
struct Provisioned {
    token: String,
    toml: String,
    config: Value,
}

fn provisioned(run: &Finished) -> Provisioned {
    assert_eq!(run.code(), 0, "node add should succeed: {run:?}");
    let stdout = &run.stdout;
    let token = stdout
        .lines()
        .find_map(|line| line.strip_prefix("token: "))
        .unwrap_or_else(|| panic!("no `token: ` line: {stdout}"))
        .to_owned();
    let (_, rest) = stdout
        .split_once(TOML_MARKER)
        .unwrap_or_else(|| panic!("no TOML marker: {stdout}"));
    let (toml, json) = rest
        .split_once(JSON_MARKER)
        .unwrap_or_else(|| panic!("no config.json marker: {stdout}"));
    let config = serde_json::from_str(json)
        .unwrap_or_else(|error| panic!("config.json does not parse ({error}): {json}"));
    Provisioned {
        token,
        toml: toml.to_owned(),
        config,
    }
}

#[tokio::test]
async fn node_add_output_pasted_into_a_config_works_end_to_end() {
    let run = node_add(&["bed-9", "--kind", "sprinkler"]);
    let node = provisioned(&run);
    assert!(
        node.token.len() >= 32 && node.token.chars().all(|c| c.is_ascii_alphanumeric()),
        "a long random token: {}",
        node.token
    );
    assert!(
        !node.toml.contains(&node.token),
        "the settings block must hold the token's SHA-256, never the token: {}",
        node.toml
    );
    assert_eq!(node.config["node"], "bed-9", "config.json: {}", node.config);
    assert_eq!(node.config["token"], node.token.as_str());
    assert!(
        node.config["outputs"]["valve"]["max_on_ms"]
            .as_u64()
            .is_some(),
        "the valve relay with its local hard cap: {}",
        node.config
    );

    let dir = tempfile::tempdir().expect("temporary dir");
    let pasted = node.toml.clone();
    let settings = move |port: u16| format!("{}\n{pasted}", garden_toml(port, ""));
    std::fs::write(dir.path().join("plantkeeper.toml"), settings(8001)).expect("write settings");
    let check = run_to_exit(
        dir.path(),
        &["check", "--config", "plantkeeper.toml"],
        QUICK,
    );
    assert_eq!(
        check.code(),
        0,
        "check must accept the pasted block: {check:?}"
    );
    assert!(
        check
            .stdout
            .contains("bed-9: sensors soil_moisture; outputs valve"),
        "check summarises the new node: {check:?}"
    );

    let master = MasterProcess::start(dir.path(), settings).await;
    let report = |token: String| {
        let http = master.http.clone();
        let url = format!("{}/api/v1/nodes/bed-9/report", master.base);
        async move {
            let response = http
                .post(url)
                .bearer_auth(token)
                .json(&json!({"seq": 1, "boot": 5, "readings": {"soil_moisture": 20.0}}))
                .send()
                .await
                .expect("report sent");
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let (status, answer) = report(node.token.clone()).await;
    assert_eq!(status, 200, "the printed token is accepted: {answer}");
    assert_eq!(
        answer["outputs"]["valve"]["power"], true,
        "a dry bed gets its valve ON under the printed rules: {answer}"
    );
    let (status, _) = report(format!("{}x", node.token)).await;
    assert_eq!(status, 401, "any other token is refused");
}

#[test]
fn every_kind_prints_a_block_that_check_accepts() {
    let dir = tempfile::tempdir().expect("temporary dir");
    let mut settings = String::from("[master]\ntimezone = \"UTC\"\n");
    let kinds = [
        "sprinkler",
        "tank",
        "enclosure",
        "heater",
        "cooler",
        "humidifier",
        "lamp",
    ];
    for kind in kinds {
        let id = format!("n-{kind}");
        let node = provisioned(&node_add(&[&id, "--kind", kind]));
        assert_eq!(node.config["node"], id.as_str(), "{kind}: {}", node.config);
        settings.push_str(&node.toml);
    }
    std::fs::write(dir.path().join("all.toml"), &settings).expect("write settings");
    let check = run_to_exit(dir.path(), &["check", "--config", "all.toml"], QUICK);
    assert_eq!(
        check.code(),
        0,
        "every kind's block passes check: {check:?}"
    );
    assert!(
        check.stdout.contains("7 nodes, 6 outputs"),
        "seven nodes, all but the enclosure with one output: {check:?}"
    );
}

#[test]
fn two_runs_print_different_tokens() {
    let first = provisioned(&node_add(&["bed-1"]));
    let second = provisioned(&node_add(&["bed-1"]));
    assert_ne!(first.token, second.token, "tokens must be fresh each time");
}

#[test]
fn bad_arguments_exit_2_and_print_nothing_on_stdout() {
    for args in [
        &["Bed-1"][..],
        &["bed-1", "--kind", "fogger"],
        &["bed-1", "--master-url", "https://10.3.141.1:8001"],
        &["bed-1", "--master-url", "http://10.3.141.1:0"],
    ] {
        let run = node_add(args);
        assert_eq!(run.code(), 2, "{args:?} must be refused: {run:?}");
        assert!(
            run.stdout.is_empty(),
            "{args:?}: nothing on stdout: {run:?}"
        );
    }
}
