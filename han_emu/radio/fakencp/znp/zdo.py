"""ZDO requests the emulated coordinator answers about itself.

zigpy interviews the coordinator like any node (Node_Desc_req, Active_EP_req,
Simple_Desc_req to 0x0000) and runs energy scans and topology scans through
ZDO.  Z-Stack answers these inside the chip and reports the answer twice:
as a ZDO-specific MT callback and, for clusters the host registered with
``ZDO.MsgCallbackRegister``, as ``ZDO.MsgCbIncoming`` carrying the raw ZDO
payload.  Payloads are built with zigpy's own ZDO schemas.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import zigpy.types as zt
import zigpy.zdo.types as zdo_t
import zigpy_znp.commands as c
import zigpy_znp.types as t

LOGGER = logging.getLogger(__name__)

COORDINATOR_NWK: Final = 0x0000
SUCCESS: Final = t.ZDOStatus.SUCCESS

NODE_DESCRIPTOR: Final = zdo_t.NodeDescriptor(
    byte1=0,  # coordinator, no complex or user descriptor
    byte2=0x40,  # 2.4 GHz band
    mac_capability_flags=0x8F,
    manufacturer_code=0x0000,
    maximum_buffer_size=80,
    maximum_incoming_transfer_size=160,
    server_mask=0x2C01,  # primary trust center, stack compliance revision 22
    maximum_outgoing_transfer_size=160,
    descriptor_capability_field=0,
)


def zdo_schema(cmd: int) -> tuple:
    _names, schema = zdo_t.CLUSTERS[zdo_t.ZDOCmd(cmd)]
    return schema


def zdo_payload(cmd: int, values: list[Any]) -> bytes:
    """Serialize a ZDO command body (without TSN); trailing None fields are left out."""
    values = list(values)
    while values and values[-1] is None:
        values.pop()
    return zt.serialize(values, zdo_schema(cmd))


def energy(channel: int) -> int:
    """Energy-detect reading of a quiet virtual air: low and deterministic."""
    return 10 + (channel * 7) % 20


@dataclass
class ZdoAnswer:
    """The coordinator's response to one of its own ZDO requests."""

    cluster_id: int
    payload: bytes
    callbacks: list[t.CommandBase] = field(default_factory=list)


def answer_own_request(
    cluster_id: int,
    body: bytes,
    *,
    ieee: t.EUI64,
    endpoints: Mapping[int, zdo_t.SizePrefixedSimpleDescriptor],
) -> ZdoAnswer | None:
    """Answer a ZDO request (``body`` without its TSN) addressed to the coordinator.

    None means no response is sent (malformed request, or a command such as a
    channel change that has none).  Unknown requests get NOT_SUPPORTED.
    """
    try:
        cmd = zdo_t.ZDOCmd(cluster_id)
        args, _ = zt.deserialize(body, zdo_schema(cmd))
    except (KeyError, ValueError):
        LOGGER.debug("Cannot parse ZDO request 0x%04X %s", cluster_id, body.hex())
        return None
    rsp = cluster_id | 0x8000
    ok = zdo_t.Status.SUCCESS
    me = COORDINATOR_NWK
    zdo = c.ZDO
    if cmd == zdo_t.ZDOCmd.Node_Desc_req:
        mt_desc = c.zdo.NullableNodeDescriptor(**NODE_DESCRIPTOR.as_dict())
        return ZdoAnswer(
            rsp,
            zdo_payload(rsp, [ok, me, NODE_DESCRIPTOR]),
            [zdo.NodeDescRsp.Callback(Src=me, Status=SUCCESS, NWK=me, NodeDescriptor=mt_desc)],
        )
    if cmd == zdo_t.ZDOCmd.Active_EP_req:
        eps = sorted(endpoints)
        return ZdoAnswer(
            rsp,
            zdo_payload(rsp, [ok, me, eps]),
            [zdo.ActiveEpRsp.Callback(Src=me, Status=SUCCESS, NWK=me, ActiveEndpoints=eps)],
        )
    if cmd == zdo_t.ZDOCmd.Simple_Desc_req:
        desc = endpoints.get(args[1])
        if desc is None:
            return ZdoAnswer(rsp, zdo_payload(rsp, [zdo_t.Status.NOT_ACTIVE, me]))
        callback = zdo.SimpleDescRsp.Callback(Src=me, Status=SUCCESS, NWK=me, SimpleDescriptor=desc)
        return ZdoAnswer(rsp, zdo_payload(rsp, [ok, me, desc]), [callback])
    if cmd in (zdo_t.ZDOCmd.IEEE_addr_req, zdo_t.ZDOCmd.NWK_addr_req):
        return ZdoAnswer(rsp, zdo_payload(rsp, [ok, ieee, me]))
    if cmd == zdo_t.ZDOCmd.Mgmt_Permit_Joining_req:
        return ZdoAnswer(rsp, zdo_payload(rsp, [ok]))
    if cmd == zdo_t.ZDOCmd.Mgmt_Lqi_req:
        table = zdo_t.Neighbors(Entries=0, StartIndex=args[0], NeighborTableList=[])
        return ZdoAnswer(rsp, zdo_payload(rsp, [ok, table]))
    if cmd == zdo_t.ZDOCmd.Mgmt_Rtg_req:
        table = zdo_t.Routes(Entries=0, StartIndex=args[0], RoutingTableList=[])
        return ZdoAnswer(rsp, zdo_payload(rsp, [ok, table]))
    if cmd == zdo_t.ZDOCmd.Mgmt_NWK_Update_req:
        update = args[0]
        if update.ScanDuration > 0x05:
            return None  # channel change or manager update: no response
        scanned = update.ScanChannels
        values = [ok, scanned, 0, 0, [energy(ch) for ch in scanned]]
        return ZdoAnswer(rsp, zdo_payload(rsp, values))
    return ZdoAnswer(rsp, zdo_t.Status.NOT_SUPPORTED.serialize())
