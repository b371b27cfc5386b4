//! One node's report cycle: sequence numbers, the boot number, the lease keeper, the backlog
//! and the back-off, as the firmware's report task drives them.
//!
//! Each cycle the firmware takes its readings and calls [`Node::prepare`]: while backing off
//! the readings go to the backlog ([`Prepared::Wait`]); otherwise a report is encoded and the
//! keeper records its send time ([`Prepared::Send`]). The firmware sends it (bounded by its
//! HTTP timeout) and hands the HTTP status and body, or `None` for no answer, to
//! [`Node::finish`]. The relay task meanwhile asks the keeper itself, which never waits on the
//! network.
//!
//! The lease keeper is shared with that relay task, so the node reaches it through a
//! [`KeeperCell`] and holds it only for the keeper's own short calls: encoding the report and
//! parsing the answer happen outside the lock.

use core::cell::RefCell;

use plantkeeper_protocol::{AnswerOutcome, LeaseKeeper};

use crate::answer::{self, AnswerError, Applied, Reply};
use crate::backlog::{Backlog, Sample};
use crate::backoff::Backoff;
use crate::report::{self, Report};

/// How many recent requests the lease keeper remembers (the node waits for each answer, so a
/// few are plenty).
pub const RECENT: usize = 4;

/// The report period the node accepts from a master: `report_every_ms` is clamped to this.
pub const REPORT_EVERY_BOUNDS_MS: (u32, u32) = (1_000, 300_000);

/// Half the node clock's range: wrapping differences below it mean "not before".
const HALF_RANGE: u32 = 1 << 31;

/// Whether `deadline` has been reached at `now` on the wrapping millisecond clock.
pub fn reached(now: u32, deadline: u32) -> bool {
    now.wrapping_sub(deadline) < HALF_RANGE
}

/// Shared access to the node's lease keeper: `with` runs `f` while holding it (the firmware
/// holds a critical section, a single-threaded host a `RefCell` borrow).
pub trait KeeperCell<const OUTPUTS: usize> {
    /// Runs `f` on the keeper.
    fn with<R>(&self, f: impl FnOnce(&mut LeaseKeeper<OUTPUTS, RECENT>) -> R) -> R;
}

impl<const OUTPUTS: usize> KeeperCell<OUTPUTS> for RefCell<LeaseKeeper<OUTPUTS, RECENT>> {
    fn with<R>(&self, f: impl FnOnce(&mut LeaseKeeper<OUTPUTS, RECENT>) -> R) -> R {
        f(&mut self.borrow_mut())
    }
}

/// The node's timing settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Report period until the master says otherwise.
    pub report_every_ms: u32,
    /// Shortest retry back-off.
    pub backoff_min_ms: u32,
    /// Longest retry back-off.
    pub backoff_max_ms: u32,
}

/// A report on its way: what [`Node::finish`] needs to know about it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pending<const SENSORS: usize> {
    /// The report's sequence number.
    pub seq: u32,
    sample: Sample<SENSORS>,
    backlog_sent: usize,
}

/// What [`Node::prepare`] decided.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Prepared<const SENSORS: usize> {
    /// Backing off: the readings went to the backlog; try again after the usual period.
    Wait,
    /// Send the first `len` bytes of the buffer as the report body.
    Send {
        /// Body length.
        len: usize,
        /// Hand this to [`Node::finish`] with the answer.
        pending: Pending<SENSORS>,
    },
}

/// Why a report was not delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No HTTP answer (Wi-Fi down, refused, reset, timed out).
    NoAnswer,
    /// An HTTP status other than 200.
    Status(u16),
    /// A 200 whose body was not understood.
    Malformed(AnswerError),
    /// A well-formed answer the lease keeper ignored (unknown `acked_seq`, older epoch).
    Ignored(AnswerOutcome),
    /// The report did not fit the buffer (a firmware bug: the buffer is too small).
    TooLarge,
}

/// What became of one report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The master acknowledged it, with this many backlog entries.
    Delivered {
        /// Backlog entries it carried.
        backlog_sent: usize,
    },
    /// Not delivered: the readings are in the backlog and the next attempt waits `wait_ms`.
    Failed {
        /// Why.
        failure: Failure,
        /// The jittered back-off before the next attempt.
        wait_ms: u32,
    },
}

