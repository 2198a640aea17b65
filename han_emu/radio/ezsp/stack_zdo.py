"""Match_Desc is the EmberZNet stack's to answer: zigpy must not answer it too.

bellows sets CONFIG_APPLICATION_ZDO_FLAGS to APP_RECEIVES_SUPPORTED_ZDO_REQUESTS
| APP_HANDLES_UNSUPPORTED_ZDO_REQUESTS (``bellows/ezsp/config.py``,
DEFAULT_CONFIG_COMMON).  Match_Desc is a request the stack supports: without
APP_HANDLES_ZDO_ENDPOINT_REQUESTS it answers it from its endpoint table, where
the ESI endpoints are, and with APP_RECEIVES_SUPPORTED_ZDO_REQUESTS it passes
the request on as well ("the stack will continue to handle the request and
send the appropriate ZDO response", EmberZNet SDK
``stack/config/ember-configuration.c``).  zigpy's coordinator then answers a
second time (``zigpy/zdo/__init__.py`` ``handle_match_desc_req``): an empty
list for any profile but Home Automation, endpoint 1 for Home Automation.  A
display takes the first answer it hears; one that takes the empty one finds
no meter.  So Match_Desc requests stop here, after the packet observers and
the ESI have seen them, and zigpy never answers them.
"""

from __future__ import annotations

import zigpy.types as t
import zigpy.zdo.types as zdo_t

from clusters.ids import ZDO_PROFILE_ID


class StackAnswersMatchDesc:
    """Mixin placed after ServerHost and before bellows' ControllerApplication."""

    def packet_received(self, packet: t.ZigbeePacket) -> None:
        if packet.profile_id == ZDO_PROFILE_ID and packet.cluster_id == zdo_t.ZDOCmd.Match_Desc_req:
            return
        super().packet_received(packet)  # type: ignore[misc]
