//! `[alerts]` with every option: channels with their limits and credentials, and user rules.

use std::path::{Path, PathBuf};
use std::time::Duration;

use plantkeeper_control::condition::{CompareOp, Condition};
use plantkeeper_control::load::load_settings;
use plantkeeper_control::settings::{ChannelTarget, Severity};

const CONFIG: &str = r#"
[alerts]
repeat_every = "30m"
channels = [
  { type = "ntfy", url = "https://ntfy.example.org/garden", min_severity = "warning", max_per_hour = 5, ca_file = "ca.pem" },
  { type = "email", smtp = "smtps://mail.example.org", from = "pk@example.org", to = ["me@example.org"], username = "pk", password_file = "/etc/plantkeeper/smtp" },
]

[[alerts.rules]]
name = "bed-1-dry"
node = "bed-1"
when = "soil_moisture < 20 and not bed-1.valve"
for = "10m"
severity = "critical"

[[alerts.rules]]
name = "tank-low"
when = "tank.level < 15"

[nodes.bed-1]
token = "bed-1-test-token-0001"
[nodes.bed-1.outputs.valve]
on_when = "soil_moisture < 30"

[nodes.tank]
token = "tank-test-token-00001"
"#;

#[test]
fn every_alert_option_is_read() {
    let settings = match load_settings("alerts.toml", CONFIG) {
        Ok(settings) => settings,
        Err(errors) => panic!("{errors:#?}"),
    };
    let mut alerts = settings.alerts;
    assert_eq!(alerts.repeat_every, Duration::from_secs(1800));
    assert_eq!(alerts.node_silent_after, Duration::from_secs(120));
    let ntfy = &alerts.channels[0];
    assert_eq!(ntfy.min_severity, Severity::Warning);
    assert_eq!(ntfy.max_per_hour, 5);
    assert_eq!(ntfy.ca_file.as_deref(), Some(Path::new("ca.pem")));
    assert_eq!(alerts.channels[1].max_per_hour, 30, "default");
    assert_eq!(alerts.channels[1].min_severity, Severity::Info, "default");

    let dry = &alerts.rules[0];
    assert_eq!(dry.name, "bed-1-dry");
    assert_eq!(dry.node.as_deref(), Some("bed-1"));
    assert_eq!(dry.hold_for, Duration::from_secs(600));
    assert_eq!(dry.severity, Severity::Critical);
    let Condition::And(terms) = &dry.when.root else {
        panic!("{:?}", dry.when.root)
    };
    assert!(
        matches!(&terms[0], Condition::Compare { sensor, op: CompareOp::Lt, value } if sensor.node == "bed-1" && *value == 20.0),
        "a bare sensor belongs to the rule's node: {terms:?}"
    );
    let low = &alerts.rules[1];
    assert_eq!(
        (low.severity, low.hold_for, low.node.as_deref()),
        (Severity::Warning, Duration::ZERO, None)
    );

    alerts.resolve_paths(Path::new("/etc/plantkeeper"));
    assert_eq!(
        alerts.channels[0].ca_file,
        Some(PathBuf::from("/etc/plantkeeper/ca.pem")),
        "relative to the config's directory"
    );
    let ChannelTarget::Email {
        username,
        password_file,
        ..
    } = &alerts.channels[1].target
    else {
        panic!("{:?}", alerts.channels[1])
    };
    assert_eq!(username.as_deref(), Some("pk"));
    assert_eq!(
        password_file.as_deref(),
        Some(Path::new("/etc/plantkeeper/smtp")),
        "an absolute path stays"
    );
}
