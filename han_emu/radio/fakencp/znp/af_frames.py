"""The application framework's view of the emulated Z-Stack: the endpoints the
host registers (``AF.Register``) and the frames it asks the coordinator to
transmit (``AF.DataRequest``, ``AF.DataRequestExt``, ``AF.DataRequestSrcRtg``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import zigpy.zdo.types as zdo_t
import zigpy_znp.commands as c
import zigpy_znp.types as t

from han_emu.radio.zdo_answers import ZDO_ENDPOINT, ZDO_PROFILE


@dataclass(frozen=True)
class RegisteredEndpoint:
    """An ``AF.Register`` the host made since the last reset."""

    endpoint: int
    profile_id: int
    device_id: int
    device_version: int
    input_clusters: tuple[int, ...]
    output_clusters: tuple[int, ...]

    def simple_descriptor(self) -> zdo_t.SizePrefixedSimpleDescriptor:
        return zdo_t.SizePrefixedSimpleDescriptor(
            endpoint=self.endpoint,
            profile=self.profile_id,
            device_type=self.device_id,
            device_version=self.device_version,
            input_clusters=list(self.input_clusters),
            output_clusters=list(self.output_clusters),
        )


@dataclass(frozen=True)
class OutgoingFrame:
    """One ``AF.DataRequest*`` the host asked the coordinator to transmit.

    ``profile_id`` is the profile of the source endpoint's registration, which
    is what Z-Stack puts in the APS header (None if the endpoint is unknown,
    0 for ZDO).
    """

    dst_addr_mode: t.AddrMode
    dst_addr: int | t.EUI64
    dst_endpoint: int
    src_endpoint: int
    cluster_id: int
    profile_id: int | None
    tsn: int
    data: bytes
    options: c.af.TransmitOptions
    radius: int
    command: str

    @property
    def aps_ack(self) -> bool:
        return bool(self.options & c.af.TransmitOptions.ACK_REQUEST)

    @property
    def aps_encrypted(self) -> bool:
        return bool(self.options & c.af.TransmitOptions.ENABLE_SECURITY)




def zcl_tsn(data: bytes) -> int:
    """The transaction sequence number in a ZCL header (after the optional
    manufacturer code)."""
    if not data:
        return 0
    offset = 3 if data[0] & 0x04 else 1
    return data[offset] if len(data) > offset else 0


def outgoing_frame(req: Any, endpoints: dict[int, RegisteredEndpoint]) -> OutgoingFrame:
    """The frame an ``AF.DataRequest*`` asks the coordinator to transmit."""
    if isinstance(req, c.AF.DataRequestExt.Req):
        mode, addr = req.DstAddrModeAddress.mode, req.DstAddrModeAddress.address
    else:
        mode, addr = t.AddrMode.NWK, req.DstAddr
        if addr >= 0xFFF8:
            mode = t.AddrMode.Broadcast
    src = req.SrcEndpoint
    profile = ZDO_PROFILE if src == ZDO_ENDPOINT else None
    if src in endpoints:
        profile = endpoints[src].profile_id
    return OutgoingFrame(
        dst_addr_mode=mode,
        dst_addr=addr,
        dst_endpoint=int(req.DstEndpoint),
        src_endpoint=int(src),
        cluster_id=int(req.ClusterId),
        profile_id=profile,
        tsn=int(req.TSN),
        data=bytes(req.Data),
        options=req.Options,
        radius=int(req.Radius),
        command=type(req).__qualname__.split(".")[1],
    )