/// One node's report cycle, over a lease keeper `K` it shares with the relay task.
#[derive(Debug, Clone)]
pub struct Node<'a, K, const SENSORS: usize, const OUTPUTS: usize, const CAPACITY: usize> {
    sensor_names: [&'a str; SENSORS],
    output_names: [&'a str; OUTPUTS],
    keeper: &'a K,
    backlog: Backlog<SENSORS, CAPACITY>,
    backoff: Backoff,
    boot: u32,
    seq: u32,
    report_every_ms: u32,
    /// No attempt before this instant; `None` when an attempt is due.
    not_before: Option<u32>,
}

impl<'a, K, const SENSORS: usize, const OUTPUTS: usize, const CAPACITY: usize>
    Node<'a, K, SENSORS, OUTPUTS, CAPACITY>
where
    K: KeeperCell<OUTPUTS>,
{
    /// A node reporting for `keeper`'s relays. `boot` is a random number picked at this
    /// start.
    pub fn new(
        keeper: &'a K,
        sensor_names: [&'a str; SENSORS],
        output_names: [&'a str; OUTPUTS],
        timing: Timing,
        boot: u32,
    ) -> Self {
        let (low, high) = REPORT_EVERY_BOUNDS_MS;
        Self {
            sensor_names,
            output_names,
            keeper,
            backlog: Backlog::new(),
            backoff: Backoff::new(timing.backoff_min_ms, timing.backoff_max_ms),
            boot,
            seq: 0,
            report_every_ms: timing.report_every_ms.clamp(low, high),
            not_before: None,
        }
    }

    /// How long to wait between reports (the master's wish, within
    /// [`REPORT_EVERY_BOUNDS_MS`]).
    pub fn report_every_ms(&self) -> u32 {
        self.report_every_ms
    }

    /// The backlog, for logging.
    pub fn backlog(&self) -> &Backlog<SENSORS, CAPACITY> {
        &self.backlog
    }

    /// Starts a cycle with `readings` taken at `now_ms`: either keeps them (backing off) or
    /// encodes a report into `buf` and records it as sent now.
    pub fn prepare(
        &mut self,
        readings: [Option<f32>; SENSORS],
        now_ms: u32,
        buf: &mut [u8],
    ) -> Result<Prepared<SENSORS>, Failure> {
        let sample = Sample {
            taken_at: now_ms,
            values: readings,
        };
        if let Some(not_before) = self.not_before {
            if !reached(now_ms, not_before) {
                self.backlog.push(sample);
                return Ok(Prepared::Wait);
            }
            self.not_before = None;
        }
        let seq = self.seq.wrapping_add(1);
        let outputs = self.keeper.with(|keeper| keeper.relays(now_ms));
        let body = Report {
            seq,
            boot: self.boot,
            sensor_names: &self.sensor_names,
            readings: &sample.values,
            output_names: &self.output_names,
            outputs: &outputs,
            backlog: &self.backlog,
            now_ms,
        };
        let Ok(encoded) = report::encode(&body, buf) else {
            self.backlog.push(sample);
            return Err(Failure::TooLarge);
        };
        self.seq = seq;
        self.keeper
            .with(|keeper| keeper.on_request_sent(seq, now_ms));
        Ok(Prepared::Send {
            len: encoded.len,
            pending: Pending {
                seq,
                sample,
                backlog_sent: encoded.backlog_sent,
            },
        })
    }

    /// Ends a cycle: `answer` is the HTTP status and body received at `now_ms`, or `None` when
    /// there was none. `random` jitters the back-off.
    pub fn finish(
        &mut self,
        pending: Pending<SENSORS>,
        answer: Option<(u16, &[u8])>,
        now_ms: u32,
        random: u32,
    ) -> Outcome {
        let failure = match answer {
            None => {
                self.keeper.with(|keeper| keeper.on_failure(now_ms));
                Failure::NoAnswer
            }
            Some((status, body)) => {
                let reply: Reply<OUTPUTS> = answer::read(status, body, &self.output_names);
                match self
                    .keeper
                    .with(|keeper| answer::apply_reply(keeper, reply, now_ms))
                {
                    Applied::Accepted { report_every_ms } => {
                        let (low, high) = REPORT_EVERY_BOUNDS_MS;
                        let wish = u32::try_from(report_every_ms).unwrap_or(u32::MAX);
                        self.report_every_ms = wish.clamp(low, high);
                        self.backlog.remove_oldest(pending.backlog_sent);
                        self.backoff.succeed();
                        return Outcome::Delivered {
                            backlog_sent: pending.backlog_sent,
                        };
                    }
                    Applied::Ignored(outcome) => Failure::Ignored(outcome),
                    Applied::Status(status) => Failure::Status(status),
                    Applied::Malformed(error) => Failure::Malformed(error),
                }
            }
        };
        self.backlog.push(pending.sample);
        let wait_ms = self.backoff.fail(random);
        self.not_before = Some(now_ms.wrapping_add(wait_ms));
        Outcome::Failed { failure, wait_ms }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMING: Timing = Timing {
        report_every_ms: 5_000,
        backoff_min_ms: 1_000,
        backoff_max_ms: 8_000,
    };

    type Keeper = RefCell<LeaseKeeper<1, RECENT>>;
    type TestNode<'a> = Node<'a, Keeper, 1, 1, 8>;

    fn keeper() -> Keeper {
        RefCell::new(LeaseKeeper::new([Some(60_000)]))
    }

    fn node(keeper: &Keeper) -> TestNode<'_> {
        Node::new(keeper, ["soil_moisture"], ["valve"], TIMING, 7)
    }

    fn relays(keeper: &Keeper, now: u32) -> [bool; 1] {
        keeper.with(|keeper| keeper.relays(now))
    }

    fn send(node: &mut TestNode<'_>, value: f32, now: u32) -> (Pending<1>, usize, [u8; 1024]) {
        let mut buf = [0u8; 1024];
        match node.prepare([Some(value)], now, &mut buf) {
            Ok(Prepared::Send { len, pending }) => (pending, len, buf),
            other => panic!("expected a report to send, got {other:?}"),
        }
    }

    fn grant(seq: u32, lease_ms: u32) -> ([u8; 256], usize) {
        let mut buf = [0u8; 256];
        let mut out = crate::json::SliceWriter::new(&mut buf);
        core::fmt::Write::write_fmt(
            &mut out,
            format_args!(
                r#"{{"acked_seq":{seq},"epoch":1,"report_every_ms":2000,"outputs":{{"valve":{{"power":true,"lease_ms":{lease_ms},"reason":"dry"}}}}}}"#
            ),
        )
        .expect("fits");
        let len = out.len();
        (buf, len)
    }

    #[test]
    fn a_granted_report_switches_the_relay_on_until_the_lease_ends() {
        let keeper = keeper();
        let mut node = node(&keeper);
        assert_eq!(relays(&keeper, 0), [false], "relays start OFF");
        let (pending, len, buf) = send(&mut node, 30.0, 1_000);
        assert!(
            core::str::from_utf8(&buf[..len]).is_ok_and(
                |body| body.starts_with(r#"{"seq":1,"boot":7,"readings":{"soil_moisture":30}"#)
            ),
            "{:?}",
            core::str::from_utf8(&buf[..len])
        );
        let (answer, answer_len) = grant(pending.seq, 15_000);
        let outcome = node.finish(pending, Some((200, &answer[..answer_len])), 1_200, 0);
        assert_eq!(outcome, Outcome::Delivered { backlog_sent: 0 });
        assert_eq!(
            node.report_every_ms(),
            2_000,
            "the master's period is taken"
        );
        assert_eq!(relays(&keeper, 15_999), [true]);
        assert_eq!(
            relays(&keeper, 16_000),
            [false],
            "lease anchored at the send time 1000"
        );
    }

    #[test]
    fn failures_back_off_keep_readings_and_deliver_them_later() {
        let keeper = keeper();
        let mut node = node(&keeper);
        let (pending, _, _) = send(&mut node, 30.0, 0);
        let outcome = node.finish(pending, None, 100, 0);
        assert_eq!(
            outcome,
            Outcome::Failed {
                failure: Failure::NoAnswer,
                wait_ms: 500
            }
        );
        assert_eq!(node.backlog().len(), 1, "the undelivered readings are kept");
        let mut buf = [0u8; 1024];
        assert_eq!(
            node.prepare([Some(31.0)], 400, &mut buf),
            Ok(Prepared::Wait),
            "still backing off"
        );
        assert_eq!(node.backlog().len(), 2);
        let (pending, len, buf) = send(&mut node, 32.0, 600);
        let body = core::str::from_utf8(&buf[..len]).expect("utf-8");
        assert!(
            body.ends_with(r#""backlog":[{"age_ms":600,"readings":{"soil_moisture":30}},{"age_ms":200,"readings":{"soil_moisture":31}}]}"#),
            "{body}"
        );
        let (answer, answer_len) = grant(pending.seq, 0);
        assert_eq!(
            node.finish(pending, Some((200, &answer[..answer_len])), 700, 0),
            Outcome::Delivered { backlog_sent: 2 }
        );
        assert!(node.backlog().is_empty(), "delivered entries are forgotten");
    }

    #[test]
    fn an_error_status_switches_off_and_counts_as_undelivered() {
        let keeper = keeper();
        let mut node = node(&keeper);
        let (pending, _, _) = send(&mut node, 30.0, 0);
        let (answer, answer_len) = grant(pending.seq, 15_000);
        node.finish(pending, Some((200, &answer[..answer_len])), 10, 0);
        let (pending, _, _) = send(&mut node, 30.0, 2_000);
        let outcome = node.finish(pending, Some((401, b"{}")), 2_010, 0);
        assert!(
            matches!(
                outcome,
                Outcome::Failed {
                    failure: Failure::Status(401),
                    ..
                }
            ),
            "{outcome:?}"
        );
        assert_eq!(relays(&keeper, 2_011), [false]);
        assert_eq!(node.backlog().len(), 1);
    }

    #[test]
    fn reached_handles_the_wrapping_clock() {
        assert!(reached(5, u32::MAX - 5), "just after a wrap");
        assert!(!reached(u32::MAX - 5, 5));
        assert!(reached(7, 7));
    }
}
