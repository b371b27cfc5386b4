//! The dashboard against a real master over HTTP: login, sessions, CSRF checks, throttle,
//! public viewing, and the pages (escaped text, charts, events).

mod common;

use std::time::Duration;

use common::session::{
    client, cookie_value, form, get, hidden, log_in, login_form, post_login, set_cookie,
};
use common::{ADMIN_TOKEN, TestMaster, garden_toml, sha256_hex};
use serde_json::json;

#[tokio::test]
async fn the_admin_token_opens_a_session_that_reads_the_api_until_logout() {
    let master = TestMaster::start_manual(&garden_toml("")).await;
    master
        .report(
            "bed-1",
            json!({"seq": 1, "readings": {"soil_moisture": 20.0}}),
        )
        .await;

    let (status, page) = get(&master, "/", None).await;
    assert_eq!(status, 200, "GET / answers 200 for original firmware");
    assert!(
        page.contains("name=\"secret\"") && !page.contains("bed-1"),
        "{page}"
    );
    let (status, _) = get(&master, "/api/v1/nodes", None).await;
    assert_eq!(status, 401);

    let response = post_login(&master, ADMIN_TOKEN).await;
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(response.headers()["location"], "/");
    let cookie = set_cookie(&response, "pk_session").expect("session cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=604800"] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP: no Secure: {cookie}"
    );
    let session = cookie_value(&cookie);
    assert_eq!(session.len(), 64, "256 random bits as hex");

    let (status, page) = get(&master, "/", Some(&session)).await;
    assert_eq!(status, 200);
    assert!(page.contains("bed-1") && page.contains("Log out"), "{page}");
    let (status, body) = get(&master, "/api/v1/nodes", Some(&session)).await;
    assert_eq!(status, 200, "the read API takes the session: {body}");
    assert!(body.contains("\"bed-1\""), "{body}");
    let (status, _) = get(&master, "/overview.json", Some(&session)).await;
    assert_eq!(status, 200);

    let csrf = hidden(&page, "csrf");
    let logout = |token: String| {
        client()
            .post(format!("{}/logout", master.base))
            .header("cookie", format!("pk_session={session}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[("csrf", &token)]))
            .send()
    };
    let response = logout("0".repeat(64)).await.expect("sent");
    assert_eq!(
        response.status().as_u16(),
        403,
        "a forged logout is refused"
    );
    let (status, _) = get(&master, "/api/v1/nodes", Some(&session)).await;
    assert_eq!(status, 200, "still logged in");
    let response = logout(csrf).await.expect("sent");
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(response.headers()["location"], "/login");
    let cleared = set_cookie(&response, "pk_session").expect("cookie cleared");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let (status, _) = get(&master, "/api/v1/nodes", Some(&session)).await;
    assert_eq!(status, 401, "the session ended on the server");
    let (status, page) = get(&master, "/", Some(&session)).await;
    assert_eq!(status, 200);
    assert!(page.contains("name=\"secret\""), "back to the login form");
    master.stop().await;
}

#[tokio::test]
async fn logins_need_the_form_token_and_are_throttled_per_address() {
    let master = TestMaster::start_manual(&garden_toml("")).await;
    let response = client()
        .post(format!("{}/login", master.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("secret", ADMIN_TOKEN), ("csrf", "forged")]))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 403, "no login cookie: CSRF");
    assert!(set_cookie(&response, "pk_session").is_none());

    for attempt in 0..5 {
        let response = post_login(&master, "wrong-token").await;
        assert_eq!(response.status().as_u16(), 401, "attempt {attempt}");
    }
    let response = post_login(&master, ADMIN_TOKEN).await;
    assert_eq!(response.status().as_u16(), 429, "throttled even when right");
    let retry: u64 = response.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    assert!(set_cookie(&response, "pk_session").is_none());

    master.clock().advance(Duration::from_secs(61));
    log_in(&master, ADMIN_TOKEN).await;
    master.stop().await;
}

#[tokio::test]
async fn sessions_end_after_twelve_idle_hours() {
    let master = TestMaster::start_manual(&garden_toml("")).await;
    let session = log_in(&master, ADMIN_TOKEN).await;
    master.clock().advance(Duration::from_secs(11 * 3600));
    assert_eq!(get(&master, "/api/v1/nodes", Some(&session)).await.0, 200);
    master.clock().advance(Duration::from_secs(11 * 3600));
    assert_eq!(
        get(&master, "/api/v1/nodes", Some(&session)).await.0,
        200,
        "each request restarts the idle time"
    );
    master.clock().advance(Duration::from_secs(12 * 3600));
    assert_eq!(get(&master, "/api/v1/nodes", Some(&session)).await.0, 401);
    let (status, _) = get(&master, "/events", Some(&session)).await;
    assert_eq!(
        status, 303,
        "pages send an expired session to the login form"
    );
    master.stop().await;
}

