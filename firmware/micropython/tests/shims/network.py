"""Shim of MicroPython's ``network`` for the unix port: a station interface whose access point
is the host's loopback. The link is down while the file ``wifi_down`` exists in the shim
directory. Like a station with automatic reconnects disabled (the worst case), a lost
association stays lost until the client calls ``connect`` again while the link is up, so the
client's own reconnect is what the tests exercise. Events in events.log: ``wifi active <0|1>``,
``wifi connect <ssid> ok|failed``, ``wifi lost``. The MAC address is the hex in the file
``mac`` (12 digits), or a fixed Espressif-style default."""

import shim_state

STA_IF = 0
AP_IF = 1
DEFAULT_MAC = "246f28a1b2c3"


class WLAN:
    """A station interface."""

    def __init__(self, interface=STA_IF):
        self._active = False
        self._ssid = None
        self._associated = False

    def active(self, state=None):
        if state is None:
            return self._active
        self._active = bool(state)
        shim_state.record("wifi active %d" % self._active)
        return None

    def connect(self, ssid, password=""):
        if not self._active:
            raise OSError("STA must be active")
        self._ssid = ssid
        self._associated = not shim_state.exists("wifi_down")
        shim_state.record("wifi connect %s %s" % (ssid, "ok" if self._associated else "failed"))

    def disconnect(self):
        self._ssid = None
        self._associated = False

    def isconnected(self):
        if self._associated and shim_state.exists("wifi_down"):
            self._associated = False
            shim_state.record("wifi lost")
        return self._associated

    def config(self, name):
        """Only ``config("mac")``: the 6 bytes of the station's MAC address."""
        if name != "mac":
            raise ValueError("unknown config param")
        try:
            with open(shim_state.DIR + "/mac") as file:
                text = file.read().strip()
        except OSError:
            text = DEFAULT_MAC
        return bytes.fromhex(text)

    def ifconfig(self):
        return ("127.0.0.1", "255.0.0.0", "127.0.0.1", "127.0.0.1")
