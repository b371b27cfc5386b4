"""PlantKeeper node client for MicroPython (ESP32): Wi-Fi, the report loop, the lease rule of
CONTRACT section 4 (pk_lease), and a bounded backlog of readings for when the master is away.

Two asyncio tasks share one LeaseKeeper:

* ``lease_task`` never touches the network: every 100 ms it drives each relay from the lease
  state (OFF at the deadline, whatever the network does) and feeds the hardware watchdog while
  the report task is alive. A board stuck anywhere is reset by the watchdog and boots OFF.
* ``report_task`` samples the sensors every ``report_every_ms``, posts a report (HTTP/1.0 over
  a non-blocking socket, bounded by ``http_timeout_ms``), applies the answer, and on any failure
  switches every relay OFF, keeps the readings in the backlog and backs off with jitter. While
  Wi-Fi is down it does not try: readings go to the backlog, relays keep their leases until
  their deadlines, and the station is reconnected every ``wifi_timeout_ms``.

The master is ``http://HOST:PORT`` where HOST is an address or a host name. A name is looked up
(``getaddrinfo``, which blocks the board) only when no address is known: at boot and after a
failed report, that is only while every relay is already OFF.

Use from main.py::

    import pk_config
    pk_config.drive_relays_off("config.json")  # first thing, before Wi-Fi
    import plantkeeper
    plantkeeper.run("config.json")
"""

import gc
import json
import random
import socket
import time

import asyncio
import pk_config
import pk_lease
import pk_sensors
from errno import EINPROGRESS

# The lease task's period: how late, at most, a relay goes OFF after its deadline.
LEASE_TICK_MS = 100
# The largest answer read from the master (headers and body); larger answers are failures.
MAX_ANSWER_BYTES = 8192
# Requests remembered by the LeaseKeeper (the loop waits for each answer, so a few suffice).
RECENT_REQUESTS = 4
# Slack before the watchdog stops being fed when the report task misses its next wake-up.
STUCK_SLACK_MS = 5000
# Bounds on the master's report_every_ms.
REPORT_EVERY_BOUNDS = (100, 3600000)
U32 = 0xFFFFFFFF


def log(message):
    """One line on the serial console."""
    print("pk: " + message)


class AnswerError(ValueError):
    """The master's answer is not a well-formed 200 answer; the relays go OFF."""


class ResolveError(OSError):
    """The master's host name did not resolve to an address."""


def resolve(host, port):
    """``(family, address)`` to connect to ``host:port`` over TCP, IPv4 preferred; raises
    ResolveError naming the host when there is none."""
    try:
        found = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
    except OSError as error:
        raise ResolveError("cannot resolve the master's host name %s (%s)" % (host, error))
    for entry in found:
        if entry[0] == socket.AF_INET:
            return entry[0], entry[-1]
    if not found:
        raise ResolveError("no address for the master's host name %s" % host)
    return found[0][0], found[0][-1]


def format_mac(mac):
    """``aa:bb:cc:dd:ee:ff`` of 6 MAC address bytes."""
    return ":".join("%02x" % byte for byte in mac)


def is_int(value, low, high):
    """Whether ``value`` is a JSON integer (not a boolean) in ``low..high``."""
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def parse_answer(body):
    """``(acked_seq, epoch, report_every_ms, outputs)`` from a 200 answer body, where
    ``outputs`` maps a name to ``(power, lease_ms)``; raises AnswerError for anything that is
    not exactly the shape of CONTRACT section 4 (unknown extra fields are allowed)."""
    try:
        answer = json.loads(body)
    except (ValueError, UnicodeError):
        raise AnswerError("not JSON")
    if not isinstance(answer, dict):
        raise AnswerError("not a JSON object")
    acked_seq = answer.get("acked_seq")
    epoch = answer.get("epoch")
    report_every = answer.get("report_every_ms")
    outputs = answer.get("outputs")
    if not is_int(acked_seq, 0, U32):
        raise AnswerError("acked_seq missing or not a u32")
    if not is_int(epoch, 0, (1 << 64) - 1):
        raise AnswerError("epoch missing or not a u64")
    if not is_int(report_every, 0, (1 << 64) - 1):
        raise AnswerError("report_every_ms missing or not a u64")
    if not isinstance(outputs, dict):
        raise AnswerError("outputs missing or not an object")
    commands = {}
    for name in outputs:
        commands[name] = parse_command(name, outputs[name])
    return acked_seq, epoch, report_every, commands


