"""Shim of MicroPython's ``network`` for the unix port: a station interface that connects at
once (the host's loopback is the "Wi-Fi"); it is down while the file ``wifi_down`` exists in
the shim directory. Connects are recorded in events.log as ``wifi connect <ssid>``."""

import shim_state

STA_IF = 0
AP_IF = 1


class WLAN:
    """A station interface."""

    def __init__(self, interface=STA_IF):
        self._active = False
        self._ssid = None

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
        shim_state.record("wifi connect %s" % ssid)

    def disconnect(self):
        self._ssid = None

    def isconnected(self):
        return self._ssid is not None and not shim_state.exists("wifi_down")

    def ifconfig(self):
        return ("127.0.0.1", "255.0.0.0", "127.0.0.1", "127.0.0.1")
