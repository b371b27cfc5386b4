//! Property tests of the node's rule: random sequences of sends, answers (fresh, late, replayed,
//! unknown, older-epoch), failures and clock steps, on a clock that may wrap. After every step
//! each relay that is ON must be justified by an accepted answer exactly as CONTRACT §4 says.

use plantkeeper_protocol::{AnswerOutcome, LeaseKeeper};
use proptest::prelude::*;

const OUTPUTS: usize = 2;
const LOCAL_MAX_ON: [Option<u32>; OUTPUTS] = [Some(12_000), None];

#[derive(Debug, Clone)]
enum Step {
    Advance(u32),
    Send,
    /// Answer one of the last few sends (`back` from the newest), or an unknown seq.
    Answer {
        back: Option<usize>,
        epoch: u64,
        commands: [(bool, u32); OUTPUTS],
    },
    /// Deliver again an answer that was already delivered.
    Replay(usize),
    Fail,
}

fn step() -> impl Strategy<Value = Step> {
    let command = (any::<bool>(), 0u32..30_000);
    prop_oneof![
        3 => (0u32..10_000).prop_map(Step::Advance),
        3 => Just(Step::Send),
        4 => (proptest::option::weighted(0.9, 0usize..4), 10u64..14, [command.clone(), command])
            .prop_map(|(back, epoch, commands)| Step::Answer { back, epoch, commands }),
        1 => (0usize..8).prop_map(Step::Replay),
        1 => Just(Step::Fail),
    ]
}

#[derive(Debug, Clone, Copy)]
struct Answer {
    seq: u32,
    epoch: u64,
    commands: [(bool, u32); OUTPUTS],
}

#[derive(Debug, Clone, Copy)]
struct Accepted {
    /// Absolute test time (never wraps) at which the acknowledged request was sent.
    sent_at: u64,
    commands: [(bool, u32); OUTPUTS],
}

/// What the test knows, on an absolute clock that does not wrap.
struct World {
    keeper: LeaseKeeper<OUTPUTS, 4>,
    start: u32,
    now: u64,
    next_seq: u32,
    sent: Vec<(u32, u64)>,
    delivered: Vec<Answer>,
    /// Accepted answers since the last failure, oldest first.
    accepted_since_failure: Vec<Accepted>,
    highest_epoch: Option<u64>,
    /// Index in `sent` of the request the last accepted answer acknowledged.
    last_accepted_send: Option<usize>,
    on_since: [Option<u64>; OUTPUTS],
}

impl World {
    fn node_now(&self) -> u32 {
        self.start.wrapping_add(self.now as u32)
    }

    fn deliver(&mut self, answer: Answer) -> Result<(), TestCaseError> {
        let now = self.node_now();
        let before = self.keeper.relays(now);
        let commands = answer
            .commands
            .iter()
            .enumerate()
            .map(|(i, &(power, lease))| (i, power, lease));
        let outcome = self
            .keeper
            .on_answer(answer.seq, answer.epoch, now, commands);
        self.delivered.push(answer);
        if self
            .highest_epoch
            .is_some_and(|highest| answer.epoch < highest)
        {
            prop_assert_ne!(
                outcome,
                AnswerOutcome::Accepted,
                "an older-epoch answer was accepted"
            );
        }
        if outcome == AnswerOutcome::Accepted {
            let send_index = self.sent.iter().rposition(|(seq, _)| *seq == answer.seq);
            prop_assert!(
                send_index.is_some(),
                "an answer to a seq never sent was accepted"
            );
            let send_index = send_index.unwrap_or_default();
            prop_assert!(
                self.last_accepted_send.is_none_or(|last| send_index > last),
                "an answer to request #{} was accepted after one to request #{} (late or replayed answer obeyed)",
                send_index,
                self.last_accepted_send.unwrap_or_default()
            );
            self.last_accepted_send = Some(send_index);
            let sent_at = self.sent[send_index].1;
            self.accepted_since_failure.push(Accepted {
                sent_at,
                commands: answer.commands,
            });
            self.highest_epoch = self.highest_epoch.max(Some(answer.epoch));
        } else {
            prop_assert_eq!(
                self.keeper.relays(now),
                before,
                "an ignored answer changed a relay"
            );
        }
        Ok(())
    }

    fn check_relays(&mut self) -> Result<(), TestCaseError> {
        let relays = self.keeper.relays(self.node_now());
        for (output, on) in relays.into_iter().enumerate() {
            if !on {
                self.on_since[output] = None;
                continue;
            }
            let since = *self.on_since[output].get_or_insert(self.now);
            let newest = self.accepted_since_failure.last();
            prop_assert!(
                newest.is_some_and(|answer| answer.commands[output].0),
                "output {} ON at {} but the newest accepted answer since the last failure does not say power: true",
                output,
                self.now
            );
            let justified = self.accepted_since_failure.iter().any(|answer| {
                let (power, lease) = answer.commands[output];
                power && answer.sent_at + u64::from(lease) > self.now
            });
            prop_assert!(
                justified,
                "output {} ON at {} with every lease expired (send time + lease)",
                output,
                self.now
            );
            if let Some(max_on) = LOCAL_MAX_ON[output] {
                prop_assert!(
                    self.now - since < u64::from(max_on),
                    "output {} ON since {} beyond its local max_on at {}",
                    output,
                    since,
                    self.now
                );
            }
        }
        Ok(())
    }

    fn run(&mut self, step: Step) -> Result<(), TestCaseError> {
        match step {
            Step::Advance(ms) => self.now += u64::from(ms),
            Step::Send => {
                let seq = self.next_seq;
                self.next_seq = seq.wrapping_add(1);
                self.keeper.on_request_sent(seq, self.node_now());
                self.sent.push((seq, self.now));
            }
            Step::Answer {
                back,
                epoch,
                commands,
            } => {
                let seq = match back {
                    Some(back) if back < self.sent.len() => self.sent[self.sent.len() - 1 - back].0,
                    // A seq this node never sent.
                    _ => self.next_seq.wrapping_add(1_000_000),
                };
                self.deliver(Answer {
                    seq,
                    epoch,
                    commands,
                })?;
            }
            Step::Replay(back) => {
                if back < self.delivered.len() {
                    let answer = self.delivered[self.delivered.len() - 1 - back];
                    self.deliver(answer)?;
                }
            }
            Step::Fail => {
                self.keeper.on_failure(self.node_now());
                self.accepted_since_failure.clear();
            }
        }
        self.check_relays()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_on_is_justified_by_a_fresh_accepted_answer(
        start in prop_oneof![Just(0u32), Just(u32::MAX - 1_000), any::<u32>()],
        first_seq in any::<u32>(),
        steps in proptest::collection::vec(step(), 1..120),
    ) {
        let mut world = World {
            keeper: LeaseKeeper::new(LOCAL_MAX_ON),
            start,
            now: 0,
            next_seq: first_seq,
            sent: Vec::new(),
            delivered: Vec::new(),
            accepted_since_failure: Vec::new(),
            highest_epoch: None,
            last_accepted_send: None,
            on_since: [None; OUTPUTS],
        };
        world.check_relays()?;
        for step in steps {
            world.run(step)?;
        }
    }
}
