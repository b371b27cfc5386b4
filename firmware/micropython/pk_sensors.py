"""Sensor drivers for PlantKeeper nodes. Each sensor has ``read(readings)`` which adds its
values to the ``readings`` dict, or adds nothing when the hardware gives an implausible value:
a missing reading makes the master treat the input as stale, which means OFF.

The conversions (two-point calibration, SHT31 frames) are plain functions, tested on the
MicroPython interpreter without hardware.
"""

import time

# A calibrated value may overshoot its 0-100 % range this much before it is a sensor fault.
CALIBRATION_SLACK = 10.0
# HC-SR04: give up waiting for an echo after 30 ms (about 5 m).
ECHO_TIMEOUT_US = 30000


def two_point_percent(raw, zero_at, hundred_at):
    """``raw`` mapped linearly so that ``zero_at`` gives 0 % and ``hundred_at`` gives 100 %,
    rounded to 0.1; clamped to 0-100 within CALIBRATION_SLACK, None beyond it (a
    disconnected or broken sensor must not read as "very dry")."""
    percent = (raw - zero_at) * 100.0 / (hundred_at - zero_at)
    if percent < -CALIBRATION_SLACK or percent > 100.0 + CALIBRATION_SLACK:
        return None
    return round(min(100.0, max(0.0, percent)) * 10) / 10


def median(values):
    """The median of a short non-empty list (sorted copy, no growth)."""
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def sht31_crc(data):
    """The SHT31 CRC-8 (polynomial 0x31, init 0xFF) of two bytes."""
    crc = 0xFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x31) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def sht31_decode(frame):
    """``(temperature C, humidity %)`` from a 6-byte SHT31 measurement, or None when a CRC
    does not match."""
    if len(frame) != 6 or sht31_crc(frame[0:2]) != frame[2] or sht31_crc(frame[3:5]) != frame[5]:
        return None
    raw_t = (frame[0] << 8) | frame[1]
    raw_h = (frame[3] << 8) | frame[4]
    temperature = -45.0 + 175.0 * raw_t / 65535.0
    humidity = 100.0 * raw_h / 65535.0
    return (round(temperature * 10) / 10, round(humidity * 10) / 10)


class SoilSensor:
    """A capacitive soil moisture probe on an ADC1 pin, two-point calibrated: ``dry`` is the
    raw ``read_u16`` value in dry air, ``wet`` in a glass of water."""

    SAMPLES = 8

    def __init__(self, spec):
        from machine import ADC, Pin

        self.name = spec["name"]
        self.dry = spec["dry"]
        self.wet = spec["wet"]
        self.adc = ADC(Pin(spec["pin"]), atten=ADC.ATTN_11DB)

    def read(self, readings):
        """Average SAMPLES conversions and add the calibrated percentage."""
        total = 0
        for _ in range(self.SAMPLES):
            total += self.adc.read_u16()
        percent = two_point_percent(total / self.SAMPLES, self.dry, self.wet)
        if percent is None:
            print("pk: sensor fault: %s raw %d is outside its calibration" % (self.name, total // self.SAMPLES))
            return
        readings[self.name] = percent


class TankLevelSensor:
    """An HC-SR04 looking down into a tank: ``empty_cm`` is the distance to the bottom,
    ``full_cm`` the distance to the water when full. Median of 5 pings."""

    PINGS = 5

    def __init__(self, spec):
        from machine import Pin

        self.name = spec["name"]
        self.empty_cm = spec["empty_cm"]
        self.full_cm = spec["full_cm"]
        self.trigger = Pin(spec["trigger"], Pin.OUT, value=0)
        self.echo = Pin(spec["echo"], Pin.IN)

    def ping_cm(self):
        """One distance in cm, or None without an echo."""
        from machine import time_pulse_us

        self.trigger.value(0)
        time.sleep_us(5)
        self.trigger.value(1)
        time.sleep_us(10)
        self.trigger.value(0)
        pulse = time_pulse_us(self.echo, 1, ECHO_TIMEOUT_US)
        if pulse < 0:
            return None
        return pulse / 58.0

    def read(self, readings):
        """Add the level in % when enough pings came back."""
        distances = []
        for _ in range(self.PINGS):
            distance = self.ping_cm()
            if distance is not None:
                distances.append(distance)
            time.sleep_ms(10)
        if len(distances) < 3:
            print("pk: sensor fault: %s has no echo" % self.name)
            return
        percent = two_point_percent(median(distances), self.empty_cm, self.full_cm)
        if percent is None:
            print("pk: sensor fault: %s distance outside its calibration" % self.name)
            return
        readings[self.name] = percent


class Dht22Sensor:
    """A DHT22 (AM2302): ``temperature`` (C) and ``humidity`` (%)."""

    def __init__(self, spec):
        import dht
        from machine import Pin

        self.device = dht.DHT22(Pin(spec["pin"]))

    def read(self, readings):
        """Measure; a timeout or checksum error adds nothing."""
        try:
            self.device.measure()
            readings["temperature"] = self.device.temperature()
            readings["humidity"] = self.device.humidity()
        except OSError as error:
            print("pk: sensor fault: DHT22 %s" % error)


class Sht31Sensor:
    """An SHT31 on I2C: ``temperature`` (C) and ``humidity`` (%)."""

    def __init__(self, spec):
        from machine import I2C, Pin

        self.address = spec["address"]
        self.i2c = I2C(0, sda=Pin(spec["sda"]), scl=Pin(spec["scl"]), freq=100000)

    def read(self, readings):
        """Single-shot, high repeatability measurement (15 ms)."""
        try:
            self.i2c.writeto(self.address, b"\x24\x00")
            time.sleep_ms(16)
            values = sht31_decode(self.i2c.readfrom(self.address, 6))
        except OSError as error:
            print("pk: sensor fault: SHT31 %s" % error)
            return
        if values is None:
            print("pk: sensor fault: SHT31 CRC mismatch")
            return
        readings["temperature"], readings["humidity"] = values


DRIVERS = {
    "soil_adc": SoilSensor,
    "hcsr04": TankLevelSensor,
    "dht22": Dht22Sensor,
    "sht31": Sht31Sensor,
}


def build(specs):
    """The sensor objects for the validated ``sensors`` list of a config."""
    return [DRIVERS[spec["type"]](spec) for spec in specs]
