//! A real HTTP receiver standing in for Grafana Loki: records every push (path, content type,
//! JSON body) and answers with scripted statuses; plus a "hanging" Loki that accepts
//! connections and never answers, and the address of a Loki that is down.
#![allow(dead_code)] // each test file uses a different part of this harness

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use serde_json::Value;
use tokio::io::AsyncReadExt;

/// One stream of a push: its labels and its `(timestamp, line)` values.
pub type Stream = (serde_json::Map<String, Value>, Vec<(String, String)>);

/// One push as received.
#[derive(Debug, Clone)]
pub struct Push {
    /// Request path.
    pub path: String,
    /// `Content-Type` header.
    pub content_type: String,
    /// The parsed body.
    pub body: Value,
}

impl Push {
    /// Every stream of the push: (labels, lines).
    pub fn streams(&self) -> Vec<Stream> {
        self.body["streams"]
            .as_array()
            .unwrap_or_else(|| panic!("no streams in {}", self.body))
            .iter()
            .map(|stream| {
                let labels = stream["stream"]
                    .as_object()
                    .unwrap_or_else(|| panic!("no stream labels in {stream}"))
                    .clone();
                let values = stream["values"]
                    .as_array()
                    .unwrap_or_else(|| panic!("no values in {stream}"))
                    .iter()
                    .map(|pair| {
                        (
                            pair[0].as_str().expect("timestamp string").to_owned(),
                            pair[1].as_str().expect("line string").to_owned(),
                        )
                    })
                    .collect();
                (labels, values)
            })
            .collect()
    }

    /// How many lines the push carries.
    pub fn line_count(&self) -> usize {
        self.streams().iter().map(|(_, lines)| lines.len()).sum()
    }
}

#[derive(Clone, Default)]
struct Shared {
    pushes: Arc<Mutex<Vec<Push>>>,
    /// Statuses to answer, in order; 204 once empty.
    script: Arc<Mutex<VecDeque<u16>>>,
}

/// A running receiver.
pub struct Receiver {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    shared: Shared,
    server: tokio::task::JoinHandle<()>,
}

impl Receiver {
    /// Starts a receiver answering `script` statuses first, then 204.
    pub async fn start(script: &[u16]) -> Receiver {
        let shared = Shared::default();
        shared
            .script
            .lock()
            .expect("lock")
            .extend(script.iter().copied());
        let app = Router::new().fallback(record).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the receiver");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            url,
            shared,
            server,
        }
    }

    /// Every push so far.
    pub fn pushes(&self) -> Vec<Push> {
        self.shared.pushes.lock().expect("lock").clone()
    }

    /// Waits (at most `limit`) until `done(pushes)` holds; returns the pushes.
    pub async fn wait_for(&self, limit: Duration, done: impl Fn(&[Push]) -> bool) -> Vec<Push> {
        let deadline = Instant::now() + limit;
        loop {
            let pushes = self.pushes();
            if done(&pushes) {
                return pushes;
            }
            assert!(
                Instant::now() < deadline,
                "the receiver did not get what was expected within {limit:?}; got {pushes:#?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn record(
    State(shared): State<Shared>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let body = serde_json::from_slice(&body)
        .unwrap_or_else(|error| panic!("a push that is not JSON ({error}): {body:?}"));
    shared.pushes.lock().expect("lock").push(Push {
        path: uri.path().to_owned(),
        content_type: headers
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        body,
    });
    let status = shared
        .script
        .lock()
        .expect("lock")
        .pop_front()
        .unwrap_or(204);
    StatusCode::from_u16(status).expect("a valid scripted status")
}

/// A Loki that accepts connections, reads whatever comes and never answers.
pub struct HangingLoki {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    accepted: Arc<AtomicUsize>,
    closed: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl HangingLoki {
    /// Starts listening.
    pub async fn start() -> HangingLoki {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the hanging receiver");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        let accepted = Arc::new(AtomicUsize::new(0));
        let closed = Arc::new(AtomicUsize::new(0));
        let (accepted_, closed_) = (Arc::clone(&accepted), Arc::clone(&closed));
        let task = tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                accepted_.fetch_add(1, Ordering::SeqCst);
                let closed = Arc::clone(&closed_);
                tokio::spawn(async move {
                    let mut buffer = [0_u8; 4096];
                    while matches!(socket.read(&mut buffer).await, Ok(n) if n > 0) {}
                    closed.fetch_add(1, Ordering::SeqCst);
                });
            }
        });
        HangingLoki {
            url,
            accepted,
            closed,
            task,
        }
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Connections the client has closed so far.
    pub fn closed(&self) -> usize {
        self.closed.load(Ordering::SeqCst)
    }
}

impl Drop for HangingLoki {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The URL of a Loki that is down (a port nothing listens on a moment ago).
pub fn down_loki() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let port = listener.local_addr().expect("local address").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}
