//! E-mail over SMTP with lettre: `smtp://` uses STARTTLS when the server offers it (and
//! requires it when credentials are set, so a password never crosses in clear); `smtps://` is
//! TLS from the first byte. rustls with the webpki roots plus an optional private CA.

use std::path::{Path, PathBuf};

use hyper::http::Uri;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::http::ATTEMPT_TIMEOUT;

/// An SMTP server and the envelope of every mail sent to it.
pub struct EmailTarget {
    host: String,
    port: u16,
    implicit_tls: bool,
    tls: TlsParameters,
    from: Mailbox,
    to: Vec<Mailbox>,
    credentials: Option<(String, PathBuf)>,
}

impl EmailTarget {
    /// Prepares mails from `from` to `to` through `smtp`; `login` is the username and the
    /// file holding the password (read at each send, so it can be rotated).
    pub fn new(
        smtp: &str,
        from: &str,
        to: &[String],
        login: Option<(&str, &Path)>,
        ca_file: Option<&Path>,
    ) -> Result<EmailTarget, String> {
        let uri: Uri = smtp
            .parse()
            .map_err(|error| format!("invalid SMTP URL `{smtp}`: {error}"))?;
        let implicit_tls = match uri.scheme_str() {
            Some("smtps") => true,
            Some("smtp") => false,
            _ => return Err(format!("`{smtp}` is neither smtp:// nor smtps://")),
        };
        let host = uri
            .host()
            .ok_or_else(|| format!("`{smtp}` has no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri
            .port_u16()
            .unwrap_or(if implicit_tls { 465 } else { 25 });
        let mut tls = TlsParameters::builder(host.clone());
        if let Some(path) = ca_file {
            let pem = std::fs::read(path)
                .map_err(|error| format!("cannot read ca_file {}: {error}", path.display()))?;
            let certificate = Certificate::from_pem(&pem)
                .map_err(|error| format!("ca_file {}: {error}", path.display()))?;
            tls = tls.add_root_certificate(certificate);
        }
        let tls = tls
            .build_rustls()
            .map_err(|error| format!("TLS setup for {host} failed: {error}"))?;
        let mailbox = |address: &str| {
            address
                .parse::<Mailbox>()
                .map_err(|error| format!("invalid address `{address}`: {error}"))
        };
        Ok(EmailTarget {
            host,
            port,
            implicit_tls,
            tls,
            from: mailbox(from)?,
            to: to
                .iter()
                .map(|address| mailbox(address))
                .collect::<Result<_, _>>()?,
            credentials: login.map(|(user, path)| (user.to_owned(), path.to_owned())),
        })
    }

    /// Sends one plain-text mail.
    pub async fn send(&self, subject: &str, body: String) -> Result<(), String> {
        let mut message = Message::builder()
            .from(self.from.clone())
            .subject(subject)
            .header(ContentType::TEXT_PLAIN);
        for recipient in &self.to {
            message = message.to(recipient.clone());
        }
        let message = message
            .body(body)
            .map_err(|error| format!("cannot build the mail: {error}"))?;
        let tls = if self.implicit_tls {
            Tls::Wrapper(self.tls.clone())
        } else if self.credentials.is_some() {
            Tls::Required(self.tls.clone())
        } else {
            Tls::Opportunistic(self.tls.clone())
        };
        let mut transport =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(self.host.as_str())
                .port(self.port)
                .tls(tls)
                .timeout(Some(ATTEMPT_TIMEOUT));
        if let Some((user, path)) = &self.credentials {
            let password = std::fs::read_to_string(path).map_err(|error| {
                format!("cannot read password_file {}: {error}", path.display())
            })?;
            let password = password.trim_end_matches(['\r', '\n']).to_owned();
            transport = transport.credentials(Credentials::new(user.clone(), password));
        }
        transport
            .build()
            .send(message)
            .await
            .map(|_| ())
            .map_err(|error| format!("SMTP {}:{} failed: {error}", self.host, self.port))
    }
}
