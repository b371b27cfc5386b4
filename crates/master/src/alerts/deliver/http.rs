//! One HTTP(S) POST per notification: a fresh connection (notifications are rare), rustls with
//! the ring provider, the webpki roots plus an optional private CA (`ca_file`).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::body::Bytes;
use hyper::http::{HeaderName, HeaderValue, Uri};
use hyper_util::rt::TokioIo;
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// How long one attempt (connect, TLS, request and answer) may take.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// A POST to one URL.
#[derive(Clone)]
pub struct HttpTarget {
    uri: Uri,
    tls: Option<TlsConnector>,
}

impl HttpTarget {
    /// Prepares POSTs to `url` (`http://` or `https://`), trusting `ca_file`'s certificates in
    /// addition to the webpki roots.
    pub fn new(url: &str, ca_file: Option<&Path>) -> Result<HttpTarget, String> {
        let uri: Uri = url
            .parse()
            .map_err(|error| format!("invalid URL `{url}`: {error}"))?;
        let tls = match uri.scheme_str() {
            Some("https") => Some(tls_connector(ca_file)?),
            Some("http") => None,
            _ => return Err(format!("`{url}` is neither http:// nor https://")),
        };
        if uri.host().is_none() {
            return Err(format!("`{url}` has no host"));
        }
        Ok(HttpTarget { uri, tls })
    }

    /// POSTs `body` with `headers`; `Ok` only for a 2xx answer.
    pub async fn post(
        &self,
        content_type: &str,
        headers: &[(&'static str, String)],
        body: Vec<u8>,
    ) -> Result<(), String> {
        tokio::time::timeout(ATTEMPT_TIMEOUT, self.post_once(content_type, headers, body))
            .await
            .map_err(|_| format!("no answer within {}s", ATTEMPT_TIMEOUT.as_secs()))?
    }

    async fn post_once(
        &self,
        content_type: &str,
        headers: &[(&'static str, String)],
        body: Vec<u8>,
    ) -> Result<(), String> {
        let host = self.uri.host().unwrap_or_default();
        let bare_host = host.trim_start_matches('[').trim_end_matches(']');
        let port = self
            .uri
            .port_u16()
            .unwrap_or(if self.tls.is_some() { 443 } else { 80 });
        let stream = TcpStream::connect((bare_host, port))
            .await
            .map_err(|error| format!("cannot connect to {host}:{port}: {error}"))?;
        let mut request =
            Request::post(self.uri.path_and_query().map_or("/", |path| path.as_str()))
                .header("host", self.uri.authority().map_or(host, |a| a.as_str()))
                .header("content-type", content_type)
                .header(
                    "user-agent",
                    concat!("plantkeeper/", env!("CARGO_PKG_VERSION")),
                );
        for (name, value) in headers {
            let value = HeaderValue::from_str(value)
                .map_err(|_| format!("header {name} has a value that cannot be sent"))?;
            request = request.header(HeaderName::from_static(name), value);
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|error| format!("cannot build the request: {error}"))?;
        let status = match &self.tls {
            Some(connector) => {
                let name = ServerName::try_from(bare_host.to_owned())
                    .map_err(|_| format!("`{host}` is not a valid TLS server name"))?;
                let stream = connector
                    .connect(name, stream)
                    .await
                    .map_err(|error| format!("TLS with {host}:{port} failed: {error}"))?;
                send(TokioIo::new(stream), request).await?
            }
            None => send(TokioIo::new(stream), request).await?,
        };
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("the receiver answered {status}"))
        }
    }
}

async fn send<I>(io: I, request: Request<Full<Bytes>>) -> Result<hyper::StatusCode, String>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|error| format!("HTTP handshake failed: {error}"))?;
    let driver = tokio::spawn(connection);
    let response = sender
        .send_request(request)
        .await
        .map_err(|error| format!("request failed: {error}"))?;
    let status = response.status();
    // Read the answer to the end so the receiver sees a clean close; its content is ignored.
    let _ = response.into_body().collect().await;
    drop(sender);
    driver.abort();
    Ok(status)
}

/// A rustls connector trusting the webpki roots and the certificates of `ca_file`.
pub fn tls_connector(ca_file: Option<&Path>) -> Result<TlsConnector, String> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .map_err(|error| format!("cannot read ca_file {}: {error}", path.display()))?
            .collect::<Result<_, _>>()
            .map_err(|error| format!("ca_file {} is not PEM: {error}", path.display()))?;
        if certificates.is_empty() {
            return Err(format!("ca_file {} holds no certificate", path.display()));
        }
        for certificate in certificates {
            roots
                .add(certificate)
                .map_err(|error| format!("ca_file {}: {error}", path.display()))?;
        }
    }
    // ring, as lettre uses: no C toolchain needed (aws-lc-rs would be). Deprecated only for
    // lacking post-quantum key exchange, which notification receivers do not need.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| format!("TLS setup failed: {error}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}
