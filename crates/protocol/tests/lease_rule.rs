//! The node's rule (CONTRACT §4) as seen from the firmware: a fake clock, requests, answers.

use plantkeeper_protocol::{AnswerOutcome, LeaseKeeper};

const LEASE: u32 = 15_000;

/// One relay, capped locally at 60 s, remembering 4 requests.
fn keeper() -> LeaseKeeper<1, 4> {
    LeaseKeeper::new([Some(60_000)])
}

fn grant(keeper: &mut LeaseKeeper<1, 4>, seq: u32, epoch: u64, now: u32) -> AnswerOutcome {
    keeper.on_answer(seq, epoch, now, [(0, true, LEASE)])
}

#[test]
fn relays_are_off_at_boot() {
    let mut keeper = LeaseKeeper::<3, 4>::new([None; 3]);
    assert_eq!(
        keeper.relays(0),
        [false; 3],
        "a relay was ON before any answer"
    );
}

#[test]
fn grant_is_anchored_at_send_time_not_arrival() {
    let mut keeper = keeper();
    keeper.on_request_sent(1, 1_000);
    assert_eq!(grant(&mut keeper, 1, 1, 9_000), AnswerOutcome::Accepted);
    assert!(
        keeper.relay_on(0, 9_000),
        "a fresh grant must switch the relay ON"
    );
    assert!(
        keeper.relay_on(0, 1_000 + LEASE - 1),
        "ON until send time + lease"
    );
    assert!(
        !keeper.relay_on(0, 1_000 + LEASE),
        "the deadline is send time + lease, not arrival + lease"
    );
}

#[test]
fn answer_arriving_after_its_lease_never_switches_on() {
    let mut keeper = keeper();
    keeper.on_request_sent(1, 0);
    assert_eq!(grant(&mut keeper, 1, 1, LEASE + 5), AnswerOutcome::Accepted);
    assert!(
        !keeper.relay_on(0, LEASE + 5),
        "an answer older than its lease switched the relay ON"
    );
}

#[test]
fn renewals_extend_the_deadline_and_power_false_switches_off() {
    let mut keeper = keeper();
    keeper.on_request_sent(1, 0);
    grant(&mut keeper, 1, 1, 100);
    keeper.on_request_sent(2, 5_000);
    grant(&mut keeper, 2, 1, 5_100);
    assert!(
        keeper.relay_on(0, 19_000),
        "the renewal did not move the deadline to 5 000 + lease"
    );
    keeper.on_request_sent(3, 10_000);
    keeper.on_answer(3, 1, 10_100, [(0, false, LEASE)]);
    assert!(
        !keeper.relay_on(0, 10_100),
        "power: false must switch the relay OFF"
    );
}

#[test]
fn output_missing_from_answer_is_off() {
    let mut keeper = keeper();
    keeper.on_request_sent(1, 0);
    grant(&mut keeper, 1, 1, 10);
    keeper.on_request_sent(2, 1_000);
    keeper.on_answer(2, 1, 1_010, []);
    assert!(
        !keeper.relay_on(0, 1_010),
        "an output the newest answer omits must be OFF"
    );
}

#[test]
fn unknown_acked_seq_is_ignored() {
    let mut keeper = keeper();
    keeper.on_request_sent(1, 0);
    assert_eq!(
        grant(&mut keeper, 99, 1, 10),
        AnswerOutcome::IgnoredUnknownSeq
    );
    assert!(
        !keeper.relay_on(0, 10),
        "an answer to a request never sent switched the relay ON"
    );
}

#[test]
fn replayed_answer_is_ignored() {
    let mut keeper = keeper();
    keeper.on_request_sent(1, 0);
    grant(&mut keeper, 1, 1, 10);
    keeper.on_request_sent(2, 1_000);
    keeper.on_answer(2, 1, 1_010, [(0, false, LEASE)]);
    assert_eq!(
        grant(&mut keeper, 1, 1, 1_020),
        AnswerOutcome::IgnoredUnknownSeq
    );
    assert!(
        !keeper.relay_on(0, 1_020),
        "a replayed grant switched the relay back ON"
    );
}

#[test]
fn late_answer_to_older_request_cannot_override_newer_one() {
    let mut keeper = keeper();
    keeper.on_request_sent(1, 0);
    keeper.on_request_sent(2, 1_000);
    keeper.on_answer(2, 1, 1_010, [(0, false, LEASE)]);
    assert_eq!(
        grant(&mut keeper, 1, 1, 1_020),
        AnswerOutcome::IgnoredUnknownSeq
    );
    assert!(
        !keeper.relay_on(0, 1_020),
        "a late answer overrode a newer decision"
    );
}

#[test]
fn older_epoch_is_ignored() {
    let mut keeper = keeper();
    keeper.on_request_sent(1, 0);
    keeper.on_answer(1, 7, 10, [(0, false, LEASE)]);
    keeper.on_request_sent(2, 1_000);
    assert_eq!(
        grant(&mut keeper, 2, 6, 1_010),
        AnswerOutcome::IgnoredOlderEpoch
    );
    assert!(
        !keeper.relay_on(0, 1_010),
        "an answer from an older master epoch was obeyed"
    );
    assert_eq!(keeper.highest_epoch(), Some(7));
    assert_eq!(
        grant(&mut keeper, 2, 8, 1_020),
        AnswerOutcome::Accepted,
        "a newer epoch must be obeyed"
    );
}

