//! The master's answer to a report (CONTRACT §4), parsed in place without an allocator, and
//! applied to the node's [`LeaseKeeper`].
//!
//! The shape is the one of `plantkeeper_protocol::AnswerBody`: `acked_seq` (u32), `epoch`
//! (u64), `report_every_ms` (u64) and `outputs` (name → `{power, lease_ms, reason}`) are
//! required; unknown fields are skipped; a lease longer than `u32::MAX` ms is clamped (the
//! keeper clamps it further). Anything else is a malformed answer, which the node's rule 1
//! treats like no answer at all: every relay OFF.

use core::fmt;

use plantkeeper_protocol::{AnswerOutcome, LeaseKeeper};

use crate::json::{Reader, SyntaxError};

/// A parsed answer, with the commands of the node's own outputs by index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer<const OUTPUTS: usize> {
    /// The `seq` of the report this answers.
    pub acked_seq: u32,
    /// The master's epoch.
    pub epoch: u64,
    /// How often the master wants reports.
    pub report_every_ms: u64,
    /// `(power, lease_ms)` per output of the node; `None` when the answer does not name it.
    pub commands: [Option<(bool, u32)>; OUTPUTS],
}

/// Why an answer was not understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerError {
    /// Not well-formed JSON, or a value of the wrong kind.
    Syntax(SyntaxError),
    /// A required field is absent.
    Missing(&'static str),
    /// A field appears twice.
    Duplicate(&'static str),
    /// `acked_seq` does not fit a u32.
    SeqOutOfRange,
}

impl From<SyntaxError> for AnswerError {
    fn from(error: SyntaxError) -> Self {
        Self::Syntax(error)
    }
}

impl fmt::Display for AnswerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Syntax(error) => write!(f, "{error}"),
            Self::Missing(field) => write!(f, "{field}: missing"),
            Self::Duplicate(field) => write!(f, "{field}: given twice"),
            Self::SeqOutOfRange => f.write_str("acked_seq: larger than a u32"),
        }
    }
}

/// Stores `value` into `slot`, refusing a second value for the same field.
fn once<T>(slot: &mut Option<T>, value: T, field: &'static str) -> Result<(), AnswerError> {
    if slot.replace(value).is_some() {
        return Err(AnswerError::Duplicate(field));
    }
    Ok(())
}

/// Parses one output's command `{"power": bool, "lease_ms": u64, "reason": string}`.
fn command(reader: &mut Reader<'_>) -> Result<(bool, u32), AnswerError> {
    let (mut power, mut lease_ms, mut reason) = (None, None, None);
    reader.object(|key, reader| match key {
        b"power" => once(&mut power, reader.boolean()?, "outputs.*.power"),
        b"lease_ms" => once(&mut lease_ms, reader.unsigned()?, "outputs.*.lease_ms"),
        b"reason" => once(&mut reason, reader.string()?, "outputs.*.reason"),
        _ => Ok(reader.skip()?),
    })?;
    let power = power.ok_or(AnswerError::Missing("outputs.*.power"))?;
    let lease_ms = lease_ms.ok_or(AnswerError::Missing("outputs.*.lease_ms"))?;
    reason.ok_or(AnswerError::Missing("outputs.*.reason"))?;
    Ok((power, u32::try_from(lease_ms).unwrap_or(u32::MAX)))
}

/// Parses an answer body; `names[i]` is the name of the node's output `i`. Commands for
/// outputs the node does not have are checked and then skipped.
pub fn parse<const OUTPUTS: usize>(
    body: &[u8],
    names: &[&str; OUTPUTS],
) -> Result<Answer<OUTPUTS>, AnswerError> {
    let mut reader = Reader::new(body);
    let (mut acked_seq, mut epoch, mut report_every_ms, mut outputs_seen) =
        (None, None, None, None);
    let mut commands = [None; OUTPUTS];
    reader.object(|key, reader| match key {
        b"acked_seq" => once(&mut acked_seq, reader.unsigned()?, "acked_seq"),
        b"epoch" => once(&mut epoch, reader.unsigned()?, "epoch"),
        b"report_every_ms" => once(&mut report_every_ms, reader.unsigned()?, "report_every_ms"),
        b"outputs" => {
            once(&mut outputs_seen, (), "outputs")?;
            reader.object(|name, reader| {
                let parsed = command(reader)?;
                if let Some(index) = names.iter().position(|own| own.as_bytes() == name) {
                    // Like a JSON map, a repeated output name keeps its last command.
                    commands[index] = Some(parsed);
                }
                Ok::<(), AnswerError>(())
            })
        }
        _ => Ok(reader.skip()?),
    })?;
    reader.end()?;
    let acked_seq = acked_seq.ok_or(AnswerError::Missing("acked_seq"))?;
    outputs_seen.ok_or(AnswerError::Missing("outputs"))?;
    Ok(Answer {
        acked_seq: u32::try_from(acked_seq).map_err(|_| AnswerError::SeqOutOfRange)?,
        epoch: epoch.ok_or(AnswerError::Missing("epoch"))?,
        report_every_ms: report_every_ms.ok_or(AnswerError::Missing("report_every_ms"))?,
        commands,
    })
}

/// What became of one HTTP exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// A well-formed 200 the keeper accepted; the master wants reports this often.
    Accepted {
        /// `report_every_ms` from the answer.
        report_every_ms: u64,
    },
    /// A well-formed 200 the keeper ignored (unknown `acked_seq` or an older epoch); the
    /// relays keep what they had.
    Ignored(AnswerOutcome),
    /// Not a 200: every relay is OFF.
    Status(u16),
    /// A 200 whose body was not understood: every relay is OFF.
    Malformed(AnswerError),
}

