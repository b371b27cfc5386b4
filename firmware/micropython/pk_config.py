"""config.json of a PlantKeeper node: the relays-OFF step that runs first at boot, and the
validation that refuses a config with missing fields or wrong pins before anything starts.

Every error names the field (``outputs.valve.pin: GPIO 34 is input-only``) so it can be read
on the serial console; ``load`` collects them all instead of stopping at the first.
"""

import json

# ESP32 (plain, no PSRAM) GPIOs: 6-11 drive the SPI flash, 34-39 are input-only, and only
# ADC1 (32-39) can be read while Wi-Fi is on (ADC2 belongs to the radio).
FLASH_PINS = (6, 7, 8, 9, 10, 11)
INPUT_ONLY_PINS = (34, 35, 36, 37, 38, 39)
ADC1_PINS = (32, 33, 34, 35, 36, 37, 38, 39)
MAX_GPIO = 39

SENSOR_TYPES = ("soil_adc", "hcsr04", "dht22", "sht31")

TIMING_DEFAULTS = {
    "report_every_ms": 5000,  # until the master's first answer says otherwise
    "http_timeout_ms": 4000,  # keep it shorter than the master's lease
    "backoff_min_ms": 1000,
    "backoff_max_ms": 60000,
    "backlog_max": 120,  # readings kept in RAM while the master is unreachable
    "watchdog_ms": 30000,  # hardware watchdog; 0 disables it (tests only)
    "wifi_timeout_ms": 15000,
}
TIMING_LIMITS = {
    "report_every_ms": (100, 3600000),
    "http_timeout_ms": (200, 60000),
    "backoff_min_ms": (100, 600000),
    "backoff_max_ms": (100, 3600000),
    "backlog_max": (0, 300),  # about 100 bytes of RAM each
    "watchdog_ms": (0, 600000),
    "wifi_timeout_ms": (1000, 600000),
}


class ConfigError(Exception):
    """config.json is missing, unreadable or wrong; ``errors`` lists every problem."""

    def __init__(self, path, errors):
        super().__init__("%s: %s" % (path, "; ".join(errors)))
        self.path = path
        self.errors = errors


def read_json(path):
    """The parsed JSON object in ``path``; raises ConfigError when it cannot be read."""
    try:
        with open(path) as file:
            data = json.load(file)
    except OSError:
        raise ConfigError(path, ["cannot read the file"])
    except ValueError as error:
        raise ConfigError(path, ["not valid JSON (%s)" % error])
    if not isinstance(data, dict):
        raise ConfigError(path, ["the top level must be a JSON object"])
    return data


def drive_relays_off(path, pin_class=None):
    """First thing at boot, before Wi-Fi: every output pin that config.json names is made an
    output at its OFF level. Tolerant on purpose (it runs before validation); returns the
    number of relays driven OFF. Relays whose pins cannot be read stay on their pull-down."""
    if pin_class is None:
        from machine import Pin as pin_class
    try:
        outputs = read_json(path).get("outputs")
    except ConfigError:
        return 0
    if not isinstance(outputs, dict):
        return 0
    count = 0
    for spec in outputs.values():
        if not isinstance(spec, dict) or not is_int(spec.get("pin")):
            continue
        off_level = 1 if spec.get("active_low") is True else 0
        try:
            pin_class(spec["pin"], pin_class.OUT, value=off_level)
            count += 1
        except (ValueError, OSError):
            pass
    return count


def is_int(value):
    """Whether ``value`` is a JSON integer (booleans are not)."""
    return isinstance(value, int) and not isinstance(value, bool)


def load(path):
    """The validated config from ``path``; raises ConfigError listing every problem."""
    data = read_json(path)
    errors = []
    config = {
        "wifi": check_wifi(data.get("wifi"), errors),
        "master": check_master(data.get("master"), errors),
        "node": check_text(data, "node", errors),
        "token": check_text(data, "token", errors),
        "outputs": check_outputs(data.get("outputs"), errors),
        "sensors": check_sensors(data.get("sensors"), errors),
        "timing": check_timing(data.get("timing"), errors),
    }
    if config["node"] and not valid_node_id(config["node"]):
        errors.append("node: must match [a-z0-9][a-z0-9_-]{0,62}, got %r" % config["node"])
    check_pins_unique(config, errors)
    if errors:
        raise ConfigError(path, errors)
    return config


def check_text(data, field, errors, prefix=""):
    """A required non-empty string ``data[field]``."""
    value = data.get(field)
    if not isinstance(value, str) or not value:
        errors.append("%s%s: missing (expected a non-empty string)" % (prefix, field))
        return None
    return value


