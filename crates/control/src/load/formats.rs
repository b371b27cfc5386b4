//! Rough checks of the string formats a config uses: URLs, e-mail addresses, SHA-256 digests,
//! database URLs and log filters. They catch typos, not every invalid value.

/// Decodes a SHA-256 digest written as 64 hexadecimal characters (either case).
pub(super) fn parse_sha256_hex(text: &str) -> Result<[u8; 32], String> {
    let mut digest = [0u8; 32];
    if text.len() != 64 {
        return Err(format!(
            "expected 64 hexadecimal characters (a SHA-256 digest, e.g. from `printf %s TOKEN | sha256sum`), got {} characters",
            text.chars().count()
        ));
    }
    hex::decode_to_slice(text, &mut digest)
        .map_err(|_| "expected only hexadecimal characters 0-9 and a-f".to_owned())?;
    Ok(digest)
}

/// Checks `scheme://host...` for one of `schemes`: no spaces and a non-empty host.
pub(super) fn check_url(text: &str, schemes: &[&str]) -> Result<(), String> {
    let expected = schemes
        .iter()
        .map(|scheme| format!("{scheme}://"))
        .collect::<Vec<_>>()
        .join(" or ");
    let Some(rest) = schemes
        .iter()
        .find_map(|scheme| text.strip_prefix(scheme)?.strip_prefix("://"))
    else {
        return Err(format!(
            "expected a URL starting with {expected}, got `{text}`"
        ));
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit('@').next().unwrap_or_default();
    if host.is_empty() || host.starts_with(':') {
        return Err(format!("the URL `{text}` has no host"));
    }
    if text.chars().any(char::is_whitespace) {
        return Err(format!("the URL `{text}` contains spaces"));
    }
    Ok(())
}

/// Checks `local@domain` roughly: one `@`, both parts non-empty, no spaces.
pub(super) fn check_email(text: &str) -> Result<(), String> {
    let valid = match text.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !text
                    .chars()
                    .any(|c| c.is_whitespace() || c == '<' || c == '>')
        }
        None => false,
    };
    if valid {
        Ok(())
    } else {
        Err(format!(
            "expected an e-mail address like `me@example.org`, got `{text}`"
        ))
    }
}

/// Checks a database URL: `sqlite://PATH`, `postgres://…` or `postgresql://…`.
pub(super) fn check_database(text: &str) -> Result<(), String> {
    let expected = "expected `sqlite://PATH` or `postgres://user:pass@host:5432/db`";
    if let Some(path) = text.strip_prefix("sqlite://") {
        return if path.is_empty() {
            Err(format!("{expected}; the sqlite path is empty"))
        } else {
            Ok(())
        };
    }
    if text.starts_with("postgres://") || text.starts_with("postgresql://") {
        return check_url(text, &["postgres", "postgresql"]);
    }
    Err(format!("{expected}, got `{text}`"))
}

/// The log levels a filter may name.
const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];

/// Checks a log filter such as `info` or `plantkeeper=debug,info`: comma-separated directives,
/// each a level or `target=level`.
pub(super) fn check_log_filter(text: &str) -> Result<(), String> {
    for directive in text.split(',') {
        let directive = directive.trim();
        let (target, level) = match directive.split_once('=') {
            Some((target, level)) => (Some(target), level),
            None => (None, directive),
        };
        let target_ok = target.is_none_or(|target| {
            !target.is_empty()
                && target
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':' || c == '-')
        });
        if !target_ok || !LEVELS.contains(&level.to_ascii_lowercase().as_str()) {
            return Err(format!(
                "expected a log filter like `info` or `plantkeeper=debug,info` (levels: {}), got `{directive}`",
                LEVELS.join(", ")
            ));
        }
    }
    Ok(())
}

/// Whether `name` is a valid Loki label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub(super) fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_need_the_scheme_and_a_host() {
        assert_eq!(
            check_url("http://127.0.0.1:3100", &["http", "https"]),
            Ok(())
        );
        assert_eq!(
            check_url("https://ntfy.sh/plants", &["http", "https"]),
            Ok(())
        );
        assert!(check_url("ftp://x", &["http", "https"]).is_err());
        assert!(check_url("http://", &["http", "https"]).is_err());
        assert!(check_url("http://a b", &["http", "https"]).is_err());
    }

    #[test]
    fn databases_are_sqlite_or_postgres() {
        for good in [
            "sqlite://plantkeeper.db",
            "postgres://u:p@h:5432/db",
            "postgresql://h/db",
        ] {
            assert_eq!(check_database(good), Ok(()), "{good}");
        }
        for bad in [
            "mysql://h/db",
            "sqlite://",
            "sqlite::memory:",
            "plantkeeper.db",
        ] {
            assert!(check_database(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn log_filters_name_known_levels() {
        assert_eq!(check_log_filter("info"), Ok(()));
        assert_eq!(
            check_log_filter("plantkeeper=debug,tower_http=warn,info"),
            Ok(())
        );
        assert!(check_log_filter("inf").is_err());
        assert!(check_log_filter("=debug").is_err());
    }

    #[test]
    fn digests_are_64_hex_characters() {
        assert!(parse_sha256_hex(&"ab".repeat(32)).is_ok());
        assert!(parse_sha256_hex(&"AB".repeat(32)).is_ok());
        assert!(parse_sha256_hex("abc").is_err());
        assert!(parse_sha256_hex(&"zz".repeat(32)).is_err());
    }

    #[test]
    fn emails_and_labels_are_checked_roughly() {
        assert_eq!(check_email("me@example.org"), Ok(()));
        assert!(check_email("me.example.org").is_err());
        assert!(check_email("a@b@c").is_err());
        assert!(is_label_name("site"));
        assert!(is_label_name("_x1"));
        assert!(!is_label_name("1x"));
        assert!(!is_label_name("a-b"));
    }
}
