"""Key logs: the keys a replay should try, one per line.

Accepted lines are Wireshark ``zigbee_pc_keys`` rows, as ``KeyRing.wireshark_uat``
writes them (``"<32 hex>","Normal","label"``), or a bare 32-digit hex key,
optionally followed by a label.  Blank lines and ``#`` comments are skipped.
A label that names a link key ("link", "tc", "aps") or a network key
("network", "nwk") puts the key in that list; an unlabelled key goes in both,
as Wireshark tries every key at both layers.
"""

from __future__ import annotations

from pathlib import Path

from han_emu.air.keylog import KeylogError, parse_key, parse_keylog
from han_emu.frames.keys import KeyRing

__all__ = ["KeylogError", "load_keylog", "parse_key", "read_keylog"]


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
