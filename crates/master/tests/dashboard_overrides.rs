//! The dashboard's Overrides page against a real master over HTTP: who may see it and post its
//! forms, what it refuses (unknown output, bad values, forged forms), and that an accepted
//! override changes what the node is answered and what the overview shows, exactly as the
//! override API does.

mod common;

use common::session::{client, form, get, hidden, log_in};
use common::{ADMIN_TOKEN, TestMaster, garden_toml};
use serde_json::json;

/// A master whose tank holds `level` and whose bed reads 40 % (between the valve's
/// thresholds: the hysteresis keeps it OFF).
async fn garden(level: f64) -> TestMaster {
    let master = TestMaster::start_manual(&garden_toml("")).await;
    master
        .report("tank", json!({"seq": 1, "readings": {"level": level}}))
        .await;
    bed_reports(&master, 1).await;
    master
}

/// bed-1 reports 40 % and gets the valve's answer: (power, reason).
async fn bed_reports(master: &TestMaster, seq: u32) -> (bool, String) {
    let (status, answer) = master
        .report(
            "bed-1",
            json!({"seq": seq, "readings": {"soil_moisture": 40.0}}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let valve = &answer["outputs"]["valve"];
    (
        valve["power"].as_bool().expect("power"),
        valve["reason"].as_str().expect("reason").to_owned(),
    )
}

/// A form post: (status, `Location`, body).
async fn post(
    master: &TestMaster,
    path: &str,
    session: Option<&str>,
    fields: &[(&str, &str)],
) -> (u16, String, String) {
    let mut request = client()
        .post(format!("{}{path}", master.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(fields));
    if let Some(session) = session {
        request = request.header("cookie", format!("pk_session={session}"));
    }
    let response = request.send().await.expect("sent");
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, location, response.text().await.expect("text"))
}

/// A logged-in session and its CSRF token.
async fn session(master: &TestMaster) -> (String, String) {
    let session = log_in(master, ADMIN_TOKEN).await;
    let (status, page) = get(master, "/overrides", Some(&session)).await;
    assert_eq!(status, 200, "{page}");
    let csrf = hidden(&page, "csrf");
    (session, csrf)
}

/// The HTML of one output's block on the Overrides page.
fn output_block<'p>(page: &'p str, output: &str) -> &'p str {
    let marker = format!("data-output=\"{output}\"");
    let start = page.find(&marker).expect("the output's block");
    let end = page[start..]
        .find("</article>")
        .map_or(page.len(), |end| start + end);
    &page[start..end]
}

/// Whether the master holds an override on bed-1's valve.
fn valve_overridden(master: &TestMaster) -> bool {
    let live = master.master.live();
    let id = live
        .engine
        .output_id("bed-1", "valve")
        .expect("bed-1.valve exists");
    live.control.output(id).override_.is_some()
}

#[tokio::test]
async fn the_page_and_its_forms_need_a_logged_in_session() {
    let toml = garden_toml("").replace(
        "[defaults]",
        "[dashboard]\npublic_read = true\n\n[defaults]",
    );
    let master = TestMaster::start_manual(&toml).await;
    let response = client()
        .get(format!("{}/overrides", master.base))
        .send()
        .await
        .expect("sent");
    assert_eq!(
        response.status().as_u16(),
        303,
        "public_read shows no override forms"
    );
    assert_eq!(response.headers()["location"], "/login?next=/overrides");

    let (status, overview) = get(&master, "/", None).await;
    assert_eq!(status, 200, "public_read shows the overview: {overview}");
    assert!(
        !overview.contains("<form method=\"post\" action=\"/overrides"),
        "no override form for a public viewer"
    );

    let (status, location, _) = post(
        &master,
        "/overrides/bed-1/valve/on",
        None,
        &[("csrf", "x"), ("minutes", "10")],
    )
    .await;
    assert_eq!((status, location.as_str()), (303, "/login?next=/overrides"));
    assert!(
        !valve_overridden(&master),
        "a post without a session changes nothing"
    );

    let (status, _) = get(&master, "/overrides", Some("not-a-session")).await;
    assert_eq!(status, 303, "an unknown session cookie is no session");
    master.stop().await;
}

