//! `GET/POST /login` and `POST /logout`: the admin token or the dashboard password opens a
//! session; failures are throttled per client address; every form carries a CSRF token.

use std::net::IpAddr;
use std::sync::Arc;

use axum::Form;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::header::{LOCATION, RETRY_AFTER, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::access::{LoggedIn, SESSION_COOKIE, came_over_tls, client_address, cookie, safe_next};
use super::escape::escape_html;
use super::html::page;
use super::password::verify_password_file;
use super::sessions::{ABSOLUTE_TIMEOUT, random_token};
use crate::auth::token_digest;
use crate::master::Master;

/// The login form's own CSRF cookie (double submit: there is no session yet).
const LOGIN_COOKIE: &str = "pk_login";

/// Facts about the request the login routes need.
pub struct RequestFacts {
    client: Option<IpAddr>,
    tls: bool,
    login_cookie: Option<String>,
}

impl FromRequestParts<Arc<Master>> for RequestFacts {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        master: &Arc<Master>,
    ) -> Result<Self, Self::Rejection> {
        Ok(RequestFacts {
            client: client_address(master, parts),
            tls: came_over_tls(master, parts),
            login_cookie: cookie(&parts.headers, LOGIN_COOKIE).map(str::to_owned),
        })
    }
}

/// `?next=` of the login page.
#[derive(Debug, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// The login form.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    secret: String,
    csrf: String,
    #[serde(default)]
    next: Option<String>,
}

/// The logout form.
#[derive(Debug, Deserialize)]
pub struct LogoutForm {
    csrf: String,
}

/// `GET /login`.
pub async fn get_login(facts: RequestFacts, Query(query): Query<NextQuery>) -> Response {
    login_page(
        &facts,
        StatusCode::OK,
        None,
        &safe_next(query.next.as_deref()),
    )
}

/// The login form with a fresh CSRF cookie; `error` is shown above it.
pub fn login_page(
    facts: &RequestFacts,
    status: StatusCode,
    error: Option<&str>,
    next: &str,
) -> Response {
    let Ok(token) = random_token() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "no randomness").into_response();
    };
    let error = error.map_or(String::new(), |message| {
        format!(
            "<p class=\"error\" role=\"alert\">{}</p>",
            escape_html(message)
        )
    });
    let body = format!(
        "<section class=\"login\"><h1>Log in</h1>{error}\
         <form method=\"post\" action=\"/login\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{token}\">\
         <input type=\"hidden\" name=\"next\" value=\"{next}\">\
         <label>Admin token or dashboard password \
         <input type=\"password\" name=\"secret\" id=\"secret\" autocomplete=\"current-password\" required autofocus></label>\
         <button type=\"submit\" id=\"login\">Log in</button></form></section>",
        next = escape_html(next),
    );
    let mut response = page(status, "Log in", None, &body);
    let cookie = format!(
        "{LOGIN_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/login; Max-Age=3600{}",
        secure(facts.tls)
    );
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(SET_COOKIE, value);
    }
    response
}

/// `POST /login`.
pub async fn post_login(
    State(master): State<Arc<Master>>,
    facts: RequestFacts,
    Form(form): Form<LoginForm>,
) -> Response {
    let now = master.now();
    let next = safe_next(form.next.as_deref());
    if let Some(client) = facts.client
        && let Some(wait) = master.sessions().throttled(client, now)
    {
        let seconds = wait.as_secs().max(1);
        let mut response = login_page(
            &facts,
            StatusCode::TOO_MANY_REQUESTS,
            Some(&format!(
                "Too many failed logins; try again in {seconds} s."
            )),
            &next,
        );
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(seconds));
        return response;
    }
    let csrf_ok = facts.login_cookie.as_deref().is_some_and(|expected| {
        expected.len() == form.csrf.len()
            && bool::from(expected.as_bytes().ct_eq(form.csrf.as_bytes()))
    });
    if !csrf_ok {
        return login_page(
            &facts,
            StatusCode::FORBIDDEN,
            Some("The form expired or did not come from this page; please log in again."),
            &next,
        );
    }
    match secret_is_right(&master, form.secret).await {
        Ok(true) => {}
        Ok(false) => {
            if let Some(client) = facts.client {
                master.sessions().record_failure(client, now);
            }
            tracing::warn!(client = ?facts.client, "dashboard login failed");
            return login_page(
                &facts,
                StatusCode::UNAUTHORIZED,
                Some("Wrong admin token or password."),
                &next,
            );
        }
        Err(message) => {
            tracing::error!(error = %message, "dashboard password check failed");
            return login_page(
                &facts,
                StatusCode::SERVICE_UNAVAILABLE,
                Some("The password file cannot be read; see the master's log."),
                &next,
            );
        }
    }
    if let Some(client) = facts.client {
        master.sessions().clear_failures(client);
    }
    let Ok((id, _)) = master.sessions().open(now) else {
        return (StatusCode::SERVICE_UNAVAILABLE, "no randomness").into_response();
    };
    tracing::info!(client = ?facts.client, "dashboard login");
    let cookie = format!(
        "{SESSION_COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{}",
        ABSOLUTE_TIMEOUT.as_secs(),
        secure(facts.tls)
    );
    let clear_login = format!("{LOGIN_COOKIE}=; HttpOnly; SameSite=Strict; Path=/login; Max-Age=0");
    see_other(&next, &[cookie, clear_login])
}

/// `POST /logout` (CSRF-checked).
pub async fn post_logout(
    State(master): State<Arc<Master>>,
    facts: RequestFacts,
    logged_in: LoggedIn,
    Form(form): Form<LogoutForm>,
) -> Response {
    if let Some(forbidden) = logged_in.csrf_refusal(&form.csrf) {
        return forbidden;
    }
    master.sessions().close(&logged_in.id);
    let cookie = format!(
        "{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{}",
        secure(facts.tls)
    );
    see_other("/login", &[cookie])
}

/// Whether `secret` is the admin token or the dashboard password.
async fn secret_is_right(master: &Master, secret: String) -> Result<bool, String> {
    if let Some(expected) = &master.settings().master.admin_token_sha256
        && bool::from(token_digest(secret.trim()).ct_eq(expected))
    {
        return Ok(true);
    }
    let path = master.settings().dashboard.password_file.clone();
    tokio::task::spawn_blocking(move || verify_password_file(&path, &secret))
        .await
        .map_err(|error| error.to_string())?
        .map_err(|error| error.to_string())
}

fn secure(tls: bool) -> &'static str {
    if tls { "; Secure" } else { "" }
}

fn see_other(location: &str, cookies: &[String]) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(location) {
        headers.insert(LOCATION, value);
    }
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(cookie) {
            headers.append(SET_COOKIE, value);
        }
    }
    response
}
