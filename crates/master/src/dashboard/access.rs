//! Who is asking: the one place that reads bearer tokens, session cookies and
//! `[dashboard] public_read`, as axum extractors.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::COOKIE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::sessions::Session;
use crate::error::ApiError;
use crate::master::Master;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "pk_session";

/// The header a dashboard script sends its session's CSRF token in when it writes through the
/// admin API (the pages carry the token in `<meta name="csrf-token">`).
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The value of cookie `name` in a request, if sent.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// The live session of a request's cookie, touched now.
fn session_of(master: &Master, headers: &HeaderMap) -> Option<(String, Session)> {
    let id = cookie(headers, SESSION_COOKIE)?;
    let session = master.sessions().touch(id, master.now())?;
    Some((id.to_owned(), session))
}

/// The address of the client: the peer, or the last `X-Forwarded-For` hop when the peer is
/// a trusted proxy (`[dashboard] trusted_proxies`).
pub fn client_address(master: &Master, parts: &Parts) -> Option<IpAddr> {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip())?;
    if !master.settings().dashboard.trusts_proxy(peer) {
        return Some(peer);
    }
    let forwarded = parts
        .headers
        .get("x-forwarded-for")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.rsplit(',').next())
        .and_then(|hop| hop.trim().parse::<IpAddr>().ok());
    Some(forwarded.unwrap_or(peer))
}

/// Whether the browser reached the master over HTTPS: only a trusted proxy's
/// `X-Forwarded-Proto: https` says so (the master itself serves plain HTTP).
pub fn came_over_tls(master: &Master, parts: &Parts) -> bool {
    let from_proxy = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|info| master.settings().dashboard.trusts_proxy(info.0.ip()));
    from_proxy
        && parts
            .headers
            .get("x-forwarded-proto")
            .and_then(|value| value.to_str().ok())
            .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
}

/// The admin API's view of a dashboard session: `Ok(None)` without a live session;
/// `Ok(Some(author))` for a session, where every method but GET/HEAD must also carry the
/// session's CSRF token in [`CSRF_HEADER`] (403 otherwise). `author` names the session and the
/// client's address, as the settings history records it.
pub fn session_admin(master: &Master, parts: &Parts) -> Result<Option<String>, ApiError> {
    let Some((_, session)) = session_of(master, &parts.headers) else {
        return Ok(None);
    };
    if !parts.method.is_safe() {
        let token = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        if !session.csrf_matches(token) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "csrf_mismatch",
                "a dashboard session writing through the API must send its CSRF token in \
                 X-CSRF-Token",
            ));
        }
    }
    Ok(Some(session_author(master, parts)))
}

/// How the settings history names a change made from a dashboard session.
pub fn session_author(master: &Master, parts: &Parts) -> String {
    match client_address(master, parts) {
        Some(address) => format!("dashboard session from {address}"),
        None => "dashboard session".to_owned(),
    }
}

/// A logged-in dashboard user: the cookie's session id and the session.
#[derive(Debug)]
pub struct LoggedIn {
    /// The cookie value.
    pub id: String,
    /// The session.
    pub session: Session,
}

impl LoggedIn {
    /// `None` for a posted form whose `csrf` field is this session's token; otherwise the
    /// 403 page every form of the dashboard answers.
    pub fn csrf_refusal(&self, posted: &str) -> Option<Response> {
        if self.session.csrf_matches(posted) {
            return None;
        }
        Some(super::html::page(
            StatusCode::FORBIDDEN,
            "Forbidden",
            Some(&self.session),
            "<p class=\"error\">The form did not come from this dashboard (CSRF token mismatch).</p>",
        ))
    }
}

impl FromRequestParts<Arc<Master>> for LoggedIn {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        master: &Arc<Master>,
    ) -> Result<Self, Self::Rejection> {
        session_of(master, &parts.headers)
            .map(|(id, session)| LoggedIn { id, session })
            .ok_or_else(|| to_login(parts))
    }
}

/// A viewer of the dashboard's pages: logged in, or anyone when `public_read` is on.
#[derive(Debug)]
pub struct Viewer {
    /// The session, when logged in (`None`: a public viewer).
    pub session: Option<Session>,
}

impl FromRequestParts<Arc<Master>> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        master: &Arc<Master>,
    ) -> Result<Self, Self::Rejection> {
        match session_of(master, &parts.headers) {
            Some((_, session)) => Ok(Viewer {
                session: Some(session),
            }),
            None if master.settings().dashboard.public_read => Ok(Viewer { session: None }),
            None => Err(to_login(parts)),
        }
    }
}

/// 303 to the login page, coming back here after (after a form's POST: to the page the form
/// belongs to, its first path segment, since the browser comes back with a GET); a JSON
/// request gets 401 instead.
fn to_login(parts: &Parts) -> Response {
    let path = parts.uri.path();
    if path.ends_with(".json") {
        return ApiError::unauthorized("log in to the dashboard first").into_response();
    }
    let target = if parts.method.is_safe() {
        parts
            .uri
            .path_and_query()
            .map_or("/", |value| value.as_str())
            .to_owned()
    } else {
        let page = path
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or_default();
        format!("/{page}")
    };
    let mut response =
        Redirect::to(&format!("/login?next={}", percent_encode(&target))).into_response();
    response
        .headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-store"));
    response
}

/// Percent-encodes everything but unreserved characters and `/`.
pub fn percent_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// A `next` target that stays on this site: an absolute path, not `//host`, else `/`.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.contains('\\')
                && path.chars().all(|c| c.is_ascii_graphic()) =>
        {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_targets_stay_on_the_site() {
        assert_eq!(
            safe_next(Some("/nodes/bed-1?range=24h")),
            "/nodes/bed-1?range=24h"
        );
        assert_eq!(safe_next(Some("//evil.example/")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example/")), "/");
        assert_eq!(safe_next(Some("/a b")), "/");
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            HeaderValue::from_static("x_pk_session=no; pk_session=yes; other=1"),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("yes"));
        assert_eq!(cookie(&headers, "missing"), None);
    }
}
