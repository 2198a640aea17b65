"""Keys and addresses a decoder needs, and learns as a capture goes by.

A frame does not always say which key or whose IEEE address secured it, so
the ring holds candidates: every network key, every link key (the derived
key-transport and key-load keys follow from them), and a short-to-IEEE map
filled from frames that carry both addresses.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from han_emu.crypto.keys import KEY_SIZE, parse_key
from han_emu.crypto.mmo import key_load_key, transport_key
from han_emu.frames.secheader import KeyId


_transport_key = lru_cache(maxsize=64)(transport_key)
_key_load_key = lru_cache(maxsize=64)(key_load_key)


def as_key(key: bytes | str) -> bytes:
    """A 16-byte key given as bytes or as hex text (``crypto.keys.parse_key``)."""
    if isinstance(key, str):
        return parse_key(key)
    value = bytes(key)
    if len(value) != KEY_SIZE:
        raise ValueError(f"a Zigbee key is {KEY_SIZE} bytes, got {len(value)}")
    return value


@dataclass
class KeyRing:
    """Candidate keys plus the address book used to build nonces."""

    network_keys: list[bytes] = field(default_factory=list)
    link_keys: list[bytes] = field(default_factory=list)
    addresses: dict[int, int] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        network_keys: Iterable[bytes | str] = (),
        link_keys: Iterable[bytes | str] = (),
    ) -> KeyRing:
        ring = cls()
        for k in network_keys:
            ring.add_network_key(k)
        for k in link_keys:
            ring.add_link_key(k)
        return ring

    def add_network_key(self, key: bytes | str) -> bool:
        """Add a network key; True if it was new."""
        value = as_key(key)
        if value in self.network_keys:
            return False
        self.network_keys.insert(0, value)  # the newest key is the likeliest
        return True

    def add_link_key(self, key: bytes | str) -> bool:
        value = as_key(key)
        if value in self.link_keys:
            return False
        self.link_keys.append(value)
        return True

    def learn_address(self, short: int, ieee: int) -> None:
        self.addresses[short] = ieee

    def aps_candidates(self, key_id: int) -> list[bytes]:
        """Keys to try on an APS frame secured with ``key_id``."""
        if key_id == KeyId.NETWORK:
            return list(self.network_keys)
        if key_id == KeyId.KEY_TRANSPORT:
            return [_transport_key(k) for k in self.link_keys]
        if key_id == KeyId.KEY_LOAD:
            return [_key_load_key(k) for k in self.link_keys]
        return list(self.link_keys)

    def wireshark_uat(self) -> str:
        """The keys as rows of Wireshark's ``zigbee_pc_keys`` table, so a
        capture can be opened with them (``-o uat:zigbee_pc_keys:...``)."""
        rows = [f'"{k.hex().upper()}","Normal","network key {i}"' for i, k in enumerate(self.network_keys)]
        rows += [f'"{k.hex().upper()}","Normal","link key {i}"' for i, k in enumerate(self.link_keys)]
        return "\n".join(rows)
