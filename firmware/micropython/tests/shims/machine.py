"""Shim of MicroPython's ``machine`` for the unix port: only hardware is faked. Output pins
record every level change in events.log (``pin <id> <level>``); ADC values, echo pulse widths
and SHT31 frames come from files the test writes (see shim_state); the watchdog is real."""

import os
import time

import shim_state

# Like the ESP32: GPIO 0-39 exist, 6-11 are the flash, 34-39 are input-only.
_INPUT_ONLY = (34, 35, 36, 37, 38, 39)
_FLASH = (6, 7, 8, 9, 10, 11)


class Pin:
    """A GPIO; output levels are recorded when they change."""

    IN = 1
    OUT = 3
    PULL_UP = 1
    PULL_DOWN = 2

    def __init__(self, id, mode=-1, pull=-1, value=None):
        if not isinstance(id, int) or not 0 <= id <= 39 or id in _FLASH:
            raise ValueError("invalid pin")
        if mode == Pin.OUT and id in _INPUT_ONLY:
            raise ValueError("invalid pin for output")
        self.id = id
        self.mode = mode
        self.level = None
        if value is not None:
            self.value(value)

    def value(self, level=None):
        """Read or set the level; a set on an output pin is recorded when it changes."""
        if level is None:
            return self.level or 0
        level = 1 if level else 0
        if self.mode == Pin.OUT and level != self.level:
            shim_state.record("pin %d %d" % (self.id, level))
        self.level = level
        return None

    def __call__(self, level=None):
        return self.value(level)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)


class ADC:
    """An ADC whose ``read_u16`` returns the number in the file ``adc_<pin>``."""

    ATTN_0DB = 0
    ATTN_11DB = 3

    def __init__(self, pin, atten=None):
        self.pin = pin.id

    def read_u16(self):
        """The value in ``adc_<pin>``; blocks (like a driver stuck on its bus) while the file
        ``hang_sensors`` exists."""
        shim_state.hang_while("hang_sensors")
        return int(shim_state.read_input("adc_%d" % self.pin, 0))


class WDT:
    """A real watchdog for the unix port: a thread checks every 20 ms that ``feed`` was called
    within ``timeout`` ms; if not, it records ``wdt reset`` and kills the whole interpreter with
    SIGKILL, like the ESP32's hardware reset (nothing in the process runs after it: no
    ``finally``, no relay OFF; the board's pull-downs and the next boot do that). Like the
    hardware, it cannot be stopped once started."""

    def __init__(self, id=0, timeout=5000):
        import _thread

        self._timeout = timeout
        self._fed = [time.ticks_ms()]
        shim_state.record("wdt start %d" % timeout)
        _thread.start_new_thread(self._watch, ())

    def feed(self):
        self._fed[0] = time.ticks_ms()

    def _watch(self):
        with open("/proc/self/stat") as file:
            pid = int(file.read().split()[0])
        while time.ticks_diff(time.ticks_ms(), self._fed[0]) <= self._timeout:
            time.sleep_ms(20)
        shim_state.record("wdt reset")
        os.system("kill -KILL %d" % pid)


class I2C:
    """An I2C bus whose ``readfrom`` returns the hex bytes in the file ``i2c_<address>``."""

    def __init__(self, id, sda=None, scl=None, freq=400000):
        pass

    def writeto(self, address, data):
        return len(data)

    def readfrom(self, address, count):
        try:
            with open("%s/i2c_%d" % (shim_state.DIR, address)) as file:
                return bytes.fromhex(file.read().strip())[:count]
        except OSError:
            raise OSError(19)  # ENODEV, like a missing device


def time_pulse_us(pin, level, timeout_us):
    """The echo width in the file ``pulse_<pin>`` (µs), -1 (timeout) without it."""
    return int(shim_state.read_input("pulse_%d" % pin.id, -1))


def reset():
    """A hard reset: recorded, then the process ends."""
    shim_state.record("reset")
    raise SystemExit(3)


def idle():
    pass