#[tokio::test]
async fn the_dashboard_password_logs_in_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("dashboard-password");
    let hash = plantkeeper_master::dashboard::password::hash_password("a long garden password")
        .expect("hash");
    plantkeeper_master::dashboard::password::write_password_file(&path, &hash).expect("write");
    let toml = format!(
        "{}\n[dashboard]\npassword_file = \"{}\"\n",
        garden_toml(""),
        path.display()
    );
    let master = TestMaster::start_manual(&toml).await;
    log_in(&master, "a long garden password").await;
    assert_eq!(
        post_login(&master, "a long garden passwor")
            .await
            .status()
            .as_u16(),
        401
    );
    log_in(&master, ADMIN_TOKEN).await;
    master.stop().await;
}

#[tokio::test]
async fn the_cookie_is_secure_behind_a_trusted_tls_proxy_only() {
    let toml = format!(
        "{}\n[dashboard]\ntrusted_proxies = [\"127.0.0.1/32\"]\n",
        garden_toml("")
    );
    let master = TestMaster::start_manual(&toml).await;
    let (csrf, cookie) = login_form(&master).await;
    let response = client()
        .post(format!("{}/login", master.base))
        .header("cookie", format!("pk_login={cookie}"))
        .header("x-forwarded-proto", "https")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("secret", ADMIN_TOKEN), ("csrf", &csrf)]))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 303);
    let cookie = set_cookie(&response, "pk_session").expect("session cookie");
    assert!(cookie.contains("; Secure"), "{cookie}");
    master.stop().await;

    let master = TestMaster::start_manual(&garden_toml("")).await;
    let (csrf, cookie) = login_form(&master).await;
    let response = client()
        .post(format!("{}/login", master.base))
        .header("cookie", format!("pk_login={cookie}"))
        .header("x-forwarded-proto", "https")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("secret", ADMIN_TOKEN), ("csrf", &csrf)]))
        .send()
        .await
        .expect("sent");
    let cookie = set_cookie(&response, "pk_session").expect("session cookie");
    assert!(
        !cookie.contains("Secure"),
        "an untrusted peer's header is ignored: {cookie}"
    );
    master.stop().await;
}

#[tokio::test]
async fn public_read_shows_pages_but_not_the_api() {
    let toml = format!("{}\n[dashboard]\npublic_read = true\n", garden_toml(""));
    let master = TestMaster::start_manual(&toml).await;
    let (status, page) = get(&master, "/", None).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("bed-1") && page.contains("href=\"/login\""),
        "{page}"
    );
    assert!(!page.contains("Log out"), "{page}");
    assert_eq!(get(&master, "/overview.json", None).await.0, 200);
    assert_eq!(get(&master, "/api/v1/nodes", None).await.0, 401);
    master.stop().await;

    let master = TestMaster::start_manual(&garden_toml("")).await;
    assert_eq!(get(&master, "/overview.json", None).await.0, 401);
    let (status, _) = get(&master, "/events?node=bed-1", None).await;
    assert_eq!(status, 303);
    master.stop().await;
}

#[tokio::test]
async fn pages_show_nodes_charts_and_events_with_text_escaped() {
    let master = TestMaster::start_manual(&garden_toml("")).await;
    master
        .report(
            "bed-1",
            json!({"seq": 1, "readings": {"soil_moisture": 20.0}}),
        )
        .await;
    let session = log_in(&master, ADMIN_TOKEN).await;
    let (_, page) = get(&master, "/", Some(&session)).await;
    assert!(
        page.contains("no tank.level reading since the master started"),
        "the valve's reason names the missing tank reading: {page}"
    );
    for step in 1..=30u32 {
        master.clock().advance(Duration::from_secs(150));
        master
            .report("tank", json!({"seq": step, "readings": {"level": 80.0}}))
            .await;
        master
            .report(
                "bed-1",
                json!({"seq": step + 1, "readings": {"soil_moisture": 20.0 + f64::from(step) / 10.0}}),
            )
            .await;
    }
    let (status, page) = get(&master, "/", Some(&session)).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("soil_moisture 23.0 &lt; 30") && !page.contains("< 30"),
        "the `<` of a reason is escaped: {page}"
    );
    assert!(
        page.contains("<span class=\"power on\">ON</span> <b>valve</b>"),
        "{page}"
    );
    assert!(page.contains("class=\"spark\""), "a sparkline: {page}");
    assert!(
        page.contains("23 %"),
        "the newest reading with its unit: {page}"
    );
    assert!(!page.contains("<script>") && page.contains("src=\"/assets/app.js\""));

    let (status, page) = get(&master, "/nodes/bed-1?range=1h", Some(&session)).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("<svg class=\"chart\""), "{page}");
    assert!(
        page.contains("class=\"on-span\""),
        "the valve's ON time shaded: {page}"
    );
    assert!(
        page.contains("bed-1.valve on &lt; 30") && page.contains("bed-1.valve off &gt;= 45"),
        "thresholds labelled and escaped: {page}"
    );
    assert!(
        page.contains("24 points") && !page.contains("averaged"),
        "raw readings (every 150 s) over an hour: {page}"
    );
    let (status, page) = get(&master, "/nodes/bed-1?range=30d", Some(&session)).await;
    assert_eq!(status, 200);
    assert!(page.contains("averaged per 3 h"), "{page}");
    let (status, page) = get(&master, "/nodes/bed-1?range=2y", Some(&session)).await;
    assert_eq!(status, 400);
    assert!(page.contains("range: unknown range"), "{page}");
    let (status, _) = get(&master, "/nodes/%3Cscript%3E", Some(&session)).await;
    assert_eq!(status, 404);

    let (status, page) = get(
        &master,
        "/events?node=bed-1&kind=state_change",
        Some(&session),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        page.contains("bed-1.valve ON: soil_moisture 20.1 &lt; 30"),
        "{page}"
    );
    assert!(!page.contains("master started"), "kind filter: {page}");
    let (_, page) = get(&master, "/events?kind=master_started", Some(&session)).await;
    assert!(
        page.contains("master started") && !page.contains("valve ON"),
        "{page}"
    );
    let (status, page) = get(&master, "/events?node=nope", Some(&session)).await;
    assert_eq!(status, 400);
    assert!(page.contains("node: no node"), "{page}");

    let response = client()
        .get(format!("{}/assets/style.css", master.base))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 200);
    let etag = response.headers()["etag"].clone();
    let response = client()
        .get(format!("{}/assets/style.css", master.base))
        .header("if-none-match", etag)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 304);
    master.stop().await;
}

