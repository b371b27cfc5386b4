//! The HTTP edges of `plantkeeper serve`: the 64 KiB body limit when no `Content-Length` is sent
//! (chunked), and JSON errors (CONTRACT §4) for unknown routes, wrong methods and bodies that
//! are not UTF-8.

mod master_process;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use master_process::{MasterProcess, garden_toml, node_token};

/// The body limit of CONTRACT §4.
const LIMIT: usize = 64 * 1024;
/// How long a raw exchange may take.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(5);

/// One HTTP answer, read off the socket.
#[derive(Debug)]
struct RawAnswer {
    status: u16,
    head: String,
    body: serde_json::Value,
}

/// POSTs `body` to bed-1's report route as `Transfer-Encoding: chunked` (no `Content-Length`)
/// in 4 KiB chunks. With `finish = false` the closing chunk is never sent and the connection
/// stays open, so an answer can only come from a server that refuses before the end of the body.
fn chunked_report(master: &MasterProcess, body: &[u8], finish: bool) -> RawAnswer {
    let address = master.base.trim_start_matches("http://");
    let stream = TcpStream::connect(address).expect("connect to the master");
    stream
        .set_read_timeout(Some(EXCHANGE_TIMEOUT))
        .expect("set a read timeout");
    stream
        .set_write_timeout(Some(EXCHANGE_TIMEOUT))
        .expect("set a write timeout");
    let mut writer = stream.try_clone().expect("clone the socket");
    let head = format!(
        "POST /api/v1/nodes/bed-1/report HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        node_token("bed-1")
    );
    let mut wire = head.into_bytes();
    for chunk in body.chunks(4096) {
        wire.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        wire.extend_from_slice(chunk);
        wire.extend_from_slice(b"\r\n");
    }
    if finish {
        wire.extend_from_slice(b"0\r\n\r\n");
    }
    // Written from another thread while this one reads, so that an early answer is read even if
    // the server stops reading (and resets the connection) before the body is all sent.
    let sender = std::thread::spawn(move || {
        let _ = writer.write_all(&wire);
        let _ = writer.flush();
    });
    let answer = read_answer(stream.try_clone().expect("clone the socket"));
    let _ = stream.shutdown(Shutdown::Both);
    sender.join().expect("the sending thread does not panic");
    answer
}

/// Reads one HTTP/1.1 answer with a `Content-Length`, stopping as soon as it is complete.
fn read_answer(mut stream: TcpStream) -> RawAnswer {
    let started = Instant::now();
    let mut received = Vec::new();
    let mut buffer = [0_u8; 8192];
    loop {
        if let Some(answer) = complete_answer(&received) {
            return answer;
        }
        assert!(
            started.elapsed() < EXCHANGE_TIMEOUT,
            "no complete answer within {EXCHANGE_TIMEOUT:?}; got {:?}",
            String::from_utf8_lossy(&received)
        );
        match stream.read(&mut buffer) {
            Ok(0) => panic!(
                "the connection closed before a complete answer: {:?}",
                String::from_utf8_lossy(&received)
            ),
            Ok(read) => received.extend_from_slice(&buffer[..read]),
            Err(error) => panic!(
                "reading the answer failed ({error}) after {:?}",
                String::from_utf8_lossy(&received)
            ),
        }
    }
}

fn complete_answer(received: &[u8]) -> Option<RawAnswer> {
    let end_of_head = received
        .windows(4)
        .position(|window| window == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&received[..end_of_head]).into_owned();
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or_else(|| panic!("the answer has no Content-Length: {head}"));
    let body = received.get(end_of_head + 4..end_of_head + 4 + length)?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head}"));
    let body = serde_json::from_slice(body).unwrap_or_else(|error| {
        panic!(
            "the answer is not JSON ({error}): {}",
            String::from_utf8_lossy(body)
        )
    });
    Some(RawAnswer { status, head, body })
}

/// A report body of exactly `size` bytes: valid JSON padded with spaces.
fn report_of_size(size: usize) -> Vec<u8> {
    let mut body = br#"{"seq": 1, "boot": 1, "readings": {"soil_moisture": 50.0}}"#.to_vec();
    body.resize(size, b' ');
    body
}

