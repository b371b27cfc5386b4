//! The JSON bodies of `POST /api/v1/nodes/{id}/report` and its answer (CONTRACT §4).
//!
//! **Unknown fields are ignored**, never rejected: nodes running later firmware may send fields
//! this master does not know yet, and an older node must keep working against a newer master.
//! Numbers that do not fit their type (a negative `age_ms`, a `seq` above `u32::MAX`, a reading
//! such as `1e999` that is not a finite `f64`) fail to parse.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

/// What a node sends: `{"seq": 17, "boot": 3735928559, "readings": {...}, "outputs": {...},
/// "backlog": [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportBody {
    /// Incremented by the node for every report; the answer acknowledges it as `acked_seq`.
    pub seq: u32,
    /// A random number the node picks at each start, so `(node, boot, seq)` identifies a
    /// report exactly (a retried report is stored once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot: Option<u32>,
    /// Sensor name → value, taken now. A missing `readings` means none (a node with only relays).
    #[serde(default)]
    pub readings: BTreeMap<String, f64>,
    /// Output name → the relay state the node actually has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outputs: Option<BTreeMap<String, bool>>,
    /// Readings taken while the master was unreachable (at most
    /// [`MAX_BACKLOG_ENTRIES`](crate::MAX_BACKLOG_ENTRIES)).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backlog: Vec<BacklogEntry>,
}

/// Readings a node took `age_ms` milliseconds before sending the report that carries them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BacklogEntry {
    /// How long before this request the readings were taken.
    pub age_ms: u64,
    /// Sensor name → value.
    pub readings: BTreeMap<String, f64>,
}

/// The master's 200 answer to a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnswerBody {
    /// The `seq` of the report this answers; the node anchors every lease at the time it sent
    /// that report.
    pub acked_seq: u32,
    /// Persisted by the master and increased at every start; nodes ignore answers with a lower
    /// epoch than the highest they have seen since boot.
    pub epoch: u64,
    /// How often the node should report, in milliseconds.
    pub report_every_ms: u64,
    /// Output name → command. An output missing here is OFF.
    pub outputs: BTreeMap<String, OutputCommand>,
}

/// The master's command for one output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputCommand {
    /// Whether the relay should be ON.
    pub power: bool,
    /// How long after the node sent the acknowledged report an ON stays valid.
    pub lease_ms: u64,
    /// Why, in words (e.g. `soil_moisture 28.1 < 30`).
    pub reason: String,
}

impl AnswerBody {
    /// The commands for the node's outputs as `(output index, power, lease_ms)`, ready for
    /// [`LeaseKeeper::on_answer`](crate::LeaseKeeper::on_answer). `output_names[i]` names output
    /// `i`; commands for names the node does not have are skipped, and a lease longer than
    /// `u32::MAX` ms is clamped (the keeper clamps it further).
    pub fn commands<'a>(
        &'a self,
        output_names: &'a [&'a str],
    ) -> impl Iterator<Item = (usize, bool, u32)> + 'a {
        output_names.iter().enumerate().filter_map(|(index, name)| {
            self.outputs.get(*name).map(|command| {
                let lease_ms = u32::try_from(command.lease_ms).unwrap_or(u32::MAX);
                (index, command.power, lease_ms)
            })
        })
    }
}

/// Every error answer: `{"error": {"code": "snake_case", "message": "...", "field": null}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// The inside of an [`ErrorBody`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// A stable `snake_case` code such as `unauthorized` or `invalid_report`.
    pub code: String,
    /// A human sentence.
    pub message: String,
    /// The path of the offending field (e.g. `backlog[3].age_ms`), serialized as `null` when
    /// the error is not about one field.
    pub field: Option<String>,
}

