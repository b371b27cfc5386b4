//! The HTML pieces of the Settings pages: the editor form, the text as a numbered listing with
//! each problem right under its line, a unified diff, and the history table. Every text is
//! escaped here.

use std::fmt::Write;

use jiff::Timestamp;
use plantkeeper_control::load::ConfigError;
use plantkeeper_store::SettingsVersionInfo;

use super::escape::escape_html;
use super::overview::local_time;
use super::sessions::Session;
use crate::master::Master;

/// The editor: `text` in a textarea, posted to `/settings/check` with `base`, the version the
/// text started from.
pub fn editor(session: &Session, base: u64, text: &str) -> String {
    // A newline right after `<textarea>` is dropped by the HTML parser: one is added so a
    // text starting with an empty line keeps it.
    format!(
        "<form method=\"post\" action=\"/settings/check\" class=\"editor\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <input type=\"hidden\" name=\"base\" value=\"{base}\">\
         <label for=\"settings-text\">Settings (TOML)</label>\
         <textarea id=\"settings-text\" name=\"text\" rows=\"28\" wrap=\"off\" spellcheck=\"false\" \
         autocomplete=\"off\" autocapitalize=\"off\">\n{text}</textarea>\
         <p class=\"muted\" id=\"caret\"></p>\
         <button type=\"submit\" id=\"check\">Check</button></form>",
        csrf = escape_html(&session.csrf),
        text = escape_html(text),
    )
}

/// The "Apply" form: exactly the checked `text`, on top of version `base`.
pub fn apply_form(session: &Session, base: u64, text: &str) -> String {
    format!(
        "<form method=\"post\" action=\"/settings/apply\" class=\"apply\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <input type=\"hidden\" name=\"base\" value=\"{base}\">\
         <input type=\"hidden\" name=\"text\" value=\"{text}\">\
         <button type=\"submit\" id=\"apply\">Apply</button> \
         <span class=\"muted\">puts these changes in force at once, as version {next}</span></form>",
        csrf = escape_html(&session.csrf),
        text = escape_html(text),
        next = base + 1,
    )
}

/// The problems as a list, each linking to its line in the listing.
pub fn problem_list(errors: &[ConfigError]) -> String {
    let mut html = String::from("<ol class=\"problems\">");
    for error in errors {
        let _ = write!(
            html,
            "<li><a href=\"#L{line}\">line {line}, column {column}</a>: {problem}</li>",
            line = error.line,
            column = error.column,
            problem = problem(error),
        );
    }
    html.push_str("</ol>");
    html
}

/// `text` as numbered lines (anchors `#L1`, …), each problem right under its line; problems
/// positioned outside the text come first.
pub fn listing(text: &str, errors: &[ConfigError]) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut html = String::from("<div class=\"listing\">");
    for error in errors
        .iter()
        .filter(|error| error.line == 0 || error.line > lines.len())
    {
        message(&mut html, error);
    }
    for (index, line) in lines.iter().enumerate() {
        let number = index + 1;
        let here: Vec<&ConfigError> = errors.iter().filter(|error| error.line == number).collect();
        let class = if here.is_empty() { "" } else { " bad" };
        let _ = write!(
            html,
            "<div class=\"line{class}\" id=\"L{number}\"><span class=\"no\">{number}</span><code>{}</code></div>",
            escape_html(line)
        );
        for error in here {
            message(&mut html, error);
        }
    }
    html.push_str("</div>");
    html
}

fn message(html: &mut String, error: &ConfigError) {
    let _ = write!(
        html,
        "<p class=\"message\">line {}, column {}: {}</p>",
        error.line,
        error.column,
        problem(error)
    );
}

fn problem(error: &ConfigError) -> String {
    format!(
        "<code class=\"field\">{}</code> {}",
        escape_html(&error.field),
        escape_html(&error.message)
    )
}

/// A unified diff, each line marked as added, removed, hunk header or context.
pub fn diff(unified: &str) -> String {
    let mut html = String::from("<pre class=\"diff\">");
    for line in unified.lines() {
        let class = if line.starts_with("+++") || line.starts_with("---") {
            "head"
        } else if line.starts_with('+') {
            "add"
        } else if line.starts_with('-') {
            "del"
        } else if line.starts_with("@@") {
            "hunk"
        } else {
            "same"
        };
        // The line break stays inside the (block) span: one line per row with CSS, and
        // still one per line without it.
        let _ = write!(
            html,
            "<span class=\"{class}\">{}\n</span>",
            escape_html(line)
        );
    }
    html.push_str("</pre>");
    html
}

/// When, by whom and how a version was made, as text (not escaped):
/// `2026-06-01 10:00:00 UTC by AUTHOR (api)`.
pub fn provenance(master: &Master, info: &SettingsVersionInfo) -> String {
    format!(
        "{} by {} ({})",
        time(master, info.created_at_ms),
        info.author,
        info.source.as_str()
    )
}

/// The history table, newest first; `running` is marked.
pub fn history(master: &Master, versions: &[SettingsVersionInfo], running: u64) -> String {
    let mut html = String::from(
        "<table class=\"history\"><tr><th>version</th><th>time</th><th>author</th>\
         <th>source</th><th>summary</th></tr>",
    );
    for info in versions {
        let marker = if info.version == running {
            " <span class=\"power on\">running</span>"
        } else {
            ""
        };
        let _ = write!(
            html,
            "<tr><td><a href=\"/settings/versions/{n}\">{n}</a>{marker}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td></tr>",
            escape_html(&time(master, info.created_at_ms)),
            escape_html(&info.author),
            info.source.as_str(),
            escape_html(&info.summary),
            n = info.version,
        );
    }
    html.push_str("</table>");
    html
}

fn time(master: &Master, at_ms: i64) -> String {
    Timestamp::from_millisecond(at_ms)
        .map_or_else(|_| at_ms.to_string(), |at| local_time(master, at))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(line: usize, field: &str, message: &str) -> ConfigError {
        ConfigError {
            file: "settings".to_owned(),
            line,
            column: 3,
            field: field.to_owned(),
            message: message.to_owned(),
        }
    }

    #[test]
    fn each_problem_follows_its_line_and_markup_is_escaped() {
        let html = listing(
            "a = 1\nb = \"<script>\"\nc = 3\n",
            &[error(2, "b", "not <b>"), error(9, "d", "past the end")],
        );
        let past = html
            .find("past the end")
            .expect("out-of-range problem shown");
        let line_one = html.find("id=\"L1\"").expect("line 1");
        assert!(past < line_one, "out-of-range problems come first: {html}");
        let line_two = html.find("id=\"L2\"").expect("line 2");
        let problem = html.find("not &lt;b&gt;").expect("escaped message");
        let line_three = html.find("id=\"L3\"").expect("line 3");
        assert!(line_two < problem && problem < line_three, "{html}");
        assert!(html.contains("&lt;script&gt;") && !html.contains("<script>"));
        assert!(
            html.contains("<div class=\"line bad\" id=\"L2\">"),
            "{html}"
        );
    }

    #[test]
    fn diff_lines_are_classified() {
        let html = diff("--- previous\n+++ new\n@@ -1 +1 @@\n-a\n+<b>\n same\n");
        for expected in [
            "<span class=\"head\">--- previous\n</span>",
            "<span class=\"head\">+++ new\n</span>",
            "<span class=\"hunk\">@@ -1 +1 @@\n</span>",
            "<span class=\"del\">-a\n</span>",
            "<span class=\"add\">+&lt;b&gt;\n</span>",
            "<span class=\"same\"> same\n</span>",
        ] {
            assert!(html.contains(expected), "{expected} in {html}");
        }
    }
}
