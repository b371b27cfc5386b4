//! Replays the shared lease vectors (`tests/vectors/lease_vectors.json`) through the Rust
//! [`LeaseKeeper`]. The MicroPython client replays the same file through its own keeper
//! (`firmware/micropython/pk_lease.py`, from the root test `tests/micropython_client.rs`), so
//! the two implementations of CONTRACT §4 cannot drift apart.

use plantkeeper_protocol::{AnswerOutcome, LeaseKeeper};
use serde_json::Value;

const VECTORS: &str = include_str!("vectors/lease_vectors.json");

fn cases() -> Vec<Value> {
    let doc: Value = serde_json::from_str(VECTORS).expect("lease_vectors.json is valid JSON");
    doc["cases"]
        .as_array()
        .expect("lease_vectors.json has a `cases` array")
        .clone()
}

fn u32_of(value: &Value, what: &str, case: &str) -> u32 {
    value
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or_else(|| panic!("{case}: {what} must be a u32, got {value}"))
}

fn outcome_name(outcome: AnswerOutcome) -> &'static str {
    match outcome {
        AnswerOutcome::Accepted => "accepted",
        AnswerOutcome::IgnoredUnknownSeq => "ignored_unknown_seq",
        AnswerOutcome::IgnoredOlderEpoch => "ignored_older_epoch",
    }
}

/// Runs one case on a keeper with `OUTPUTS` relays remembering `RECENT` requests.
fn replay<const OUTPUTS: usize, const RECENT: usize>(case: &Value) {
    let name = case["name"].as_str().unwrap_or("unnamed case");
    let caps: Vec<Option<u32>> = case["local_max_on_ms"]
        .as_array()
        .unwrap_or_else(|| panic!("{name}: local_max_on_ms must be an array"))
        .iter()
        .map(|cap| (!cap.is_null()).then(|| u32_of(cap, "local_max_on_ms", name)))
        .collect();
    let caps: [Option<u32>; OUTPUTS] = caps
        .try_into()
        .unwrap_or_else(|_| panic!("{name}: local_max_on_ms must have {OUTPUTS} entries"));
    let mut keeper = LeaseKeeper::<OUTPUTS, RECENT>::new(caps);
    let steps = case["steps"]
        .as_array()
        .unwrap_or_else(|| panic!("{name}: steps must be an array"));
    for (index, step) in steps.iter().enumerate() {
        let at = || u32_of(&step["at"], "at", name);
        let here = format!("{name}, step {index} {step}");
        if let Some(seq) = step.get("send") {
            keeper.on_request_sent(u32_of(seq, "send", name), at());
        } else if let Some(answer) = step.get("answer") {
            let commands: Vec<(usize, bool, u32)> = answer["commands"]
                .as_array()
                .unwrap_or_else(|| panic!("{here}: commands must be an array"))
                .iter()
                .map(|command| {
                    let index = command[0].as_u64().and_then(|i| usize::try_from(i).ok());
                    let power = command[1].as_bool();
                    match (index, power) {
                        (Some(index), Some(power)) => {
                            (index, power, u32_of(&command[2], "lease_ms", name))
                        }
                        _ => panic!("{here}: a command is [index, power, lease_ms]"),
                    }
                })
                .collect();
            let epoch = answer["epoch"]
                .as_u64()
                .unwrap_or_else(|| panic!("{here}: epoch must be a u64"));
            let outcome = keeper.on_answer(
                u32_of(&answer["acked_seq"], "acked_seq", name),
                epoch,
                at(),
                commands,
            );
            assert_eq!(
                outcome_name(outcome),
                step["outcome"],
                "{here}: wrong answer outcome"
            );
        } else if step.get("failure").is_some() {
            keeper.on_failure(at());
        } else if let Some(expected) = step.get("relays") {
            let relays = keeper.relays(at());
            assert_eq!(
                serde_json::json!(relays.to_vec()),
                *expected,
                "{here}: relay states differ"
            );
        } else if let Some(expected) = step.get("held_off") {
            let now = at();
            let held: Vec<bool> = (0..OUTPUTS)
                .map(|output| keeper.held_off_by_max_on(output, now))
                .collect();
            assert_eq!(
                serde_json::json!(held),
                *expected,
                "{here}: held-off states differ"
            );
        } else if let Some(expected) = step.get("highest_epoch") {
            assert_eq!(
                serde_json::json!(keeper.highest_epoch()),
                *expected,
                "{here}: highest epoch differs"
            );
        } else {
            panic!("{here}: unknown step kind");
        }
    }
}

#[test]
fn rust_lease_keeper_passes_every_shared_vector() {
    let cases = cases();
    assert!(cases.len() >= 20, "the shared vectors lost cases");
    for case in &cases {
        let outputs = case["local_max_on_ms"].as_array().map_or(0, Vec::len);
        let recent = case["recent"].as_u64().unwrap_or(0);
        match (outputs, recent) {
            (1, 4) => replay::<1, 4>(case),
            (2, 4) => replay::<2, 4>(case),
            (3, 4) => replay::<3, 4>(case),
            (1, 1) => replay::<1, 1>(case),
            other => panic!(
                "case {}: (outputs, recent) = {other:?} has no keeper type here; add it to the match",
                case["name"]
            ),
        }
    }
}

#[test]
fn every_rule_of_the_contract_has_vectors() {
    let names: Vec<String> = cases()
        .iter()
        .filter_map(|case| case["name"].as_str().map(str::to_owned))
        .collect();
    for needle in [
        "off_at_boot",
        "anchored_at_send",
        "epoch",
        "unknown_acked_seq",
        "max_on",
        "failure",
    ] {
        assert!(
            names.iter().any(|name| name.contains(needle)),
            "no shared vector covers `{needle}`; cases: {names:?}"
        );
    }
}
