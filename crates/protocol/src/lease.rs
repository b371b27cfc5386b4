//! The node's rule (CONTRACT §4, "the last line of safety") as a small state machine.
//!
//! A [`LeaseKeeper`] decides, on the node, whether each relay may be ON. It needs neither `std`
//! nor an allocator, reads no clock itself and never blocks: the firmware passes its own
//! monotonic time in milliseconds to every call.
//!
//! # Time
//! Node time is a `u32` millisecond counter that **wraps** (every ~49.7 days). Two instants are
//! compared by their wrapping difference, which is right while they are less than 2^31 ms
//! (~24.8 days) apart. Leases and local `max_on` values are therefore clamped to
//! [`MAX_SPAN_MS`], and the firmware must call the keeper (any method taking `now_ms`) at least
//! once every [`MAX_SPAN_MS`]; every call records expiries as they happen, so a wrapped clock
//! can never bring an expired lease back to life.
//!
//! # Use
//! ```
//! use plantkeeper_protocol::{AnswerOutcome, LeaseKeeper};
//! // One relay with a local hard cap of 5 minutes; remember the 4 most recent requests.
//! let mut keeper = LeaseKeeper::<1, 4>::new([Some(300_000)]);
//! keeper.on_request_sent(17, 1_000);
//! let outcome = keeper.on_answer(17, 42, 1_200, [(0, true, 15_000)]);
//! assert_eq!(outcome, AnswerOutcome::Accepted);
//! assert!(keeper.relay_on(0, 15_999)); // 1 000 (sent) + 15 000 (lease) is the deadline
//! assert!(!keeper.relay_on(0, 16_000));
//! ```

/// The longest lease or local `max_on` honoured: 2^30 ms (~12.4 days). Longer values are
/// clamped so that wrapping time comparisons stay correct.
pub const MAX_SPAN_MS: u32 = 1 << 30;

/// Half the range of the node clock: a wrapping difference below this means "not before".
const HALF_RANGE: u32 = 1 << 31;

/// Whether `instant` has been reached at `now` (`now >= instant` on the wrapping clock).
fn reached(now: u32, instant: u32) -> bool {
    now.wrapping_sub(instant) < HALF_RANGE
}

/// What [`LeaseKeeper::on_answer`] did with an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerOutcome {
    /// The answer was applied to every output.
    Accepted,
    /// `acked_seq` is not one of the node's recent requests (or its answer was already
    /// applied, or a newer request's answer was): ignored, nothing changed.
    IgnoredUnknownSeq,
    /// The epoch is lower than the highest seen since boot: ignored, nothing changed.
    IgnoredOlderEpoch,
}

/// One request the node sent and may still receive an answer for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SentRequest {
    seq: u32,
    sent_at: u32,
    /// A wrapping counter giving the order of sends, independent of seq and clock values.
    order: u32,
}

/// The physical state of one relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Relay {
    Off,
    /// ON since `since`, allowed until `deadline` (exclusive).
    On {
        since: u32,
        deadline: u32,
    },
}

/// One output's relay and its local protections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Output {
    relay: Relay,
    /// The node's own hard cap for one run (rule 5), already clamped to [`MAX_SPAN_MS`].
    local_max_on: Option<u32>,
    /// When the local cap last cut this relay, until a grant from a later request clears it.
    cut_at: Option<u32>,
}

impl Output {
    /// Records what time alone does to this relay up to `now`: the lease running out (rule 4)
    /// or the local cap cutting the run (rule 5), whichever came first.
    fn settle(&mut self, now: u32) {
        let Relay::On { since, deadline } = self.relay else {
            return;
        };
        let lease_span = deadline.wrapping_sub(since);
        match self.local_max_on {
            // Rule 5: the run reached the node's own max_on while the lease still held: cut it,
            // and remember when, so only a grant for a later request can switch it on again.
            Some(max_on) if max_on <= lease_span && reached(now, since.wrapping_add(max_on)) => {
                self.relay = Relay::Off;
                self.cut_at = Some(since.wrapping_add(max_on));
            }
            // Rule 4: the deadline has passed.
            _ if reached(now, deadline) => self.relay = Relay::Off,
            _ => {}
        }
    }