#[tokio::test]
async fn a_forged_form_is_refused_with_403_and_changes_nothing() {
    let master = garden(80.0).await;
    let (session, csrf) = session(&master).await;
    for forged in ["", "0".repeat(64).as_str(), &csrf[1..]] {
        for action in ["on", "off", "end"] {
            let (status, _, page) = post(
                &master,
                &format!("/overrides/bed-1/valve/{action}"),
                Some(&session),
                &[
                    ("csrf", forged),
                    ("minutes", "10"),
                    ("until", "2026-06-01T12:00"),
                ],
            )
            .await;
            assert_eq!(status, 403, "{action} with csrf {forged:?}: {page}");
            assert!(page.contains("CSRF token mismatch"), "{page}");
        }
    }
    assert!(!valve_overridden(&master));
    assert!(!bed_reports(&master, 2).await.0, "the valve stays OFF");
    master.stop().await;
}

#[tokio::test]
async fn unknown_nodes_outputs_and_actions_answer_a_404_page() {
    let master = garden(80.0).await;
    let (session, csrf) = session(&master).await;
    let (status, page) = get(&master, "/overrides?node=nowhere", Some(&session)).await;
    assert_eq!(status, 404);
    assert!(page.contains("No node `nowhere`"), "{page}");
    for path in [
        "/overrides/nowhere/valve/on",
        "/overrides/bed-1/sprinkler/on",
        "/overrides/bed-1/sprinkler/end",
        "/overrides/bed-1/valve/explode",
        "/overrides/%3Cscript%3Ealert(1)%3C%2Fscript%3E/valve/on",
    ] {
        let (status, _, page) = post(
            &master,
            path,
            Some(&session),
            &[("csrf", &csrf), ("minutes", "10")],
        )
        .await;
        assert_eq!(status, 404, "{path}: {page}");
        assert!(page.contains("<h1>Not found</h1>"), "{path}: {page}");
        assert!(!page.contains("<script>alert"), "{path}: escaped: {page}");
    }
    assert!(!valve_overridden(&master));
    master.stop().await;
}

#[tokio::test]
async fn bad_values_are_refused_with_the_message_next_to_their_field() {
    let master = garden(80.0).await;
    let (session, csrf) = session(&master).await;
    // The master's clock reads 2026-06-01 10:00 UTC ([master] timezone = "UTC").
    let cases = [
        ("on", "minutes", "0", "1 to 1440 minutes"),
        ("on", "minutes", "1441", "1 to 1440 minutes"),
        ("on", "minutes", "1.5", "whole minutes"),
        ("on", "minutes", "<script>x</script>", "whole minutes"),
        ("off", "until", "2026-06-01T09:59", "later than now"),
        ("off", "until", "2026-06-02T10:01", "at most 24h"),
        ("off", "until", "tomorrow", "expected a time like"),
    ];
    for (action, field, value, expected) in cases {
        let (status, _, page) = post(
            &master,
            &format!("/overrides/bed-1/valve/{action}"),
            Some(&session),
            &[("csrf", &csrf), (field, value)],
        )
        .await;
        assert_eq!(status, 422, "{field}={value}: {page}");
        let block = output_block(&page, "bed-1.valve");
        let form_start = block
            .find(&format!("class=\"override-{action}\""))
            .expect("the form");
        let form_html = &block[form_start..];
        let form_html = &form_html[..form_html.find("</form>").expect("form end")];
        assert!(
            form_html.contains(&format!(
                "<p class=\"error field-error\" role=\"alert\">{field}: "
            )) && form_html.contains(expected),
            "{field}={value}: the message is in the {action} form, next to the field: {form_html}"
        );
        assert!(
            !page.contains("<script>x"),
            "what was typed is shown escaped: {form_html}"
        );
        assert!(
            !output_block(&page, "tank.pump").contains("field-error"),
            "only the posted output shows the error"
        );
    }
    assert!(!valve_overridden(&master), "nothing was set");
    master.stop().await;
}

