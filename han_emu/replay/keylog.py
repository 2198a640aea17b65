"""Key logs: the keys a replay should try, one per line.

Accepted lines are Wireshark ``zigbee_pc_keys`` rows, as ``KeyRing.wireshark_uat``
writes them (``"<32 hex>","Normal","label"``), or a bare 32-digit hex key,
optionally followed by a label.  Blank lines and ``#`` comments are skipped.
A label that names a link key ("link", "tc", "aps") or a network key
("network", "nwk") puts the key in that list; an unlabelled key goes in both,
as Wireshark tries every key at both layers.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from han_emu.frames.keys import KeyRing


class KeylogError(ValueError):
    """A key-log line that holds no 16-byte key."""


def _classify(label: str) -> tuple[bool, bool]:
    low = label.lower()
    link = any(w in low for w in ("link", "tc", "aps", "trust"))
    network = any(w in low for w in ("network", "nwk"))
    if not link and not network:
        return True, True
    return network, link


def parse_key(text: str) -> bytes:
    """A key given as 32 hex digits (spaces, colons and a 0x prefix allowed)."""
    cleaned = text.strip().lower().removeprefix("0x").replace(":", "").replace(" ", "").replace("-", "")
    try:
        key = bytes.fromhex(cleaned)
    except ValueError:
        raise KeylogError(f"not a hex key: {text!r}") from None
    if len(key) != 16:
        raise KeylogError(f"a Zigbee key is 16 bytes (32 hex digits), got {len(key)}: {text!r}")
    return key


def load_keylog(text: str, ring: KeyRing | None = None) -> KeyRing:
    """Add the keys of a key log's ``text`` to ``ring`` (a new ring if None)."""
    ring = ring if ring is not None else KeyRing()
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith('"'):
            fields = next(csv.reader(io.StringIO(line)))
            key_text, label = fields[0], fields[2] if len(fields) > 2 else ""
        else:
            key_text, _, label = line.partition(" ")
        try:
            key = parse_key(key_text)
        except KeylogError as exc:
            raise KeylogError(f"line {n}: {exc}") from None
        network, link = _classify(label)
        if network:
            ring.add_network_key(key)
        if link:
            ring.add_link_key(key)
    return ring


def read_keylog(path: str | Path, ring: KeyRing | None = None) -> KeyRing:
    return load_keylog(Path(path).read_text(encoding="utf-8"), ring)