def parse_command(name, command):
    """``(power, lease_ms)`` of one output command; lease clamped to a u32."""
    if not isinstance(command, dict):
        raise AnswerError("outputs.%s is not an object" % name)
    power = command.get("power")
    lease_ms = command.get("lease_ms")
    if not isinstance(power, bool):
        raise AnswerError("outputs.%s.power missing or not a boolean" % name)
    if not is_int(lease_ms, 0, (1 << 64) - 1):
        raise AnswerError("outputs.%s.lease_ms missing or not a u64" % name)
    if not isinstance(command.get("reason"), str):
        raise AnswerError("outputs.%s.reason missing or not a string" % name)
    return power, min(lease_ms, U32)


class Backlog:
    """Readings taken while the master was unreachable: a fixed-size ring in RAM, the oldest
    dropped first when full, with a count of what was dropped since boot."""

    def __init__(self, capacity):
        self.capacity = capacity
        self.entries = [None] * capacity  # (taken_at on the node clock, readings dict)
        self.start = 0
        self.count = 0
        self.dropped = 0

    def add(self, taken_at, readings):
        """Keep ``readings`` taken at ``taken_at``; drops the oldest entry when full."""
        if not readings:
            return
        if self.capacity == 0:
            self.dropped += 1
            return
        if self.count == self.capacity:
            self.start = (self.start + 1) % self.capacity
            self.count -= 1
            self.dropped += 1
        self.entries[(self.start + self.count) % self.capacity] = (taken_at, readings)
        self.count += 1

    def items(self):
        """The kept entries, oldest first."""
        for offset in range(self.count):
            yield self.entries[(self.start + offset) % self.capacity]

    def clear(self):
        """Forget every kept entry (they were acknowledged); the dropped count stays."""
        for index in range(self.capacity):
            self.entries[index] = None
        self.start = 0
        self.count = 0


def encode_report(seq, boot, readings, relays, backlog, now):
    """The JSON body of a report sent at ``now``: backlog ages are taken against ``now``."""
    parts = ['{"seq":%d,"boot":%d,"readings":' % (seq, boot), json.dumps(readings)]
    parts.append(',"outputs":')
    parts.append(json.dumps(relays))
    if backlog.count:
        parts.append(',"backlog":[')
        first = True
        for taken_at, entry in backlog.items():
            if not first:
                parts.append(",")
            first = False
            age = pk_lease.wrapping_sub(now, taken_at)
            parts.append('{"age_ms":%d,"readings":%s}' % (age, json.dumps(entry)))
        parts.append("]")
    parts.append("}")
    return "".join(parts)


def encode_request(host, port, node, token, body):
    """A complete HTTP/1.0 POST of ``body`` to the node's report route, as bytes."""
    head = (
        "POST /api/v1/nodes/%s/report HTTP/1.0\r\n"
        "Host: %s:%d\r\n"
        "Authorization: Bearer %s\r\n"
        "Content-Type: application/json\r\n"
        "Content-Length: %d\r\n"
        "Connection: close\r\n\r\n" % (node, host, port, token, len(body))
    )
    return (head + body).encode()


def split_response(data):
    """``(status, content_length or None, body so far)`` once the headers are complete, None
    before. Raises AnswerError for a response that is not HTTP."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = bytes(data[:end]).decode()
    lines = head.split("\r\n")
    status_parts = lines[0].split(" ")
    if len(status_parts) < 2 or not status_parts[0].startswith("HTTP/"):
        raise AnswerError("not an HTTP response")
    try:
        status = int(status_parts[1])
    except ValueError:
        raise AnswerError("bad HTTP status line")
    length = None
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            try:
                length = int(value.strip())
            except ValueError:
                raise AnswerError("bad Content-Length")
    return status, length, bytes(data[end + 4 :])


async def exchange(family, address, request):
    """Send ``request`` and read the response until its Content-Length (or EOF), at most
    MAX_ANSWER_BYTES. Returns ``(status, body bytes)``. The socket never blocks the event loop
    and is closed even when the caller's timeout cancels this coroutine."""
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        try:
            sock.connect(address)
        except OSError as error:
            if error.args[0] != EINPROGRESS:
                raise
        stream = asyncio.StreamWriter(sock, {})
        stream.write(request)
        await stream.drain()
        return await read_response(stream)
    finally:
        sock.close()