#[tokio::test]
async fn an_accepted_override_changes_the_nodes_answer_and_the_overview() {
    let master = garden(80.0).await;
    let (session, csrf) = session(&master).await;
    assert_eq!(
        bed_reports(&master, 2).await,
        (false, "soil_moisture 40.0 >= 30".to_owned())
    );

    let (status, location, _) = post(
        &master,
        "/overrides/bed-1/valve/on",
        Some(&session),
        &[("csrf", &csrf), ("minutes", "10")],
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(location, "/overrides#output-bed-1.valve");
    let (power, reason) = bed_reports(&master, 3).await;
    assert!(power, "the node is told ON: {reason}");
    assert_eq!(reason, "override ON until 10:10");

    let (_, overview) = get(&master, "/", Some(&session)).await;
    assert!(
        overview
            .contains("<span class=\"power on\">ON</span> <b>valve</b> override ON until 10:10"),
        "{overview}"
    );
    let (_, page) = get(&master, "/overrides", Some(&session)).await;
    let block = output_block(&page, "bed-1.valve");
    assert!(
        block.contains("<span class=\"power on\">ON</span>"),
        "{block}"
    );
    assert!(
        block.contains(
            "Override: <b>ON</b> until 2026-06-01 10:10:00 UTC, set by dashboard session from 127.0.0.1"
        ),
        "{block}"
    );
    assert!(block.contains("End override"), "{block}");

    let (status, _, _) = post(
        &master,
        "/overrides/bed-1/valve/off",
        Some(&session),
        &[("csrf", &csrf), ("until", "2026-06-01T12:30")],
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(
        bed_reports(&master, 4).await,
        (false, "override OFF until 12:30".to_owned())
    );

    let (status, _, _) = post(
        &master,
        "/overrides/bed-1/valve/end",
        Some(&session),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(
        bed_reports(&master, 5).await,
        (false, "soil_moisture 40.0 >= 30".to_owned()),
        "the rules decide again"
    );
    let (_, page) = get(&master, "/overrides", Some(&session)).await;
    let block = output_block(&page, "bed-1.valve");
    assert!(block.contains("No override."), "{block}");
    assert!(!block.contains("End override"), "{block}");

    let (_, events) = master.admin_get("/api/v1/events?node=bed-1").await;
    let messages: Vec<&str> = events["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|event| event["kind"] != "state_change")
        .filter_map(|event| event["message"].as_str())
        .collect();
    assert_eq!(
        messages,
        [
            "bed-1.valve override ended by dashboard session from 127.0.0.1",
            "bed-1.valve override OFF until 2026-06-01T12:30:00Z by dashboard session from 127.0.0.1",
            "bed-1.valve override ON until 2026-06-01T10:10:00Z by dashboard session from 127.0.0.1",
        ],
        "the same events as the API records, naming the session"
    );
    master.stop().await;
}

#[tokio::test]
async fn an_on_override_held_off_by_require_names_the_rule() {
    let master = garden(10.0).await;
    let (session, csrf) = session(&master).await;
    let (status, _, _) = post(
        &master,
        "/overrides/bed-1/valve/on",
        Some(&session),
        &[("csrf", &csrf), ("minutes", "10")],
    )
    .await;
    assert_eq!(status, 303);
    let (power, reason) = bed_reports(&master, 2).await;
    assert!(!power, "require wins over the override");
    assert_eq!(reason, "require tank.level >= 20 failed (tank.level 10.0)");

    let (_, page) = get(&master, "/overrides", Some(&session)).await;
    assert!(page.contains("never bypasses"), "the rules are on the page");
    let block = output_block(&page, "bed-1.valve");
    assert!(
        block.contains("<span class=\"power off\">OFF</span>"),
        "{block}"
    );
    assert!(
        block.contains(
            "The ON override is held OFF: its require is false \
             (require tank.level &gt;= 20 failed (tank.level 10.0))."
        ),
        "{block}"
    );

    // An override set through the API shows on the page with its author, and a form ends it.
    let response = master
        .http
        .post(format!(
            "{}/api/v1/nodes/tank/outputs/pump/override",
            master.base
        ))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"power": false, "for": "30m"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 200);
    let (_, page) = get(&master, "/overrides", Some(&session)).await;
    assert!(
        output_block(&page, "tank.pump")
            .contains("Override: <b>OFF</b> until 2026-06-01 10:30:00 UTC, set by admin token"),
        "{page}"
    );
    let (status, _, _) = post(
        &master,
        "/overrides/tank/pump/end",
        Some(&session),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, 303);
    let (_, page) = get(&master, "/overrides?node=tank", Some(&session)).await;
    assert!(
        output_block(&page, "tank.pump").contains("No override."),
        "{page}"
    );
    assert!(!page.contains("bed-1.valve"), "?node= shows that node only");
    master.stop().await;
}

#[tokio::test]
async fn the_node_page_links_to_its_overrides() {
    let master = garden(80.0).await;
    let session = log_in(&master, ADMIN_TOKEN).await;
    let (_, page) = get(&master, "/nodes/bed-1", Some(&session)).await;
    assert!(page.contains("href=\"/overrides?node=bed-1\""), "{page}");
    assert!(
        page.contains("<a href=\"/overrides\">Overrides</a>"),
        "in the nav: {page}"
    );
    master.stop().await;
}
