"""Key logs: the keys a replay should try, one per line.

Accepted lines are Wireshark ``zigbee_pc_keys`` rows, as ``KeyRing.wireshark_uat``
writes them (``"<32 hex>","Normal","label"``), or a bare 32-digit hex key,
optionally followed by a label.  Blank lines and ``#`` comments are skipped.
A label that names a link key ("link", "tc", "aps") or a network key
("network", "nwk") puts the key in that list; an unlabelled key goes in both,
as Wireshark tries every key at both layers.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from han_emu.air.keylog import KeylogError, parse_key, parse_keylog
from han_emu.frames.keys import KeyRing

__all__ = ["KeylogError", "KeylogFollower", "load_keylog", "parse_key", "read_keylog"]


def _classify(label: str) -> tuple[bool, bool]:
    low = label.lower()
    link = any(w in low for w in ("link", "tc", "aps", "trust"))
    network = any(w in low for w in ("network", "nwk"))
    if not link and not network:
        return True, True
    return network, link


def load_keylog(text: str, ring: KeyRing | None = None) -> KeyRing:
    """Add the keys of a key log's ``text`` to ``ring`` (a new ring if None)."""
    ring = ring if ring is not None else KeyRing()
    for key, label in parse_keylog(text):
        network, link = _classify(label)
        if network:
            ring.add_network_key(key)
        if link:
            ring.add_link_key(key)
    return ring


def read_keylog(path: str | Path, ring: KeyRing | None = None) -> KeyRing:
    return load_keylog(Path(path).read_text(encoding="utf-8"), ring)


class KeylogFollower:
    """A key log still being written (``han-emu run --keylog`` adds each CBKE
    key as it is agreed): new keys join the ring as they appear, and a file
    that does not exist yet is no keys yet, not an error.  ``poll`` looks at
    most every ``interval`` seconds unless forced (a frame that did not
    decrypt forces a look: its key may have been written a moment ago)."""

    def __init__(self, path: str | Path, ring: KeyRing, *, interval: float = 0.5) -> None:
        self.path = Path(path)
        self.ring = ring
        self.interval = interval
        self._seen: tuple[int, int] | None = None
        self._last = float("-inf")

    def poll(self, *, force: bool = False) -> bool:
        """Read the file again if it changed; True when a new key was added.
        A line that cannot be read yet (half written) is tried again next time."""
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return False
        self._last = now
        try:
            st = os.stat(self.path)
        except OSError:
            return False
        mark = (st.st_mtime_ns, st.st_size)
        if mark == self._seen:
            return False
        try:
            text = self.path.read_text(encoding="utf-8")
            before = (len(self.ring.network_keys), len(self.ring.link_keys))
            load_keylog(text[: text.rfind("\n") + 1], self.ring)  # whole lines only
        except (OSError, UnicodeDecodeError, KeylogError):
            return False
        self._seen = mark
        return (len(self.ring.network_keys), len(self.ring.link_keys)) != before
