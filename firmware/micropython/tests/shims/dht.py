"""Shim of MicroPython's ``dht``: a DHT22 whose values come from the files ``dht_<pin>_t``
and ``dht_<pin>_h``; without them ``measure`` times out like a missing sensor."""

import shim_state


class DHT22:
    """A DHT22 on one pin."""

    def __init__(self, pin):
        self.pin = pin.id
        self._t = None
        self._h = None

    def measure(self):
        self._t = shim_state.read_input("dht_%d_t" % self.pin, None)
        self._h = shim_state.read_input("dht_%d_h" % self.pin, None)
        if self._t is None or self._h is None:
            raise OSError(110)  # ETIMEDOUT

    def temperature(self):
        return self._t

    def humidity(self):
        return self._h
