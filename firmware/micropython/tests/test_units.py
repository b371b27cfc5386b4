"""Unit tests of the PlantKeeper MicroPython client that need no master: calibration, sensor
drivers on the shims, answer parsing, report encoding, the backlog bound, config validation
and the example configs. Run with the shims on MICROPYPATH and PK_SHIM_DIR set to a scratch
directory; prints ``units: all passed`` or exits with status 1 at the first failure."""

import json
import os
import sys

import pk_config
import pk_lease
import pk_sensors
import plantkeeper
import shim_state

FIRMWARE = os.getenv("PK_FIRMWARE") or "."
failures = 0


def expect(name, got, expected):
    """Record a failure when ``got`` differs from ``expected``."""
    global failures
    if got != expected:
        failures += 1
        print("FAIL %s: got %r, expected %r" % (name, got, expected))


def raises(function, error):
    """Whether ``function()`` raises ``error``."""
    try:
        function()
    except error:
        return True
    return False


def write_input(name, value):
    with open(shim_state.DIR + "/" + name, "w") as file:
        file.write(value)


def test_two_point_calibration():
    expect("dry reads 0 %", pk_sensors.two_point_percent(50000, 50000, 20000), 0.0)
    expect("wet reads 100 %", pk_sensors.two_point_percent(20000, 50000, 20000), 100.0)
    expect("between", pk_sensors.two_point_percent(44000, 50000, 20000), 20.0)
    expect("slightly wetter than wet clamps", pk_sensors.two_point_percent(19000, 50000, 20000), 100.0)
    expect("disconnected probe is a fault, not 'very dry'", pk_sensors.two_point_percent(65535, 50000, 20000), None)
    expect("tank: empty distance is 0 %", pk_sensors.two_point_percent(120, 120, 20), 0.0)
    expect("tank: 70 cm is 50 %", pk_sensors.two_point_percent(70, 120, 20), 50.0)


def test_sht31_frames():
    expect("datasheet CRC example", pk_sensors.sht31_crc(b"\xbe\xef"), 0x92)
    frame = bytes([0x66, 0x66, pk_sensors.sht31_crc(b"\x66\x66"), 0x80, 0x00, pk_sensors.sht31_crc(b"\x80\x00")])
    expect("decode", pk_sensors.sht31_decode(frame), (25.0, 50.0))
    expect("bad CRC is None", pk_sensors.sht31_decode(frame[:5] + b"\x00"), None)


def test_sensor_drivers_on_the_shims():
    readings = {}
    write_input("pulse_18", "4060")  # 70 cm
    pk_sensors.TankLevelSensor({"name": "level", "trigger": 5, "echo": 18, "empty_cm": 120, "full_cm": 20}).read(readings)
    expect("HC-SR04 level", readings.get("level"), 50.0)
    write_input("dht_4_t", "21.5")
    write_input("dht_4_h", "55")
    pk_sensors.Dht22Sensor({"pin": 4}).read(readings)
    expect("DHT22", (readings.get("temperature"), readings.get("humidity")), (21.5, 55.0))
    readings = {}
    pk_sensors.Dht22Sensor({"pin": 15}).read(readings)
    expect("a silent DHT22 adds nothing", readings, {})
    write_input("i2c_68", "6666%02x8000%02x" % (pk_sensors.sht31_crc(b"\x66\x66"), pk_sensors.sht31_crc(b"\x80\x00")))
    pk_sensors.Sht31Sensor({"sda": 21, "scl": 22, "address": 68}).read(readings)
    expect("SHT31", readings, {"temperature": 25.0, "humidity": 50.0})
    readings = {}
    write_input("adc_35", "65535")
    pk_sensors.SoilSensor({"name": "soil_moisture", "pin": 35, "dry": 50000, "wet": 20000}).read(readings)
    expect("an out-of-calibration probe adds nothing", readings, {})


GOOD = '{"acked_seq": 17, "epoch": 42, "report_every_ms": 5000, "outputs": {"valve": {"power": true, "lease_ms": 15000, "reason": "r"}}, "new": 1}'


def test_answer_parsing():
    expect("contract example", plantkeeper.parse_answer(GOOD), (17, 42, 5000, {"valve": (True, 15000)}))
    bad = [
        "", "[]", "{", '{"acked_seq": 17}',
        GOOD.replace('"epoch": 42', '"epoch": -1'),
        GOOD.replace('"acked_seq": 17', '"acked_seq": true'),
        GOOD.replace('"acked_seq": 17', '"acked_seq": 4294967296'),
        GOOD.replace("true", '"true"'),
        GOOD.replace("15000", "15000.5"),
        GOOD.replace('"reason": "r"', '"why": "r"'),
        GOOD.replace('"report_every_ms": 5000, ', ""),
        GOOD.replace('{"valve": {', '{"valve": [').replace('"r"}}', '"r"]}'),
    ]
    for body in bad:
        expect("refused: %s" % body, raises(lambda: plantkeeper.parse_answer(body), plantkeeper.AnswerError), True)


def test_http_response_splitting():
    expect("incomplete headers", plantkeeper.split_response(b"HTTP/1.1 200 OK\r\n"), None)
    expect("status, length, body", plantkeeper.split_response(b"HTTP/1.1 503 X\r\nContent-Length: 2\r\n\r\n{}"), (503, 2, b"{}"))
    expect("not HTTP", raises(lambda: plantkeeper.split_response(b"SSH-2.0\r\n\r\n"), plantkeeper.AnswerError), True)


