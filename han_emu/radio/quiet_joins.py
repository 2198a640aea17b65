"""No zigpy interview of a joining display, on any stick.

zigpy asks every newly joined device for its node, active endpoint and simple
descriptors (``ControllerApplication.handle_join`` ->
``Device.schedule_initialize``), and does the same when an address response
names a device it did not know (``ControllerApplication._maybe_parse_zdo``
calls ``handle_join`` for IEEE_addr_rsp and NWK_addr_rsp).  The ESI is served
below zigpy's device layer and never reads those descriptors, while a Smart
Energy display that has just joined must run CBKE with the trust centre: the
interview only spends its airtime and battery in that window.  So the
interview zigpy schedules is cancelled before it sends anything.  Nothing
here depends on the radio library: bellows and zigpy-znp both report joins
and address responses through zigpy's ``handle_join``.
"""

from __future__ import annotations

import logging
from typing import Any

import zigpy.types as t

LOGGER = logging.getLogger(__name__)


class QuietJoins:
    """Mixin for an ESI host's ControllerApplication: zigpy's device interview never runs."""

    def handle_join(self, nwk: t.NWK, ieee: t.EUI64, parent_nwk: t.NWK | None, *args: Any, **kwargs: Any) -> None:
        super().handle_join(nwk, ieee, parent_nwk, *args, **kwargs)  # type: ignore[misc]
        try:
            device = self.get_device(ieee=t.EUI64(ieee))  # type: ignore[attr-defined]
        except KeyError:
            return
        task = getattr(device, "_initialize_task", None)
        if task is not None and not task.done():
            device.cancel_initialization()
            LOGGER.debug("Not interviewing %s: the ESI does not need its descriptors", ieee)