def valid_node_id(node):
    """The master's node id rule."""
    if not 1 <= len(node) <= 63:
        return False
    for index, char in enumerate(node):
        lower = "a" <= char <= "z" or "0" <= char <= "9"
        if not (lower or (index > 0 and char in "-_")):
            return False
    return True


def check_wifi(wifi, errors):
    """``{"ssid": ..., "password": ...}``; the password may be empty for an open network."""
    if not isinstance(wifi, dict):
        errors.append("wifi: missing (expected {\"ssid\": ..., \"password\": ...})")
        return None
    ssid = check_text(wifi, "ssid", errors, "wifi.")
    password = wifi.get("password", "")
    if not isinstance(password, str):
        errors.append("wifi.password: expected a string")
    return {"ssid": ssid, "password": password}


MASTER_EXAMPLE = "expected a URL like \"http://10.3.141.1:8001\" or \"http://plantkeeper.local:8001\""


def valid_host(host):
    """Whether ``host`` is an IPv4 address or a host name (letters, digits, ``-`` and dots;
    labels of 1-63 characters not starting or ending with ``-``)."""
    if len(host) > 253:
        return False
    for label in host.split("."):
        if not 1 <= len(label) <= 63 or label[0] == "-" or label[-1] == "-":
            return False
        for char in label:
            if not ("a" <= char.lower() <= "z" or "0" <= char <= "9" or char == "-"):
                return False
    return True


def check_master(url, errors):
    """``http://HOST:PORT`` where HOST is an address or a host name (no path, no https: the
    node speaks plain HTTP on the garden's own Wi-Fi); returns ``(host, port)``."""
    if not isinstance(url, str) or not url.startswith("http://"):
        errors.append("master: %s, got %r" % (MASTER_EXAMPLE, url))
        return None
    rest = url[7:].rstrip("/")
    host, _, port = rest.partition(":")
    if not host or "/" in rest:
        errors.append("master: %s, got %r" % (MASTER_EXAMPLE, url))
        return None
    if not valid_host(host):
        errors.append("master: %r is neither an IPv4 address nor a host name" % host)
        return None
    if not port:
        return (host, 80)
    try:
        number = int(port)
    except ValueError:
        number = 0
    if not 0 < number < 65536:
        errors.append("master: port must be 1-65535, got %r" % port)
        return None
    return (host, number)


def check_output_pin(field, pin, errors):
    """A GPIO that can drive a relay."""
    if not is_int(pin) or not 0 <= pin <= MAX_GPIO:
        errors.append("%s: expected an ESP32 GPIO number 0-39, got %r" % (field, pin))
    elif pin in FLASH_PINS:
        errors.append("%s: GPIO %d drives the SPI flash" % (field, pin))
    elif pin in INPUT_ONLY_PINS:
        errors.append("%s: GPIO %d is input-only and cannot drive a relay" % (field, pin))
    else:
        return pin
    return None


def check_input_pin(field, pin, errors):
    """A GPIO that can read a digital input."""
    if not is_int(pin) or not 0 <= pin <= MAX_GPIO:
        errors.append("%s: expected an ESP32 GPIO number 0-39, got %r" % (field, pin))
    elif pin in FLASH_PINS:
        errors.append("%s: GPIO %d drives the SPI flash" % (field, pin))
    else:
        return pin
    return None


def check_outputs(outputs, errors):
    """``{"valve": {"pin": 26, "active_low": false, "max_on_ms": 120000}}``; at most 8."""
    if outputs is None:
        return []
    if not isinstance(outputs, dict) or len(outputs) > 8:
        errors.append("outputs: expected an object of at most 8 relays by output name")
        return []
    checked = []
    for name in sorted(outputs):
        spec = outputs[name]
        field = "outputs." + name
        if not isinstance(spec, dict):
            errors.append("%s: expected {\"pin\": N}" % field)
            continue
        pin = check_output_pin(field + ".pin", spec.get("pin"), errors)
        active_low = spec.get("active_low", False)
        if not isinstance(active_low, bool):
            errors.append("%s.active_low: expected true or false" % field)
        max_on = spec.get("max_on_ms")
        if max_on is not None and (not is_int(max_on) or max_on <= 0):
            errors.append("%s.max_on_ms: expected a positive number of ms, got %r" % (field, max_on))
            max_on = None
        checked.append({"name": name, "pin": pin, "active_low": active_low is True, "max_on_ms": max_on})
    return checked


