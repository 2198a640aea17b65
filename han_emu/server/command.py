"""What a cluster-specific command handler receives and returns.

Handlers stay free of addressing and framing: they see the parsed request and
answer with command ids and payloads; the engine turns those into packets from
the right endpoint, with the request's TSN and the Smart Energy tx options.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import zigpy.types as t
from zigpy.zcl.foundation import Status

from clusters.zcl_header import ZclHeader


class ZclError(Exception):
    """Raised by a handler to answer with a Default Response carrying ``status``."""

    def __init__(self, status: Status, message: str = "") -> None:
        super().__init__(message or status.name)
        self.status = Status(status)


@dataclass(frozen=True)
class ZclRequest:
    """A cluster-specific command addressed to one of the server's endpoints."""

    packet: t.ZigbeePacket
    header: ZclHeader
    endpoint: int
    cluster_id: int
    command_id: int
    payload: bytes
    #: The payload parsed with the cluster's command schema, when the cluster
    #: class defines this command; otherwise None and ``payload`` is authoritative.
    args: Any = None

    @property
    def tsn(self) -> int:
        return int(self.header.tsn)

    @property
    def manufacturer(self) -> int | None:
        return None if self.header.manufacturer is None else int(self.header.manufacturer)


@dataclass(frozen=True)
class ZclReply:
    """One frame a handler wants sent back to the requester.

    ``payload`` is raw bytes or anything with ``serialize()`` (a zigpy command
    schema instance).  By default the reply is cluster-specific, goes in the
    opposite direction to the request and disables the default response.
    """

    command_id: int
    payload: bytes | Any = b""
    cluster_specific: bool = True
    disable_default_response: bool = True
    #: Send from this cluster instead of the request's (rarely needed).
    cluster_id: int | None = None

    def payload_bytes(self) -> bytes:
        if isinstance(self.payload, (bytes, bytearray)):
            return bytes(self.payload)
        return self.payload.serialize()


CommandHandler = Callable[[ZclRequest], list[ZclReply]]
