"""Observations as a run would record them, for the checks' tests.

``data`` is built the way the air carries it (the ZCL header in front, ZDO with
its transaction number) unless a test asks for the bare payload.
"""

from __future__ import annotations

from zigpy.zcl import foundation

from clusters.ids import SE_PROFILE_ID, ZDO_PROFILE_ID
from clusters.zcl_header import ZclHeader
from han_emu.conform.model import Observation

DUT = 0x4A3B
ESI = 0x0000
GC = foundation.GeneralCommand


class Frames:
    """Numbers frames as a capture would, in the order they are made."""

    def __init__(self) -> None:
        self.number = 0
        self.tsn = 0

    def zcl(self, time: float, incoming: bool, cluster: int, command: int, payload: bytes = b"", *,
            ep: int = 1, general: bool = False, attributes: tuple[int, ...] = (), status: int | None = None,
            manufacturer: int | None = None, header: bool = True, tsn: int | None = None,
            direction: foundation.Direction | None = None) -> Observation:
        """A ZCL frame from the DUT (``incoming``) to ESI endpoint ``ep``, or from it; by
        default the DUT's frames go client to server and the meter's back (``direction`` says otherwise)."""
        self.number += 1
        if tsn is None:
            self.tsn = (self.tsn + 1) % 256
            tsn = self.tsn
        if direction is None:
            direction = foundation.Direction.Client_to_Server if incoming else foundation.Direction.Server_to_Client
        head = ZclHeader.make(tsn, command, general=general, manufacturer=manufacturer, direction=direction)
        return Observation(
            frame=self.number, time=time, incoming=incoming,
            src_nwk=DUT if incoming else ESI, dst_nwk=ESI if incoming else DUT, profile=SE_PROFILE_ID,
            cluster=cluster, src_ep=1 if incoming else ep, dst_ep=ep if incoming else 1, general=general,
            command=command, attributes=attributes, status=status, manufacturer=manufacturer, secured=True,
            data=(head.serialize() if header else b"") + payload)

    def read(self, time: float, cluster: int, attributes: tuple[int, ...], *, ep: int = 1,
             manufacturer: int | None = None) -> Observation:
        payload = b"".join(a.to_bytes(2, "little") for a in attributes)
        return self.zcl(time, True, cluster, GC.Read_Attributes, payload, ep=ep, general=True,
                        attributes=attributes, manufacturer=manufacturer)

    def zdo(self, time: float, incoming: bool, command: int, body: bytes) -> Observation:
        self.number += 1
        self.tsn = (self.tsn + 1) % 256
        return Observation(
            frame=self.number, time=time, incoming=incoming, src_nwk=DUT if incoming else ESI,
            dst_nwk=ESI if incoming else DUT, profile=ZDO_PROFILE_ID, cluster=command, src_ep=0, dst_ep=0,
            data=bytes([self.tsn]) + body)
