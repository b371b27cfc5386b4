//! One HTTP/1.1 keep-alive connection per simulated client, straight on hyper: no pool, no
//! shared state between connections, so the load generator spends as little of the machine's
//! CPU as possible and the same client measures the master and the ceiling.

use std::net::SocketAddr;

use anyhow::Context;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::{SendRequest, handshake};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// An open connection to one server.
pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
    host: HeaderValue,
}

impl Connection {
    /// Connects (with `TCP_NODELAY`, as firmware answering small requests would want).
    pub async fn open(address: SocketAddr) -> anyhow::Result<Connection> {
        let stream = TcpStream::connect(address)
            .await
            .with_context(|| format!("connecting to {address}"))?;
        stream.set_nodelay(true).context("setting TCP_NODELAY")?;
        let (sender, connection) = handshake(TokioIo::new(stream))
            .await
            .context("HTTP/1.1 handshake")?;
        tokio::spawn(async move {
            // Ends when the server closes or the sender is dropped; errors surface on the
            // next request through `sender`.
            let _ = connection.await;
        });
        let host = HeaderValue::from_str(&address.to_string())
            .context("a socket address is a valid Host header")?;
        Ok(Connection { sender, host })
    }

    /// `POST path` with a JSON body and a bearer authorization; the answer's status.
    pub async fn post_json(
        &mut self,
        path: &str,
        authorization: &HeaderValue,
        body: Bytes,
    ) -> anyhow::Result<StatusCode> {
        let request = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(HOST, self.host.clone())
            .header(AUTHORIZATION, authorization.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(Full::new(body))
            .context("building a request")?;
        self.send(request).await
    }

    /// `GET path`; the answer's status.
    pub async fn get(&mut self, path: &str) -> anyhow::Result<StatusCode> {
        let request = Request::builder()
            .method(Method::GET)
            .uri(path)
            .header(HOST, self.host.clone())
            .body(Full::new(Bytes::new()))
            .context("building a request")?;
        self.send(request).await
    }

    async fn send(&mut self, request: Request<Full<Bytes>>) -> anyhow::Result<StatusCode> {
        self.sender
            .ready()
            .await
            .context("the connection is closed")?;
        let response = self
            .sender
            .send_request(request)
            .await
            .context("sending the request")?;
        let status = response.status();
        // The whole answer is read, as a node would, before the connection is reused.
        response
            .into_body()
            .collect()
            .await
            .context("reading the answer")?;
        Ok(status)
    }
}
