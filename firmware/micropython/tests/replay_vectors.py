"""Replays the shared lease vectors through pk_lease.LeaseKeeper on the MicroPython
interpreter: ``micropython replay_vectors.py PATH/lease_vectors.json``. Prints one line per
case and ``vectors: N passed``; any mismatch prints what differs and exits with status 1."""

import json
import sys

import pk_lease


def check(case, index, step, what, got, expected):
    """Fail the run when ``got`` differs from ``expected``."""
    if got != expected:
        print("FAIL %s step %d %s: %s is %r, expected %r" % (case["name"], index, step, what, got, expected))
        sys.exit(1)


def run_step(keeper, case, index, step):
    """Apply one step of a case to ``keeper`` and check its expectation."""
    at = step.get("at")
    if "send" in step:
        keeper.on_request_sent(step["send"], at)
    elif "answer" in step:
        answer = step["answer"]
        commands = [(c[0], c[1], c[2]) for c in answer["commands"]]
        outcome = keeper.on_answer(answer["acked_seq"], answer["epoch"], at, commands)
        check(case, index, step, "outcome", outcome, step["outcome"])
    elif "failure" in step:
        keeper.on_failure(at)
    elif "relays" in step:
        check(case, index, step, "relays", keeper.relays(at), step["relays"])
    elif "held_off" in step:
        held = [keeper.held_off_by_max_on(i, at) for i in range(len(keeper.outputs))]
        check(case, index, step, "held_off", held, step["held_off"])
    elif "highest_epoch" in step:
        check(case, index, step, "highest_epoch", keeper.highest_epoch, step["highest_epoch"])
    else:
        print("FAIL %s step %d: unknown step kind %r" % (case["name"], index, step))
        sys.exit(1)


def main(path):
    """Replay every case in ``path``."""
    with open(path) as file:
        cases = json.load(file)["cases"]
    for case in cases:
        keeper = pk_lease.LeaseKeeper(case["local_max_on_ms"], case["recent"])
        for index, step in enumerate(case["steps"]):
            run_step(keeper, case, index, step)
        print("ok %s" % case["name"])
    print("vectors: %d passed" % len(cases))


main(sys.argv[1])
