"""The node's rule (CONTRACT section 4) as a small state machine: a mirror of the Rust
``plantkeeper_protocol::LeaseKeeper`` (crates/protocol/src/lease.rs).

Both implementations replay the same vectors (crates/protocol/tests/vectors/lease_vectors.json),
so they cannot drift apart. Change one only together with the other.

Time is a u32 millisecond counter that wraps; two instants are compared by their wrapping
difference. ``NodeClock`` turns MicroPython's ``time.ticks_ms`` (which wraps at 2**30 on
the ESP32) into that u32 clock. Nothing here reads a clock, allocates lists after
construction, or blocks.
"""

U32 = 0xFFFFFFFF
# The longest lease or local max_on honoured (2**30 ms, about 12.4 days).
MAX_SPAN_MS = 1 << 30
# Half the range of the node clock: a wrapping difference below this means "not before".
HALF_RANGE = 1 << 31

ACCEPTED = "accepted"
IGNORED_UNKNOWN_SEQ = "ignored_unknown_seq"
IGNORED_OLDER_EPOCH = "ignored_older_epoch"


def wrapping_sub(a, b):
    """``a - b`` on the u32 clock."""
    return (a - b) & U32


def wrapping_add(a, b):
    """``a + b`` on the u32 clock."""
    return (a + b) & U32


def reached(now, instant):
    """Whether ``instant`` has been reached at ``now`` on the wrapping clock."""
    return wrapping_sub(now, instant) < HALF_RANGE


class Output:
    """One relay and its local protections. ``relay`` is None when OFF, else
    ``(since, deadline)`` with the deadline exclusive."""

    def __init__(self, local_max_on):
        self.relay = None
        self.local_max_on = None if local_max_on is None else min(local_max_on, MAX_SPAN_MS)
        self.cut_at = None

    def settle(self, now):
        """Record what time alone does: the lease running out (rule 4) or the local cap
        cutting the run (rule 5), whichever came first."""
        if self.relay is None:
            return
        since, deadline = self.relay
        lease_span = wrapping_sub(deadline, since)
        max_on = self.local_max_on
        if max_on is not None and max_on <= lease_span and reached(now, wrapping_add(since, max_on)):
            self.relay = None
            self.cut_at = wrapping_add(since, max_on)
        elif reached(now, deadline):
            self.relay = None

    def apply(self, command, sent_at, now):
        """Apply this output's ``(power, lease_ms)`` command (None when the answer omits it)
        from an accepted answer to a request sent at ``sent_at``."""
        if command is None or not command[0]:
            self.relay = None
            return
        if self.cut_at is not None:
            sent_after_cut = sent_at != self.cut_at and reached(sent_at, self.cut_at)
            if not sent_after_cut:
                return
            self.cut_at = None
        age = wrapping_sub(now, sent_at)
        remaining = max(0, min(command[1], MAX_SPAN_MS) - age)
        if age >= HALF_RANGE or remaining == 0:
            return  # expired on arrival: an existing ON keeps its own deadline
        candidate = wrapping_add(now, remaining)
        if self.relay is None:
            self.relay = (now, candidate)
            return
        since, deadline = self.relay
        self.relay = (since, candidate if reached(candidate, deadline) else deadline)


