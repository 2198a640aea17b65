"""How a simulated display reads attributes: Discover Attributes at start, then
Read Attributes of what the ESI serves, in chunks that fit one frame.

:class:`AttributeReads` is mixed into :class:`~han_emu.sim.display.SimDisplay`,
which sends the requests (``ask``) and keeps what discovery found (``served``).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Iterable

import zigpy.types as t
from zigpy.zcl import foundation

from clusters.zcl_header import ZclHeader
from han_emu.radio.virtual.node import zcl_frame

READ_CHUNK = 6  # attributes per Read Attributes: keeps responses in one frame
#: Attributes per Discover Attributes page: 3 + 1 + 3 x 20 = 64 bytes of ZCL, which an APS-secured
#: frame from the ESI carries unfragmented (65 fit in a 127-byte PSDU); the ESI cuts a page to its own
#: frame size anyway and says discovery is not complete.
DISCOVER_PAGE = 20
DISCOVER_MAX_PAGES = 32  # a server that never says "complete" is not asked for ever


def read_frame(ids: Iterable[int], manufacturer: int | None = None) -> bytes:
    """A Read Attributes frame for ``ids`` (TSN 0: the node puts its own in on sending)."""
    return _read_frame_for(tuple(ids), manufacturer)  # zigpy or plain ints: equal keys, the same frame


@functools.lru_cache(maxsize=256)
def _read_frame_for(ids: tuple[int, ...], manufacturer: int | None = None) -> bytes:
    # The displays read the same few attribute sets all day: build each frame
    # once (the node puts its own TSN in on sending).
    schema = foundation.GENERAL_COMMANDS[foundation.GeneralCommand.Read_Attributes].schema
    payload = schema(attribute_ids=[t.uint16_t(a) for a in ids]).serialize()
    return zcl_frame(0, foundation.GeneralCommand.Read_Attributes, payload, general=True,
                     manufacturer=manufacturer)


@functools.lru_cache(maxsize=256)
def read_frames(ids: tuple[int, ...], served: frozenset[int] | None) -> tuple[bytes, ...]:
    """The Read Attributes frames that read ``ids``, leaving out those not in
    ``served`` (None: all), :data:`READ_CHUNK` at a time.  The displays poll
    the same lists all day against the same discovery, so each list's frames
    are found once (a frozenset keeps its hash)."""
    if served is not None:
        ids = tuple(a for a in ids if a in served)
    return tuple(read_frame(ids[i:i + READ_CHUNK]) for i in range(0, len(ids), READ_CHUNK))


class AttributeReads:
    """Discovery and chunked reads, on the display's requests and its record of what is served."""

    served: dict[tuple[int, int], frozenset[int]]

    if TYPE_CHECKING:  # supplied by the display this is mixed into (display.SimDisplay)
        async def ask(self, ep: int, cluster: int, data: bytes) -> t.ZigbeePacket | None: ...

    async def read(self, ep: int, cluster: int, ids: list[int]) -> None:
        """Read Attributes in chunks, leaving out what discovery found the ESI does not serve."""
        for frame in read_frames(tuple(ids), self.served.get((ep, cluster))):
            await self.ask(ep, cluster, frame)

    async def discover(self, ep: int, cluster: int) -> frozenset[int] | None:
        """Discover Attributes (ZCL general command 0x0C) on ``ep``'s ``cluster``, page by page
        until the ESI says discovery is complete; the ids found, kept in :attr:`served`.

        Why discovery and not NumberOfPriceTiersInUse: the tier count tells how many
        tier prices and registers a tariff has, but not that an element without an
        export tariff has no ActiveRegisterTierReceived, and it says nothing of the
        Metering cluster's other optional attributes; one discovery at start answers
        all of it from the meter itself, at the cost of a few frames once.  An ESI
        that does not answer (or refuses the command, or never finishes) leaves the
        display reading everything, as before, so older meters still work."""
        request = foundation.GENERAL_COMMANDS[foundation.GeneralCommand.Discover_Attributes].schema
        response = foundation.GENERAL_COMMANDS[foundation.GeneralCommand.Discover_Attributes_rsp].schema
        found: set[int] = set()
        start = 0
        for _ in range(DISCOVER_MAX_PAGES):
            payload = request(start_attribute_id=start, max_attribute_ids=DISCOVER_PAGE).serialize()
            rsp = await self.ask(ep, cluster, zcl_frame(0, foundation.GeneralCommand.Discover_Attributes,
                                                        payload, general=True))
            if rsp is None:
                return None
            header, body = ZclHeader.deserialize(rsp.data.serialize())
            if (not header.frame_control.is_general
                    or header.command_id != foundation.GeneralCommand.Discover_Attributes_rsp):
                return None  # a Default Response: the ESI does not do discovery
            try:
                page, _ = response.deserialize(body)
            except ValueError:
                return None
            ids = [int(record.attrid) for record in page.attribute_info]
            found.update(ids)
            if page.discovery_complete:
                self.served[(ep, cluster)] = frozenset(found)
                return self.served[(ep, cluster)]
            if not ids or max(ids) >= 0xFFFF:
                return None
            start = max(ids) + 1
        return None
