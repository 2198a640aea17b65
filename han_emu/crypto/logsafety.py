"""Keep keys out of log output.

zigpy and the radio libraries log network information (keys included) at
DEBUG.  The emulator promises that no key appears in its logs unless a key log
is asked for, so every log record is scrubbed when it is made: the keys the
emulator knows to be in use are replaced in every spelling (hex, colon- and
space-separated bytes, bytes repr), and so is anything shaped like a 16-byte
key (32 hex digits, or 16 colon-separated bytes).  Records are only made for
enabled levels, so this costs nothing when DEBUG logging is off.
"""

from __future__ import annotations

import logging
import re
import threading

from han_emu.crypto.keys import KEY_SIZE

REDACTED = "<key redacted>"
_SHAPES = re.compile(r"(?<![0-9A-Fa-f:])(?:(?:[0-9A-Fa-f]{2}:){15}[0-9A-Fa-f]{2}|[0-9A-Fa-f]{32})(?![0-9A-Fa-f:])")


def _spellings(key: bytes) -> list[str]:
    h = key.hex()
    pairs = [h[i : i + 2] for i in range(0, len(h), 2)]
    return [h, h.upper(), ":".join(pairs), ":".join(pairs).upper(), " ".join(pairs), repr(key)[2:-1]]


class KeyRedactor:
    """The keys in use, and a log-record factory that scrubs them."""

    def __init__(self) -> None:
        self._spellings: list[str] = []
        self._lock = threading.Lock()
        self._installed = False

    def add(self, key: bytes) -> None:
        key = bytes(key)
        if len(key) != KEY_SIZE:
            return
        with self._lock:
            for spelling in _spellings(key):
                if spelling not in self._spellings:
                    self._spellings.append(spelling)

    def redact(self, text: str) -> str:
        for spelling in self._spellings:
            if spelling in text:
                text = text.replace(spelling, REDACTED)
        return _SHAPES.sub(REDACTED, text)

    def install(self) -> None:
        """Wrap the logging record factory (once per process)."""
        with self._lock:
            if self._installed:
                return
            self._installed = True
        previous = logging.getLogRecordFactory()

        def factory(*args, **kwargs) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            try:
                message = record.getMessage()
            except Exception:  # a broken format string is logging's own business
                return record
            clean = self.redact(message)
            if clean != message:
                record.msg, record.args = clean, None
            return record

        logging.setLogRecordFactory(factory)


REDACTOR = KeyRedactor()


def protect(*keys: bytes) -> None:
    """Scrub these keys (and key-shaped text) from every log record from now on."""
    REDACTOR.install()
    for key in keys:
        REDACTOR.add(key)