    /// Applies this output's command from an accepted answer to a request sent at `sent_at`.
    fn apply(&mut self, command: Option<(bool, u32)>, sent_at: u32, now: u32) {
        // Rule 4: ON only while the newest accepted answer says `power: true`; an output the
        // answer does not mention is OFF too.
        let Some((true, lease_ms)) = command else {
            self.relay = Relay::Off;
            return;
        };
        // Rule 5: after a local cut, only a grant answering a request sent after the cut
        // counts ("the master grants it again after a fresh report").
        if let Some(cut_at) = self.cut_at {
            let sent_after_cut = sent_at != cut_at && reached(sent_at, cut_at);
            if !sent_after_cut {
                return;
            }
            self.cut_at = None;
        }
        // Rule 2: the deadline is anchored at the time the acknowledged request was SENT, so
        // a slow answer gets less time, never more.
        let age = now.wrapping_sub(sent_at);
        let remaining = lease_ms.min(MAX_SPAN_MS).saturating_sub(age);
        if age >= HALF_RANGE || remaining == 0 {
            return; // already expired on arrival: an existing ON keeps its own deadline
        }
        let candidate = now.wrapping_add(remaining);
        self.relay = match self.relay {
            Relay::Off => Relay::On {
                since: now,
                deadline: candidate,
            },
            // Rule 2: a deadline only moves later.
            Relay::On { since, deadline } => {
                let later = if reached(candidate, deadline) {
                    candidate
                } else {
                    deadline
                };
                Relay::On {
                    since,
                    deadline: later,
                }
            }
        };
    }
}

/// The node-side lease state machine for `OUTPUTS` relays, remembering the send times of the
/// `RECENT` most recent requests (a handful is plenty for a node that waits for each answer).
///
/// It enforces the five points of CONTRACT §4 "The node's rule":
/// 1. relays are OFF at boot ([`new`](Self::new)) and on any failed answer
///    ([`on_failure`](Self::on_failure));
/// 2. a deadline is the send time of the acknowledged request plus `lease_ms`, only moves later,
///    and answers to unknown requests are ignored ([`on_answer`](Self::on_answer));
/// 3. answers with a lower epoch than the highest seen since boot are ignored;
/// 4. a relay is ON only while the newest accepted answer says `power: true` and its deadline
///    has not passed ([`relay_on`](Self::relay_on));
/// 5. a relay ON for its local `max_on` goes OFF and stays OFF until an answer to a request
///    sent after that grants it again.
#[derive(Debug, Clone)]
pub struct LeaseKeeper<const OUTPUTS: usize, const RECENT: usize> {
    outputs: [Output; OUTPUTS],
    recent: [Option<SentRequest>; RECENT],
    next_order: u32,
    highest_epoch: Option<u64>,
}

impl<const OUTPUTS: usize, const RECENT: usize> LeaseKeeper<OUTPUTS, RECENT> {
    /// A keeper with every relay OFF (rule 1: OFF at boot). `local_max_on_ms[i]` is output `i`'s
    /// own hard cap for one run (rule 5), `None` for no cap; values above [`MAX_SPAN_MS`] are
    /// clamped.
    pub fn new(local_max_on_ms: [Option<u32>; OUTPUTS]) -> Self {
        const {
            assert!(
                RECENT > 0,
                "a LeaseKeeper must remember at least one request"
            )
        };
        Self {
            outputs: local_max_on_ms.map(|max_on| Output {
                relay: Relay::Off,
                local_max_on: max_on.map(|ms| ms.min(MAX_SPAN_MS)),
                cut_at: None,
            }),
            recent: [None; RECENT],
            next_order: 0,
            highest_epoch: None,
        }
    }

    /// Records that the request `seq` was sent at `now_ms`. Call it right before (or as) the
    /// request goes out. The oldest remembered request is forgotten when `RECENT` are held.
    /// Sending the same `seq` again (a retry) restarts its send time: over request/response
    /// HTTP an abandoned request's answer can never arrive on the new connection.
    pub fn on_request_sent(&mut self, seq: u32, now_ms: u32) {
        self.settle(now_ms);
        let order = self.next_order;
        self.next_order = self.next_order.wrapping_add(1);
        let entry = Some(SentRequest {
            seq,
            sent_at: now_ms,
            order,
        });
        let slot = self
            .recent
            .iter()
            .position(|sent| sent.is_some_and(|sent| sent.seq == seq))
            .or_else(|| self.recent.iter().position(Option::is_none))
            .unwrap_or_else(|| self.oldest_slot());
        self.recent[slot] = entry;
    }

