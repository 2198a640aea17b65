"""Zigbee keys as facts and as text: the default trust-centre link key, and
the one parser of a 16-byte key typed by a user or read from a file."""

from __future__ import annotations

from typing import Final

DEFAULT_TC_LINK_KEY: Final = b"ZigBeeAlliance09"
"""The well-known default trust-centre link key (Zigbee 3.0 / ZigBee Pro)."""

KEY_SIZE: Final = 16


class KeyTextError(ValueError):
    """Text that holds no 16-byte key."""


def parse_key(text: str, what: str = "key") -> bytes:
    """A 16-byte key given as 32 hex digits; spaces, colons, dashes and a 0x prefix are allowed."""
    cleaned = text.strip().lower().removeprefix("0x").replace(":", "").replace(" ", "").replace("-", "")
    try:
        key = bytes.fromhex(cleaned)
    except ValueError:
        raise KeyTextError(f"{what} is not hex: {text!r}") from None
    if len(key) != KEY_SIZE:
        raise KeyTextError(f"a Zigbee {what} is 16 bytes (32 hex digits), got {len(key)}: {text!r}")
    return key
