//! Real receivers for the alert tests: an HTTP server (axum on 127.0.0.1) that records webhook
//! and ntfy calls and can fail the first requests, a server that accepts and never answers,
//! and an SMTP server (Python's aiosmtpd) that writes every mail it receives to a file.
#![allow(dead_code)] // each test uses a different part of this harness

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use tokio::io::{AsyncBufReadExt, BufReader};

/// One HTTP request as received.
#[derive(Debug, Clone)]
pub struct Received {
    /// Path and query.
    pub path: String,
    /// Headers, names lower-case.
    pub headers: BTreeMap<String, String>,
    /// Body text.
    pub body: String,
}

impl Received {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

#[derive(Default)]
struct Inbox {
    received: Mutex<Vec<Received>>,
    attempts: AtomicUsize,
    fail_first: AtomicUsize,
}

/// An HTTP receiver on 127.0.0.1.
pub struct HttpReceiver {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    inbox: Arc<Inbox>,
}

impl HttpReceiver {
    /// Starts a receiver answering 500 to its first `fail_first` requests, then 200.
    pub async fn start(fail_first: usize) -> HttpReceiver {
        let inbox = Arc::new(Inbox::default());
        inbox.fail_first.store(fail_first, Ordering::SeqCst);
        let app = Router::new()
            .fallback(record)
            .with_state(Arc::clone(&inbox));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        HttpReceiver { base, inbox }
    }

    /// Starts an HTTPS receiver on `https://localhost:PORT` with `pki`'s server certificate.
    pub async fn start_tls(pki: &TestPki) -> HttpReceiver {
        let inbox = Arc::new(Inbox::default());
        let app = Router::new()
            .fallback(record)
            .with_state(Arc::clone(&inbox));
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!(
            "https://localhost:{}",
            tcp.local_addr().expect("address").port()
        );
        let listener = TlsListener {
            tcp,
            acceptor: pki.acceptor(),
        };
        tokio::spawn(async move { axum::serve(listener, app).await });
        HttpReceiver { base, inbox }
    }

    /// Every request answered 200, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        self.inbox.received.lock().expect("inbox").clone()
    }

    /// Requests received at `path` (200 answers only).
    pub fn at(&self, path: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|request| request.path == path)
            .collect()
    }

    /// Every request, failed ones included.
    pub fn attempts(&self) -> usize {
        self.inbox.attempts.load(Ordering::SeqCst)
    }

    /// Waits (up to 10 s) until `done` holds for the requests at `path`, then returns them.
    pub async fn wait_for(&self, path: &str, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        for _ in 0..500 {
            let requests = self.at(path);
            if done(&requests) {
                return requests;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "receiver never saw what was expected at {path}: {:#?}",
            self.at(path)
        );
    }
}

async fn record(
    State(inbox): State<Arc<Inbox>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    inbox.attempts.fetch_add(1, Ordering::SeqCst);
    let failing = inbox
        .fail_first
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
            left.checked_sub(1)
        })
        .is_ok();
    if failing {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    let headers = headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                value.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    inbox.received.lock().expect("inbox").push(Received {
        path: uri.path().to_owned(),
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    StatusCode::OK
}

/// Waits (up to 10 s) until `counter` reaches at least `expected`; returns its value then.
pub async fn settle(counter: &std::sync::atomic::AtomicU64, expected: u64) -> u64 {
    for _ in 0..1000 {
        if counter.load(Ordering::SeqCst) >= expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    counter.load(Ordering::SeqCst)
}

/// A private CA and a server certificate for `localhost` signed by it, as PEM files.
pub struct TestPki {
    /// The CA certificate (what `ca_file` names).
    pub ca_file: std::path::PathBuf,
    /// The server certificate chain.
    pub cert_file: std::path::PathBuf,
    /// The server's private key (PKCS#8).
    pub key_file: std::path::PathBuf,
    cert_der: Vec<u8>,
    key_der: Vec<u8>,
    _dir: tempfile::TempDir,
}

impl TestPki {
    /// Generates the CA and the server certificate.
    pub fn generate() -> TestPki {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
        };
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "PlantKeeper test CA");
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
        let issuer = Issuer::new(ca_params, ca_key);
        let key = KeyPair::generate().expect("server key");
        let params = CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
        let cert = params.signed_by(&key, &issuer).expect("server certificate");
        let dir = tempfile::tempdir().expect("tempdir");
        let ca_file = dir.path().join("ca.pem");
        let cert_file = dir.path().join("server.pem");
        let key_file = dir.path().join("server.key");
        std::fs::write(&ca_file, ca_cert.pem()).expect("write CA");
        std::fs::write(&cert_file, cert.pem()).expect("write certificate");
        std::fs::write(&key_file, key.serialize_pem()).expect("write key");
        TestPki {
            ca_file,
            cert_file,
            key_file,
            cert_der: cert.der().to_vec(),
            key_der: key.serialize_der(),
            _dir: dir,
        }
    }

    fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
        #[allow(deprecated)] // the ring provider, as the master uses
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from(self.cert_der.clone())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone())),
            )
            .expect("server certificate");
        tokio_rustls::TlsAcceptor::from(Arc::new(config))
    }
}