def test_backlog_is_bounded_and_counts_drops():
    backlog = plantkeeper.Backlog(3)
    for taken_at in range(5):
        backlog.add(taken_at * 1000, {"t": taken_at})
    expect("keeps the newest three", [entry[0] for entry in backlog.items()], [2000, 3000, 4000])
    expect("counts the dropped", backlog.dropped, 2)
    expect("fixed storage", len(backlog.entries), 3)
    body = json.loads(plantkeeper.encode_report(9, 7, {"t": 5}, {"valve": False}, backlog, 6000))
    expect("ages against the send time", [entry["age_ms"] for entry in body["backlog"]], [4000, 3000, 2000])
    expect("report fields", (body["seq"], body["boot"], body["readings"], body["outputs"]), (9, 7, {"t": 5}, {"valve": False}))
    backlog.clear()
    expect("cleared", (backlog.count, backlog.dropped), (0, 2))
    body = json.loads(plantkeeper.encode_report(10, 7, {}, {}, backlog, 6000))
    expect("no empty backlog field", "backlog" in body, False)


def test_backoff_and_jitter():
    expect("doubles", plantkeeper.next_backoff(1000, 500, 60000), 2000)
    expect("starts at the minimum", plantkeeper.next_backoff(0, 500, 60000), 500)
    expect("capped", plantkeeper.next_backoff(40000, 500, 60000), 60000)
    waits = [plantkeeper.jittered(1000) for _ in range(50)]
    expect("jitter within half..all", min(waits) >= 500 and max(waits) <= 1000, True)


def test_node_clock_widens_a_30_bit_tick_counter():
    ticks = [(1 << 30) - 50]
    clock = pk_lease.NodeClock(lambda: ticks[0], lambda a, b: ((a - b + (1 << 29)) & ((1 << 30) - 1)) - (1 << 29))
    ticks[0] = 30  # the 30-bit counter wrapped: 80 ms later
    expect("ticks across a wrap", clock.now(), 80)


def test_example_configs_are_valid():
    base = FIRMWARE + "/examples"
    for kind in sorted(os.listdir(base)):
        try:
            pk_config.load(base + "/" + kind + "/config.json")
        except pk_config.ConfigError as error:
            expect("example %s loads" % kind, error.errors, [])


def test_config_errors_name_every_field():
    path = shim_state.DIR + "/bad.json"
    with open(path, "w") as file:
        json.dump({"wifi": {}, "master": "https://x", "node": "Bed 1", "outputs": {"a": {"pin": 26}, "b": {"pin": 26}},
                   "timing": {"lease_ms": 5}}, file)
    try:
        pk_config.load(path)
        errors = []
    except pk_config.ConfigError as error:
        errors = error.errors
    for needle in ("wifi.ssid", "master:", "token:", "node: must match", "outputs.b.pin: GPIO 26 is already used", "timing.lease_ms: unknown"):
        expect("an error names %s" % needle, any(needle in message for message in errors), True)


def test_master_url_takes_an_address_or_a_host_name():
    for url, expected in (("http://10.3.141.1:8001", ("10.3.141.1", 8001)), ("http://plantkeeper.local:8001", ("plantkeeper.local", 8001)),
                          ("http://localhost", ("localhost", 80)), ("http://Pi-4.lan:9/", ("Pi-4.lan", 9))):
        errors = []
        expect("master %s" % url, pk_config.check_master(url, errors), expected)
        expect("master %s has no errors" % url, errors, [])
    for url, needle in (("http://plant keeper:8001", "neither an IPv4 address nor a host name"), ("http://-pi.local", "neither"),
                        ("http://a..b:1", "neither"), ("http://pi.local:0", "port must be 1-65535"), ("pi.local:8001", "expected a URL")):
        errors = []
        expect("master %s refused" % url, pk_config.check_master(url, errors), None)
        expect("master %s names the problem" % url, len(errors) == 1 and needle in errors[0], True)


def test_resolve_and_mac():
    import socket

    family, _ = plantkeeper.resolve("localhost", 8001)
    expect("localhost resolves to IPv4", family, socket.AF_INET)
    expect("MAC format", plantkeeper.format_mac(bytes([0x24, 0x6F, 0x28, 0, 0xB2, 0xC3])), "24:6f:28:00:b2:c3")


class FeedCounter:
    """Stands in for machine.WDT: counts feeds."""

    def __init__(self):
        self.feeds = 0

    def feed(self):
        self.feeds += 1


def test_watchdog_is_fed_only_while_the_report_loop_keeps_its_schedule():
    import asyncio

    node = plantkeeper.Node(pk_config.load(FIRMWARE + "/examples/sprinkler/config.json"))

    async def lease_task_for(ms):
        try:
            await asyncio.wait_for_ms(node.lease_task(), ms)
        except asyncio.TimeoutError:
            pass

    for due_in, fed in ((10000, True), (0, False)):
        node.wdt = FeedCounter()
        node.report_due = pk_lease.wrapping_add(node.clock.now(), due_in)
        asyncio.run(lease_task_for(350))
        expect("watchdog fed with the report loop due in %d ms" % due_in, node.wdt.feeds >= 3 if fed else node.wdt.feeds, True if fed else 0)


for test in (test_two_point_calibration, test_sht31_frames, test_sensor_drivers_on_the_shims, test_answer_parsing,
             test_http_response_splitting, test_backlog_is_bounded_and_counts_drops, test_backoff_and_jitter,
             test_node_clock_widens_a_30_bit_tick_counter, test_example_configs_are_valid,
             test_config_errors_name_every_field, test_master_url_takes_an_address_or_a_host_name, test_resolve_and_mac,
             test_watchdog_is_fed_only_while_the_report_loop_keeps_its_schedule):
    test()
if failures:
    print("units: %d failed" % failures)
    sys.exit(1)
print("units: all passed")
