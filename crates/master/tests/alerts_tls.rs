//! Alerts over TLS with a private CA (`ca_file`): an HTTPS webhook receiver, and SMTP with
//! STARTTLS or TLS from the first byte plus a login whose password comes from `password_file`.

mod alerts_support;
mod common;

use std::sync::atomic::Ordering;

use alerts_support::{HttpReceiver, SmtpMode, SmtpReceiver, TestPki, settle};
use common::{TestMaster, garden_toml};

fn garden_with_alerts(alerts: &str) -> String {
    format!("{}\n{alerts}", garden_toml(""))
}

#[tokio::test]
async fn https_webhook_trusts_the_private_ca_of_ca_file_only() {
    let pki = TestPki::generate();
    let receiver = HttpReceiver::start_tls(&pki).await;
    let master = TestMaster::start_manual(&garden_with_alerts(&format!(
        r#"
[alerts]
channels = [
  {{ type = "webhook", url = "{base}/trusted", ca_file = "{ca}" }},
  {{ type = "webhook", url = "{base}/untrusted" }},
]
"#,
        base = receiver.base,
        ca = pki.ca_file.display()
    )))
    .await;
    let hooks = receiver.wait_for("/trusted", |r| !r.is_empty()).await;
    assert_eq!(hooks[0].json()["rule"], "master_restarted");
    // Without the CA the handshake fails: retried, never delivered.
    let untrusted = &master.master.alerts().channels()[1].stats;
    assert!(settle(&untrusted.retried, 1).await >= 1);
    assert_eq!(untrusted.sent.load(Ordering::SeqCst), 0);
    assert!(receiver.at("/untrusted").is_empty());
    master.stop().await;
}

async fn mail_with_login(mode: &str) {
    let pki = TestPki::generate();
    let password = "correct horse battery";
    let smtp_mode = if mode == "smtps" {
        SmtpMode::Smtps(&pki, password)
    } else {
        SmtpMode::StartTls(&pki, password)
    };
    let Some(smtp) = SmtpReceiver::start(smtp_mode).await else {
        return;
    };
    let secrets = tempfile::tempdir().expect("tempdir");
    let password_file = secrets.path().join("smtp-password");
    std::fs::write(&password_file, format!("{password}\n")).expect("write password");
    let master = TestMaster::start_manual(&garden_with_alerts(&format!(
        r#"
[alerts]
channels = [{{ type = "email", smtp = "{mode}://localhost:{port}", from = "pk@example.org", to = ["me@example.org"], username = "pk", password_file = "{password_file}", ca_file = "{ca}" }}]
"#,
        port = smtp.port,
        password_file = password_file.display(),
        ca = pki.ca_file.display()
    )))
    .await;
    let mails = smtp.wait_for(1).await;
    assert_eq!(mails[0].login.as_deref(), Some("pk"), "{mails:?}");
    assert!(mails[0].tls, "{mails:?}");
    assert!(mails[0].data.contains("Subject: [info] master_restarted"));
    master.stop().await;
}

#[tokio::test]
async fn email_logs_in_after_starttls_with_the_password_file() {
    mail_with_login("smtp").await;
}

#[tokio::test]
async fn email_logs_in_over_smtps_with_the_password_file() {
    mail_with_login("smtps").await;
}