#[test]
fn failure_switches_every_relay_off_and_forgets_pending_requests() {
    let mut keeper = LeaseKeeper::<2, 4>::new([None, None]);
    keeper.on_request_sent(1, 0);
    keeper.on_answer(1, 1, 10, [(0, true, LEASE), (1, true, LEASE)]);
    keeper.on_request_sent(2, 1_000);
    keeper.on_failure(1_500);
    assert_eq!(
        keeper.relays(1_500),
        [false, false],
        "a failed answer left a relay ON"
    );
    assert_eq!(
        keeper.on_answer(2, 1, 1_600, [(0, true, LEASE)]),
        AnswerOutcome::IgnoredUnknownSeq,
        "an answer to a request sent before the failure was accepted"
    );
}

#[test]
fn local_max_on_cuts_a_run_the_master_keeps_renewing() {
    let mut keeper = keeper();
    let mut now = 0;
    let mut seq = 0;
    while now < 59_000 {
        seq += 1;
        keeper.on_request_sent(seq, now);
        grant(&mut keeper, seq, 1, now + 10);
        assert!(
            keeper.relay_on(0, now + 10),
            "relay OFF at {now} before its local max_on"
        );
        now += 5_000;
    }
    // ON since 10 (the first answer's arrival), so the cap cuts at 60 010.
    assert!(
        keeper.relay_on(0, 60_009),
        "the relay went OFF before its local max_on"
    );
    assert!(
        !keeper.relay_on(0, 60_010),
        "the relay stayed ON past its local max_on"
    );
    assert!(keeper.held_off_by_max_on(0, 60_010));
    // A grant for a request sent before the cut does not count...
    seq += 1;
    keeper.on_request_sent(seq, 60_000);
    assert_eq!(grant(&mut keeper, seq, 1, 60_020), AnswerOutcome::Accepted);
    assert!(
        !keeper.relay_on(0, 60_020),
        "a grant for a request sent before the cut re-armed the relay"
    );
    // ...a grant answering a fresh report does.
    seq += 1;
    keeper.on_request_sent(seq, 61_000);
    grant(&mut keeper, seq, 1, 61_010);
    assert!(
        keeper.relay_on(0, 61_010),
        "a fresh grant after the cut must switch ON again"
    );
    assert!(!keeper.held_off_by_max_on(0, 61_010));
}

#[test]
fn lease_expiring_before_max_on_is_not_a_cut() {
    let mut keeper = keeper();
    keeper.on_request_sent(1, 0);
    grant(&mut keeper, 1, 1, 10);
    assert!(!keeper.relay_on(0, 70_000));
    assert!(
        !keeper.held_off_by_max_on(0, 70_000),
        "a lease that simply ran out was taken for a cut"
    );
    keeper.on_request_sent(2, 70_000);
    grant(&mut keeper, 2, 1, 70_010);
    assert!(keeper.relay_on(0, 70_010));
}

#[test]
fn lease_survives_u32_clock_wrap_around() {
    let mut keeper = keeper();
    let sent = u32::MAX - 1_000;
    keeper.on_request_sent(1, sent);
    grant(&mut keeper, 1, 1, sent + 10);
    let deadline = sent.wrapping_add(LEASE);
    assert!(
        keeper.relay_on(0, 5),
        "relay went OFF when the clock wrapped"
    );
    assert!(keeper.relay_on(0, deadline - 1));
    assert!(
        !keeper.relay_on(0, deadline),
        "lease did not expire after the clock wrapped"
    );
    // Long after, wrapping comparisons must not revive it.
    assert!(!keeper.relay_on(0, deadline.wrapping_add(1 << 30)));
    assert!(!keeper.relay_on(0, deadline.wrapping_add(3 << 30)));
}

#[test]
fn out_of_range_indices_are_ignored() {
    let mut keeper = keeper();
    keeper.on_request_sent(1, 0);
    assert_eq!(
        keeper.on_answer(1, 1, 10, [(5, true, LEASE)]),
        AnswerOutcome::Accepted
    );
    assert!(!keeper.relay_on(0, 10));
    assert!(
        !keeper.relay_on(5, 10),
        "a relay that does not exist reported ON"
    );
}

#[test]
fn only_the_recent_requests_are_remembered() {
    let mut keeper = keeper();
    for seq in 1..=5 {
        keeper.on_request_sent(seq, seq * 100);
    }
    assert_eq!(
        grant(&mut keeper, 1, 1, 600),
        AnswerOutcome::IgnoredUnknownSeq,
        "seq 1 fell out of the 4 recent"
    );
    assert_eq!(grant(&mut keeper, 2, 1, 600), AnswerOutcome::Accepted);
}
