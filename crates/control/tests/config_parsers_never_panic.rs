//! The config is user input: no text may crash the parsers, and every error they report must
//! point inside the text.

use std::time::Duration;

use plantkeeper_control::condition::parse::parse_condition;
use plantkeeper_control::duration::{format_duration, parse_duration};
use plantkeeper_control::load::load_settings;
use plantkeeper_control::schedule::parse::parse_window;
use proptest::prelude::*;

/// Text made of the characters the grammars care about, plus some non-ASCII.
fn grammar_soup() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[a-z0-9 ._()<>=!+:,%é°-]{0,40}").expect("valid regex")
}

proptest! {
    #[test]
    fn condition_parser_never_panics_and_errors_point_inside(text in grammar_soup()) {
        if let Err(error) = parse_condition(&text) {
            prop_assert!(error.offset <= text.len(), "offset {} beyond `{}`", error.offset, text);
            prop_assert!(text.is_char_boundary(error.offset), "offset {} inside a character of `{}`", error.offset, text);
        }
    }

    #[test]
    fn window_parser_never_panics_and_errors_point_inside(text in grammar_soup()) {
        if let Err(error) = parse_window(&text) {
            prop_assert!(error.offset <= text.len(), "offset {} beyond `{}`", error.offset, text);
        }
    }

    #[test]
    fn window_parser_survives_sun_words_with_trailing_unicode(suffix in "[é°a-z+0-9-]{0,4}") {
        let _ = parse_window(&format!("sunrise{suffix}"));
        let _ = parse_window(&format!("06:00-sunset{suffix}"));
    }

    #[test]
    fn loader_never_panics_on_arbitrary_values(condition in grammar_soup(), window in grammar_soup()) {
        let text = format!(
            "[nodes.a]\ntoken = \"0123456789abcdef\"\n[nodes.a.outputs.o]\non_when = {condition:?}\nschedule = [{window:?}]\n"
        );
        let _ = load_settings("fuzz.toml", &text);
    }

    #[test]
    fn formatted_durations_parse_back(millis in 0u64..10_000_000_000) {
        let duration = Duration::from_millis(millis);
        prop_assert_eq!(parse_duration(&format_duration(duration)), Ok(duration));
    }
}