class LeaseKeeper:
    """The node-side lease state machine for ``len(local_max_on_ms)`` relays, remembering
    the send times of the ``recent`` most recent requests. Same five points as the Rust
    keeper: OFF at boot and on failure, deadline anchored at send time and only moving later,
    unknown acked_seq and older epochs ignored, ON only under a fresh grant, local max_on."""

    def __init__(self, local_max_on_ms, recent=4):
        if recent < 1:
            raise ValueError("a LeaseKeeper must remember at least one request")
        self.outputs = [Output(ms) for ms in local_max_on_ms]
        # Each slot: None or [seq, sent_at, order]; fixed size, never grows.
        self.recent = [None] * recent
        self.next_order = 0
        self.highest_epoch = None

    def _settle(self, now):
        for output in self.outputs:
            output.settle(now)

    def on_request_sent(self, seq, now):
        """Record that request ``seq`` was sent at ``now``; a retry of the same seq restarts
        its send time, and the oldest remembered request is forgotten when all slots are full."""
        self._settle(now)
        order = self.next_order
        self.next_order = wrapping_add(self.next_order, 1)
        slot = self._slot_of(seq)
        if slot is None:
            slot = self._slot_of_free()
        if slot is None:
            slot = self._oldest_slot()
        self.recent[slot] = (seq, now, order)

    def on_answer(self, acked_seq, epoch, now, commands):
        """Apply a well-formed 200 answer received at ``now``. ``commands`` yields
        ``(output index, power, lease_ms)``; out-of-range indices are skipped and an output
        without a command goes OFF. Returns one of the ACCEPTED / IGNORED_* strings."""
        self._settle(now)
        slot = self._slot_of(acked_seq)
        if slot is None:
            return IGNORED_UNKNOWN_SEQ
        if self.highest_epoch is not None and epoch < self.highest_epoch:
            return IGNORED_OLDER_EPOCH
        self.highest_epoch = epoch
        acked = self.recent[slot]
        self._forget_up_to(acked[2])
        per_output = [None] * len(self.outputs)
        for index, power, lease_ms in commands:
            if 0 <= index < len(per_output):
                per_output[index] = (power, lease_ms)
        for index, output in enumerate(self.outputs):
            output.apply(per_output[index], acked[1], now)
        return ACCEPTED

    def on_failure(self, now):
        """Rule 1: the answer was not a well-formed 200: every relay OFF, every pending
        request forgotten so that no late answer can switch a relay back on."""
        self._settle(now)
        for output in self.outputs:
            output.relay = None
        for index in range(len(self.recent)):
            self.recent[index] = None

    def relay_on(self, index, now):
        """Whether relay ``index`` is ON at ``now``; out of range is OFF."""
        if not 0 <= index < len(self.outputs):
            return False
        output = self.outputs[index]
        output.settle(now)
        return output.relay is not None

    def relays(self, now):
        """Every relay's state at ``now`` (a new list of booleans)."""
        self._settle(now)
        return [output.relay is not None for output in self.outputs]

    def held_off_by_max_on(self, index, now):
        """Whether relay ``index`` is held OFF by its local max_on, waiting for a grant
        that answers a later request."""
        if not 0 <= index < len(self.outputs):
            return False
        output = self.outputs[index]
        output.settle(now)
        return output.cut_at is not None

    def _slot_of(self, seq):
        for index, sent in enumerate(self.recent):
            if sent is not None and sent[0] == seq:
                return index
        return None

    def _slot_of_free(self):
        for index, sent in enumerate(self.recent):
            if sent is None:
                return index
        return None

    def _age(self, sent):
        return U32 if sent is None else wrapping_sub(self.next_order, sent[2])

    def _oldest_slot(self):
        oldest = 0
        for index in range(len(self.recent)):
            # Rust's max_by_key keeps the last maximum.
            if self._age(self.recent[index]) >= self._age(self.recent[oldest]):
                oldest = index
        return oldest

    def _forget_up_to(self, acked_order):
        """Forget the acknowledged request and every earlier one."""
        age_of_acked = wrapping_sub(self.next_order, acked_order)
        for index, sent in enumerate(self.recent):
            if sent is not None and wrapping_sub(self.next_order, sent[2]) >= age_of_acked:
                self.recent[index] = None


class NodeClock:
    """A u32 millisecond clock built from a ``ticks_ms``-style counter of any period.

    ``now()`` must be called at least once per half period of the source counter (the lease
    task calls it every 100 ms); both source functions are injectable for tests."""

    def __init__(self, ticks_ms, ticks_diff):
        self._ticks_ms = ticks_ms
        self._ticks_diff = ticks_diff
        self._last = ticks_ms()
        self._now = 0

    def now(self):
        """The current node time in ms on the wrapping u32 clock."""
        ticks = self._ticks_ms()
        step = self._ticks_diff(ticks, self._last)
        if step > 0:
            self._now = wrapping_add(self._now, step)
            self._last = ticks
        return self._now
