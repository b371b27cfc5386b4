//! The Settings page in a real browser (headless Chromium over WebDriver, see
//! tests/common/browser.rs): a typo shows its message under its line; a threshold change is
//! checked, diffed, applied, and the overview shows the valve decided by it; a rollback from
//! the version page. Screenshots `settings-*` under `target/screenshots/`. Skipped (or failed
//! with PLANTKEEPER_REQUIRE_SERVICES=1) without `chromedriver`.

mod common;

use std::time::{Duration, Instant};

use common::browser::{log_in, screenshot, start_driver};
use common::{ADMIN_TOKEN, TestMaster, garden_toml};
use fantoccini::{Client, Locator};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(5);

/// Replaces `from` by `to` in the editor's text, as a grower typing would.
async fn edit(client: &Client, from: &str, to: &str) {
    let replaced = client
        .execute(
            "var text = document.getElementById('settings-text');\
             if (text.value.indexOf(arguments[0]) < 0) return false;\
             text.value = text.value.replace(arguments[0], arguments[1]); return true;",
            vec![json!(from), json!(to)],
        )
        .await
        .expect("editor edited");
    assert_eq!(replaced, json!(true), "`{from}` in the editor");
}

async fn click(client: &Client, css: &str) {
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|error| panic!("{css}: {error}"))
        .click()
        .await
        .expect("clicked");
}

/// The text of the first `css` element once it contains `needle` (read in one script call,
/// so a page being replaced by the next one cannot make it stale).
async fn text_with(client: &Client, css: &str, needle: &str) -> String {
    let started = Instant::now();
    loop {
        let text = client
            .execute(
                "var element = document.querySelector(arguments[0]);\
                 return element ? element.innerText : '';",
                vec![json!(css)],
            )
            .await
            .expect("text read");
        let text = text.as_str().unwrap_or_default().to_owned();
        if text.contains(needle) {
            return text;
        }
        assert!(
            started.elapsed() < WAIT,
            "`{needle}` in {css} within {WAIT:?}; it reads: {text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_grower_fixes_a_typo_applies_a_threshold_and_sees_the_valve_follow() {
    let Some((_driver, client)) = start_driver().await else {
        return;
    };
    let master = TestMaster::start_manual(&garden_toml("")).await;
    master
        .report("tank", json!({"seq": 1, "readings": {"level": 80.0}}))
        .await;
    let (_, answer) = master
        .report(
            "bed-1",
            json!({"seq": 1, "readings": {"soil_moisture": 40.0}}),
        )
        .await;
    assert_eq!(answer["outputs"]["valve"]["power"], false, "40 is not < 30");

    log_in(&client, &master, ADMIN_TOKEN).await;
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("article[data-node='bed-1']"))
        .await
        .expect("logged in");
    client
        .find(Locator::LinkText("Settings"))
        .await
        .expect("Settings in the navigation")
        .click()
        .await
        .expect("clicked");
    text_with(
        &client,
        "p.running",
        "version 1 · 2026-06-01 10:00:00 UTC by settings file test.toml (file)",
    )
    .await;
    click(&client, "#settings-text").await;
    text_with(&client, "#caret", "line ").await;

    // A typo: Check shows the message right under its line, and nothing is offered to apply.
    edit(
        &client,
        "on_when = \"soil_moisture < 30\"",
        "on_whn = \"soil_moisture < 30\"",
    )
    .await;
    click(&client, "#check").await;
    text_with(&client, "p.error", "nothing changed").await;
    let line = garden_toml("")
        .lines()
        .position(|line| line.starts_with("on_when"))
        .expect("on_when line")
        + 1;
    let under = client
        .execute(
            "return document.getElementById('L' + arguments[0]).nextElementSibling.textContent",
            vec![json!(line)],
        )
        .await
        .expect("message read");
    let under = under.as_str().unwrap_or_default();
    assert!(
        under.starts_with(&format!(
            "line {line}, column 1: nodes.bed-1.outputs.valve.on_whn"
        )) && under.contains("did you mean `on_when`?"),
        "the message under line {line}: {under}"
    );
    assert!(
        client.find(Locator::Css("#apply")).await.is_err(),
        "no Apply for an invalid text"
    );
    screenshot(&client, "settings-inline-error").await;

    // Fixed, with the threshold raised above the bed's 40 %: a diff and Apply.
    edit(
        &client,
        "on_whn = \"soil_moisture < 30\"",
        "on_when = \"soil_moisture < 44\"",
    )
    .await;
    click(&client, "#check").await;
    let diff = text_with(&client, "pre.diff", "+on_when = \"soil_moisture < 44\"").await;
    assert!(diff.contains("-on_when = \"soil_moisture < 30\""), "{diff}");
    screenshot(&client, "settings-diff").await;
    click(&client, "#apply").await;
    text_with(
        &client,
        "p.ok",
        "Version 2 applied: it took effect at once.",
    )
    .await;
    text_with(&client, "table.history", "dashboard session from 127.0.0.1").await;
    screenshot(&client, "settings-applied").await;

    // The overview shows the valve ON (its live reason: the soil is below a threshold), and
    // the node page the state change the new threshold decided, with its reason.
    client
        .find(Locator::LinkText("Overview"))
        .await
        .expect("Overview link")
        .click()
        .await
        .expect("clicked");
    text_with(
        &client,
        "article[data-node='bed-1'] .outputs",
        "ON valve soil_moisture 40.0 <",
    )
    .await;
    client
        .goto(&format!("{}/nodes/bed-1", master.base))
        .await
        .expect("goto");
    text_with(&client, "table.events", "soil_moisture 40.0 < 44").await;

    // Roll back to version 1 from its page.
    client
        .goto(&format!("{}/settings/versions/1", master.base))
        .await
        .expect("goto");
    click(&client, "#rollback").await;
    text_with(
        &client,
        "p.ok",
        "Version 3 applied: it took effect at once.",
    )
    .await;
    text_with(
        &client,
        "p.running",
        "rollback of 1 by dashboard session from 127.0.0.1",
    )
    .await;
    let _ = client.close().await;
    master.stop().await;
}
