"""ZDO requests the emulated coordinator answers about itself, in MT's form.

zigpy interviews the coordinator like any node (Node_Desc_req, Active_EP_req,
Simple_Desc_req to 0x0000) and runs energy scans and topology scans through
ZDO.  Z-Stack answers these inside the chip and reports the answer twice:
as a ZDO-specific MT callback and, for clusters the host registered with
``ZDO.MsgCallbackRegister``, as ``ZDO.MsgCbIncoming`` carrying the raw ZDO
payload.  The answers are the radio layer's (:mod:`han_emu.radio.zdo_answers`);
what is Z-Stack's own is its node descriptor, its (empty) neighbour and
routing tables, and the MT callbacks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

import zigpy.types as zt
import zigpy.zdo.types as zdo_t
import zigpy_znp.commands as c
import zigpy_znp.types as t

from han_emu.radio.zdo_answers import ZdoAnswerer, ZdoReply, node_descriptor

COORDINATOR_NWK: Final = 0x0000

NODE_DESCRIPTOR: Final = node_descriptor(
    zdo_t.LogicalType.Coordinator, maximum_buffer_size=80, maximum_transfer_size=160
)
"""A 2.4 GHz, mains-powered coordinator that is its network's trust centre."""


def energy(channel: int) -> int:
    """Energy-detect reading of a quiet virtual air: low and deterministic."""
    return 10 + (channel * 7) % 20


def answerer(
    *,
    ieee: t.EUI64,
    endpoints: Mapping[int, zdo_t.SimpleDescriptor],
    on_permit_joining: Callable[[int], None],
) -> ZdoAnswerer:
    """The coordinator's ZDO answerer over its registered endpoints."""
    return ZdoAnswerer(
        ieee=lambda: zt.EUI64(ieee),
        nwk=lambda: zt.NWK(COORDINATOR_NWK),
        descriptor=NODE_DESCRIPTOR,
        endpoints=endpoints,
        route_tables=True,
        on_permit_joining=on_permit_joining,
        on_energy_scan=lambda channels: {ch: energy(ch) for ch in channels},
    )


def mt_callbacks(reply: ZdoReply) -> list[t.CommandBase]:
    """The ZDO-specific MT callbacks Z-Stack sends beside the raw response."""
    if reply.status != zdo_t.Status.SUCCESS:
        return []
    me = COORDINATOR_NWK
    ok = t.ZDOStatus.SUCCESS
    if reply.command == zdo_t.ZDOCmd.Node_Desc_rsp:
        descriptor = c.zdo.NullableNodeDescriptor(**reply.fields[2].as_dict())
        return [c.ZDO.NodeDescRsp.Callback(Src=me, Status=ok, NWK=me, NodeDescriptor=descriptor)]
    if reply.command == zdo_t.ZDOCmd.Active_EP_rsp:
        return [c.ZDO.ActiveEpRsp.Callback(Src=me, Status=ok, NWK=me, ActiveEndpoints=list(reply.fields[2]))]
    if reply.command == zdo_t.ZDOCmd.Simple_Desc_rsp:
        return [c.ZDO.SimpleDescRsp.Callback(Src=me, Status=ok, NWK=me, SimpleDescriptor=reply.fields[2])]
    return []
