//! The dashboard in a real browser: headless Chromium driven over WebDriver (chromedriver,
//! fantoccini) against a real master fed by simulated nodes over HTTP. Logs in, sees the
//! nodes on the overview (refreshed live), opens a node's chart, logs out; injected markup in
//! stored text renders as text and never runs. Each test saves a screenshot under
//! `target/screenshots/`. Skipped (or failed with PLANTKEEPER_REQUIRE_SERVICES=1) without
//! `chromedriver`.

mod common;

use std::time::{Duration, Instant};

use common::browser::{log_in, screenshot, start_driver};
use common::{ADMIN_TOKEN, TestMaster, garden_toml};
use fantoccini::Locator;
use plantkeeper_store::{StateChange, WriteBatch};
use serde_json::json;

/// A garden with readings and a running valve.
async fn garden() -> TestMaster {
    let master = TestMaster::start_manual(&garden_toml("")).await;
    for step in 0..20u32 {
        master.clock().advance(Duration::from_secs(240));
        master
            .report(
                "tank",
                json!({"seq": step + 1, "readings": {"level": 80.0 - f64::from(step)}}),
            )
            .await;
        master
            .report(
                "bed-1",
                json!({"seq": step + 1, "readings": {"soil_moisture": 25.0 + f64::from(step)}}),
            )
            .await;
    }
    master
}

#[tokio::test]
async fn a_grower_logs_in_sees_the_garden_opens_a_chart_and_logs_out() {
    let Some((_driver, client)) = start_driver().await else {
        return;
    };
    let master = garden().await;
    log_in(&client, &master, ADMIN_TOKEN).await;
    let node = client
        .wait()
        .at_most(Duration::from_secs(5))
        .for_element(Locator::Css("article[data-node='bed-1']"))
        .await
        .expect("bed-1 on the overview");
    let text = node.text().await.expect("text");
    assert!(
        text.contains("online") && text.contains("soil_moisture"),
        "{text}"
    );
    assert!(text.contains("valve"), "{text}");
    assert!(
        client
            .find(Locator::Css("article[data-node='tank'] svg.spark"))
            .await
            .is_ok(),
        "a sparkline per sensor"
    );

    // Live refresh: a new reading appears without reloading the page.
    master.clock().advance(Duration::from_secs(60));
    master
        .report(
            "bed-1",
            json!({"seq": 99, "readings": {"soil_moisture": 77.5}}),
        )
        .await;
    client
        .execute(
            "document.body.setAttribute('data-marker', 'same-page')",
            vec![],
        )
        .await
        .expect("marker set");
    let started = Instant::now();
    loop {
        // Read in one script call: the refresh may replace the element between two commands.
        let text = client
            .execute(
                "return document.querySelector(\"article[data-node='bed-1']\").innerText",
                vec![],
            )
            .await
            .expect("node text");
        let text = text.as_str().unwrap_or_default().to_owned();
        if text.contains("77.5 %") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(12),
            "the overview did not refresh: {text}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let marker = client
        .execute("return document.body.getAttribute('data-marker')", vec![])
        .await
        .expect("marker read");
    assert_eq!(marker, json!("same-page"), "refreshed without reloading");
    screenshot(&client, "overview").await;

    // Clicked from a script: the live refresh may swap the link between find and click.
    client
        .execute(
            "document.querySelector(\"a[href='/nodes/bed-1']\").click()",
            vec![],
        )
        .await
        .expect("node link clicked");
    let chart = client
        .wait()
        .at_most(Duration::from_secs(5))
        .for_element(Locator::Css(
            "section[data-sensor='soil_moisture'] svg.chart",
        ))
        .await
        .expect("a chart");
    let svg = chart.html(false).await.expect("svg");
    assert!(
        svg.contains("polyline") && svg.contains("threshold"),
        "{svg}"
    );
    client
        .find(Locator::LinkText("1h"))
        .await
        .expect("1h link")
        .click()
        .await
        .expect("clicked");
    client
        .wait()
        .at_most(Duration::from_secs(5))
        .for_element(Locator::Css(".ranges span"))
        .await
        .expect("range shown");
    screenshot(&client, "node").await;

    client
        .find(Locator::Css("form.logout button"))
        .await
        .expect("logout button")
        .click()
        .await
        .expect("clicked");
    client
        .wait()
        .at_most(Duration::from_secs(5))
        .for_element(Locator::Css("#secret"))
        .await
        .expect("back at the login form");
    client
        .goto(&format!("{}/nodes/bed-1", master.base))
        .await
        .expect("goto");
    client
        .wait()
        .at_most(Duration::from_secs(5))
        .for_element(Locator::Css("#secret"))
        .await
        .expect("pages need a login again");
    let _ = client.close().await;
    master.stop().await;
}

#[tokio::test]
async fn injected_markup_renders_as_text() {
    let Some((_driver, client)) = start_driver().await else {
        return;
    };
    let master = garden().await;
    let injected = "<script>window.pwned=1</script><img src=x onerror=\"window.pwned=2\">";
    master
        .master
        .store()
        .write(WriteBatch {
            state_changes: vec![StateChange {
                at_ms: master.master.now().as_millisecond() - 1,
                node: "bed-1".to_owned(),
                output: injected.to_owned(),
                power: true,
                reason: injected.to_owned(),
            }],
            ..WriteBatch::default()
        })
        .await
        .expect("stored");
    log_in(&client, &master, ADMIN_TOKEN).await;
    client
        .wait()
        .at_most(Duration::from_secs(5))
        .for_element(Locator::Css("article[data-node='bed-1']"))
        .await
        .expect("logged in");
    for path in [
        "/events?node=bed-1".to_owned(),
        "/nodes/bed-1".to_owned(),
        "/nodes/%3Cscript%3Ewindow.pwned%3D3%3C%2Fscript%3E".to_owned(),
    ] {
        client
            .goto(&format!("{}{path}", master.base))
            .await
            .expect("goto");
        let body = client
            .wait()
            .at_most(Duration::from_secs(5))
            .for_element(Locator::Css("main"))
            .await
            .expect("page")
            .text()
            .await
            .expect("text");
        assert!(
            body.contains("<script>window.pwned="),
            "{path}: the markup is shown as text: {body}"
        );
        let pwned = client
            .execute("return typeof window.pwned", vec![])
            .await
            .expect("script ran");
        assert_eq!(pwned, json!("undefined"), "{path}: injected script ran");
        let images = client
            .find_all(Locator::Css("main img"))
            .await
            .expect("query");
        assert!(images.is_empty(), "{path}: an injected element was created");
    }
    client
        .goto(&format!("{}/events?node=bed-1", master.base))
        .await
        .expect("goto");
    screenshot(&client, "events").await;
    let _ = client.close().await;
    master.stop().await;
}