async def read_response(stream):
    """The ``(status, body)`` read from ``stream``, bounded by MAX_ANSWER_BYTES."""
    data = bytearray()
    while True:
        chunk = await stream.read(512)
        data.extend(chunk)
        if len(data) > MAX_ANSWER_BYTES:
            raise AnswerError("answer larger than %d bytes" % MAX_ANSWER_BYTES)
        parsed = split_response(data)
        if parsed is not None:
            status, length, body = parsed
            if length is not None and len(body) >= length:
                return status, body[:length]
        if not chunk:
            if parsed is None:
                raise AnswerError("connection closed before the headers ended")
            if length is not None:
                raise AnswerError("connection closed before the body ended")
            return parsed[0], parsed[2]


def next_backoff(current, low, high):
    """The next back-off period: doubled, within ``low..high``."""
    return max(low, min(high, current * 2))


def jittered(period):
    """A wait between half and all of ``period`` ("equal jitter"), so nodes that lost the
    master together do not come back in lockstep."""
    half = period // 2
    return half + random.getrandbits(16) % (half + 1)


class Relay:
    """One relay output pin; remembers its level to log changes."""

    def __init__(self, spec, pin_class):
        self.name = spec["name"]
        self.active_low = spec["active_low"]
        self.pin = pin_class(spec["pin"], pin_class.OUT, value=1 if self.active_low else 0)
        self.on = False

    def set(self, on, reason):
        """Drive the pin; logs a change with ``reason``."""
        self.pin.value((1 if on else 0) ^ (1 if self.active_low else 0))
        if on != self.on:
            self.on = on
            log("relay %s %s (%s)" % (self.name, "ON" if on else "OFF", reason))