def check_number(spec, field, key, errors):
    """A required JSON number ``spec[key]``."""
    value = spec.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        errors.append("%s.%s: missing (expected a number)" % (field, key))
        return None
    return value


def check_sensor(index, spec, errors):
    """One entry of ``sensors``; see docs/nodes.md for each type's fields."""
    field = "sensors[%d]" % index
    if not isinstance(spec, dict) or spec.get("type") not in SENSOR_TYPES:
        errors.append("%s.type: expected one of %s" % (field, ", ".join(SENSOR_TYPES)))
        return None
    kind = spec["type"]
    checked = {"type": kind}
    if kind == "soil_adc":
        pin = spec.get("pin")
        if pin not in ADC1_PINS or not is_int(pin):
            errors.append("%s.pin: expected an ADC1 GPIO (32-39; ADC2 does not work with Wi-Fi on), got %r" % (field, pin))
        checked["pin"] = pin
        checked["dry"] = check_number(spec, field, "dry", errors)
        checked["wet"] = check_number(spec, field, "wet", errors)
        if checked["dry"] is not None and checked["dry"] == checked["wet"]:
            errors.append("%s: dry and wet calibration points must differ" % field)
        checked["name"] = spec.get("name", "soil_moisture")
    elif kind == "hcsr04":
        checked["trigger"] = check_output_pin(field + ".trigger", spec.get("trigger"), errors)
        checked["echo"] = check_input_pin(field + ".echo", spec.get("echo"), errors)
        checked["empty_cm"] = check_number(spec, field, "empty_cm", errors)
        checked["full_cm"] = check_number(spec, field, "full_cm", errors)
        if checked["empty_cm"] is not None and checked["empty_cm"] == checked["full_cm"]:
            errors.append("%s: empty_cm and full_cm must differ" % field)
        checked["name"] = spec.get("name", "level")
    elif kind == "dht22":
        checked["pin"] = check_input_pin(field + ".pin", spec.get("pin"), errors)
    else:
        checked["sda"] = check_output_pin(field + ".sda", spec.get("sda"), errors)
        checked["scl"] = check_output_pin(field + ".scl", spec.get("scl"), errors)
        address = spec.get("address", 0x44)
        if address not in (0x44, 0x45):
            errors.append("%s.address: an SHT31 answers at 68 (0x44) or 69 (0x45), got %r" % (field, address))
        checked["address"] = address
    if not isinstance(checked.get("name", "x"), str):
        errors.append("%s.name: expected a sensor name like \"soil_moisture\"" % field)
    return checked


def check_sensors(sensors, errors):
    """A list of sensor specs (at most 8)."""
    if sensors is None:
        return []
    if not isinstance(sensors, list) or len(sensors) > 8:
        errors.append("sensors: expected a list of at most 8 sensors")
        return []
    checked = []
    for index, spec in enumerate(sensors):
        sensor = check_sensor(index, spec, errors)
        if sensor is not None:
            checked.append(sensor)
    return checked


def check_timing(timing, errors):
    """Optional ``timing`` overrides of TIMING_DEFAULTS, each inside TIMING_LIMITS."""
    checked = dict(TIMING_DEFAULTS)
    if timing is None:
        return checked
    if not isinstance(timing, dict):
        errors.append("timing: expected an object")
        return checked
    for key in timing:
        if key not in TIMING_LIMITS:
            errors.append("timing.%s: unknown setting (known: %s)" % (key, ", ".join(sorted(TIMING_LIMITS))))
            continue
        low, high = TIMING_LIMITS[key]
        value = timing[key]
        if not is_int(value) or not low <= value <= high:
            errors.append("timing.%s: expected an integer %d-%d, got %r" % (key, low, high, value))
        else:
            checked[key] = value
    if checked["backoff_min_ms"] > checked["backoff_max_ms"]:
        errors.append("timing.backoff_min_ms: must not exceed backoff_max_ms")
    return checked


def pins_in_use(config):
    """``(field, pin)`` for every pin the config uses."""
    used = [("outputs.%s.pin" % output["name"], output["pin"]) for output in config["outputs"]]
    for index, sensor in enumerate(config["sensors"]):
        for key in ("pin", "trigger", "echo"):
            if key in sensor:
                used.append(("sensors[%d].%s" % (index, key), sensor[key]))
    return used


def check_pins_unique(config, errors):
    """No GPIO may serve two roles (I2C buses may be shared by several SHT31)."""
    seen = {}
    for field, pin in pins_in_use(config):
        if pin is None:
            continue
        if pin in seen:
            errors.append("%s: GPIO %d is already used by %s" % (field, pin, seen[pin]))
        else:
            seen[pin] = field
