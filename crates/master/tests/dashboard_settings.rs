//! The dashboard's Settings page against a real master over HTTP: who may see it, CSRF on
//! every form, Check with every problem under its line, Apply through the API's path (conflict,
//! restart_required, nothing changed on refusal), escaping, history and rollback.

mod common;

use common::forms::{FormSession, anonymous_get, hidden};
use common::{ADMIN_TOKEN, TestMaster, garden_toml, garden_with_threshold};
use serde_json::json;

/// The running version's number and text, as the API reports them.
async fn running(master: &TestMaster) -> (String, String) {
    let response = master
        .http
        .get(format!("{}/api/v1/settings", master.base))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("sent");
    let version = response.headers()["x-settings-version"]
        .to_str()
        .expect("ascii")
        .to_owned();
    (version, response.text().await.expect("text"))
}

async fn history_len(master: &TestMaster) -> usize {
    let (_, history) = master.admin_get("/api/v1/settings/versions").await;
    history["versions"].as_array().map_or(0, Vec::len)
}

/// The text as the pages escape it.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// 1-based line of the first line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|line| line.contains(needle))
        .expect("line present")
        + 1
}

/// Asserts `message` is shown right under line `line` of the page's listing.
fn assert_under_line(page: &str, line: usize, message: &str) {
    let start = page
        .find(&format!("id=\"L{line}\""))
        .unwrap_or_else(|| panic!("line {line} in the listing: {page}"));
    let end = page[start..]
        .find(&format!("id=\"L{}\"", line + 1))
        .map_or(page.len(), |offset| start + offset);
    assert!(
        page[start..end].contains(message),
        "`{message}` under line {line}: {}",
        &page[start..end]
    );
}

