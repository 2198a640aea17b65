"""The Z-Stack backend: zigpy-znp's ControllerApplication carrying the ESI server.

Two things in zigpy-znp need bending for a Smart Energy server:

- it picks the source endpoint of every frame itself (``_find_endpoint``),
  ignoring ``packet.src_ep``; with ``prefer_endpoint_1`` on it always sends from
  endpoint 1 (HA), and with it off it takes the first registered endpoint
  that serves the cluster, which is endpoint 1 for *both* ESIs since they
  serve the same clusters.  A reply from the secondary ESI must leave from the
  secondary ESI, so frames sent from a server endpoint keep their own.
- zigpy registers HA on 1, ZLL on 2 and Green Power on 242, and Z-Stack
  refuses a second ``AF.Register`` of an endpoint: the ESIs take the place
  of 1 and 2 (see :class:`~han_emu.radio.host.ServerHost`) and 242 stays.
"""

from __future__ import annotations

import contextvars
from typing import Any

import zigpy.types as t
import zigpy_znp.commands as c
import zigpy_znp.config as znp_conf
import zigpy_znp.types as znp_t
from zigpy_znp.zigbee.application import ControllerApplication

from han_emu.radio.backend import RadioSpec
from han_emu.radio.coordinator import HardwareCoordinator

#: The source endpoint the packet being sent asked for (set only while a
#: frame from one of the server's endpoints is handed to zigpy-znp).
_SOURCE_ENDPOINT: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "han_emu_znp_source_endpoint", default=None
)


def radio_config(spec: RadioSpec, *, request_timeout: float) -> dict[str, Any]:
    """The ``znp_config`` section for ``spec``."""
    znp: dict[str, Any] = {
        znp_conf.CONF_PREFER_ENDPOINT_1: False,
        znp_conf.CONF_SREQ_TIMEOUT: request_timeout,
        znp_conf.CONF_ARSP_TIMEOUT: max(request_timeout, 2 * request_timeout),
    }
    if spec.networked:
        # No bootloader pins behind a TCP socket: toggling them only adds
        # delays, and a plain ping tells at once whether an NCP is there.
        znp[znp_conf.CONF_SKIP_BOOTLOADER] = False
        # The LED request goes unanswered on boards without LEDs.
        znp[znp_conf.CONF_LED_MODE] = None
    return {znp_conf.CONF_ZNP_CONFIG: znp}


class ZnpCoordinator(HardwareCoordinator, ControllerApplication):
    """A Z-Stack 3.x coordinator carrying a packet server."""

    async def _send_request_raw(
        self,
        dst_addr: znp_t.AddrModeAddress,
        dst_ep: int,
        src_ep: int,
        profile: int,
        cluster: int,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        pinned = int(src_ep) if src_ep is not None and int(src_ep) in self.server_endpoints else None
        token = _SOURCE_ENDPOINT.set(pinned)
        try:
            await super()._send_request_raw(dst_addr, dst_ep, src_ep, profile, cluster, *args, **kwargs)
        finally:
            _SOURCE_ENDPOINT.reset(token)

    def _find_endpoint(self, dst_ep: int, profile: int, cluster: int) -> int:
        pinned = _SOURCE_ENDPOINT.get()
        if pinned is not None and dst_ep != 0:
            return pinned
        return super()._find_endpoint(dst_ep, profile, cluster)

    async def _store_link_key(self, ieee: t.EUI64, key: t.KeyData) -> bool:
        """ZDO_SET_LINK_KEY: the key goes into Z-Stack's APS key table."""
        try:
            nwk = self.get_device(ieee=ieee).nwk
        except KeyError:
            nwk = 0xFFFE  # unknown: Z-Stack keys the entry by IEEE
        await self._znp.request(
            c.ZDO.SetLinkKey.Req(NWK=nwk, IEEE=ieee, LinkKeyData=znp_t.KeyData(key)),
            RspStatus=znp_t.Status.SUCCESS,
        )
        return True