class Node:
    """A running node: its config, relays, sensors, lease keeper, backlog and Wi-Fi."""

    def __init__(self, config, ticks_ms=time.ticks_ms, ticks_diff=time.ticks_diff):
        from machine import Pin

        self.config = config
        self.timing = config["timing"]
        self.relays = [Relay(spec, Pin) for spec in config["outputs"]]
        self.sensors = pk_sensors.build(config["sensors"])
        self.keeper = pk_lease.LeaseKeeper([spec["max_on_ms"] for spec in config["outputs"]], RECENT_REQUESTS)
        self.clock = pk_lease.NodeClock(ticks_ms, ticks_diff)
        self.backlog = Backlog(self.timing["backlog_max"])
        self.boot = random.getrandbits(32)
        self.seq = 0
        self.report_every = self.timing["report_every_ms"]
        self.backoff = 0
        self.next_attempt = self.clock.now()
        self.report_due = self.clock.now()
        self.wdt = None
        self.wlan = None
        self.wifi_started = None
        self.wifi_linked = False
        self.master_address = None  # (family, address) while the master answers
        self.down_reason = None

    # --- relays -----------------------------------------------------------------------------

    def drive_relays(self, reason):
        """Set every relay from the lease state now; a run cut by the local max_on says so."""
        now = self.clock.now()
        states = self.keeper.relays(now)
        for index, relay in enumerate(self.relays):
            why = reason
            if relay.on and not states[index] and self.keeper.held_off_by_max_on(index, now):
                why = "local max_on %d ms reached; OFF until a grant after a fresh report" % self.config["outputs"][index]["max_on_ms"]
            relay.set(states[index], why)

    def all_off(self, reason):
        """Rule 1: every relay OFF and every pending request forgotten."""
        self.keeper.on_failure(self.clock.now())
        self.drive_relays(reason)

    async def lease_task(self):
        """Drive the relays from the lease every LEASE_TICK_MS and feed the watchdog while
        the report task keeps its schedule. Never awaits anything but a sleep."""
        while True:
            self.drive_relays("lease expired")
            if self.wdt is not None and not pk_lease.reached(self.clock.now(), self.report_due):
                self.wdt.feed()
            await asyncio.sleep_ms(LEASE_TICK_MS)

    # --- Wi-Fi ------------------------------------------------------------------------------

    def start_wifi(self):
        """Activate the station interface and (re)start connecting; never blocks."""
        import network

        if self.wlan is None:
            self.wlan = network.WLAN(network.STA_IF)
            self.wlan.active(True)
            log("wifi MAC %s (reserve a fixed DHCP address for it)" % format_mac(self.wlan.config("mac")))
        wifi = self.config["wifi"]
        try:
            self.wlan.disconnect()
        except OSError:
            pass
        try:
            self.wlan.connect(wifi["ssid"], wifi["password"])
        except OSError as error:
            log("wifi connect failed: %s" % error)
        self.wifi_started = self.clock.now()

    def wifi_up(self):
        """Whether Wi-Fi is connected. Logs losing and regaining the link; reconnects at once
        when the link is lost, then every wifi_timeout_ms until it is back."""
        if self.wlan.isconnected():
            if not self.wifi_linked:
                self.wifi_linked = True
                log("wifi connected %s" % (self.wlan.ifconfig()[0],))
            return True
        if self.wifi_linked:
            self.wifi_linked = False
            log("wifi lost; relays keep their leases, readings go to the backlog; reconnecting")
            self.start_wifi()
            return False
        elapsed = pk_lease.wrapping_sub(self.clock.now(), self.wifi_started)
        if elapsed >= self.timing["wifi_timeout_ms"]:
            log("wifi not connected after %d ms, reconnecting" % elapsed)
            self.start_wifi()
        return False

    async def wait_for_wifi(self):
        """At boot: wait (bounded by wifi_timeout_ms) for the first connection."""
        self.start_wifi()
        waited = 0
        while not self.wifi_up() and waited < self.timing["wifi_timeout_ms"]:
            self.report_due = pk_lease.wrapping_add(self.clock.now(), 100 + STUCK_SLACK_MS)
            await asyncio.sleep_ms(100)
            waited += 100

    # --- reports ----------------------------------------------------------------------------

    def take_readings(self):
        """Every sensor's current values (a sensor fault adds nothing), plus the number of
        backlog entries dropped since boot when there were any."""
        readings = {}
        for sensor in self.sensors:
            sensor.read(readings)
        if self.backlog.dropped:
            readings["backlog_dropped"] = self.backlog.dropped
        return readings

    def note_down(self, reason):
        """Remember why reports do not get through; logs each new reason once."""
        if reason != self.down_reason:
            log("master unreachable: %s" % reason)
        self.down_reason = reason

    def fail(self, reason):
        """A failed attempt: relays OFF, the master's address forgotten (looked up again, with
        every relay OFF), and the next attempt after a jittered back-off."""
        self.all_off(reason)
        self.master_address = None
        self.note_down(reason + "; relays OFF")
        self.backoff = next_backoff(self.backoff, self.timing["backoff_min_ms"], self.timing["backoff_max_ms"])
        self.next_attempt = pk_lease.wrapping_add(self.clock.now(), jittered(self.backoff))

    async def post(self, request):
        """``(status, body)`` of one exchange with the master, bounded by http_timeout_ms."""
        family, address = self.master_address
        return await asyncio.wait_for_ms(exchange(family, address, request), self.timing["http_timeout_ms"])

    async def attempt(self, readings):
        """Send one report with the backlog; returns whether the master acknowledged it."""
        if self.master_address is None:
            try:
                self.master_address = resolve(*self.config["master"])
            except ResolveError as error:
                self.fail(str(error))
                return False
        self.seq = (self.seq + 1) & U32
        now = self.clock.now()
        states = {relay.name: relay.on for relay in self.relays}
        body = encode_report(self.seq, self.boot, readings, states, self.backlog, now)
        request = encode_request(self.config["master"][0], self.config["master"][1], self.config["node"], self.config["token"], body)
        body = None
        gc.collect()
        self.keeper.on_request_sent(self.seq, self.clock.now())
        try:
            status, payload = await self.post(request)
        except asyncio.TimeoutError:
            self.fail("no answer within %d ms" % self.timing["http_timeout_ms"])
            return False
        except Exception as error:  # refused, reset, not HTTP, too large: all mean OFF
            self.fail("%s %s" % (type(error).__name__, error))
            return False
        request = None
        return self.apply(status, payload)

    def apply(self, status, payload):
        """Apply an answer; anything but a well-formed 200 is a failure (relays OFF)."""
        if status != 200:
            self.fail("HTTP %d %s" % (status, bytes(payload[:120]).decode("utf-8", "replace") if payload else ""))
            return False
        try:
            acked_seq, epoch, report_every, commands = parse_answer(payload)
        except AnswerError as error:
            self.fail("answer not understood: %s" % error)
            return False
        indexed = []
        for index, relay in enumerate(self.relays):
            if relay.name in commands:
                power, lease_ms = commands[relay.name]
                indexed.append((index, power, lease_ms))
        outcome = self.keeper.on_answer(acked_seq, epoch, self.clock.now(), indexed)
        if outcome != pk_lease.ACCEPTED:
            log("answer ignored: %s (acked_seq %d, epoch %d)" % (outcome, acked_seq, epoch))
            self.backoff = next_backoff(self.backoff, self.timing["backoff_min_ms"], self.timing["backoff_max_ms"])
            self.next_attempt = pk_lease.wrapping_add(self.clock.now(), jittered(self.backoff))
            return False
        self.drive_relays("master")
        if self.down_reason is not None:
            log("master reachable again; %d backlog entries delivered" % self.backlog.count)
            self.down_reason = None
        self.backlog.clear()
        self.backoff = 0
        low, high = REPORT_EVERY_BOUNDS
        self.report_every = max(low, min(high, report_every))
        return True

    async def report_task(self):
        """Sample every report_every_ms; report when not backing off; keep what was not
        acknowledged in the backlog."""
        await self.wait_for_wifi()
        while True:
            readings = self.take_readings()
            taken_at = self.clock.now()
            delivered = False
            if not self.wifi_up():
                self.note_down("wifi down")
            elif pk_lease.reached(taken_at, self.next_attempt):
                delivered = await self.attempt(readings)
            if not delivered:
                self.backlog.add(taken_at, readings)
            readings = None
            gc.collect()
            wait = self.report_every
            self.report_due = pk_lease.wrapping_add(self.clock.now(), wait + self.timing["http_timeout_ms"] + STUCK_SLACK_MS)
            await asyncio.sleep_ms(wait)

    async def main(self):
        """Run both tasks; the watchdog starts once the relays are set up and OFF."""
        if self.timing["watchdog_ms"]:
            from machine import WDT

            self.report_due = pk_lease.wrapping_add(self.clock.now(), self.timing["wifi_timeout_ms"] + STUCK_SLACK_MS)
            self.wdt = WDT(timeout=self.timing["watchdog_ms"])
        asyncio.create_task(self.lease_task())
        await self.report_task()


def report_config_error(error):
    """Print every config problem on the serial console."""
    log("config error in %s, relays stay OFF, node not started:" % error.path)
    for message in error.errors:
        log("  " + message)


def run(path="config.json"):
    """Boot a node from ``path``: relays OFF, validate, then run forever. A bad config prints
    its errors and returns with every relay OFF; a crash switches every relay OFF and resets
    the board after 5 s."""
    pk_config.drive_relays_off(path)
    try:
        config = pk_config.load(path)
    except pk_config.ConfigError as error:
        report_config_error(error)
        return None
    try:
        node = Node(config)
    except (ValueError, OSError) as error:
        pk_config.drive_relays_off(path)
        log("hardware error: %s; relays stay OFF, node not started" % (error,))
        return None
    log("node %s boot %d: relays OFF, %d sensor(s), master %s:%d" % (config["node"], node.boot, len(node.sensors), config["master"][0], config["master"][1]))
    try:
        asyncio.run(node.main())
    except KeyboardInterrupt:
        log("stopped from the console")
    except Exception as error:
        log("crashed: %r; relays OFF, reset in 5 s" % (error,))
        node.all_off("crash")
        time.sleep(5)
        import machine

        machine.reset()
    finally:
        node.all_off("stopped")
    return node
