//! The Overrides page and the alerts in a real browser: headless Chromium driven over WebDriver
//! (chromedriver, fantoccini) against a real master on a manual clock, fed by node reports over
//! HTTP. A grower switches the valve ON for 10 minutes and ends it, sees an ON override held
//! OFF by `require` with the rule named, and a refused value next to its field; a silent node's
//! alert fires on the overview and the Events page, and resolves when the node reports again.
//! Screenshots go to `target/screenshots/`. Skipped (or failed with
//! PLANTKEEPER_REQUIRE_SERVICES=1) without `chromedriver`.

mod common;

use std::time::{Duration, Instant};

use common::browser::{log_in, screenshot, start_driver};
use common::{ADMIN_TOKEN, TestMaster, garden_toml};
use fantoccini::{Client, Locator};
use plantkeeper_master::ticker::tick;
use serde_json::json;

/// Bed-1's soil moisture in these tests: above the valve's `off_when` (45), so the valve is
/// OFF unless overridden, and OFF again once the override ends.
const SOIL: f64 = 50.0;

/// A garden whose tank holds `level` and whose bed reads [`SOIL`].
async fn garden(level: f64) -> TestMaster {
    let master = TestMaster::start_manual(&garden_toml("")).await;
    report_both(&master, 1, level).await;
    master
}

