//! Delivering one notification to one channel: webhook (JSON), ntfy (HTTP with its headers) or
//! e-mail (SMTP via lettre).

mod email;
mod http;

use plantkeeper_control::alerts::{Notice, NoticeStatus};
use plantkeeper_control::settings::{AlertChannel, ChannelTarget, Severity};

use super::message::{payload, text, title};
use email::EmailTarget;
use http::HttpTarget;

/// A channel ready to deliver.
pub enum Delivery {
    /// POST the JSON [`super::message::Payload`].
    Webhook(HttpTarget),
    /// POST the message to an ntfy topic with `Title`, `Priority` and `Tags` headers.
    Ntfy(HttpTarget),
    /// Send an e-mail.
    Email(Box<EmailTarget>),
}

impl Delivery {
    /// Prepares delivery to `channel`; an error says why it can never work (bad `ca_file`, ...).
    pub fn new(channel: &AlertChannel) -> Result<Delivery, String> {
        let ca_file = channel.ca_file.as_deref();
        Ok(match &channel.target {
            ChannelTarget::Webhook { url } => Delivery::Webhook(HttpTarget::new(url, ca_file)?),
            ChannelTarget::Ntfy { url } => Delivery::Ntfy(HttpTarget::new(url, ca_file)?),
            ChannelTarget::Email {
                smtp,
                from,
                to,
                username,
                password_file,
            } => Delivery::Email(Box::new(EmailTarget::new(
                smtp,
                from,
                to,
                username.as_deref().zip(password_file.as_deref()),
                ca_file,
            )?)),
        })
    }

    /// One attempt to deliver `notice`; `master` names the sender.
    pub async fn deliver(&self, notice: &Notice, master: &str) -> Result<(), String> {
        match self {
            Delivery::Webhook(target) => {
                let body = serde_json::to_vec(&payload(notice, master))
                    .map_err(|error| format!("cannot encode the body: {error}"))?;
                target.post("application/json", &[], body).await
            }
            Delivery::Ntfy(target) => {
                let headers = [
                    ("title", title(notice)),
                    ("priority", ntfy_priority(notice).to_owned()),
                    ("tags", ntfy_tags(notice)),
                ];
                let body = notice.alert.message.clone().into_bytes();
                target
                    .post("text/plain; charset=utf-8", &headers, body)
                    .await
            }
            Delivery::Email(target) => target.send(&title(notice), text(notice, master)).await,
        }
    }
}

/// ntfy priorities: 5 urgent (critical), 4 high (warning), 3 default (info and resolved).
fn ntfy_priority(notice: &Notice) -> &'static str {
    match (notice.status, notice.alert.severity) {
        (NoticeStatus::Resolved, _) | (_, Severity::Info) => "3",
        (_, Severity::Warning) => "4",
        (_, Severity::Critical) => "5",
    }
}

/// ntfy tags: an emoji short code for the status and severity, then the rule.
fn ntfy_tags(notice: &Notice) -> String {
    let emoji = match (notice.status, notice.alert.severity) {
        (NoticeStatus::Resolved, _) => "white_check_mark",
        (_, Severity::Info) => "information_source",
        (_, Severity::Warning) => "warning",
        (_, Severity::Critical) => "rotating_light",
    };
    format!(
        "{emoji},{},{}",
        notice.alert.severity, notice.alert.key.rule
    )
}
