"""NWK and APS frame counters on the virtual air.

Every Zigbee frame secured at the network layer carries its sender's 32-bit
outgoing frame counter; receivers keep the highest value seen per sender and
drop anything not higher, which is what stops a captured frame being replayed.
A frame secured end to end at the APS layer carries a second counter, checked
by the final receiver only, which catches a frame re-sent under a fresh NWK
header (relayed, or re-secured by an insider holding the network key).
The virtual air keeps no security header, so it keeps these counters here.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import MutableMapping

import zigpy.exceptions

LOGGER = logging.getLogger(__name__)

COUNTER_MAX = 0xFFFF_FFFF

RESTART_MARGIN = 1024
"""Added to a saved outgoing counter on restart, as stacks do, so that frames
sent after the last save but before a crash are never repeated."""


def spend(counters: MutableMapping[str, int] | MutableMapping[bytes, int], key: str | bytes, layer: str) -> int:
    """Take the next outgoing counter kept under ``key`` and move it on by one;
    an exhausted counter refuses to send (the key must change first)."""
    value = counters[key]  # type: ignore[index]
    if value >= COUNTER_MAX:
        raise zigpy.exceptions.DeliveryError(f"{layer} frame counter exhausted: the key must change")
    counters[key] = value + 1  # type: ignore[index]
    return value


def after_restart(saved: int, margin: int = RESTART_MARGIN) -> int:
    """The first outgoing counter to use after restarting from ``saved``."""
    return min(int(saved) + margin, COUNTER_MAX)


class IncomingCounters:
    """One receiver's table of the highest NWK frame counter seen per sender.

    ``accept`` says whether a frame is fresh; a replay (counter not higher than
    one already seen) is counted, and logged once per sender so a replaying
    attacker cannot flood the log.
    """

    def __init__(self, owner: str = "", layer: str = "NWK") -> None:
        self.owner = owner
        self.layer = layer
        self._highest: dict[bytes, int] = {}
        self.dropped: collections.Counter[bytes] = collections.Counter()

    def accept(self, sender: bytes, counter: int) -> bool:
        last = self._highest.get(sender)
        if last is not None and counter <= last:
            if not self.dropped[sender]:
                LOGGER.warning(
                    "%s dropped a replayed frame from %s: %s frame counter %d, already seen %d "
                    "(further replays from it are counted, not logged)",
                    self.owner or "node", sender[::-1].hex(":"), self.layer, counter, last,
                )
            self.dropped[sender] += 1
            return False
        self._highest[sender] = counter
        return True

    def highest(self, sender: bytes) -> int | None:
        """The highest counter accepted from ``sender`` (None: nothing heard)."""
        return self._highest.get(sender)

    @property
    def total_dropped(self) -> int:
        return sum(self.dropped.values())

    def to_json(self) -> dict[str, int]:
        """The table as saved: highest counter per sender (IEEE address as hex)."""
        return {sender.hex(): value for sender, value in self._highest.items()}

    def restore(self, saved: dict[str, int]) -> None:
        """Take back a saved table; a counter never goes down."""
        for sender_hex, value in saved.items():
            sender = bytes.fromhex(sender_hex)
            self._highest[sender] = max(int(value), self._highest.get(sender, -1))
