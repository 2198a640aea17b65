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

And Z-Stack's trust centre needs three things a Smart Energy display does not
get from zigpy-znp (sources: ``zd_sec_mgr.c`` and ``bdb.c`` of the TI
SimpleLink SDK, cited where used): the CBKE key in the trust-centre table as
well as the APS table, require-key-exchange off while displays join, and the
ESI endpoints in the chip's endpoint table (checked at start).
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
from zigpy_znp.types.nvids import ExNvIds, OsalNvIds

from clusters.ids import SE_PROFILE_ID, ZDO_PROFILE_ID
from han_emu.radio.backend import RadioError, RadioSpec
from han_emu.radio.coordinator import HardwareCoordinator
from han_emu.radio.key_table import KeyTableFull
from han_emu.radio.quiet_joins import QuietJoins

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


NETWORK_KEY_UNSUPPORTED = (
    "this Z-Stack firmware was built without MT_ZDO_EXTENSIONS, so it offers the host no "
    "ZDO_EXT_UPDATE_NWK_KEY / ZDO_EXT_SWITCH_NWK_KEY: it cannot update the network key"
)

_BINDING_REQUESTS = frozenset({0x0021, 0x0022})  # ZDO Bind_req, Unbind_req

#: ``BDB_DEFAULT_TC_NODE_JOIN_TIMEOUT`` (``bdb_interface.h``): seconds a joiner
#: has for the Zigbee 3.0 key exchange before the trust centre judges it.
NODE_JOIN_TIMEOUT = 15.0
#: ``INVALID_NODE_ADDR``: the address-manager index of a free APS key entry.
_INVALID_NODE_ADDR = 0xFFFE
_APS_TABLE_HEADER = 2  # nvDeviceListHdr_t: uint16 count


class EndpointTableMissing(RadioError):
    """The coordinator's endpoint table lacks an ESI endpoint."""


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