/// A TCP listener that completes a TLS handshake before handing a connection to axum;
/// failed handshakes (a client that does not trust the CA) are dropped.
struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((stream, address)) = self.tcp.accept().await else {
                continue;
            };
            if let Ok(tls) = self.acceptor.accept(stream).await {
                return (tls, address);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// A TCP server that accepts connections and never answers: a receiver that hangs.
pub async fn black_hole() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    format!("http://{address}")
}

const SMTP_SERVER: &str = r#"
import json, logging, socket, ssl, sys, warnings
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

mails, mode = sys.argv[1], sys.argv[2]
# The test asserts what matters; aiosmtpd's advice and deprecation notes are noise here.
warnings.simplefilter("ignore")
logging.getLogger("mail.log").setLevel(logging.CRITICAL)

class Keep:
    async def handle_DATA(self, server, session, envelope):
        login = getattr(session.auth_data, "login", None)
        with open(mails, "a") as out:
            out.write(json.dumps({
                "from": envelope.mail_from,
                "to": envelope.rcpt_tos,
                "data": envelope.content.decode("utf8", "replace"),
                "login": login.decode() if login else None,
                "tls": session.ssl is not None
                    or server.transport.get_extra_info("ssl_object") is not None,
            }) + "\n")
        return "250 OK"

def check(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"pk" \
        and auth_data.password == sys.argv[5].encode()
    return AuthResult(success=ok, handled=False, auth_data=auth_data)

options = {}
if mode != "plain":
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(sys.argv[3], sys.argv[4])
    options = {"authenticator": check, "auth_required": True}
    if mode == "smtps":
        # TLS from the first byte: aiosmtpd's own TLS-for-AUTH check only knows STARTTLS.
        options.update(ssl_context=context, auth_require_tls=False)
    else:
        options.update(tls_context=context, require_starttls=True)

# aiosmtpd needs a fixed port (it connects to it to check the start): take a free one.
probe = socket.socket()
probe.bind(("127.0.0.1", 0))
port = probe.getsockname()[1]
probe.close()
controller = Controller(Keep(), hostname="127.0.0.1", port=port, **options)
controller.start()
print(port, flush=True)
sys.stdin.read()
controller.stop()
"#;

/// One mail as the SMTP server received it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Mail {
    /// Envelope sender.
    pub from: String,
    /// Envelope recipients.
    pub to: Vec<String>,
    /// The whole message, headers and body.
    pub data: String,
    /// The user name the client logged in with, if it did.
    pub login: Option<String>,
    /// Whether the mail came over TLS (STARTTLS or TLS from the first byte).
    pub tls: bool,
}

/// How the test SMTP server talks.
pub enum SmtpMode<'a> {
    /// No TLS, no login.
    Plain,
    /// STARTTLS required, then AUTH as `pk` with this password required.
    StartTls(&'a TestPki, &'a str),
    /// TLS from the first byte, then AUTH as `pk` with this password required.
    Smtps(&'a TestPki, &'a str),
}

/// aiosmtpd on 127.0.0.1; stops when dropped (its stdin closes).
pub struct SmtpReceiver {
    /// The port it listens on.
    pub port: u16,
    mails: std::path::PathBuf,
    _dir: tempfile::TempDir,
    _child: tokio::process::Child,
}

impl SmtpReceiver {
    /// Starts aiosmtpd, or `None` (after the skip-or-fail rule) when it is not installed.
    pub async fn start(mode: SmtpMode<'_>) -> Option<SmtpReceiver> {
        let installed = std::process::Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .output()
            .map_err(|error| error.to_string())
            .and_then(|output| {
                if output.status.success() {
                    Ok(())
                } else {
                    Err(String::from_utf8_lossy(&output.stderr).trim().to_owned())
                }
            });
        if !plantkeeper_store::testsuite::require_service(
            "aiosmtpd (python3 -m pip install aiosmtpd)",
            "python3",
            installed,
        ) {
            return None;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let mails = dir.path().join("mails.jsonl");
        let mut command = tokio::process::Command::new("python3");
        command.args(["-c", SMTP_SERVER]).arg(&mails);
        match mode {
            SmtpMode::Plain => {
                command.arg("plain");
            }
            SmtpMode::StartTls(pki, password) | SmtpMode::Smtps(pki, password) => {
                let name = if matches!(mode, SmtpMode::Smtps(..)) {
                    "smtps"
                } else {
                    "starttls"
                };
                command
                    .arg(name)
                    .arg(&pki.cert_file)
                    .arg(&pki.key_file)
                    .arg(password);
            }
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        tokio::time::timeout(
            Duration::from_secs(10),
            BufReader::new(stdout).read_line(&mut line),
        )
        .await
        .expect("aiosmtpd starts within 10 s")
        .expect("aiosmtpd prints its port");
        let port = line.trim().parse().expect("a port number");
        Some(SmtpReceiver {
            port,
            mails,
            _dir: dir,
            _child: child,
        })
    }

    /// Every mail received so far.
    pub fn mails(&self) -> Vec<Mail> {
        std::fs::read_to_string(&self.mails)
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).expect("a mail record"))
            .collect()
    }

    /// Waits (up to 10 s) until `count` mails arrived, then returns them.
    pub async fn wait_for(&self, count: usize) -> Vec<Mail> {
        for _ in 0..500 {
            let mails = self.mails();
            if mails.len() >= count {
                return mails;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("expected {count} mails, got {:#?}", self.mails());
    }
}
