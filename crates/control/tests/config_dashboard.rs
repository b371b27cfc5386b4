//! `[dashboard]` as loaded: defaults, values, and positioned errors.

use std::path::{Path, PathBuf};

use plantkeeper_control::load::load_settings;

fn errors(text: &str) -> Vec<String> {
    match load_settings("garden.toml", text) {
        Ok(_) => panic!("expected errors for {text}"),
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn defaults_need_a_login_and_keep_the_password_next_to_the_settings() {
    let mut settings = load_settings("garden.toml", "").expect("empty config is valid");
    assert!(!settings.dashboard.public_read);
    assert!(settings.dashboard.trusted_proxies.is_empty());
    settings
        .dashboard
        .resolve_paths(Path::new("/etc/plantkeeper"));
    assert_eq!(
        settings.dashboard.password_file,
        PathBuf::from("/etc/plantkeeper/dashboard-password")
    );
}

#[test]
fn values_are_read() {
    let settings = load_settings(
        "garden.toml",
        "[dashboard]\npublic_read = true\npassword_file = \"/var/lib/pk/pw\"\ntrusted_proxies = [\"127.0.0.1/32\", \"::1/128\"]\n",
    )
    .expect("valid");
    assert!(settings.dashboard.public_read);
    assert_eq!(
        settings.dashboard.password_file,
        PathBuf::from("/var/lib/pk/pw")
    );
    assert!(
        settings
            .dashboard
            .trusts_proxy("127.0.0.1".parse().expect("ip"))
    );
    assert!(settings.dashboard.trusts_proxy("::1".parse().expect("ip")));
    assert!(
        !settings
            .dashboard
            .trusts_proxy("10.0.0.1".parse().expect("ip"))
    );
}

#[test]
fn bad_values_are_positioned_and_named() {
    let found = errors(
        "[dashboard]\npublic_read = \"yes\"\npassword_file = \"\"\ntrusted_proxies = [\"10.0.0.0/33\"]\nscreen = 1\n",
    );
    assert_eq!(found.len(), 4, "{found:#?}");
    assert!(
        found[0].starts_with("garden.toml:2:15: dashboard.public_read: expected `true` or `false`"),
        "{found:#?}"
    );
    assert!(
        found[1]
            .starts_with("garden.toml:3:17: dashboard.password_file: the path must not be empty"),
        "{found:#?}"
    );
    assert!(
        found[2].starts_with("garden.toml:4:20: dashboard.trusted_proxies[0]:"),
        "{found:#?}"
    );
    assert!(found[3].contains("dashboard.screen"), "{found:#?}");
}
