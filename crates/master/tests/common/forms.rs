//! A dashboard user over plain HTTP, built on [`super::session`]: logs in through the form,
//! keeps the session cookie and its CSRF token, GETs pages and POSTs forms without following
//! redirects.

use super::TestMaster;
pub use super::session::hidden;
use super::session::{client, form};

/// A logged-in dashboard session.
pub struct FormSession {
    /// The session cookie's value.
    pub cookie: String,
    /// The session's CSRF token (as the pages carry it).
    pub csrf: String,
    base: String,
    http: reqwest::Client,
}

/// What a page request answered.
pub struct PageAnswer {
    /// HTTP status.
    pub status: u16,
    /// `Location`, for redirects.
    pub location: Option<String>,
    /// The body.
    pub text: String,
}

async fn answer(response: reqwest::Response) -> PageAnswer {
    PageAnswer {
        status: response.status().as_u16(),
        location: response
            .headers()
            .get("location")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned),
        text: response.text().await.expect("body"),
    }
}

/// A GET without any session.
pub async fn anonymous_get(master: &TestMaster, path: &str) -> PageAnswer {
    answer(
        client()
            .get(format!("{}{path}", master.base))
            .send()
            .await
            .expect("sent"),
    )
    .await
}

impl FormSession {
    /// Logs in with `secret` through the login form.
    pub async fn log_in(master: &TestMaster, secret: &str) -> FormSession {
        let mut session = FormSession {
            cookie: super::session::log_in(master, secret).await,
            csrf: String::new(),
            base: master.base.clone(),
            http: client(),
        };
        let page = session.get("/").await;
        session.csrf = hidden(&page.text, "csrf");
        session
    }

    /// GETs a page with the session cookie.
    pub async fn get(&self, path: &str) -> PageAnswer {
        answer(
            self.http
                .get(format!("{}{path}", self.base))
                .header("cookie", format!("pk_session={}", self.cookie))
                .send()
                .await
                .expect("sent"),
        )
        .await
    }

    /// POSTs a form with the session cookie (the fields must include `csrf` if wanted).
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> PageAnswer {
        answer(
            self.http
                .post(format!("{}{path}", self.base))
                .header("cookie", format!("pk_session={}", self.cookie))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form(fields))
                .send()
                .await
                .expect("sent"),
        )
        .await
    }
}
