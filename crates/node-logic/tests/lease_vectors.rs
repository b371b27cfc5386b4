//! Replays the shared lease vectors (`crates/protocol/tests/vectors/lease_vectors.json`)
//! through the firmware's answer path: each `answer` step becomes a JSON body parsed by
//! `answer::apply` (the function the firmware calls with every HTTP answer), each `failure`
//! step an HTTP 503. So the firmware's parsing and glue obey CONTRACT §4 exactly like the Rust
//! `LeaseKeeper` and the MicroPython client do.

use std::fmt::Write as _;

use plantkeeper_node_logic::answer::{self, Applied};
use plantkeeper_protocol::{AnswerOutcome, LeaseKeeper};
use serde_json::Value;

const VECTORS: &str = include_str!("../../protocol/tests/vectors/lease_vectors.json");

/// Output `i` is called `out{i}` in the generated answers.
const NAMES: [&str; 3] = ["out0", "out1", "out2"];

fn u32_of(value: &Value, what: &str, case: &str) -> u32 {
    value
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or_else(|| panic!("{case}: {what} must be a u32, got {value}"))
}

/// The JSON answer body the master would send for a vector's `answer` step.
fn answer_body(answer: &Value, here: &str) -> String {
    let mut body = format!(
        r#"{{"acked_seq": {}, "epoch": {}, "report_every_ms": 5000, "outputs": {{"#,
        answer["acked_seq"], answer["epoch"]
    );
    let commands = answer["commands"]
        .as_array()
        .unwrap_or_else(|| panic!("{here}: commands must be an array"));
    for (position, command) in commands.iter().enumerate() {
        let index = command[0]
            .as_u64()
            .unwrap_or_else(|| panic!("{here}: a command index must be a number"));
        if position > 0 {
            body.push(',');
        }
        write!(
            body,
            r#""out{index}": {{"power": {}, "lease_ms": {}, "reason": "vector"}}"#,
            command[1], command[2]
        )
        .expect("writing to a String");
    }
    body.push_str("}}");
    body
}

fn outcome_name(applied: Applied) -> &'static str {
    match applied {
        Applied::Accepted { .. } => "accepted",
        Applied::Ignored(AnswerOutcome::IgnoredUnknownSeq) => "ignored_unknown_seq",
        Applied::Ignored(AnswerOutcome::IgnoredOlderEpoch) => "ignored_older_epoch",
        Applied::Ignored(AnswerOutcome::Accepted) => "ignored but accepted?",
        Applied::Status(_) => "status",
        Applied::Malformed(_) => "malformed",
    }
}

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
    let names: [&str; OUTPUTS] = std::array::from_fn(|index| NAMES[index]);
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
            let body = answer_body(answer, &here);
            let applied = answer::apply(&mut keeper, &names, 200, body.as_bytes(), at());
            assert_eq!(
                outcome_name(applied),
                step["outcome"],
                "{here}: wrong outcome for {body}"
            );
        } else if step.get("failure").is_some() {
            let applied = answer::apply(&mut keeper, &names, 503, b"", at());
            assert_eq!(applied, Applied::Status(503), "{here}");
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
fn firmware_answer_path_passes_every_shared_vector() {
    let doc: Value = serde_json::from_str(VECTORS).expect("lease_vectors.json is valid JSON");
    let cases = doc["cases"].as_array().expect("a `cases` array");
    assert!(cases.len() >= 20, "the shared vectors lost cases");
    for case in cases {
        let outputs = case["local_max_on_ms"].as_array().map_or(0, Vec::len);
        let recent = case["recent"].as_u64().unwrap_or(0);
        match (outputs, recent) {
            (1, 4) => replay::<1, 4>(case),
            (2, 4) => replay::<2, 4>(case),
            (3, 4) => replay::<3, 4>(case),
            (1, 1) => replay::<1, 1>(case),
            other => panic!(
                "case {}: (outputs, recent) = {other:?} has no keeper type here; add it",
                case["name"]
            ),
        }
    }
}
