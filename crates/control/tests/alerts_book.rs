//! Property tests of the alert book: deduplication, `for`, repeat and resolve over any sequence
//! of observations and clock steps.

use std::time::Duration;

use jiff::Timestamp;
use plantkeeper_control::alerts::{AlertBook, AlertKey, NoticeStatus, Observation};
use plantkeeper_control::settings::Severity;
use proptest::prelude::*;

fn observation(hold_for: u64) -> Observation {
    Observation {
        key: AlertKey {
            rule: "dry".to_owned(),
            node: Some("bed-1".to_owned()),
            output: None,
            sensor: Some("soil_moisture".to_owned()),
        },
        severity: Severity::Warning,
        message: "dry".to_owned(),
        hold_for: Duration::from_secs(hold_for),
    }
}

proptest! {
    #[test]
    fn notices_follow_the_episode(
        hold_for in 0u64..30,
        repeat_every in 1u64..120,
        steps in prop::collection::vec((0u64..40, any::<bool>()), 1..200),
    ) {
        let mut book = AlertBook::new(Duration::from_secs(repeat_every));
        let mut now = Timestamp::from_second(1_700_000_000).expect("valid");
        // The model: when the current unbroken run of observations began, whether the alert
        // is firing, and when it was last sent.
        let mut run_since: Option<Timestamp> = None;
        let mut firing = false;
        let mut last_sent = now;
        for (step, active) in steps {
            now = now.checked_add(Duration::from_secs(step)).expect("valid");
            let observed = if active { vec![observation(hold_for)] } else { vec![] };
            let notices = book.update(now, observed);
            prop_assert!(notices.len() <= 1, "one key, at most one notice per update");
            if active {
                let since = *run_since.get_or_insert(now);
                let held = Duration::try_from(now.duration_since(since)).expect("forward");
                if firing {
                    let quiet = Duration::try_from(now.duration_since(last_sent)).expect("forward");
                    if quiet >= Duration::from_secs(repeat_every) {
                        prop_assert_eq!(notices.len(), 1, "repeat due");
                        prop_assert!(notices[0].repeat);
                        prop_assert_eq!(notices[0].status, NoticeStatus::Firing);
                        last_sent = now;
                    } else {
                        prop_assert!(notices.is_empty(), "deduplicated within repeat_every");
                    }
                } else if held >= Duration::from_secs(hold_for) {
                    prop_assert_eq!(notices.len(), 1, "fires once held for `for`");
                    prop_assert!(!notices[0].repeat);
                    prop_assert_eq!(notices[0].status, NoticeStatus::Firing);
                    prop_assert_eq!(notices[0].alert.started_at, now);
                    firing = true;
                    last_sent = now;
                } else {
                    prop_assert!(notices.is_empty(), "pending sends nothing");
                }
            } else {
                run_since = None;
                if firing {
                    prop_assert_eq!(notices.len(), 1, "resolves exactly once");
                    prop_assert_eq!(notices[0].status, NoticeStatus::Resolved);
                    prop_assert_eq!(notices[0].resolved_at, Some(now));
                    firing = false;
                } else {
                    prop_assert!(notices.is_empty(), "nothing to resolve");
                }
            }
            prop_assert_eq!(book.firing().len(), usize::from(firing));
        }
    }
}
