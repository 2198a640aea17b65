"""The ZDO requests an EmberZNet NCP answers by itself, in its own wire form.

The stack serves the device and service discovery requests about its own node
(Node, Active EP and Simple descriptors, Match_Desc, IEEE/NWK address) from its
own tables, notably the endpoint table filled by addEndpoint, and the binding
requests (Bind_req, Unbind_req, Mgmt_Bind_req) from its binding table
(:mod:`.ncp.binding_table`); every other request is left to the host.  The same answer goes back to the host when the
host asks the coordinator about itself (a loopback unicast), and to the air when
a remote node (an IHD) asks.

Which requests the host also sees is CONFIG_APPLICATION_ZDO_FLAGS
(:func:`route`), as the EmberZNet SDK documents its flags
(``stack/config/ember-configuration.c``, ``emAppZdoConfigurationFlags``; the
same text in bellows' ``EmberZdoConfigurationFlags``):

- APP_RECEIVES_SUPPORTED_ZDO_REQUESTS (0x01): a request the stack handles is
  also passed to the host; "the stack will continue to handle the request and
  send the appropriate ZDO response".
- APP_HANDLES_UNSUPPORTED_ZDO_REQUESTS (0x02): a request the stack does not
  handle is passed to the host, flagged APS_OPTION_ZDO_RESPONSE_REQUIRED, and
  the stack no longer answers NOT_SUPPORTED itself.
- APP_HANDLES_ZDO_ENDPOINT_REQUESTS (0x04): Simple_Desc, Match_Desc and
  Active_EP are left to the host; the stack sends no answer to them.
- APP_HANDLES_ZDO_BINDING_REQUESTS (0x08): likewise Mgmt_Bind ("binding
  table request"), Bind and Unbind.

A request the host must answer itself (0x02, 0x04, 0x08) reaches it flagged
APS_OPTION_ZDO_RESPONSE_REQUIRED, as the flags' text says the host finds out.

bellows sets 0x01 | 0x02 (``bellows/ezsp/config.py``, DEFAULT_CONFIG_COMMON),
so a display's Match_Desc is answered on air by the stack and reaches the host
as well: a host that answers it too sends a second response.  So does a
display's Bind_req: the stack answers it and the host's copy keeps the ESI's
own binding table in step (zigpy answers no Bind_req: ``zigpy/zdo/__init__.py``
has no handler for it).  The answers are the radio layer's
(:mod:`han_emu.radio.zdo_answers`); what is EmberZNet's own is its node
descriptor and the Length 0 it sends in a Simple_Desc_rsp without a
descriptor (Zigbee spec 2.4.4.2.5).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import zigpy.types as zt
import zigpy.zdo.types as zdo_t

from han_emu.radio.fakencp.ezsp.state import SILABS_MANUFACTURER_CODE, Endpoint
from han_emu.radio.zdo_answers import DISCOVERY_REQUESTS, ZdoAnswerer, node_descriptor

APP_RECEIVES_SUPPORTED_ZDO_REQUESTS = 0x01
APP_HANDLES_UNSUPPORTED_ZDO_REQUESTS = 0x02
APP_HANDLES_ZDO_ENDPOINT_REQUESTS = 0x04
APP_HANDLES_ZDO_BINDING_REQUESTS = 0x08
APS_OPTION_ZDO_RESPONSE_REQUIRED = 0x4000

#: The endpoint requests APP_HANDLES_ZDO_ENDPOINT_REQUESTS takes from the stack.
ENDPOINT_REQUESTS = frozenset(
    {zdo_t.ZDOCmd.Simple_Desc_req, zdo_t.ZDOCmd.Match_Desc_req, zdo_t.ZDOCmd.Active_EP_req}
)
#: The binding requests APP_HANDLES_ZDO_BINDING_REQUESTS takes from the stack.
BINDING_REQUESTS = frozenset({zdo_t.ZDOCmd.Bind_req, zdo_t.ZDOCmd.Unbind_req, zdo_t.ZDOCmd.Mgmt_Bind_req})
#: The requests this emulated stack handles (the real one also handles the
#: network management requests; they are left to the host here).
SUPPORTED_REQUESTS = DISCOVERY_REQUESTS | BINDING_REQUESTS | {zdo_t.ZDOCmd.Match_Desc_req, zdo_t.ZDOCmd.Device_annce}

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
    flags: int = 0,
    broadcast: bool = False,
    bindings: Sequence[zdo_t.Binding] = (),
    on_bind: Callable[[zdo_t.ZDOCmd, zdo_t.Binding], zdo_t.Status] | None = None,
) -> tuple[int, bytes] | None:
    """The NCP's own response (cluster, payload with TSN) to a ZDO request, or
    None when the stack sends none (left to the host by ``flags``, or a
    broadcast it has no match for).  ``bindings`` is the binding table as
    Mgmt_Bind_rsp lists it; ``on_bind`` changes it (see ZdoAnswerer)."""
    answerer = ZdoAnswerer(
        ieee=lambda: zt.EUI64(ieee),
        nwk=lambda: zt.NWK(nwk),
        descriptor=NODE_DESCRIPTOR,
        endpoints={number: simple_descriptor(ep) for number, ep in endpoints.items()},
        bindings=list(bindings),
        serves=stack_handles(flags),
        on_bind=on_bind,
    )
    reply = answerer.reply_to(cluster_id, data, broadcast=broadcast)
    if reply is None:
        return None
    payload = reply.frame()
    if reply.command == zdo_t.ZDOCmd.Simple_Desc_rsp and len(reply.fields) < 3:
        payload += b"\x00"  # Length 0: no simple descriptor follows
    return int(reply.command), payload


def stack_handles(flags: int) -> frozenset[zdo_t.ZDOCmd]:
    """The requests the stack answers itself under CONFIG_APPLICATION_ZDO_FLAGS."""
    handled = SUPPORTED_REQUESTS
    if flags & APP_HANDLES_ZDO_ENDPOINT_REQUESTS:
        handled -= ENDPOINT_REQUESTS
    if flags & APP_HANDLES_ZDO_BINDING_REQUESTS:
        handled -= BINDING_REQUESTS
    return handled


def route(cluster_id: int, flags: int) -> tuple[bool, int]:
    """(pass to the host?, extra APS options) for a received ZDO frame.

    Responses always reach the host; a request follows the flags above."""
    if cluster_id >= 0x8000:
        return True, 0
    try:
        command = zdo_t.ZDOCmd(cluster_id)
    except ValueError:
        command = None
    if command is not None and command in stack_handles(flags):
        return bool(flags & APP_RECEIVES_SUPPORTED_ZDO_REQUESTS), 0
    if command is not None and command in SUPPORTED_REQUESTS:
        return True, APS_OPTION_ZDO_RESPONSE_REQUIRED  # taken from the stack by 0x04 or 0x08
    if flags & APP_HANDLES_UNSUPPORTED_ZDO_REQUESTS:
        return True, APS_OPTION_ZDO_RESPONSE_REQUIRED
    return False, 0