impl ErrorBody {
    /// An error body with the given code, message and optional field path.
    pub fn new(code: impl Into<String>, message: impl Into<String>, field: Option<String>) -> Self {
        Self {
            error: ErrorDetail {
                code: code.into(),
                message: message.into(),
                field,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTRACT_REPORT: &str = r#"{"seq": 17, "boot": 3735928559, "readings": {"soil_moisture": 41.5}, "outputs": {"valve": false},
   "backlog": [{"age_ms": 60000, "readings": {"soil_moisture": 44.0}}]}"#;

    const CONTRACT_ANSWER: &str = r#"{"acked_seq": 17, "epoch": 42, "report_every_ms": 5000,
   "outputs": {"valve": {"power": true, "lease_ms": 15000, "reason": "soil_moisture 28.1 < 30"}}}"#;

    #[test]
    fn contract_report_example_parses() {
        let report: ReportBody = serde_json::from_str(CONTRACT_REPORT).expect("contract example");
        assert_eq!(report.seq, 17);
        assert_eq!(report.boot, Some(3_735_928_559));
        assert_eq!(report.readings.get("soil_moisture"), Some(&41.5));
        assert_eq!(
            report.outputs.as_ref().and_then(|o| o.get("valve")),
            Some(&false)
        );
        assert_eq!(report.backlog.len(), 1, "the backlog entry was lost");
        assert_eq!(report.backlog[0].age_ms, 60_000);
    }

    #[test]
    fn contract_answer_example_parses_and_roundtrips() {
        let answer: AnswerBody = serde_json::from_str(CONTRACT_ANSWER).expect("contract example");
        let valve = &answer.outputs["valve"];
        assert!(valve.power);
        assert_eq!(valve.lease_ms, 15_000);
        let again: AnswerBody =
            serde_json::from_str(&serde_json::to_string(&answer).expect("serializes"))
                .expect("own output parses");
        assert_eq!(again, answer, "an answer changed through a JSON roundtrip");
    }

    #[test]
    fn minimal_report_has_no_optional_fields() {
        let report: ReportBody =
            serde_json::from_str(r#"{"seq": 1, "readings": {}}"#).expect("minimal");
        assert_eq!(report.boot, None);
        assert_eq!(report.outputs, None);
        assert!(report.backlog.is_empty());
        let json = serde_json::to_string(&report).expect("serializes");
        assert_eq!(
            json, r#"{"seq":1,"readings":{}}"#,
            "absent optional fields must not be sent"
        );
    }

    #[test]
    fn unknown_fields_from_newer_firmware_are_ignored() {
        let report: ReportBody =
            serde_json::from_str(r#"{"seq": 2, "readings": {"t": 1.0}, "rssi": -60, "fw": "2.0"}"#)
                .expect("unknown fields must not fail a report");
        assert_eq!(report.seq, 2);
    }

    #[test]
    fn non_finite_reading_fails_to_parse() {
        let result = serde_json::from_str::<ReportBody>(r#"{"seq": 1, "readings": {"t": 1e999}}"#);
        assert!(
            result.is_err(),
            "1e999 was accepted as a reading: {result:?}"
        );
    }

    #[test]
    fn negative_backlog_age_fails_to_parse() {
        let result = serde_json::from_str::<ReportBody>(
            r#"{"seq": 1, "readings": {}, "backlog": [{"age_ms": -5, "readings": {}}]}"#,
        );
        assert!(
            result.is_err(),
            "a negative age_ms was accepted: {result:?}"
        );
    }

    #[test]
    fn seq_above_u32_fails_to_parse() {
        let result = serde_json::from_str::<ReportBody>(r#"{"seq": 4294967296, "readings": {}}"#);
        assert!(
            result.is_err(),
            "a seq above u32::MAX was accepted: {result:?}"
        );
    }

    #[test]
    fn error_body_serializes_null_field() {
        let body = ErrorBody::new("unauthorized", "wrong or missing token", None);
        let json = serde_json::to_value(&body).expect("serializes");
        assert_eq!(
            json,
            serde_json::json!({"error": {"code": "unauthorized", "message": "wrong or missing token", "field": null}})
        );
    }

    #[test]
    fn commands_map_output_names_to_indices() {
        let answer: AnswerBody = serde_json::from_str(
            r#"{"acked_seq": 1, "epoch": 1, "report_every_ms": 5000, "outputs": {
                "pump": {"power": true, "lease_ms": 99999999999, "reason": "r"},
                "other": {"power": true, "lease_ms": 1, "reason": "r"}}}"#,
        )
        .expect("answer");
        let commands: Vec<_> = answer.commands(&["valve", "pump"]).collect();
        assert_eq!(
            commands,
            [(1, true, u32::MAX)],
            "unknown names must be skipped, leases clamped"
        );
    }
}