    /// Applies a well-formed 200 answer received at `now_ms`. `commands` yields
    /// `(output index, power, lease_ms)`; indices out of range are skipped, and an output
    /// without a command is switched OFF (rule 4). See [`crate::AnswerBody::commands`].
    pub fn on_answer(
        &mut self,
        acked_seq: u32,
        epoch: u64,
        now_ms: u32,
        commands: impl IntoIterator<Item = (usize, bool, u32)>,
    ) -> AnswerOutcome {
        self.settle(now_ms);
        // Rule 2: an answer whose acked_seq is not one of the node's recent requests is ignored.
        let Some(acked) = self
            .recent
            .iter()
            .flatten()
            .copied()
            .find(|sent| sent.seq == acked_seq)
        else {
            return AnswerOutcome::IgnoredUnknownSeq;
        };
        // Rule 3: an answer with a lower epoch than the highest seen since boot is ignored.
        if self.highest_epoch.is_some_and(|highest| epoch < highest) {
            return AnswerOutcome::IgnoredOlderEpoch;
        }
        self.highest_epoch = Some(epoch);
        // Forget the acknowledged request and every earlier one: a replay of this answer, or a
        // late answer to an older request, can no longer override what was just decided.
        let age_of_acked = self.next_order.wrapping_sub(acked.order);
        for slot in &mut self.recent {
            if slot.is_some_and(|sent| self.next_order.wrapping_sub(sent.order) >= age_of_acked) {
                *slot = None;
            }
        }
        let mut per_output = [None; OUTPUTS];
        for (index, power, lease_ms) in commands {
            if let Some(command) = per_output.get_mut(index) {
                *command = Some((power, lease_ms));
            }
        }
        for (output, command) in self.outputs.iter_mut().zip(per_output) {
            output.apply(command, acked.sent_at, now_ms);
        }
        AnswerOutcome::Accepted
    }

    /// Rule 1: the answer was not a well-formed 200 (error status, timeout, unparseable body):
    /// every relay goes OFF at once, and every pending request is forgotten so that no late
    /// answer to one of them can switch a relay back on.
    pub fn on_failure(&mut self, now_ms: u32) {
        self.settle(now_ms);
        for output in &mut self.outputs {
            output.relay = Relay::Off;
        }
        self.recent = [None; RECENT];
    }

    /// Whether relay `output` is ON at `now_ms` (rule 4, with rule 5's local cap). Constant
    /// time and never blocks; an index out of range is OFF.
    pub fn relay_on(&mut self, output: usize, now_ms: u32) -> bool {
        self.outputs.get_mut(output).is_some_and(|output| {
            output.settle(now_ms);
            matches!(output.relay, Relay::On { .. })
        })
    }

    /// Every relay's state at `now_ms`.
    pub fn relays(&mut self, now_ms: u32) -> [bool; OUTPUTS] {
        self.settle(now_ms);
        self.outputs
            .map(|output| matches!(output.relay, Relay::On { .. }))
    }

    /// Whether relay `output` is held OFF by its local `max_on` (rule 5) at `now_ms`, waiting
    /// for a grant that answers a later request.
    pub fn held_off_by_max_on(&mut self, output: usize, now_ms: u32) -> bool {
        self.outputs.get_mut(output).is_some_and(|output| {
            output.settle(now_ms);
            output.cut_at.is_some()
        })
    }

    /// The highest epoch accepted since boot, if any answer was accepted.
    pub fn highest_epoch(&self) -> Option<u64> {
        self.highest_epoch
    }

    fn settle(&mut self, now_ms: u32) {
        for output in &mut self.outputs {
            output.settle(now_ms);
        }
    }

    fn oldest_slot(&self) -> usize {
        let age = |slot: &Option<SentRequest>| {
            slot.map_or(u32::MAX, |sent| self.next_order.wrapping_sub(sent.order))
        };
        (0..RECENT)
            .max_by_key(|&index| age(&self.recent[index]))
            .unwrap_or(0)
    }
}