#[tokio::test]
async fn a_session_writes_through_the_admin_api_only_with_its_csrf_header() {
    let master = TestMaster::start_manual(&garden_toml("")).await;
    let session = log_in(&master, ADMIN_TOKEN).await;
    let (_, page) = get(&master, "/", Some(&session)).await;
    let csrf = hidden(&page, "csrf");
    assert!(
        page.contains(&format!("<meta name=\"csrf-token\" content=\"{csrf}\">")),
        "scripts find the token in the page head"
    );

    let (status, running) = get(&master, "/api/v1/settings", Some(&session)).await;
    assert_eq!(status, 200, "reading needs no CSRF token: {running}");
    let changed = running.replace("soil_moisture < 30", "soil_moisture < 35");
    assert_ne!(changed, running);
    let put = |token: Option<&str>| {
        let mut request = client()
            .put(format!("{}/api/v1/settings", master.base))
            .header("cookie", format!("pk_session={session}"))
            .header("content-type", "application/toml")
            .body(changed.clone());
        if let Some(token) = token {
            request = request.header("x-csrf-token", token);
        }
        request.send()
    };
    for forged in [None, Some("0".repeat(64))] {
        let response = put(forged.as_deref()).await.expect("sent");
        assert_eq!(response.status().as_u16(), 403, "{forged:?}");
        let body: serde_json::Value = response.json().await.expect("json");
        assert_eq!(body["error"]["code"], "csrf_mismatch");
    }
    let (_, unchanged) = get(&master, "/api/v1/settings", Some(&session)).await;
    assert_eq!(unchanged, running, "a refused write changes nothing");

    let response = put(Some(&csrf)).await.expect("sent");
    assert_eq!(response.status().as_u16(), 200);
    let (status, history) = master.admin_get("/api/v1/settings/versions").await;
    assert_eq!(status, 200, "{history}");
    assert_eq!(
        history["versions"][0]["author"], "dashboard session from 127.0.0.1",
        "the history names the session and its address"
    );

    let override_on = client()
        .post(format!(
            "{}/api/v1/nodes/bed-1/outputs/valve/override",
            master.base
        ))
        .header("cookie", format!("pk_session={session}"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"power": false, "for": "10m"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(
        override_on.status().as_u16(),
        200,
        "overrides take the session too"
    );
    master.stop().await;
}

#[tokio::test]
async fn a_new_admin_token_closes_every_session() {
    let master = TestMaster::start_manual(&garden_toml("")).await;
    let session = log_in(&master, ADMIN_TOKEN).await;
    let (status, running) = get(&master, "/api/v1/settings", Some(&session)).await;
    assert_eq!(status, 200, "{running}");

    let same_secrets = running.replace("soil_moisture < 30", "soil_moisture < 35");
    let put = |text: String| {
        client()
            .put(format!("{}/api/v1/settings", master.base))
            .bearer_auth(ADMIN_TOKEN)
            .header("content-type", "application/toml")
            .body(text)
            .send()
    };
    assert_eq!(put(same_secrets.clone()).await.expect("sent").status(), 200);
    let (status, _) = get(&master, "/api/v1/nodes", Some(&session)).await;
    assert_eq!(status, 200, "other changes keep sessions open");

    let new_token = "a-new-admin-token-0123456789";
    let new_secret = same_secrets.replace(&sha256_hex(ADMIN_TOKEN), &sha256_hex(new_token));
    assert_ne!(new_secret, same_secrets);
    assert_eq!(put(new_secret).await.expect("sent").status(), 200);
    let (status, _) = get(&master, "/api/v1/nodes", Some(&session)).await;
    assert_eq!(status, 401, "a session opened with the old token is closed");
    let fresh = log_in(&master, new_token).await;
    let (status, _) = get(&master, "/api/v1/nodes", Some(&fresh)).await;
    assert_eq!(status, 200, "the new token logs in");
    master.stop().await;
}
