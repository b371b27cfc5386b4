//! `plantkeeper healthcheck` (the container's HEALTHCHECK) as a real process against real HTTP
//! servers: a running master, a server answering 503, one that never answers, a closed port.

mod master_process;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

use master_process::{Finished, MasterProcess, free_port, garden_toml, run_to_exit};

const LIMIT: Duration = Duration::from_secs(10);

fn healthcheck(url: &str, timeout: &str) -> Finished {
    run_to_exit(
        Path::new("."),
        &["healthcheck", "--url", url, "--timeout", timeout],
        LIMIT,
    )
}

/// A one-connection HTTP server on a free port that reads the request and answers `answer`
/// (or nothing at all, holding the connection, when `None`); returns the port.
fn one_shot_server(answer: Option<&'static str>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding a test server");
    let port = listener.local_addr().expect("its address").port();
    std::thread::spawn(move || {
        let Ok((mut stream, _)) = listener.accept() else {
            return;
        };
        let mut request = [0u8; 1024];
        let _ = stream.read(&mut request);
        match answer {
            Some(answer) => {
                let _ = stream.write_all(answer.as_bytes());
            }
            None => std::thread::sleep(Duration::from_secs(5)),
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_master_exits_0_and_prints_the_answer() {
    let dir = tempfile::tempdir().expect("temporary dir");
    let master = MasterProcess::start(dir.path(), |port| garden_toml(port, "")).await;
    let finished = healthcheck(&format!("{}/healthz", master.base), "3s");
    assert_eq!(finished.code(), 0, "a healthy master: {finished:?}");
    assert!(
        finished.stdout.starts_with("healthy: ") && finished.stdout.contains(r#""status":"ok""#),
        "says healthy with the master's answer: {}",
        finished.stdout
    );
}

#[test]
fn answer_503_exits_1_with_the_status_and_body() {
    let body = r#"{"status":"store not writable"}"#;
    let answer: &'static str = Box::leak(
        format!(
            "HTTP/1.1 503 Service Unavailable\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_boxed_str(),
    );
    let port = one_shot_server(Some(answer));
    let finished = healthcheck(&format!("http://127.0.0.1:{port}/healthz"), "3s");
    assert_eq!(finished.code(), 1, "503 is unhealthy: {finished:?}");
    let lines = finished.stderr_lines();
    assert!(
        lines.len() == 1 && lines[0].contains("503") && lines[0].contains(body),
        "one line with the status and the body: {lines:?}"
    );
}

#[test]
fn silent_server_exits_1_after_the_timeout() {
    let port = one_shot_server(None);
    let finished = healthcheck(&format!("http://127.0.0.1:{port}/healthz"), "500ms");
    assert_eq!(finished.code(), 1, "no answer is unhealthy: {finished:?}");
    assert!(
        finished.stderr.contains("did not answer within 500ms"),
        "says it timed out: {}",
        finished.stderr
    );
}

#[test]
fn closed_port_exits_1_saying_it_cannot_connect() {
    let port = free_port();
    let finished = healthcheck(&format!("http://127.0.0.1:{port}/healthz"), "3s");
    assert_eq!(
        finished.code(),
        1,
        "nothing listening is unhealthy: {finished:?}"
    );
    assert!(
        finished
            .stderr
            .contains(&format!("connecting to 127.0.0.1:{port}")),
        "names the address: {}",
        finished.stderr
    );
}

#[test]
fn a_url_that_is_not_http_is_a_usage_error() {
    let finished = healthcheck("https://127.0.0.1:8001/healthz", "3s");
    assert_eq!(finished.code(), 2, "usage error: {finished:?}");
    assert!(
        finished.stderr.contains("expected an http:// URL"),
        "says what is expected: {}",
        finished.stderr
    );
}
