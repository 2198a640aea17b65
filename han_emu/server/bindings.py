"""The coordinator's binding table, as the ESI server needs it.

A Smart Energy client subscribes to a server cluster of the ESI with a ZDO
Bind_req naming the ESI's endpoint as the source and itself as the
destination; the ESI then pushes to it (PublishPrice at a tier change).  On
a coordinator stick the table lives in the stick's firmware, which answers
the Bind_req itself and hands the host a copy of the request: this table is
rebuilt from those copies (and saved with the meter, since the stick's own
table outlives a restart of the emulator).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

import zigpy.types as t
import zigpy.zdo.types as zdo_t

from clusters.ids import ZDO_PROFILE_ID

LOGGER = logging.getLogger(__name__)

ZDO_ENDPOINT = 0x00
_IEEE_MODE = 0x03  # MultiAddress: IEEE address and endpoint (0x01 is a group)


class BindingTable:
    """Unicast bindings (source endpoint, cluster) -> (IEEE address, endpoint)
    of one node, kept from the Bind_req/Unbind_req it was sent."""

    def __init__(self) -> None:
        self._entries: set[tuple[int, int, bytes, int]] = set()

    def observe(self, packet: t.ZigbeePacket, own_ieee: t.EUI64) -> bool:
        """Take in a Bind_req or Unbind_req addressed to ``own_ieee``'s table;
        True when the table changed.  Anything else is ignored, as are group
        bindings (Smart Energy secures unicasts only) and requests that do not
        parse (the firmware refuses those itself)."""
        if packet.dst_ep != ZDO_ENDPOINT or packet.profile_id != ZDO_PROFILE_ID:
            return False
        command = int(packet.cluster_id)
        if command not in (zdo_t.ZDOCmd.Bind_req, zdo_t.ZDOCmd.Unbind_req):
            return False
        data = packet.data.serialize()
        try:
            _, schema = zdo_t.CLUSTERS[zdo_t.ZDOCmd(command)]
            fields, _ = t.deserialize(bytes(data[1:]), schema)  # after the TSN
        except (ValueError, KeyError, IndexError):
            LOGGER.debug("unreadable ZDO 0x%04X from %s: %s", command, packet.src, data.hex())
            return False
        src_ieee, src_ep, cluster, dst = fields
        if t.EUI64(src_ieee) != t.EUI64(own_ieee) or dst.addrmode != _IEEE_MODE:
            return False
        entry = (int(src_ep), int(cluster), bytes(t.EUI64(dst.ieee)), int(dst.endpoint))
        if command == zdo_t.ZDOCmd.Bind_req:
            if entry in self._entries:
                return False
            self._entries.add(entry)
        elif entry in self._entries:
            self._entries.discard(entry)
        else:
            return False
        return True

    def destinations(self, endpoint: int, cluster: int,
                     nwk_of: Callable[[t.EUI64], int | None]) -> list[tuple[int, int]]:
        """(NWK, endpoint) of each device bound to ``cluster`` on ``endpoint``
        whose NWK address ``nwk_of`` knows (a device not seen yet is skipped)."""
        out = []
        for src_ep, bound_cluster, ieee, dst_ep in sorted(self._entries):
            if src_ep == endpoint and bound_cluster == cluster:
                nwk = nwk_of(t.EUI64(ieee))
                if nwk is not None:
                    out.append((int(nwk), dst_ep))
        return out

    def __len__(self) -> int:
        return len(self._entries)

    def to_json(self) -> list[list[object]]:
        """[source endpoint, cluster, IEEE address, endpoint] rows, JSON-ready."""
        return [[src_ep, cluster, str(t.EUI64(ieee)), dst_ep] for src_ep, cluster, ieee, dst_ep in sorted(self._entries)]

    def restore(self, rows: Iterable[Iterable[object]]) -> None:
        """Take back rows saved by :meth:`to_json`; ValueError names a bad row."""
        for row in rows:
            try:
                src_ep, cluster, ieee, dst_ep = row
                self._entries.add((int(src_ep), int(cluster), bytes(t.EUI64.convert(str(ieee))), int(dst_ep)))
            except (TypeError, ValueError) as exc:
                raise ValueError(f"bad binding {row!r}: {exc}") from None