/// An HTTP answer as read, before it touches the keeper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply<const OUTPUTS: usize> {
    /// A well-formed 200.
    Answer(Answer<OUTPUTS>),
    /// Not a 200.
    Status(u16),
    /// A 200 whose body was not understood.
    Malformed(AnswerError),
}

/// Reads an HTTP answer (`status`, `body`); `names[i]` is the name of output `i`. This is the
/// slow part (parsing), kept apart from [`apply_reply`] so a shared keeper is locked only
/// briefly.
pub fn read<const OUTPUTS: usize>(
    status: u16,
    body: &[u8],
    names: &[&str; OUTPUTS],
) -> Reply<OUTPUTS> {
    if status != 200 {
        return Reply::Status(status);
    }
    match parse(body, names) {
        Ok(answer) => Reply::Answer(answer),
        Err(error) => Reply::Malformed(error),
    }
}

/// Applies a reply received at `now_ms` to `keeper` following the node's rule: anything but a
/// well-formed 200 switches every relay OFF.
pub fn apply_reply<const OUTPUTS: usize, const RECENT: usize>(
    keeper: &mut LeaseKeeper<OUTPUTS, RECENT>,
    reply: Reply<OUTPUTS>,
    now_ms: u32,
) -> Applied {
    let answer = match reply {
        Reply::Answer(answer) => answer,
        Reply::Status(status) => {
            keeper.on_failure(now_ms);
            return Applied::Status(status);
        }
        Reply::Malformed(error) => {
            keeper.on_failure(now_ms);
            return Applied::Malformed(error);
        }
    };
    let commands = answer
        .commands
        .iter()
        .enumerate()
        .filter_map(|(index, command)| command.map(|(power, lease)| (index, power, lease)));
    match keeper.on_answer(answer.acked_seq, answer.epoch, now_ms, commands) {
        AnswerOutcome::Accepted => Applied::Accepted {
            report_every_ms: answer.report_every_ms,
        },
        ignored => Applied::Ignored(ignored),
    }
}

/// [`read`] then [`apply_reply`]: an HTTP answer received at `now_ms` applied to `keeper`.
pub fn apply<const OUTPUTS: usize, const RECENT: usize>(
    keeper: &mut LeaseKeeper<OUTPUTS, RECENT>,
    names: &[&str; OUTPUTS],
    status: u16,
    body: &[u8],
    now_ms: u32,
) -> Applied {
    apply_reply(keeper, read(status, body, names), now_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTRACT_ANSWER: &[u8] = br#"{"acked_seq": 17, "epoch": 42, "report_every_ms": 5000,
   "outputs": {"valve": {"power": true, "lease_ms": 15000, "reason": "soil_moisture 28.1 < 30"}}}"#;

    #[test]
    fn contract_example_parses() {
        let answer = parse(CONTRACT_ANSWER, &["pump", "valve"]).expect("contract example");
        assert_eq!(
            answer,
            Answer {
                acked_seq: 17,
                epoch: 42,
                report_every_ms: 5000,
                commands: [None, Some((true, 15_000))],
            }
        );
    }

    #[test]
    fn missing_and_duplicate_fields_are_errors() {
        let cases: [(&[u8], AnswerError); 5] = [
            (br#"{"epoch":1,"report_every_ms":1,"outputs":{}}"#, AnswerError::Missing("acked_seq")),
            (br#"{"acked_seq":1,"epoch":1,"report_every_ms":1}"#, AnswerError::Missing("outputs")),
            (
                br#"{"acked_seq":1,"acked_seq":2,"epoch":1,"report_every_ms":1,"outputs":{}}"#,
                AnswerError::Duplicate("acked_seq"),
            ),
            (
                br#"{"acked_seq":1,"epoch":1,"report_every_ms":1,"outputs":{"x":{"power":true,"reason":""}}}"#,
                AnswerError::Missing("outputs.*.lease_ms"),
            ),
            (
                br#"{"acked_seq":4294967296,"epoch":1,"report_every_ms":1,"outputs":{}}"#,
                AnswerError::SeqOutOfRange,
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(
                parse(body, &["x"]),
                Err(expected),
                "{:?}",
                core::str::from_utf8(body)
            );
        }
    }

    #[test]
    fn a_non_200_or_garbage_switches_everything_off() {
        let mut keeper = LeaseKeeper::<1, 4>::new([None]);
        keeper.on_request_sent(17, 0);
        let applied = apply(&mut keeper, &["valve"], 200, CONTRACT_ANSWER, 10);
        assert_eq!(
            applied,
            Applied::Accepted {
                report_every_ms: 5000
            }
        );
        assert!(keeper.relay_on(0, 100));
        assert_eq!(
            apply(&mut keeper, &["valve"], 503, b"", 200),
            Applied::Status(503)
        );
        assert!(!keeper.relay_on(0, 201), "a 503 must switch the relay OFF");

        keeper.on_request_sent(18, 300);
        let reply = br#"{"acked_seq":18,"epoch":42,"report_every_ms":5000,"outputs":{"valve":{"power":true,"lease_ms":15000,"reason":"r"}}}"#;
        apply(&mut keeper, &["valve"], 200, reply, 310);
        assert!(keeper.relay_on(0, 320));
        let applied = apply(&mut keeper, &["valve"], 200, b"{\"acked_seq\":", 330);
        assert!(matches!(applied, Applied::Malformed(_)), "{applied:?}");
        assert!(
            !keeper.relay_on(0, 331),
            "a malformed 200 must switch the relay OFF"
        );
    }
}