class ZnpCoordinator(QuietJoins, HardwareCoordinator, ControllerApplication):
    """A Z-Stack 3.x coordinator carrying a packet server; zigpy's interview of
    joining displays is left out (:mod:`han_emu.radio.quiet_joins`)."""

    _permit_reset: asyncio.Task[None] | None = None
    #: Seconds after a permit window before require-key-exchange is restored.
    node_join_timeout: float = NODE_JOIN_TIMEOUT

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
        await self._warn_if_no_address_room()
        await self._znp.request(
            c.AppConfig.BDBAddInstallCode.Req(
                InstallCodeFormat=c.app_config.InstallCodeFormat.KeyDerivedFromInstallCode,
                IEEE=node,
                InstallCode=t.KeyData(key).serialize(),
            ),
            RspStatus=znp_t.Status.SUCCESS,
        )
        await self._install_code_only(True)
        await self._require_key_exchange(False)
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

    async def _require_key_exchange(self, on: bool) -> None:
        """``bdbTrustCenterRequireKeyExchange``: on by default, Z-Stack removes
        a device that joined and did not finish the Zigbee 3.0 trust-centre
        key request within ``bdbTrustCenterNodeJoinTimeout`` (15 s;
        ``bdb_TCProcessJoiningList`` in ``bdb.c``).  A Smart Energy display
        gets its key by CBKE instead, so it is off while displays join.  The
        attribute lives in RAM and cannot be read back: a reset restores the
        default, and the host restores it itself after the window."""
        await self._znp.request(
            c.AppConfig.BDBSetTcRequireKeyExchange.Req(BdbTrustCenterRequireKeyExchange=on),
            RspStatus=znp_t.Status.SUCCESS,
        )

    async def _end_permit(self, time_s: float) -> None:
        await asyncio.sleep(time_s)
        try:
            await self._install_code_only(False)
        except Exception as exc:  # not persistent on Z-Stack: the next reset clears it
            LOGGER.debug("Could not restore joins without install codes: %r", exc)
        # A display that joined at the end of the window is judged a join
        # timeout later: restoring sooner would have it removed.
        await asyncio.sleep(self.node_join_timeout + 1.0)
        self._permit_reset = None
        try:
            await self._require_key_exchange(True)
        except Exception as exc:  # a reset restores the default anyway
            LOGGER.debug("Could not restore require-key-exchange: %r", exc)

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
        leaves the host no way in: :class:`LinkKeyUnsupported` says so; a full
        APS table (ZBufferFull) raises :class:`KeyTableFull`.

        The trust centre's own frames to the display (a network-key update,
        the key of a trust-centre rejoin) are secured by
        ``APSME_TCLinkKeyLoad`` from the trust-centre table alone, where the
        display still has its install-code key; so the key also replaces that
        entry (:meth:`_replace_trust_centre_key`).
        """
        nwk = self.nwk_of(ieee)
        if nwk is None:
            nwk = 0xFFFE  # unknown: Z-Stack keys the entry by IEEE
        for command in (c.ZDO.SetLinkKey, c.ZDO.SecAddLinkKey):
            try:
                rsp = await self._znp.request(command.Req(NWK=nwk, IEEE=ieee, LinkKeyData=znp_t.KeyData(key)))
            except CommandNotRecognized:
                continue
            if rsp.Status == znp_t.Status.BUFFER_FULL:
                raise KeyTableFull(await self.key_table_size())
            if rsp.Status != znp_t.Status.SUCCESS:
                raise RuntimeError(f"{command.__name__} answered {rsp.Status!r}")
            await self._replace_trust_centre_key(ieee, key)
            return True
        raise LinkKeyUnsupported(LINK_KEY_UNSUPPORTED)

    async def _replace_trust_centre_key(self, ieee: t.EUI64, key: t.KeyData) -> None:
        """Make ``key`` the display's trust-centre link key.

        APP_CNF_BDB_ADD_INSTALLCODE with a derived key calls
        ``APSME_AddTCLinkKey``: the key goes into the install-code key table
        and the device's trust-centre entry becomes PROVISIONAL with it, which
        ``APSME_TCLinkKeyLoad`` then uses.  (A VERIFIED key is derived from the
        TCLK seed and cannot be set to a CBKE key.)  A failure is not fatal to
        Smart Energy traffic, which uses the APS table: it is logged."""
        try:
            await self._znp.request(
                c.AppConfig.BDBAddInstallCode.Req(
                    InstallCodeFormat=c.app_config.InstallCodeFormat.KeyDerivedFromInstallCode,
                    IEEE=ieee, InstallCode=t.KeyData(key).serialize(),
                ),
                RspStatus=znp_t.Status.SUCCESS,
            )
        except Exception as exc:
            LOGGER.warning("The coordinator kept the old trust-centre key of %s (%s): a network-key "
                           "update or trust-centre rejoin would use the install-code key", ieee, exc)

    # -- the network-key update (trust centre) ------------------------------------------
    async def send_network_key(self, nwk: int, ieee: t.EUI64, key: t.KeyData, seq: int) -> bool:
        """Send the device at ``nwk`` the network key ``key`` under ``seq``:
        ZDO_EXT_UPDATE_NWK_KEY (zigpy-znp ``ZDO.ExtUpdateNwkKey``, MT_ZDO_EXTENSIONS),
        which calls ``ZDSecMgrUpdateNwkKey`` (``zd_sec_mgr.c``): an APS
        Transport-Key secured with the device's trust-centre link key (the
        CBKE key, :meth:`_replace_trust_centre_key`), and the key kept as the
        alternate one in NV.  False when the chip refused (an address it does
        not know); RadioError when the image lacks the command."""
        try:
            rsp = await self._znp.request(c.ZDO.ExtUpdateNwkKey.Req(Dst=t.NWK(nwk), KeySeqNum=seq,
                                                                    Key=znp_t.KeyData(key)))
        except CommandNotRecognized:
            raise RadioError(NETWORK_KEY_UNSUPPORTED) from None
        if rsp.Status != znp_t.Status.SUCCESS:
            LOGGER.warning("The coordinator did not send %s the new network key: %r", ieee, rsp.Status)
            return False
        return True

    async def switch_network_key(self, seq: int) -> None:
        """ZDO_EXT_SWITCH_NWK_KEY to the broadcast address (``ZDSecMgrSwitchNwkKey``):
        the Switch-Key to every device, and the coordinator moves to key ``seq``
        in NV; RadioError when refused."""
        try:
            rsp = await self._znp.request(c.ZDO.ExtSwitchNwkKey.Req(Dst=t.NWK(0xFFFF), KeySeqNum=seq))
        except CommandNotRecognized:
            raise RadioError(NETWORK_KEY_UNSUPPORTED) from None
        if rsp.Status != znp_t.Status.SUCCESS:
            raise RadioError(f"the coordinator refused to switch to network key {seq}: {rsp.Status!r}")

    # -- key and address tables (read from NV, as the firmware sized them) -----------------
    async def _aps_link_key_table(self) -> tuple[int, list[znp_t.APSLinkKeyTableEntry]]:
        """(header count, every entry) of ZCD_NV_APS_LINK_KEY_TABLE: a uint16
        count and ``ZDSECMGR_ENTRY_MAX`` entries in place (``ZDSecMgrWriteNV``
        in ``zd_sec_mgr.c``)."""
        raw = bytes(await self._znp.nvram.osal_read(OsalNvIds.APS_LINK_KEY_TABLE, item_type=znp_t.Bytes))
        align = self._znp.nvram.align_structs
        size = len(znp_t.APSLinkKeyTableEntry(
            AddressManagerIndex=0, LinkKeyNvId=0,
            AuthenticationState=znp_t.AuthenticationOption.NotAuthenticated).serialize(align=align))
        entries = []
        for at in range(_APS_TABLE_HEADER, len(raw) - size + 1, size):
            entry, _ = znp_t.APSLinkKeyTableEntry.deserialize(raw[at:at + size], align=align)
            entries.append(entry)
        return int.from_bytes(raw[:_APS_TABLE_HEADER], "little"), entries

    async def key_table_size(self) -> int:
        """Entries of the APS link-key table, where CBKE keys go
        (``ZDSECMGR_ENTRY_MAX``: 3 unless the image was built otherwise)."""
        _count, entries = await self._aps_link_key_table()
        return len(entries)

    async def _free_key_slots(self) -> tuple[int, list[int]]:
        """(entries, indices of the free ones) of the APS link-key table, as the
        firmware sees it (``ZDSecMgrRestoreFromNV``, ``ZDSecMgrEntryNew``):
        with a zero count every entry is free, else the free ones are those
        whose address-manager index is INVALID_NODE_ADDR."""
        count, entries = await self._aps_link_key_table()
        return len(entries), [i for i, entry in enumerate(entries)
                              if count == 0 or entry.AddressManagerIndex == _INVALID_NODE_ADDR]

    async def key_table_use(self) -> tuple[int, int]:
        """(entries, entries holding a key) of the APS link-key table."""
        size, free = await self._free_key_slots()
        return size, size - len(free)

    async def free_key_slot(self) -> int:
        """The first entry of the APS link-key table that holds no key; a
        full table raises :class:`KeyTableFull`."""
        size, free = await self._free_key_slots()
        if not free:
            raise KeyTableFull(size)
        return free[0]

    async def address_table_size(self) -> tuple[int, int]:
        """(entries, free entries) of the address manager, which Z-Stack needs
        to place a sender before it can decrypt its APS-secured frames
        (``NWK_MAX_ADDRESSES`` in ``nwk_globals.h``)."""
        entries = [e async for e in self._znp.nvram.read_table(item_id=ExNvIds.ADDRMGR, item_type=znp_t.AddrMgrEntry)]
        empty = (t.EUI64([0xFF] * 8), t.EUI64([0] * 8))
        return len(entries), sum(e.extAddr in empty for e in entries)

    async def _warn_if_no_address_room(self) -> None:
        """A display the address manager cannot hold joins, but Z-Stack then
        cannot decrypt its APS-secured frames: say so before opening."""
        try:
            size, free = await self.address_table_size()
        except Exception as exc:  # a table the firmware will not show is no reason to stop
            LOGGER.debug("Could not read the address manager: %r", exc)
            return
        if size and free == 0:
            LOGGER.warning("The coordinator's address manager is full (%d entries): a new display "
                           "would join but its encrypted requests would be lost; remove a device first", size)

    # -- the endpoint table ------------------------------------------------------------------
    async def start_network(self, *args: Any, **kwargs: Any) -> None:
        await super().start_network(*args, **kwargs)
        await self.check_endpoint_table()

    async def check_endpoint_table(self) -> None:
        """Ask the chip (ZDO Simple_Desc_req to itself) for each ESI endpoint.

        Z-Stack hands a received frame only to an endpoint in its table with
        the frame's profile (``afIncomingData`` in ``af.c``), and zigpy-znp
        takes a frame for an endpoint it does not know as Home Automation
        (``on_af_message``): without the endpoints every display request is
        lost.  Raises :class:`EndpointTableMissing` in one line.

        zigpy-znp takes a ZDO answer only from ``ZDO.MsgCbIncoming``, which
        Z-Stack sends to hosts registered with ``ZDO.MsgCallbackRegister``;
        that registration lives in RAM (``zdoMsgCBs``, ``ZDProfile.c``), so a
        reset the host did not see silences every answer.  Registering again
        first is harmless: ``ZDO_RegisterForZDOMsg`` ignores a duplicate."""
        await self._znp.request(
            c.ZDO.MsgCallbackRegister.Req(ClusterId=0xFFFF), RspStatus=znp_t.Status.SUCCESS
        )
        me = self.state.node_info.nwk
        missing = []
        for descriptor in self._server_descriptors():
            ep = int(descriptor.endpoint)
            try:
                status, _nwk, found = await self._device.zdo.Simple_Desc_req(me, ep)
            except Exception as exc:  # no answer at all: say which endpoint
                LOGGER.debug("Simple_Desc_req for endpoint %d failed: %r", ep, exc)
                status, found = None, None
            if status != 0 or found is None or int(found.profile) != SE_PROFILE_ID:
                missing.append(ep)
        if missing:
            eps = ", ".join(str(ep) for ep in missing)
            raise EndpointTableMissing(
                f"the coordinator's endpoint table lacks ESI endpoint(s) {eps} with the Smart Energy "
                f"profile 0x{SE_PROFILE_ID:04X}, so Z-Stack would drop every display request; "
                "unplug the stick, plug it in again and restart han-emu"
            )
