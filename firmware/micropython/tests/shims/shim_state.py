"""Shared state of the hardware shims: a control directory (env ``PK_SHIM_DIR``) where the
test writes sensor inputs and the shims append an event timeline ``events.log`` with one
``<unix ms> <kind> <args...>`` line per event (pin levels, Wi-Fi, watchdog)."""

import os
import time

DIR = os.getenv("PK_SHIM_DIR") or "."


def now_ms():
    """Wall-clock Unix time in ms, comparable with the test's own clock."""
    return time.time_ns() // 1000000


def record(line):
    """Append one event line to events.log."""
    with open(DIR + "/events.log", "a") as file:
        file.write("%d %s\n" % (now_ms(), line))


def read_input(name, default):
    """The number the test wrote to ``DIR/name``, or ``default`` when there is none."""
    try:
        with open(DIR + "/" + name) as file:
            return float(file.read().strip())
    except (OSError, ValueError):
        return default


def exists(name):
    """Whether the test created ``DIR/name``."""
    try:
        os.stat(DIR + "/" + name)
        return True
    except OSError:
        return False


def hang_while(name):
    """Block the calling thread while the test keeps ``DIR/name`` in place."""
    while exists(name):
        time.sleep_ms(20)
