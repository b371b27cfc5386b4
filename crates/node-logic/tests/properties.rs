//! Property tests of the firmware's chip-independent logic against the master's own types:
//! what the node writes, `serde_json` reads as a valid `ReportBody`; what the master writes
//! (`AnswerBody` through `serde_json`), the node reads the same way; and the back-off,
//! calibration and backlog keep their bounds.

use std::collections::{BTreeMap, VecDeque};

use plantkeeper_node_logic::answer;
use plantkeeper_node_logic::backlog::{Backlog, Sample};
use plantkeeper_node_logic::backoff::Backoff;
use plantkeeper_node_logic::calibration::TwoPoint;
use plantkeeper_node_logic::report::{self, BACKLOG_DROPPED, Report};
use plantkeeper_protocol::{AnswerBody, OutputCommand, ReportBody};
use proptest::prelude::*;

const NODE_OUTPUTS: [&str; 2] = ["valve", "pump"];

fn answer_strategy() -> impl Strategy<Value = AnswerBody> {
    let command = (any::<bool>(), any::<u64>(), ".{0,24}").prop_map(|(power, lease_ms, reason)| {
        OutputCommand {
            power,
            lease_ms,
            reason,
        }
    });
    let outputs = prop::collection::btree_map(
        prop::sample::select(vec!["valve", "pump", "fan", "light_1", "valve2"])
            .prop_map(String::from),
        command,
        0..5,
    );
    (any::<u32>(), any::<u64>(), any::<u64>(), outputs).prop_map(
        |(acked_seq, epoch, report_every_ms, outputs)| AnswerBody {
            acked_seq,
            epoch,
            report_every_ms,
            outputs,
        },
    )
}

/// An answer as the master might send it: compact or pretty, perhaps with fields from a
/// newer master.
fn render(answer: &AnswerBody, pretty: bool, extra: bool) -> String {
    let mut value = serde_json::to_value(answer).expect("an answer serializes");
    if extra {
        value["newer_field"] = serde_json::json!({"nested": [1, -2.5e-3, "x\"y", null, true]});
    }
    if pretty {
        serde_json::to_string_pretty(&value).expect("serializes")
    } else {
        serde_json::to_string(&value).expect("serializes")
    }
}

