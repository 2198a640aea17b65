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
from collections.abc import Mapping, MutableMapping
from typing import Any, Protocol

import zigpy.exceptions
import zigpy.types as t

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


class _Node(Protocol):
    ieee: t.EUI64


class AirCounters:
    """The virtual air's frame-counter bookkeeping, by IEEE address bytes.

    Outgoing NWK and APS counters of nodes that do not keep their own (a node
    offering ``next_nwk_counter()`` / ``next_aps_frame_counter()`` counts for
    itself), and every receiver's incoming tables, kept while the air lives:
    a node restarted on the same air carries on.
    """

    _nodes: Mapping[bytes, Any]

    def _init_counters(self) -> None:
        self._nwk_counters: dict[bytes, int] = collections.defaultdict(int)
        self._aps_frame_counters: dict[bytes, int] = collections.defaultdict(int)
        self._incoming: dict[bytes, IncomingCounters] = {}
        self._incoming_aps: dict[bytes, IncomingCounters] = {}

    def incoming(self, ieee: t.EUI64) -> IncomingCounters:
        """The incoming NWK frame-counter table of the receiver ``ieee``."""
        key = bytes(ieee)
        table = self._incoming.get(key)
        if table is None:
            table = self._incoming[key] = IncomingCounters(str(t.EUI64(ieee)))
        return table

    def incoming_aps(self, ieee: t.EUI64) -> IncomingCounters:
        """The incoming APS security frame-counter table of the receiver ``ieee``."""
        key = bytes(ieee)
        table = self._incoming_aps.get(key)
        if table is None:
            table = self._incoming_aps[key] = IncomingCounters(str(t.EUI64(ieee)), "APS")
        return table

    @property
    def replays_dropped(self) -> int:
        """Frames dropped by their receivers as replays, over the whole air."""
        return sum(table.total_dropped for table in (*self._incoming.values(), *self._incoming_aps.values()))

    def counter_state(self) -> dict[str, Any]:
        """Every frame counter on the air, JSON-ready, to save beside the meter:
        each node's next outgoing NWK and APS counters (the air's own and those
        of nodes that keep theirs) and every receiver's incoming tables.
        Addresses are the IEEE address bytes in hex (little-endian, as sent)."""
        nwk_out = {key.hex(): value for key, value in self._nwk_counters.items()}
        aps_out = {key.hex(): value for key, value in self._aps_frame_counters.items()}
        for key, node in self._nodes.items():
            nwk_out[key.hex()] = self.nwk_counter(node)
            aps_out[key.hex()] = self.aps_frame_counter(node)
        return {
            "outgoing": {"nwk": nwk_out, "aps": aps_out},
            "incoming": {
                "nwk": {key.hex(): table.to_json() for key, table in self._incoming.items()},
                "aps": {key.hex(): table.to_json() for key, table in self._incoming_aps.items()},
            },
        }

    def restore_counters(self, state: dict[str, Any], margin: int = RESTART_MARGIN) -> None:
        """Carry on from a :meth:`counter_state` saved by an earlier run.

        Outgoing counters the air keeps resume ``margin`` above the saved value
        (frames sent after the save and before a crash are never repeated);
        incoming tables come back as saved.  Nodes that keep their own outgoing
        counters (the coordinator) restore them themselves.  Never goes back."""
        try:
            outgoing, incoming = state["outgoing"], state["incoming"]
            for table, saved in ((self._nwk_counters, outgoing["nwk"]), (self._aps_frame_counters, outgoing["aps"])):
                for key_hex, value in saved.items():
                    key = bytes.fromhex(key_hex)
                    table[key] = max(table[key], after_restart(int(value), margin))
            for tables, layer, maker in (
                (incoming["nwk"], "nwk", self.incoming),
                (incoming["aps"], "aps", self.incoming_aps),
            ):
                for key_hex, saved_table in tables.items():
                    maker(t.EUI64(bytes.fromhex(key_hex))).restore(saved_table)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"saved frame counters are not readable: {exc!r}") from exc

    def nwk_counter(self, node: _Node) -> int:
        """The NWK frame counter ``node``'s next frame will carry."""
        own = getattr(node, "nwk_frame_counter", None)
        if isinstance(own, int):
            return own
        return self._nwk_counters[bytes(node.ieee)]

    def aps_frame_counter(self, node: _Node) -> int:
        """The APS security frame counter ``node``'s next APS-encrypted frame will carry."""
        own = getattr(node, "aps_frame_counter", None)
        if isinstance(own, int):
            return own
        return self._aps_frame_counters[bytes(node.ieee)]

    def _next_nwk_counter(self, node: _Node, key: bytes | None = None) -> int:
        """``key``: ``bytes(node.ieee)``, when the caller has it already."""
        own = _own(node, "next_nwk_counter")
        if callable(own):
            return int(own())
        return spend(self._nwk_counters, bytes(node.ieee) if key is None else key, "NWK")

    def _next_aps_frame_counter(self, node: _Node, key: bytes | None = None) -> int:
        own = _own(node, "next_aps_frame_counter")
        if callable(own):
            return int(own())
        return spend(self._aps_frame_counters, bytes(node.ieee) if key is None else key, "APS")


_CLASS_HAS: dict[tuple[type, str], bool] = {}


def _own(node: object, name: str) -> Any:
    """``getattr(node, name, None)``, without the AttributeError a missing
    attribute costs on every frame: whether the class has it is asked once."""
    cls = type(node)
    has = _CLASS_HAS.get((cls, name))
    if has is None:
        has = _CLASS_HAS[(cls, name)] = hasattr(cls, name) or hasattr(cls, "__getattr__")
    if has or name in getattr(node, "__dict__", ()):
        return getattr(node, name, None)
    return None
