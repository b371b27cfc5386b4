//! Where pushes go (`[telemetry] loki_url`) and one push over plain HTTP/1.1.

use std::time::Duration;

use anyhow::{Context, bail};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::handshake;
use hyper::header::{CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Loki's push route, appended to `loki_url` unless it already ends with it.
pub const PUSH_PATH: &str = "/loki/api/v1/push";

/// The parsed `loki_url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushTarget {
    host: String,
    port: u16,
    authority: HeaderValue,
    path: String,
}

/// Why a push failed, which decides whether it is retried.
#[derive(Debug)]
pub enum PushError {
    /// Loki refused the batch itself (a 4xx other than 429): sending it again cannot help.
    Refused(StatusCode, String),
    /// Unreachable, timed out, 429 or 5xx: worth another try later.
    Transient(String),
}

impl std::fmt::Display for PushError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PushError::Refused(status, body) => {
                write!(f, "Loki refused the batch ({status}): {body}")
            }
            PushError::Transient(reason) => f.write_str(reason),
        }
    }
}

impl PushTarget {
    /// Parses `http://host[:port][/path]` (the loader has already refused other schemes).
    ///
    /// # Errors
    /// When the URL has no host, a bad port, credentials, a query or a fragment.
    pub fn parse(url: &str) -> anyhow::Result<PushTarget> {
        let Some(rest) = url.strip_prefix("http://") else {
            bail!("loki_url `{url}` does not start with http://");
        };
        if rest.contains(['?', '#']) {
            bail!("loki_url `{url}` has a query or fragment; give the Loki base URL");
        }
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if authority.contains('@') {
            bail!("loki_url `{url}` has credentials; they are not supported");
        }
        let (host, port) = split_host_port(authority)
            .with_context(|| format!("loki_url `{url}` has no valid host[:port]"))?;
        let path = path.trim_end_matches('/');
        let path = if path.ends_with(PUSH_PATH) {
            path.to_owned()
        } else {
            format!("{path}{PUSH_PATH}")
        };
        Ok(PushTarget {
            host: host.to_owned(),
            port,
            authority: HeaderValue::from_str(authority)
                .with_context(|| format!("loki_url `{url}`: invalid host"))?,
            path,
        })
    }

    /// POSTs one JSON body, giving up after `limit` (connect, send and answer included).
    pub async fn push(&self, body: Bytes, limit: Duration) -> Result<(), PushError> {
        match tokio::time::timeout(limit, self.push_unbounded(body)).await {
            Ok(result) => result,
            Err(_) => Err(PushError::Transient(format!(
                "no answer from Loki within {limit:?}"
            ))),
        }
    }

    async fn push_unbounded(&self, body: Bytes) -> Result<(), PushError> {
        let transient = |what: &str, error: &dyn std::fmt::Display| {
            PushError::Transient(format!("{what} {}:{}: {error}", self.host, self.port))
        };
        let stream = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|error| transient("cannot connect to", &error))?;
        let (mut sender, connection) = handshake(TokioIo::new(stream))
            .await
            .map_err(|error| transient("HTTP handshake with", &error))?;
        let request = Request::builder()
            .method(Method::POST)
            .uri(&self.path)
            .header(HOST, self.authority.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(Full::new(body))
            .map_err(|error| transient("building a request for", &error))?;
        let exchange = async {
            let response = sender
                .send_request(request)
                .await
                .map_err(|error| transient("pushing to", &error))?;
            let status = response.status();
            let text = match response.into_body().collect().await {
                Ok(body) => String::from_utf8_lossy(&body.to_bytes())
                    .chars()
                    .take(200)
                    .collect(),
                Err(_) => String::new(),
            };
            Ok::<_, PushError>((status, text))
        };
        tokio::pin!(exchange);
        // The connection is driven here, not in a task of its own, so a push that times out
        // drops its socket with it.
        let (status, text) = tokio::select! {
            biased;
            answer = &mut exchange => answer?,
            _ = connection => exchange.await?,
        };
        if status.is_success() {
            return Ok(());
        }
        if status.is_client_error() && status != StatusCode::TOO_MANY_REQUESTS {
            Err(PushError::Refused(status, text))
        } else {
            Err(PushError::Transient(format!(
                "Loki answered {status}: {text}"
            )))
        }
    }
}

/// `host`, `host:port` or `[v6]:port`; port 80 when absent.
fn split_host_port(authority: &str) -> Option<(&str, u16)> {
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, rest) = v6.split_once(']')?;
        (host, rest.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return None;
    }
    let port = match port {
        Some(port) => port.parse().ok()?,
        None => 80,
    };
    Some((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_push_path_is_appended_once() {
        let base = PushTarget::parse("http://127.0.0.1:3100").unwrap();
        assert_eq!((base.host.as_str(), base.port), ("127.0.0.1", 3100));
        assert_eq!(base.path, PUSH_PATH);
        let full = PushTarget::parse("http://loki/loki/api/v1/push").unwrap();
        assert_eq!((full.host.as_str(), full.port), ("loki", 80));
        assert_eq!(full.path, PUSH_PATH);
        let prefixed = PushTarget::parse("http://[::1]:3100/logs/").unwrap();
        assert_eq!(prefixed.host, "::1");
        assert_eq!(prefixed.path, "/logs/loki/api/v1/push");
    }

    #[test]
    fn bad_urls_are_refused() {
        for url in [
            "https://loki:3100",
            "http://:3100",
            "http://loki:port",
            "http://user:pw@loki:3100",
            "http://loki:3100/?x=1",
        ] {
            assert!(PushTarget::parse(url).is_err(), "{url} accepted");
        }
    }
}
