"""Sub-GHz cluster (0x070B, SE 1.4): how the coordinator throttles chatty clients.

When a sub-GHz device's duty cycle reaches *Limited* the server sends Suspend ZCL
Messages to the offenders; at *Critical* it sends it to every client.  zigpy has
no definition of this cluster.
"""

from __future__ import annotations

from typing import Final

import zigpy.types as t
from zigpy.zcl import Cluster
from zigpy.zcl.foundation import BaseAttributeDefs, BaseCommandDefs, ZCLAttributeDef, ZCLCommandDef

from clusters import ids


class SubGhz(Cluster):
    """Sub-GHz: channel-change / channel-mask attributes and the suspend commands."""

    _skip_registry = True

    cluster_id: Final[t.uint16_t] = ids.SUB_GHZ
    ep_attribute: Final = "smartenergy_sub_ghz"

    class AttributeDefs(BaseAttributeDefs):
        # bits 0-26 channel, bits 27-31 page: where the network manager will move to
        channel_change: Final = ZCLAttributeDef(id=0x0000, type=t.bitmap32, access="r")
        page28_channel_mask: Final = ZCLAttributeDef(id=0x0001, type=t.bitmap32, access="r")
        page29_channel_mask: Final = ZCLAttributeDef(id=0x0002, type=t.bitmap32, access="r")
        page30_channel_mask: Final = ZCLAttributeDef(id=0x0003, type=t.bitmap32, access="r")
        page31_channel_mask: Final = ZCLAttributeDef(id=0x0004, type=t.bitmap32, access="r")

    class ServerCommandDefs(BaseCommandDefs):
        """Client -> server."""

        get_suspend_zcl_messages_status: Final = ZCLCommandDef(id=0x00, schema={})

    class ClientCommandDefs(BaseCommandDefs):
        """Server -> client; also the answer to Get Suspend ZCL Messages Status."""

        # minutes to stay silent; 0 lifts a suspension
        suspend_zcl_messages: Final = ZCLCommandDef(id=0x00, schema={"period": t.uint8_t})