#[tokio::test]
async fn the_settings_page_needs_a_login_even_with_public_read() {
    let toml = format!("{}\n[dashboard]\npublic_read = true\n", garden_toml(""));
    let master = TestMaster::start_manual(&toml).await;
    let overview = anonymous_get(&master, "/").await;
    assert_eq!(overview.status, 200, "public_read shows the overview");
    for path in ["/settings", "/settings/versions/1"] {
        let page = anonymous_get(&master, path).await;
        assert_eq!(page.status, 303, "{path}: {}", page.text);
        assert_eq!(
            page.location.as_deref(),
            Some(format!("/login?next={}", path).as_str())
        );
        assert!(!page.text.contains("admin_token_sha256"), "{path}");
    }
    for path in ["/settings/check", "/settings/apply", "/settings/rollback/1"] {
        let response = common::session::client()
            .post(format!("{}{path}", master.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("csrf=x&text=x&base=1")
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status().as_u16(), 303, "{path}");
        assert_eq!(
            response.headers()["location"],
            "/login?next=/settings",
            "{path}: after login the browser comes back to the page, not to a POST-only route"
        );
    }

    let session = FormSession::log_in(&master, ADMIN_TOKEN).await;
    let page = session.get("/settings").await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(
        page.text
            .contains("<textarea id=\"settings-text\" name=\"text\"")
    );
    let (_, text) = running(&master).await;
    assert!(
        page.text
            .contains(&format!(">\n{}</textarea>", escape(&text))),
        "the running text in the editor, escaped, its leading newline kept: {}",
        page.text
    );
    assert!(
        page.text
            .contains("href=\"/settings/versions/1\">version 1</a>")
    );
    assert!(
        page.text.contains("by settings file test.toml (file)"),
        "{}",
        page.text
    );
    assert!(
        page.text.contains("<a href=\"/settings\">Settings</a>"),
        "nav"
    );
    master.stop().await;
}

#[tokio::test]
async fn forms_without_the_session_token_are_refused_and_change_nothing() {
    let master = TestMaster::start_manual(&garden_toml("")).await;
    let session = FormSession::log_in(&master, ADMIN_TOKEN).await;
    let changed = garden_with_threshold(44);
    // First a real change, so that a rollback has somewhere to go.
    let applied = session
        .post(
            "/settings/apply",
            &[("csrf", &session.csrf), ("base", "1"), ("text", &changed)],
        )
        .await;
    assert_eq!(applied.status, 303, "{}", applied.text);
    let forged = "0".repeat(64);
    for token in [None, Some(forged.as_str()), Some("")] {
        let mut apply = vec![("base", "2"), ("text", "# nothing\n")];
        let mut check = vec![("base", "2"), ("text", "[broken")];
        let mut rollback = Vec::new();
        if let Some(token) = token {
            apply.push(("csrf", token));
            check.push(("csrf", token));
            rollback.push(("csrf", token));
        }
        for (path, fields) in [
            ("/settings/apply", &apply),
            ("/settings/check", &check),
            ("/settings/rollback/1", &rollback),
        ] {
            let answer = session.post(path, fields).await;
            assert_eq!(answer.status, 403, "{path} with {token:?}: {}", answer.text);
            assert!(
                answer.text.contains("CSRF token mismatch"),
                "{}",
                answer.text
            );
        }
    }
    assert_eq!(running(&master).await, ("2".to_owned(), changed));
    assert_eq!(history_len(&master).await, 2, "nothing was stored");
    master.stop().await;
}

#[tokio::test]
async fn check_shows_every_problem_under_its_line_and_leaves_the_running_version() {
    let master = TestMaster::start_manual(&garden_toml("")).await;
    let session = FormSession::log_in(&master, ADMIN_TOKEN).await;
    let (_, original) = running(&master).await;

    let typo = garden_toml("report_evry = \"5s\"").replace("on_when = \"soil", "on_whn = \"soil");
    let checked = session
        .post(
            "/settings/check",
            &[("csrf", &session.csrf), ("base", "1"), ("text", &typo)],
        )
        .await;
    assert_eq!(checked.status, 422, "{}", checked.text);
    assert!(
        checked
            .text
            .contains("the settings have 3 errors; nothing changed"),
        "{}",
        checked.text
    );
    let report = line_of(&typo, "report_evry");
    assert_under_line(
        &checked.text,
        report,
        &format!(
            "line {report}, column 1: <code class=\"field\">defaults.report_evry</code> unknown key `report_evry`; did you mean `report_every`?"
        ),
    );
    let on_when = line_of(&typo, "on_whn");
    assert_under_line(
        &checked.text,
        on_when,
        "<code class=\"field\">nodes.bed-1.outputs.valve.on_whn</code>",
    );
    assert!(
        checked.text.contains(&format!(
            "<a href=\"#L{report}\">line {report}, column 1</a>"
        )),
        "the summary links to the line"
    );
    assert!(
        !checked.text.contains("id=\"apply\""),
        "no Apply for an invalid text"
    );
    assert!(
        checked
            .text
            .contains("<span class=\"add\">+report_evry = &quot;5s&quot;\n</span>"),
        "the diff against the running version: {}",
        checked.text
    );

    // Not TOML at all: the parser's error, positioned too.
    let broken = original.replace("timezone = \"UTC\"", "timezone = \"UTC");
    let checked = session
        .post(
            "/settings/check",
            &[("csrf", &session.csrf), ("base", "1"), ("text", &broken)],
        )
        .await;
    assert_eq!(checked.status, 422, "{}", checked.text);
    let timezone = line_of(&broken, "timezone");
    assert_under_line(&checked.text, timezone, &format!("line {timezone}, column"));

    // Applying an invalid text directly is refused the same way.
    let applied = session
        .post(
            "/settings/apply",
            &[("csrf", &session.csrf), ("base", "1"), ("text", &typo)],
        )
        .await;
    assert_eq!(applied.status, 422, "{}", applied.text);
    assert_under_line(&applied.text, report, "defaults.report_evry");

    // Over the API's 64 KiB limit: refused by both actions, the text kept in the editor.
    let huge = format!("{original}{}", "# padding\n".repeat(7_000));
    for path in ["/settings/check", "/settings/apply"] {
        let answer = session
            .post(
                path,
                &[("csrf", &session.csrf), ("base", "1"), ("text", &huge)],
            )
            .await;
        assert_eq!(answer.status, 413, "{path}");
        assert!(
            answer.text.contains("the settings document is over 64 KiB"),
            "{path}: {}",
            &answer.text[..2_000]
        );
    }

    assert_eq!(running(&master).await, ("1".to_owned(), original));
    assert_eq!(history_len(&master).await, 1, "nothing was stored");
    master.stop().await;
}

#[tokio::test]
async fn apply_puts_the_checked_text_in_force_through_the_api_path() {
    let master = TestMaster::start_manual(&garden_toml("")).await;
    master
        .report("tank", json!({"seq": 1, "readings": {"level": 80.0}}))
        .await;
    master
        .report(
            "bed-1",
            json!({"seq": 1, "readings": {"soil_moisture": 40.0}}),
        )
        .await;
    let session = FormSession::log_in(&master, ADMIN_TOKEN).await;
    // A browser posts a textarea's line breaks as CRLF.
    let changed = garden_with_threshold(44);
    let from_browser = changed.replace('\n', "\r\n");
    let checked = session
        .post(
            "/settings/check",
            &[
                ("csrf", &session.csrf),
                ("base", "1"),
                ("text", &from_browser),
            ],
        )
        .await;
    assert_eq!(checked.status, 200, "{}", checked.text);
    assert!(
        checked
            .text
            .contains("Valid. Changes against the running version 1 (+1 -1 lines)")
    );
    assert!(
        checked.text.contains(
            "<span class=\"del\">-on_when = &quot;soil_moisture &lt; 30&quot;\n</span><span class=\"add\">+on_when = &quot;soil_moisture &lt; 44&quot;\n</span>"
        ),
        "{}",
        checked.text
    );
    let apply_start = checked
        .text
        .find("action=\"/settings/apply\"")
        .expect("Apply form");
    let apply_form = &checked.text[apply_start..];
    assert_eq!(hidden(apply_form, "base"), "1");
    assert_eq!(running(&master).await.0, "1", "Check changes nothing");

    let applied = session
        .post(
            "/settings/apply",
            &[
                ("csrf", &session.csrf),
                ("base", "1"),
                ("text", &from_browser),
            ],
        )
        .await;
    assert_eq!(applied.status, 303, "{}", applied.text);
    assert_eq!(applied.location.as_deref(), Some("/settings?applied=2"));
    assert_eq!(
        running(&master).await,
        ("2".to_owned(), changed.clone()),
        "stored with LF line breaks"
    );
    let page = session.get("/settings?applied=2").await;
    assert!(
        page.text
            .contains("Version 2 applied: it took effect at once."),
        "{}",
        page.text
    );
    let (_, history) = master.admin_get("/api/v1/settings/versions").await;
    assert_eq!(
        history["versions"][0]["author"],
        "dashboard session from 127.0.0.1"
    );
    assert_eq!(history["versions"][0]["source"], "api");
    assert!(
        page.text.contains("dashboard session from 127.0.0.1"),
        "history on the page"
    );
    let (_, nodes) = master.admin_get("/api/v1/nodes").await;
    let valve = nodes["nodes"]
        .as_array()
        .and_then(|nodes| nodes.iter().find(|node| node["id"] == "bed-1"))
        .map(|node| node["outputs"]["valve"].clone())
        .expect("bed-1 valve");
    assert_eq!(
        valve["power"], true,
        "decided by the new threshold: {valve}"
    );
    // The live reason may already be the next tick's; the state change keeps the deciding one.
    let (_, events) = master
        .admin_get("/api/v1/events?from=2026-06-01T00:00:00Z&to=2026-06-02T00:00:00Z")
        .await;
    let valve_on = events["events"]
        .as_array()
        .and_then(|events| {
            events
                .iter()
                .find(|event| event["kind"] == "state_change" && event["output"] == "valve")
        })
        .expect("a valve state change")
        .clone();
    assert_eq!(valve_on["power"], true);
    assert_eq!(valve_on["reason"], "soil_moisture 40.0 < 44");

    // The same text again stores nothing.
    let again = session
        .post(
            "/settings/apply",
            &[("csrf", &session.csrf), ("base", "2"), ("text", &changed)],
        )
        .await;
    assert_eq!(again.location.as_deref(), Some("/settings?unchanged=2"));
    assert_eq!(history_len(&master).await, 2);
    master.stop().await;
}

#[tokio::test]
async fn apply_on_a_stale_base_is_a_conflict_not_an_overwrite() {
    let master = TestMaster::start_manual(&garden_toml("")).await;
    let session = FormSession::log_in(&master, ADMIN_TOKEN).await;
    // Someone else changes the settings through the API after the page was opened on 1.
    let theirs = garden_with_threshold(35);
    let put = master
        .http
        .put(format!("{}/api/v1/settings", master.base))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/toml")
        .body(theirs.clone())
        .send()
        .await
        .expect("sent");
    assert_eq!(put.status().as_u16(), 200);

    let mine = garden_with_threshold(44);
    let checked = session
        .post(
            "/settings/check",
            &[("csrf", &session.csrf), ("base", "1"), ("text", &mine)],
        )
        .await;
    assert_eq!(checked.status, 200, "{}", checked.text);
    assert!(
        checked.text.contains(
            "Version 2 was applied after you opened version 1: the diff below is against \
             version 2, and applying replaces it."
        ),
        "Check warns before Apply: {}",
        checked.text
    );
    let answer = session
        .post(
            "/settings/apply",
            &[("csrf", &session.csrf), ("base", "1"), ("text", &mine)],
        )
        .await;
    assert_eq!(answer.status, 409, "{}", answer.text);
    assert!(
        answer.text.contains(
            "Conflict: version 2 was applied after you opened version 1 \
             (2026-06-01 10:00:00 UTC by admin token (api)); your text was not applied."
        ),
        "{}",
        answer.text
    );
    assert!(
        answer
            .text
            .contains("<span class=\"del\">-on_when = &quot;soil_moisture &lt; 35&quot;\n</span>"),
        "the diff is against the version running now: {}",
        answer.text
    );
    assert_eq!(running(&master).await, ("2".to_owned(), theirs));
    let apply_start = answer
        .text
        .find("action=\"/settings/apply\"")
        .expect("Apply form");
    assert_eq!(
        hidden(&answer.text[apply_start..], "base"),
        "2",
        "Apply now builds on the version whose diff is shown"
    );
    master.stop().await;
}

#[tokio::test]
async fn a_restart_only_change_is_refused_with_its_reason() {
    let master = TestMaster::start_manual(&garden_toml("")).await;
    let session = FormSession::log_in(&master, ADMIN_TOKEN).await;
    let moved = garden_with_threshold(44)
        .replace(r#"listen = "127.0.0.1:0""#, r#"listen = "127.0.0.1:9999""#);
    for path in ["/settings/check", "/settings/apply"] {
        let answer = session
            .post(
                path,
                &[("csrf", &session.csrf), ("base", "1"), ("text", &moved)],
            )
            .await;
        assert_eq!(answer.status, 422, "{path}: {}", answer.text);
        assert!(
            answer.text.contains(
                "master.listen needs a restart and cannot change while the master runs; nothing changed"
            ),
            "{path}: {}",
            answer.text
        );
        assert_under_line(
            &answer.text,
            line_of(&moved, "listen"),
            "changing `listen` (127.0.0.1:0 → 127.0.0.1:9999) needs a restart",
        );
    }
    let (version, text) = running(&master).await;
    assert_eq!(version, "1");
    assert!(text.contains("soil_moisture < 30"), "nothing half-applied");
    master.stop().await;
}

#[tokio::test]
async fn submitted_markup_is_rendered_as_text() {
    let master = TestMaster::start_manual(&garden_toml("")).await;
    let session = FormSession::log_in(&master, ADMIN_TOKEN).await;
    let injected = "<script>alert('x')</script><img src=x onerror=alert(1)>";
    let as_comment = format!("# {injected}\n{}", garden_toml(""));
    let as_key = garden_toml(&format!("\"{injected}\" = 1"));
    for text in [&as_comment, &as_key] {
        let answer = session
            .post(
                "/settings/check",
                &[("csrf", &session.csrf), ("base", "1"), ("text", text)],
            )
            .await;
        assert!(
            !answer.text.contains("<script>alert") && !answer.text.contains("<img"),
            "raw markup in the page: {}",
            answer.text
        );
        assert!(
            answer
                .text
                .contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"),
            "{}",
            answer.text
        );
    }
    // The valid one is applied, then shown escaped in the editor and the version page.
    let applied = session
        .post(
            "/settings/apply",
            &[
                ("csrf", &session.csrf),
                ("base", "1"),
                ("text", &as_comment),
            ],
        )
        .await;
    assert_eq!(applied.status, 303, "{}", applied.text);
    assert_eq!(running(&master).await.1, as_comment, "stored exactly");
    for path in ["/settings", "/settings/versions/2"] {
        let page = session.get(path).await;
        assert!(
            !page.text.contains("<script>alert"),
            "{path}: {}",
            page.text
        );
        assert!(page.text.contains("&lt;script&gt;alert"), "{path}");
    }
    master.stop().await;
}

#[tokio::test]
async fn a_version_page_shows_text_and_diff_and_rolls_back() {
    let master = TestMaster::start_manual(&garden_toml("")).await;
    let session = FormSession::log_in(&master, ADMIN_TOKEN).await;
    let (_, original) = running(&master).await;
    let changed = garden_with_threshold(44);
    let applied = session
        .post(
            "/settings/apply",
            &[("csrf", &session.csrf), ("base", "1"), ("text", &changed)],
        )
        .await;
    assert_eq!(applied.status, 303);

    let settings = session.get("/settings").await;
    let newest = settings
        .text
        .find("href=\"/settings/versions/2\">2</a>")
        .expect("v2 row");
    let oldest = settings
        .text
        .find("href=\"/settings/versions/1\">1</a>")
        .expect("v1 row");
    assert!(newest < oldest, "newest first");

    let current = session.get("/settings/versions/2").await;
    assert_eq!(current.status, 200);
    assert!(current.text.contains("This version is running."));
    assert!(
        !current.text.contains("id=\"rollback\""),
        "no rollback to itself"
    );
    assert!(
        current
            .text
            .contains("<span class=\"add\">+on_when = &quot;soil_moisture &lt; 44&quot;\n</span>")
    );

    let first = session.get("/settings/versions/1").await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert!(first.text.contains("The first version."));
    assert!(first.text.contains("by settings file test.toml (file)"));
    assert!(first.text.contains("soil_moisture &lt; 30"), "its text");
    assert!(first.text.contains("Roll back to this version"));

    let stale = session
        .post(
            "/settings/rollback/1",
            &[("csrf", &session.csrf), ("base", "1")],
        )
        .await;
    assert_eq!(
        stale.status, 409,
        "the page showed version 1 running, 2 runs: {}",
        stale.text
    );
    assert!(
        stale
            .text
            .contains("Version 2 runs, not version 1; nothing changed.")
    );
    assert_eq!(history_len(&master).await, 2, "nothing stored");
    let base = first.text.contains("name=\"base\" value=\"2\"");
    assert!(base, "the form carries the running version: {}", first.text);
    let rolled = session
        .post(
            "/settings/rollback/1",
            &[("csrf", &session.csrf), ("base", "2")],
        )
        .await;
    assert_eq!(rolled.status, 303, "{}", rolled.text);
    assert_eq!(rolled.location.as_deref(), Some("/settings?applied=3"));
    assert_eq!(running(&master).await, ("3".to_owned(), original));
    let (_, history) = master.admin_get("/api/v1/settings/versions").await;
    assert_eq!(
        history["versions"][0]["author"],
        "rollback of 1 by dashboard session from 127.0.0.1"
    );
    assert_eq!(history["versions"][0]["source"], "rollback");

    for path in ["/settings/versions/9", "/settings/versions/x"] {
        let missing = session.get(path).await;
        assert_eq!(missing.status, 404, "{path}");
    }
    let missing = session
        .post("/settings/rollback/9", &[("csrf", &session.csrf)])
        .await;
    assert_eq!(missing.status, 404);
    assert_eq!(history_len(&master).await, 3);
    master.stop().await;
}
