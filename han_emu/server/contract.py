"""What a radio backend needs from a packet server, and nothing more.

Every backend (virtual air, EZSP, Z-Stack) carries a server through this
contract, so the ESI logic never knows which radio it runs on.  The server is
synchronous and takes time from its own clock; the backend owns asyncio.
"""

from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

import zigpy.types as t
from zigpy.zdo.types import SimpleDescriptor


@runtime_checkable
class PacketServer(Protocol):
    """A server hosted on the coordinator's own endpoints."""

    def descriptors(self) -> Sequence[SimpleDescriptor]:
        """The simple descriptors of the endpoints this server answers on."""
        ...

    def wants(self, packet: t.ZigbeePacket) -> bool:
        """True when ``packet`` is addressed to one of this server's endpoints
        (the backend then must not pass it on to zigpy)."""
        ...

    def handle(self, packet: t.ZigbeePacket) -> list[t.ZigbeePacket]:
        """Process one incoming packet; return the packets to send in reply."""
        ...

    def due(self) -> list[t.ZigbeePacket]:
        """Packets whose time has come (attribute reports, unsolicited
        publishes), judged against the server's clock."""
        ...

    def next_due(self) -> float | None:
        """Clock time at which :meth:`due` will next have something, if known."""
        ...