/// The tank and the bed report; returns the valve's answer (power, reason).
async fn report_both(master: &TestMaster, seq: u32, level: f64) -> (bool, String) {
    let (status, answer) = master
        .report("tank", json!({"seq": seq, "readings": {"level": level}}))
        .await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = master
        .report(
            "bed-1",
            json!({"seq": seq, "readings": {"soil_moisture": SOIL}}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let valve = &answer["outputs"]["valve"];
    (
        valve["power"].as_bool().expect("power"),
        valve["reason"].as_str().expect("reason").to_owned(),
    )
}

/// The `innerText` of the first element matching `css` ("" when there is none), read in one
/// script call so a page swapping its content between two commands cannot fail the read.
async fn text_of(client: &Client, css: &str) -> String {
    let script = "var element = document.querySelector(arguments[0]); \
                  return element ? element.innerText : '';";
    client
        .execute(script, vec![json!(css)])
        .await
        .expect("script ran")
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Waits up to `seconds` until the text of `css` contains `needle`; returns that text.
async fn wait_for_text(client: &Client, css: &str, needle: &str, seconds: u64) -> String {
    let started = Instant::now();
    loop {
        let text = text_of(client, css).await;
        if text.contains(needle) {
            return text;
        }
        assert!(
            started.elapsed() < Duration::from_secs(seconds),
            "`{needle}` did not appear in {css} within {seconds} s: {text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn goto(client: &Client, master: &TestMaster, path: &str) {
    client
        .goto(&format!("{}{path}", master.base))
        .await
        .expect("goto");
}

async fn click(client: &Client, css: &str) {
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|error| panic!("{css}: {error}"))
        .click()
        .await
        .expect("clicked");
}

const VALVE: &str = "article[data-output='bed-1.valve']";

/// Logs in and opens the Overrides page from the navigation.
async fn open_overrides(client: &Client, master: &TestMaster) {
    log_in(client, master, ADMIN_TOKEN).await;
    client
        .wait()
        .at_most(Duration::from_secs(5))
        .for_element(Locator::Css("article[data-node='bed-1']"))
        .await
        .expect("logged in");
    click(client, "header nav a[href='/overrides']").await;
    wait_for_text(client, VALVE, "No override.", 5).await;
}

#[tokio::test]
async fn a_grower_switches_the_valve_on_for_ten_minutes_then_ends_the_override() {
    let Some((_driver, client)) = start_driver().await else {
        return;
    };
    let master = garden(80.0).await;
    open_overrides(&client, &master).await;
    let before = text_of(&client, VALVE).await;
    assert!(before.contains("OFF"), "{before}");

    let minutes = client
        .find(Locator::Css(&format!(
            "{VALVE} form.override-on input[name='minutes']"
        )))
        .await
        .expect("minutes field");
    minutes.clear().await.expect("cleared");
    minutes.send_keys("10").await.expect("typed");
    click(&client, &format!("{VALVE} form.override-on button")).await;
    let text = wait_for_text(&client, VALVE, "Override: ON until", 5).await;
    assert!(
        text.contains("valve ON") && text.contains("override ON until 10:10"),
        "the page shows ON with the override's reason: {text}"
    );
    assert!(
        text.contains("set by dashboard session from 127.0.0.1"),
        "{text}"
    );
    screenshot(&client, "overrides-valve-on").await;
    assert_eq!(
        report_both(&master, 2, 80.0).await,
        (true, "override ON until 10:10".to_owned()),
        "the node is told ON"
    );

    goto(&client, &master, "/").await;
    let bed = wait_for_text(&client, "article[data-node='bed-1']", "valve", 5).await;
    assert!(
        bed.contains("ON valve override ON until 10:10"),
        "the overview shows ON with the override's reason: {bed}"
    );

    goto(&client, &master, "/overrides").await;
    click(&client, &format!("{VALVE} form.override-end button")).await;
    let text = wait_for_text(&client, VALVE, "No override.", 5).await;
    assert!(
        text.contains("valve OFF") && text.contains("soil_moisture 50.0 >= 45"),
        "the rules decide again: {text}"
    );
    screenshot(&client, "overrides-ended").await;
    assert!(
        !report_both(&master, 3, 80.0).await.0,
        "the node is told OFF"
    );
    goto(&client, &master, "/").await;
    let bed = wait_for_text(&client, "article[data-node='bed-1']", "valve", 5).await;
    assert!(bed.contains("OFF valve soil_moisture 50.0 >= 30"), "{bed}");
    let _ = client.close().await;
    master.stop().await;
}

#[tokio::test]
async fn an_on_override_held_off_by_require_shows_the_rule_and_bad_values_are_refused() {
    let Some((_driver, client)) = start_driver().await else {
        return;
    };
    let master = garden(10.0).await;
    open_overrides(&client, &master).await;
    click(&client, &format!("{VALVE} form.override-on button")).await;
    let text = wait_for_text(&client, VALVE, "Override: ON until", 5).await;
    assert!(text.contains("valve OFF"), "require wins: {text}");
    assert!(
        text.contains(
            "The ON override is held OFF: its require is false \
             (require tank.level >= 20 failed (tank.level 10.0))."
        ),
        "the rule is named in plain words: {text}"
    );
    let rules = text_of(&client, "section.rules").await;
    for rule in [
        "stale or invalid input",
        "require",
        "max_on",
        "max_on_per_day",
        "min_off",
    ] {
        assert!(
            rules.contains(rule),
            "the page says {rule} is not bypassed: {rules}"
        );
    }
    // From the top (the form came back to the output's anchor), for docs/img/overrides.png.
    client
        .execute("window.scrollTo(0, 0);", vec![])
        .await
        .expect("scrolled");
    screenshot(&client, "overrides-held-off").await;
    assert!(
        !report_both(&master, 2, 10.0).await.0,
        "the node is told OFF"
    );

    // A time in the past: the server refuses it and says so next to the field.
    client
        .execute(
            "document.querySelector(arguments[0]).value = '2026-06-01T09:00';",
            vec![json!(format!(
                "{VALVE} form.override-off input[name='until']"
            ))],
        )
        .await
        .expect("value set");
    click(&client, &format!("{VALVE} form.override-off button")).await;
    let form = wait_for_text(
        &client,
        &format!("{VALVE} form.override-off"),
        "until: the end must be later than now",
        5,
    )
    .await;
    assert!(form.contains("OFF until"), "{form}");
    let text = text_of(&client, VALVE).await;
    assert!(
        text.contains("Override: ON until"),
        "nothing changed: {text}"
    );
    screenshot(&client, "overrides-refused").await;
    let _ = client.close().await;
    master.stop().await;
}

#[tokio::test]
async fn a_silent_node_alert_fires_and_resolves_in_the_browser() {
    let Some((_driver, client)) = start_driver().await else {
        return;
    };
    let master = garden(80.0).await;
    log_in(&client, &master, ADMIN_TOKEN).await;
    wait_for_text(&client, "#overview", "None firing.", 5).await;

    // Past `node_silent_after` (2m by default) without a report; the ticker (or this tick)
    // evaluates the alert rules.
    master.clock().advance(Duration::from_secs(180));
    tick(&master.master).await;
    let overview = wait_for_text(&client, "#overview", "Alerts firing", 12).await;
    assert!(
        overview.contains("node_silent: node bed-1 has not reported for 3m"),
        "the overview refreshed in place with the alert: {overview}"
    );
    screenshot(&client, "alert-firing").await;
    goto(&client, &master, "/events?kind=alert").await;
    let events = wait_for_text(&client, "main", "firing warning node_silent", 5).await;
    assert!(
        events.contains("firing warning node_silent: node bed-1 has not reported for 3m"),
        "{events}"
    );

    report_both(&master, 2, 80.0).await;
    tick(&master.master).await;
    goto(&client, &master, "/events?kind=alert").await;
    let events = wait_for_text(&client, "main", "resolved warning node_silent", 5).await;
    assert!(
        events.contains("resolved warning node_silent: node bed-1"),
        "{events}"
    );
    screenshot(&client, "alert-resolved").await;
    goto(&client, &master, "/").await;
    wait_for_text(&client, "#overview", "None firing.", 5).await;
    let _ = client.close().await;
    master.stop().await;
}
