//! `plantkeeper healthcheck`: asks a running master's `GET /healthz` and exits 0 when it answers
//! 200, 1 otherwise (unreachable, timeout, 503 because the store is not writable). It is the
//! container's `HEALTHCHECK` (deploy/docker/Dockerfile): the final image has no curl or wget.

use std::time::Duration;

use anyhow::{Context, bail};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::client::conn::http1::handshake;
use hyper::header::{HOST, HeaderValue};
use hyper::{Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::cli::CommandError;

/// Options of `healthcheck`.
#[derive(Debug, Clone, clap::Args)]
pub struct HealthcheckArgs {
    /// The master's health URL (plain `http://`).
    #[arg(long, default_value = "http://127.0.0.1:8001/healthz", value_parser = parse_http_url)]
    pub url: Uri,
    /// Give up (exit 1) after this long, e.g. `3s`.
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
}

/// An `http://host[:port]/path` URL (no TLS: the check runs next to the master).
fn parse_http_url(text: &str) -> Result<Uri, String> {
    let uri: Uri = text
        .parse()
        .map_err(|error| format!("`{text}` is not a URL: {error}"))?;
    match (uri.scheme_str(), uri.authority()) {
        (Some("http"), Some(_)) => Ok(uri),
        _ => Err(format!(
            "expected an http:// URL such as http://127.0.0.1:8001/healthz, got `{text}`"
        )),
    }
}

/// Runs the check: prints `healthy: URL answered 200 BODY` on stdout, or fails with the reason.
pub async fn run_healthcheck(args: HealthcheckArgs) -> Result<(), CommandError> {
    let url = &args.url;
    let (status, body) = tokio::time::timeout(args.timeout, get(url))
        .await
        .map_err(|_| anyhow::anyhow!("{url} did not answer within {:?}", args.timeout))??;
    if status != StatusCode::OK {
        return Err(anyhow::anyhow!("unhealthy: {url} answered {status}: {body}").into());
    }
    println!("healthy: {url} answered {status} {body}");
    Ok(())
}

/// `GET url` on a fresh connection: the status and the body as text.
async fn get(url: &Uri) -> anyhow::Result<(StatusCode, String)> {
    let Some(authority) = url.authority() else {
        bail!("{url} has no host");
    };
    let address = format!(
        "{}:{}",
        authority.host(),
        authority.port_u16().unwrap_or(80)
    );
    let stream = TcpStream::connect(&address)
        .await
        .with_context(|| format!("connecting to {address}"))?;
    let (mut sender, connection) = handshake(TokioIo::new(stream))
        .await
        .context("HTTP/1.1 handshake")?;
    tokio::spawn(async move {
        // Ends when the answer is read and the sender dropped; errors surface on the request.
        let _ = connection.await;
    });
    let path = url.path_and_query().map_or("/", |p| p.as_str());
    let request = Request::get(path)
        .header(
            HOST,
            HeaderValue::from_str(authority.as_str()).context("the URL's host")?,
        )
        .body(Empty::<Bytes>::new())
        .context("building the request")?;
    let response = sender
        .send_request(request)
        .await
        .with_context(|| format!("asking {url}"))?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .context("reading the answer")?
        .to_bytes();
    Ok((status, String::from_utf8_lossy(&body).trim().to_owned()))
}
