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

import asyncio
import contextvars
import logging
from typing import Any

import zigpy.types as t
import zigpy_znp.commands as c
import zigpy_znp.config as znp_conf
import zigpy_znp.types as znp_t
from zigpy_znp.zigbee.application import ControllerApplication

from zigpy_znp.exceptions import CommandNotRecognized

from clusters.ids import ZDO_PROFILE_ID
from han_emu.radio.backend import RadioSpec
from han_emu.radio.coordinator import HardwareCoordinator

LOGGER = logging.getLogger(__name__)

#: The source endpoint the packet being sent asked for (set only while a
#: frame from one of the server's endpoints is handed to zigpy-znp).
_SOURCE_ENDPOINT: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "han_emu_znp_source_endpoint", default=None
)


LINK_KEY_UNSUPPORTED = (
    "this Z-Stack firmware accepts neither ZDO_SET_LINK_KEY nor ZDO_SEC_ADD_LINK_KEY "
    "(built without MT_SYS_KEY_MANAGEMENT and MT_ZDO_EXTENSIONS), so the host cannot give it "
    "the CBKE link key and the display's Smart Energy frames will fail; flash a coordinator "
    "image with key management, or use a lab device that keeps its install-code link key "
    "(with --lab-accept-unencrypted)"
)


_BINDING_REQUESTS = frozenset({0x0021, 0x0022})  # ZDO Bind_req, Unbind_req


class LinkKeyUnsupported(Exception):
    """The Z-Stack build offers the host no command to install a link key."""


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

    _permit_reset: asyncio.Task[None] | None = None

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

    async def on_zdo_message(self, msg: c.ZDO.MsgCbIncoming.Callback) -> None:
        """Z-Stack answers a Bind_req or Unbind_req itself and reports a copy;
        zigpy-znp drops every reported ZDO request as a loopback of its own.
        Show these two to the host's observers (the ESI's binding table) first."""
        if int(msg.ClusterId) in _BINDING_REQUESTS:
            packet = t.ZigbeePacket(
                src=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=msg.Src),
                src_ep=0, dst=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=self.state.node_info.nwk),
                dst_ep=0, tsn=msg.TSN, profile_id=ZDO_PROFILE_ID, cluster_id=msg.ClusterId,
                data=t.SerializableBytes(bytes([msg.TSN]) + bytes(msg.Data)),
            )
            for observer in self.host_observers:
                try:
                    observer(packet)
                except Exception:
                    LOGGER.exception("Packet observer %r failed on %r", observer, packet)
        await super().on_zdo_message(msg)

    def _find_endpoint(self, dst_ep: int, profile: int, cluster: int) -> int:
        pinned = _SOURCE_ENDPOINT.get()
        if pinned is not None and dst_ep != 0:
            return pinned
        return super()._find_endpoint(dst_ep, profile, cluster)

    async def permit_with_node_key(
        self, node: t.EUI64, key: t.KeyData, time_s: int = 60
    ) -> None:
        """Open joining to ``node`` with ``key`` and return at once.

        zigpy-znp's ``permit_with_link_key`` holds the caller for the whole
        window (it restores "any key may join" at the end); here the window is
        opened, and restoring is left to a background task.
        """
        node = t.EUI64(node)
        await self._znp.request(
            c.AppConfig.BDBAddInstallCode.Req(
                InstallCodeFormat=c.app_config.InstallCodeFormat.KeyDerivedFromInstallCode,
                IEEE=node,
                InstallCode=t.KeyData(key).serialize(),
            ),
            RspStatus=znp_t.Status.SUCCESS,
        )
        await self._install_code_only(True)
        await self.permit(time_s)
        self.link_keys[node] = t.KeyData(key)
        if self._permit_reset is not None:
            self._permit_reset.cancel()
        self._permit_reset = asyncio.get_running_loop().create_task(self._end_permit(time_s))

    async def _install_code_only(self, on: bool) -> None:
        await self._znp.request(
            c.AppConfig.BDBSetJoinUsesInstallCodeKey.Req(BdbJoinUsesInstallCodeKey=on),
            RspStatus=znp_t.Status.SUCCESS,
        )

    async def _end_permit(self, time_s: float) -> None:
        await asyncio.sleep(time_s)
        self._permit_reset = None
        try:
            await self._install_code_only(False)
        except Exception as exc:  # not persistent on Z-Stack: the next reset clears it
            LOGGER.debug("Could not restore joins without install codes: %r", exc)

    async def shutdown(self, *, db: bool = True) -> None:
        if self._permit_reset is not None:
            self._permit_reset.cancel()
            self._permit_reset = None
        await super().shutdown(db=db)

    async def _store_link_key(self, ieee: t.EUI64, key: t.KeyData) -> bool:
        """Install a partner's link key (CBKE's KeyData) in Z-Stack.

        Both MT commands that can do it end in ``ZDSecMgrAddLinkKey``, which
        puts the key in the APS key table, marks the device as authenticated
        by CBKE and writes the table to NV: ZDO_SET_LINK_KEY (built with
        MT_SYS_KEY_MANAGEMENT, as the common coordinator images are) and
        ZDO_SEC_ADD_LINK_KEY (MT_ZDO_EXTENSIONS).  A build with neither
        leaves the host no way in: :class:`LinkKeyUnsupported` says so.
        """
        nwk = self.nwk_of(ieee)
        if nwk is None:
            nwk = 0xFFFE  # unknown: Z-Stack keys the entry by IEEE
        for command in (c.ZDO.SetLinkKey, c.ZDO.SecAddLinkKey):
            try:
                await self._znp.request(
                    command.Req(NWK=nwk, IEEE=ieee, LinkKeyData=znp_t.KeyData(key)),
                    RspStatus=znp_t.Status.SUCCESS,
                )
            except CommandNotRecognized:
                continue
            return True
        raise LinkKeyUnsupported(LINK_KEY_UNSUPPORTED)
