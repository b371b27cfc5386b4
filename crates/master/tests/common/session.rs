//! A browser-like HTTP client of the dashboard: no cookie jar and no redirects followed, so
//! tests pass cookies and read `Location` themselves; login through the real form.

use super::TestMaster;

/// A browser-like client that keeps no cookie jar: the tests pass cookies by hand.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// `name=value` of the `Set-Cookie` header setting `name`, with its attributes.
pub fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

/// The value of a `Set-Cookie` header's `name=value`.
pub fn cookie_value(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .and_then(|pair| pair.split_once('='))
        .map(|(_, value)| value.to_owned())
        .expect("name=value")
}

/// The value of hidden input `name` in a page.
pub fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker).expect("hidden field present") + marker.len();
    let end = page[start..].find('"').expect("closing quote") + start;
    page[start..end].to_owned()
}

/// An `application/x-www-form-urlencoded` body of `fields`.
pub fn form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(key, value)| {
            format!(
                "{key}={}",
                plantkeeper_master::dashboard::access::percent_encode(value)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The login page's CSRF token and cookie.
pub async fn login_form(master: &TestMaster) -> (String, String) {
    let response = client()
        .get(format!("{}/login", master.base))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 200);
    let cookie = set_cookie(&response, "pk_login").expect("login cookie");
    let page = response.text().await.expect("text");
    (hidden(&page, "csrf"), cookie_value(&cookie))
}

/// POSTs the login form with `secret`; returns the response.
pub async fn post_login(master: &TestMaster, secret: &str) -> reqwest::Response {
    let (csrf, cookie) = login_form(master).await;
    client()
        .post(format!("{}/login", master.base))
        .header("cookie", format!("pk_login={cookie}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("secret", secret), ("csrf", &csrf), ("next", "/")]))
        .send()
        .await
        .expect("sent")
}

/// Logs in with `secret` and returns the session cookie value.
pub async fn log_in(master: &TestMaster, secret: &str) -> String {
    let response = post_login(master, secret).await;
    assert_eq!(response.status().as_u16(), 303, "login accepted");
    cookie_value(&set_cookie(&response, "pk_session").expect("session cookie"))
}

/// GETs `path`, with the session cookie when given: (status, body).
pub async fn get(master: &TestMaster, path: &str, session: Option<&str>) -> (u16, String) {
    let mut request = client().get(format!("{}{path}", master.base));
    if let Some(session) = session {
        request = request.header("cookie", format!("pk_session={session}"));
    }
    let response = request.send().await.expect("sent");
    (
        response.status().as_u16(),
        response.text().await.expect("text"),
    )
}
