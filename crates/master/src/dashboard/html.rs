//! The frame every dashboard page shares: head, navigation, logout form, security headers.

use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::escape::escape_html;
use super::sessions::Session;

/// Scripts and styles only from the master itself, never inline; nothing framed.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// A whole page: `body` is already escaped HTML. `session` decides between a logout form
/// (with its CSRF token) and a login link (public viewers).
pub fn page(status: StatusCode, title: &str, session: Option<&Session>, body: &str) -> Response {
    let account = match session {
        Some(session) => format!(
            "<form method=\"post\" action=\"/logout\" class=\"logout\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <button type=\"submit\">Log out</button></form>",
            escape_html(&session.csrf)
        ),
        None => "<a href=\"/login\">Log in</a>".to_owned(),
    };
    let csrf_meta = session.map_or_else(String::new, |session| {
        format!(
            "<meta name=\"csrf-token\" content=\"{}\">",
            escape_html(&session.csrf)
        )
    });
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">{csrf_meta}\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · PlantKeeper</title>\
         <link rel=\"stylesheet\" href=\"/assets/style.css\">\
         <script src=\"/assets/app.js\" defer></script></head><body>\
         <header><nav><a href=\"/\" class=\"brand\">PlantKeeper</a>\
         <a href=\"/\">Overview</a><a href=\"/events\">Events</a><a href=\"/overrides\">Overrides</a><a href=\"/settings\">Settings</a></nav>{account}</header>\
         <main>{body}</main></body></html>",
        title = escape_html(title),
    );
    html_response(status, html)
}

/// An HTML answer with the dashboard's security headers, never cached.
pub fn html_response(status: StatusCode, html: String) -> Response {
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    response
}
