"""One incoming ZCL request as one of the server's endpoints sees it.

Shared by the dispatch in :mod:`han_emu.server.engine` and the general
commands in :mod:`han_emu.server.general`: the request's context, how a
payload is parsed, and what a payload that does not parse raises.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import zigpy.types as t

from clusters.zcl_header import ZclHeader
from clusters.zcl_struct import read

from han_emu.server.endpoint import ClusterSide, Endpoint


class Malformed(Exception):
    """The payload does not parse as the command it claims to be."""


@dataclass(frozen=True)
class RequestContext:
    """One request as seen by one endpoint."""

    packet: t.ZigbeePacket
    header: ZclHeader
    endpoint: Endpoint
    side: ClusterSide | None

    @classmethod
    def of(cls, packet: t.ZigbeePacket, header: ZclHeader, endpoint: Endpoint,
           side: ClusterSide | None) -> RequestContext:
        """``RequestContext(...)``, without the frozen dataclass's setattr per
        field: one is made for every request the server takes."""
        ctx = object.__new__(cls)
        ctx.__dict__.update(packet=packet, header=header, endpoint=endpoint, side=side)
        return ctx

    @property
    def manufacturer(self) -> int | None:
        mfr = self.header.manufacturer
        return None if mfr is None else int(mfr)

    @property
    def command_id(self) -> int:
        return int(self.header.command_id)

    @property
    def groupcast(self) -> bool:
        dst = self.packet.dst
        return dst is not None and dst.addr_mode in (t.AddrMode.Group, t.AddrMode.Broadcast)


def parse(schema: Any, payload: bytes) -> Any:
    """``payload`` read as ``schema`` (a zigpy struct); :class:`Malformed` if it is not one."""
    try:
        args, _rest = read(schema, payload)
    except Exception as exc:  # zigpy raises ValueError, KeyError, IndexError...
        raise Malformed(str(exc) or type(exc).__name__) from exc
    return args


def header_size(manufacturer: int | None) -> int:
    """Bytes of ZCL header before the payload (the manufacturer code adds two)."""
    return 3 if manufacturer is None else 5