proptest! {
    #[test]
    fn node_reads_every_answer_like_the_master_wrote_it(
        answer in answer_strategy(),
        pretty in any::<bool>(),
        extra in any::<bool>(),
    ) {
        let body = render(&answer, pretty, extra);
        let parsed = answer::parse(body.as_bytes(), &NODE_OUTPUTS);
        let parsed = match parsed {
            Ok(parsed) => parsed,
            Err(error) => return Err(TestCaseError::fail(format!("{error} in {body}"))),
        };
        prop_assert_eq!(parsed.acked_seq, answer.acked_seq);
        prop_assert_eq!(parsed.epoch, answer.epoch);
        prop_assert_eq!(parsed.report_every_ms, answer.report_every_ms);
        let mut expected = [None; 2];
        for (index, power, lease_ms) in answer.commands(&NODE_OUTPUTS) {
            expected[index] = Some((power, lease_ms));
        }
        prop_assert_eq!(parsed.commands, expected, "{}", body);
    }

    #[test]
    fn truncated_answers_are_refused(answer in answer_strategy(), cut in any::<prop::sample::Index>()) {
        let body = render(&answer, false, false);
        let cut = cut.index(body.len());
        prop_assert!(answer::parse(&body.as_bytes()[..cut], &NODE_OUTPUTS).is_err(), "{}", &body[..cut]);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = answer::parse(&bytes, &NODE_OUTPUTS);
    }

    #[test]
    fn reports_are_valid_report_bodies(
        seq in any::<u32>(),
        boot in any::<u32>(),
        reading in prop::option::of(any::<f32>()),
        on in any::<bool>(),
        samples in prop::collection::vec((0u32..1_000_000, prop::option::of(any::<f32>())), 0..40),
        buf_len in 60usize..4_000,
        now in any::<u32>(),
    ) {
        let mut backlog = Backlog::<1, 16>::new();
        for (age, value) in &samples {
            backlog.push(Sample { taken_at: now.wrapping_sub(*age), values: [*value] });
        }
        let mut buf = vec![0u8; buf_len];
        let report = Report {
            seq,
            boot,
            sensor_names: &["soil_moisture"],
            readings: &[reading],
            output_names: &["valve"],
            outputs: &[on],
            backlog: &backlog,
            now_ms: now,
        };
        let Ok(encoded) = report::encode(&report, &mut buf) else {
            // Only a buffer too small for the head may refuse: the head is at most 134 bytes, plus 2 kept for the closing.
            prop_assert!(buf_len < 136, "refused with {} bytes", buf_len);
            return Ok(());
        };
        let text = std::str::from_utf8(&buf[..encoded.len]).expect("utf-8");
        let body: ReportBody = serde_json::from_str(text)
            .map_err(|error| TestCaseError::fail(format!("{error}: {text}")))?;
        prop_assert!(body.validate().is_ok(), "{:?}", body.validate());
        prop_assert_eq!((body.seq, body.boot), (seq, Some(boot)));
        let mut expected = BTreeMap::new();
        if let Some(value) = reading.filter(|value| value.is_finite()) {
            expected.insert("soil_moisture".to_owned(), value);
        }
        if backlog.dropped() > 0 {
            expected.insert(BACKLOG_DROPPED.to_owned(), backlog.dropped() as f32);
        }
        let got: BTreeMap<String, f32> = body.readings.iter().map(|(k, v)| (k.clone(), *v as f32)).collect();
        prop_assert_eq!(got, expected, "{}", text);
        prop_assert_eq!(body.outputs, Some(BTreeMap::from([("valve".to_owned(), on)])));
        prop_assert_eq!(body.backlog.len(), encoded.backlog_sent);
        for (sent, kept) in body.backlog.iter().zip(backlog.iter()) {
            prop_assert_eq!(sent.age_ms, u64::from(now.wrapping_sub(kept.taken_at)));
            let value = kept.values[0].filter(|v| v.is_finite()).map(|v| v as f64);
            prop_assert_eq!(sent.readings.get("soil_moisture").map(|v| *v as f32), value.map(|v| v as f32));
        }
        // An entry takes at most 77 bytes (the first one, with `,"backlog":[`).
        if buf_len >= 136 + 77 * backlog.len() {
            prop_assert_eq!(encoded.backlog_sent, backlog.len(), "a roomy buffer must carry the whole backlog");
        }
    }

    #[test]
    fn backoff_waits_stay_within_half_to_all_of_a_bounded_period(
        min in 1u32..100_000,
        extra in 0u32..1_000_000,
        randoms in prop::collection::vec(any::<u32>(), 1..40),
    ) {
        let max = min + extra;
        let mut backoff = Backoff::new(min, max);
        let mut previous = 0;
        for random in randoms {
            let wait = backoff.fail(random);
            let period = backoff.period_ms();
            prop_assert!((min..=max).contains(&period));
            prop_assert!(period >= previous, "the period shrank without a success");
            prop_assert!(wait >= period / 2 && wait <= period, "wait {} for period {}", wait, period);
            previous = period;
        }
    }

    #[test]
    fn calibration_is_monotone_and_bounded(
        dry in 0u16..4096,
        wet in 0u16..4096,
        a in 0u16..4096,
        b in 0u16..4096,
    ) {
        let Some(calibration) = TwoPoint::new(dry, wet) else {
            prop_assert!(dry.abs_diff(wet) < 100);
            return Ok(());
        };
        let (low, high) = (a.min(b), a.max(b));
        let span = i32::from(dry.abs_diff(wet));
        for raw in [low, high] {
            let raw_i = i32::from(raw);
            let past = (i32::from(dry.min(wet)) - raw_i).max(raw_i - i32::from(dry.max(wet))).max(0);
            let read = calibration.percent(raw);
            prop_assert_eq!(read.is_some(), past * 10 <= span, "raw {} is {} past the points", raw, past);
            prop_assert!(read.is_none_or(|percent| (0.0..=100.0).contains(&percent)));
        }
        let (Some(p_low), Some(p_high)) = (calibration.percent(low), calibration.percent(high)) else {
            return Ok(());
        };
        if dry > wet {
            prop_assert!(p_low >= p_high, "a wetter (lower) raw value read drier");
        } else {
            prop_assert!(p_low <= p_high);
        }
    }

    #[test]
    fn backlog_behaves_like_a_bounded_queue(ops in prop::collection::vec(prop::option::of(0usize..6), 0..100)) {
        const CAPACITY: usize = 8;
        let mut backlog = Backlog::<1, CAPACITY>::new();
        let mut model = VecDeque::new();
        let mut dropped = 0;
        for (step, op) in ops.into_iter().enumerate() {
            let step = u32::try_from(step).expect("small");
            match op {
                None => {
                    backlog.push(Sample { taken_at: step, values: [Some(1.0)] });
                    if model.len() == CAPACITY {
                        model.pop_front();
                        dropped += 1;
                    }
                    model.push_back(step);
                }
                Some(count) => {
                    backlog.remove_oldest(count);
                    for _ in 0..count.min(model.len()) {
                        model.pop_front();
                    }
                }
            }
            let kept: Vec<u32> = backlog.iter().map(|sample| sample.taken_at).collect();
            prop_assert_eq!(&kept, &model.iter().copied().collect::<Vec<_>>());
            prop_assert_eq!(backlog.dropped(), dropped);
        }
    }
}
