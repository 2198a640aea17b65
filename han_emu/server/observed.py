"""A packet server that lets observers see every packet it takes or makes.

Hardware backends carry it in place of the ESI server so that the dashboard,
the readout of what was served and the airtime accounting see the same
frames the stick does, without the radio layer knowing about any of them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import zigpy.types as t
from zigpy.zdo.types import SimpleDescriptor

from han_emu.server.contract import PacketServer

LOGGER = logging.getLogger(__name__)

PacketListener = Callable[[t.ZigbeePacket, bool], None]
"""Called as (packet, incoming) for each packet the server takes or makes."""


class ServerTap:
    """A :class:`~han_emu.server.contract.PacketServer` that passes everything
    to ``inner`` and tells ``listener`` of each packet it handles (incoming)
    and each one it sends (replies, reports, publishes).  Anything else is
    looked up on ``inner``, so the tap can stand where the server stood."""

    def __init__(self, inner: PacketServer, listener: PacketListener) -> None:
        self.inner = inner
        self.listener = listener

    def descriptors(self) -> Sequence[SimpleDescriptor]:
        return self.inner.descriptors()

    def wants(self, packet: t.ZigbeePacket) -> bool:
        return self.inner.wants(packet)

    def handle(self, packet: t.ZigbeePacket) -> list[t.ZigbeePacket]:
        self._tell(packet, True)
        replies = self.inner.handle(packet)
        for reply in replies:
            self._tell(reply, False)
        return replies

    def due(self) -> list[t.ZigbeePacket]:
        packets = self.inner.due()
        for packet in packets:
            self._tell(packet, False)
        return packets

    def next_due(self) -> float | None:
        return self.inner.next_due()

    def _tell(self, packet: t.ZigbeePacket, incoming: bool) -> None:
        try:
            self.listener(packet, incoming)
        except Exception:  # an observer never breaks the meter
            LOGGER.exception("packet listener failed on %r", packet)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
