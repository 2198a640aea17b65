"""The ZDO requests an EmberZNet NCP answers by itself, in its own wire form.

The stack serves the device and service discovery requests about its own node
(Node, Active EP and Simple descriptors, IEEE/NWK address) from its own tables,
notably the endpoint table filled by addEndpoint; every other request is left
to the host.  The same answer goes back to the host when the host asks the
coordinator about itself (a loopback unicast), and to the air when a remote
node (an IHD) asks.  The answers are the radio layer's
(:mod:`han_emu.radio.zdo_answers`); what is EmberZNet's own is its node
descriptor and the Length 0 it sends in a Simple_Desc_rsp without a
descriptor (Zigbee spec 2.4.4.2.5).
"""

from __future__ import annotations

from collections.abc import Mapping

import zigpy.types as zt
import zigpy.zdo.types as zdo_t

from han_emu.radio.fakencp.ezsp.state import SILABS_MANUFACTURER_CODE, Endpoint
from han_emu.radio.zdo_answers import DISCOVERY_REQUESTS, ZdoAnswerer, node_descriptor

NODE_DESCRIPTOR = node_descriptor(
    zdo_t.LogicalType.Coordinator,
    manufacturer_code=SILABS_MANUFACTURER_CODE,
    maximum_transfer_size=128,
    network_manager=True,
)
"""A 2.4 GHz, mains-powered coordinator that is its network's trust centre and manager."""


def simple_descriptor(endpoint: Endpoint) -> zdo_t.SimpleDescriptor:
    """The simple descriptor of one addEndpoint registration."""
    return zdo_t.SimpleDescriptor(
        endpoint=endpoint.endpoint,
        profile=endpoint.profile_id,
        device_type=endpoint.device_id,
        device_version=endpoint.device_version,
        input_clusters=list(endpoint.input_clusters),
        output_clusters=list(endpoint.output_clusters),
    )


def answer(
    cluster_id: int,
    data: bytes,
    *,
    nwk: int,
    ieee: zt.EUI64,
    endpoints: Mapping[int, Endpoint],
) -> tuple[int, bytes] | None:
    """The NCP's own response (cluster, payload with TSN) to a unicast ZDO
    request, or None when the stack leaves the request to the host."""
    answerer = ZdoAnswerer(
        ieee=lambda: zt.EUI64(ieee),
        nwk=lambda: zt.NWK(nwk),
        descriptor=NODE_DESCRIPTOR,
        endpoints={number: simple_descriptor(ep) for number, ep in endpoints.items()},
        serves=DISCOVERY_REQUESTS,
    )
    reply = answerer.reply_to(cluster_id, data)
    if reply is None:
        return None
    payload = reply.frame()
    if reply.command == zdo_t.ZDOCmd.Simple_Desc_rsp and len(reply.fields) < 3:
        payload += b"\x00"  # Length 0: no simple descriptor follows
    return int(reply.command), payload
