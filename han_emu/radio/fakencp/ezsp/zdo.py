"""The ZDO requests an EmberZNet NCP answers by itself.

The stack serves the device and service discovery requests about its own node
(Node, Active EP and Simple descriptors, IEEE/NWK address) from its own tables,
notably the endpoint table filled by addEndpoint.  The same answer goes back to
the host when the host asks the coordinator about itself (a loopback unicast),
and to the air when a remote node (an IHD) asks.
"""

from __future__ import annotations

from collections.abc import Mapping

import zigpy.types as zt
import zigpy.zdo.types as zdo_t

from han_emu.radio.fakencp.ezsp.state import Endpoint

ZDO_PROFILE = 0x0000
SILABS_MANUFACTURER_CODE = 0x1002


def node_descriptor(manufacturer_code: int = SILABS_MANUFACTURER_CODE) -> zdo_t.NodeDescriptor:
    """A 2.4 GHz, mains-powered coordinator that is its network's trust center."""
    return zdo_t.NodeDescriptor(
        logical_type=zdo_t.LogicalType.Coordinator,
        complex_descriptor_available=0,
        user_descriptor_available=0,
        reserved=0,
        aps_flags=0,
        frequency_band=zdo_t.NodeDescriptor.FrequencyBand.Freq2400MHz,
        mac_capability_flags=(
            zdo_t.NodeDescriptor.MACCapabilityFlags.AlternatePanCoordinator
            | zdo_t.NodeDescriptor.MACCapabilityFlags.FullFunctionDevice
            | zdo_t.NodeDescriptor.MACCapabilityFlags.MainsPowered
            | zdo_t.NodeDescriptor.MACCapabilityFlags.RxOnWhenIdle
            | zdo_t.NodeDescriptor.MACCapabilityFlags.AllocateAddress
        ),
        manufacturer_code=manufacturer_code,
        maximum_buffer_size=82,
        maximum_incoming_transfer_size=128,
        server_mask=0x2C41,  # primary trust center, network manager, stack revision 22
        maximum_outgoing_transfer_size=128,
        descriptor_capability_field=zdo_t.NodeDescriptor.DescriptorCapability(0),
    )


def answer(
    cluster_id: int,
    data: bytes,
    *,
    nwk: int,
    ieee: zt.EUI64,
    endpoints: Mapping[int, Endpoint],
) -> tuple[int, bytes] | None:
    """The NCP's own response (cluster, payload) to a ZDO request about itself,
    or None when the stack leaves the request to the host."""
    if cluster_id not in (0x0000, 0x0001, 0x0002, 0x0004, 0x0005) or not data:
        return None
    tsn = data[:1]
    try:
        _, types = zdo_t.CLUSTERS[cluster_id]
        args: list[object] = []
        rest = data[1:]
        for typ in types:
            value, rest = typ.deserialize(rest)
            args.append(value)
    except (ValueError, KeyError):
        return None
    ok, not_found = zdo_t.Status.SUCCESS, zdo_t.Status.DEVICE_NOT_FOUND
    nwk_t = zt.NWK(nwk)
    rsp_cluster = 0x8000 | cluster_id
    if cluster_id == 0x0002:  # Node_Desc_req
        if args[0] != nwk_t:
            return rsp_cluster, tsn + not_found.serialize() + zt.NWK(args[0]).serialize()
        body = ok.serialize() + nwk_t.serialize() + node_descriptor().serialize()
    elif cluster_id == 0x0005:  # Active_EP_req
        if args[0] != nwk_t:
            return rsp_cluster, tsn + not_found.serialize() + zt.NWK(args[0]).serialize() + b"\x00"
        eps = sorted(endpoints)
        body = ok.serialize() + nwk_t.serialize() + bytes([len(eps), *eps])
    elif cluster_id == 0x0004:  # Simple_Desc_req
        ep = endpoints.get(int(args[1]))
        if args[0] != nwk_t:
            return rsp_cluster, tsn + not_found.serialize() + zt.NWK(args[0]).serialize() + b"\x00"
        if ep is None:
            return rsp_cluster, tsn + zdo_t.Status.NOT_ACTIVE.serialize() + nwk_t.serialize() + b"\x00"
        desc = zdo_t.SimpleDescriptor(
            endpoint=ep.endpoint,
            profile=ep.profile_id,
            device_type=ep.device_id,
            device_version=ep.device_version,
            input_clusters=list(ep.input_clusters),
            output_clusters=list(ep.output_clusters),
        )
        raw = desc.serialize()
        body = ok.serialize() + nwk_t.serialize() + bytes([len(raw)]) + raw
    elif cluster_id == 0x0001:  # IEEE_addr_req
        if args[0] != nwk_t:
            return None
        body = ok.serialize() + ieee.serialize() + nwk_t.serialize()
    else:  # NWK_addr_req
        if args[0] != ieee:
            return None
        body = ok.serialize() + ieee.serialize() + nwk_t.serialize()
    return rsp_cluster, tsn + body