/// Asserts the JSON error envelope of CONTRACT §4 with `code`.
fn assert_api_error(body: &serde_json::Value, code: &str) {
    let error = &body["error"];
    assert_eq!(error["code"], code, "error code: {body}");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|text| !text.is_empty()),
        "an error says what is wrong: {body}"
    );
    assert!(
        error
            .get("field")
            .is_some_and(|field| field.is_null() || field.is_string()),
        "an error has a `field` (null or a path): {body}"
    );
}

async fn start_master() -> (tempfile::TempDir, MasterProcess) {
    let dir = tempfile::tempdir().expect("temporary dir");
    let master = MasterProcess::start(dir.path(), |port| garden_toml(port, "")).await;
    (dir, master)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chunked_body_over_64_kib_is_refused_with_413_before_it_ends() {
    let (_dir, master) = start_master().await;
    let answer = tokio::task::block_in_place(|| {
        chunked_report(&master, &report_of_size(LIMIT + 16 * 1024), false)
    });
    assert_eq!(answer.status, 413, "{answer:?}");
    assert!(
        answer
            .head
            .to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{answer:?}"
    );
    assert_api_error(&answer.body, "body_too_large");
    let bed = master.node_view("bed-1").await;
    assert_eq!(
        bed["status"], "never_seen",
        "a refused report is not a sign of life: {bed}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chunked_body_of_exactly_64_kib_is_accepted_and_one_byte_more_is_not() {
    let (_dir, master) = start_master().await;
    let at_limit =
        tokio::task::block_in_place(|| chunked_report(&master, &report_of_size(LIMIT), true));
    assert_eq!(at_limit.status, 200, "64 KiB is allowed: {at_limit:?}");
    assert_eq!(at_limit.body["acked_seq"], 1, "{at_limit:?}");
    let over =
        tokio::task::block_in_place(|| chunked_report(&master, &report_of_size(LIMIT + 1), true));
    assert_eq!(over.status, 413, "64 KiB + 1 byte is refused: {over:?}");
    assert_api_error(&over.body, "body_too_large");
}

#[tokio::test]
async fn an_unknown_route_answers_a_json_404() {
    let (_dir, master) = start_master().await;
    let response = master
        .http
        .get(format!("{}/api/v1/no-such-thing", master.base))
        .send()
        .await
        .expect("request sent");
    assert_eq!(response.status(), 404);
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|value| value.to_str().ok()),
        Some("application/json")
    );
    let body: serde_json::Value = response.json().await.expect("a JSON body");
    assert_api_error(&body, "no_route");
}

#[tokio::test]
async fn a_wrong_method_answers_a_json_405() {
    let (_dir, master) = start_master().await;
    for (method, path) in [
        (reqwest::Method::GET, "/api/v1/nodes/bed-1/report"),
        (reqwest::Method::DELETE, "/api/v1/nodes"),
    ] {
        let response = master
            .http
            .request(method.clone(), format!("{}{path}", master.base))
            .send()
            .await
            .expect("request sent");
        assert_eq!(response.status(), 405, "{method} {path}");
        let body: serde_json::Value = response.json().await.expect("a JSON body");
        assert_api_error(&body, "method_not_allowed");
    }
}

#[tokio::test]
async fn a_report_that_is_not_utf8_answers_a_json_400_and_changes_nothing() {
    let (_dir, master) = start_master().await;
    let bodies: [&[u8]; 2] = [
        b"{\"seq\": 1, \"readings\": {\"soil_moisture\": 20.0}, \"note\": \"\xff\xfe\"}",
        b"{\"seq\": 1, \"readings\": {\"soil_\xc3(\": 20.0}}",
    ];
    for body in bodies {
        let response = master
            .http
            .post(format!("{}/api/v1/nodes/bed-1/report", master.base))
            .bearer_auth(node_token("bed-1"))
            .header("content-type", "application/json")
            .body(body.to_vec())
            .send()
            .await
            .expect("request sent");
        assert_eq!(response.status(), 400, "{}", String::from_utf8_lossy(body));
        let answer: serde_json::Value = response.json().await.expect("a JSON body");
        assert_api_error(&answer, "invalid_json");
    }
    let bed = master.node_view("bed-1").await;
    assert_eq!(
        bed["status"], "never_seen",
        "a refused report is not a sign of life: {bed}"
    );
    assert_eq!(
        bed["outputs"]["valve"]["power"], false,
        "a refused report opens nothing: {bed}"
    );
}
