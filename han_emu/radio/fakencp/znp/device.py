"""The emulated Z-Stack 3.30 coordinator: MT requests in, MT responses and callbacks out.

Pure logic (no sockets, no asyncio): :meth:`FakeZStack.handle` takes one
decoded request and returns what the chip would send back, the synchronous
response first, then the asynchronous callbacks in firmware order.  The
transport (:mod:`.server`) frames and ships them.

Behaviour follows what an unmodified zigpy-znp client needs and what real
firmware does: NV items survive resets, AF endpoint registrations and the
network run state do not; formation writes the NIB, the active key and the
security material table; unknown synchronous requests get an RPC error.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import zigpy.zdo.types as zdo_t
import zigpy_znp.commands as c
import zigpy_znp.types as t
from zigpy_znp.commands.app_config import BDBCommissioningMode, BDBCommissioningStatus
from zigpy_znp.types.nvids import ExNvIds, NvSysIds, OsalNvIds

from han_emu.radio.fakencp.znp.af_frames import OutgoingFrame, RegisteredEndpoint, outgoing_frame, zcl_tsn
from han_emu.radio.fakencp.znp import local_zdo
from han_emu.radio.fakencp.znp.local_zdo import COORDINATOR_NWK
from han_emu.radio.fakencp.znp.nvram import (
    DEFAULT_BDB_PRIMARY_CHANNELS,
    ZnpNvram,
    factory_items,
    osal_key,
    pack,
    unformed_nib,
    unpack,
)
from han_emu.radio.fakencp.znp.zstack_images import ZStackImage, firmware_image
from han_emu.radio.fakencp.znp.nwk_key_update import NwkKeyUpdate
from han_emu.radio.fakencp.znp.security_nv import SecurityNv
from han_emu.radio.fakencp.znp.tc_keys import TrustCentreKeys
from han_emu.radio.zdo_answers import ZDO_ENDPOINT, zdo_body

LOGGER = logging.getLogger(__name__)

# What a CC26x2 running Z-Stack 3.x.0 reports about itself.
CAPABILITIES = (
    t.MTCapabilities.SYS
    | t.MTCapabilities.AF
    | t.MTCapabilities.ZDO
    | t.MTCapabilities.UTIL
    | t.MTCapabilities.GP
    | t.MTCapabilities.APP_CNF
)
SUPPORTED_SUBSYSTEMS = frozenset(
    {
        t.Subsystem.SYS,
        t.Subsystem.AF,
        t.Subsystem.ZDO,
        t.Subsystem.UTIL,
        t.Subsystem.APPConfig,
        t.Subsystem.ZGP,
    }
)
# An MT frame carries at most 250 payload bytes; AF.IncomingMsg spends 20 on its fields.
MAX_INCOMING_DATA = 250 - 20
ASSOCIATED_DEVICE_SIZE = 36  # sizeof(associated_devices_t) with padding on CC26x2


@dataclass
class _RunState:
    """What a reset forgets."""

    device_state: t.DeviceState = t.DeviceState.InitializedNotStarted
    endpoints: dict[int, RegisteredEndpoint] = field(default_factory=dict)
    zdo_callbacks: set[int] = field(default_factory=set)
    bdb_primary: t.Channels = DEFAULT_BDB_PRIMARY_CHANNELS
    bdb_secondary: t.Channels = t.Channels.NO_CHANNELS
    permit_join_s: int = 0


Reply = list[t.CommandBase]


class FakeZStack(SecurityNv, TrustCentreKeys, NwkKeyUpdate):
    """A Z-Stack 3.30 coordinator with its NV memory, running ``image``
    (:mod:`.zstack_images`: its table sizes and version reply).

    ``on_frame`` is called with every :class:`OutgoingFrame` (ZDO ones
    included); ``confirm_status`` may pick the ``AF.DataConfirm`` status of a
    unicast to simulate delivery failures, or return None to send the
    confirm itself later (:meth:`FakeZnpServer.confirm_sent`).
    """

    def __init__(
        self,
        nvram: ZnpNvram | None = None,
        *,
        ieee: t.EUI64 | None = None,
        rng: random.Random | None = None,
        key_management: bool = True,
        zdo_extensions: bool = True,
        image: ZStackImage | str | None = None,
    ) -> None:
        """``key_management`` and ``zdo_extensions`` say whether the image was
        built with MT_SYS_KEY_MANAGEMENT (ZDO_SET_LINK_KEY) and MT_ZDO_EXTENSIONS
        (ZDO_SEC_ADD_LINK_KEY), the two ways a host can install a link key;
        the common coordinator images have both.  MT_ZDO_EXTENSIONS also
        brings the network-key update (:mod:`.nwk_key_update`)."""
        self._rng = rng or random.Random()
        self.image = image if isinstance(image, ZStackImage) else firmware_image(image)
        #: Seconds a joiner has for the Zigbee 3.0 key exchange (bdbTrustCenterNodeJoinTimeout).
        self.node_join_timeout = self.image.node_join_timeout_s
        self._tc_reset()
        self.hardware_ieee = ieee or t.EUI64(self._rng.randbytes(8))
        if nvram is None:
            nvram = ZnpNvram(self._factory())
        self.nvram = nvram
        if (extaddr := nvram.osal(OsalNvIds.EXTADDR)) is not None and ieee is None:
            self.hardware_ieee = unpack(extaddr, t.EUI64)
        self._run = _RunState()
        self.on_frame: Callable[[OutgoingFrame], None] | None = None
        self.confirm_status: Callable[[OutgoingFrame], t.Status | None] | None = None
        self.unknown_requests: list[t.CommandHeader] = []
        self._handlers: dict[type, Callable[[Any], Reply]] = {
            c.SYS.Ping.Req: self._ping,
            c.SYS.Version.Req: self._version,
            c.SYS.ResetReq.Req: self._reset_req,
            c.SYS.OSALNVLength.Req: self._osal_length,
            c.SYS.OSALNVRead.Req: self._osal_read,
            c.SYS.OSALNVReadExt.Req: self._osal_read,
            c.SYS.OSALNVWrite.Req: self._osal_write,
            c.SYS.OSALNVWriteExt.Req: self._osal_write,
            c.SYS.OSALNVItemInit.Req: self._osal_init,
            c.SYS.OSALNVDelete.Req: self._osal_delete,
            c.SYS.NVLength.Req: self._nv_length,
            c.SYS.NVRead.Req: self._nv_read,
            c.SYS.NVWrite.Req: self._nv_write,
            c.SYS.NVCreate.Req: self._nv_create,
            c.SYS.NVDelete.Req: self._nv_delete,
            c.SYS.SetTxPower.Req: self._set_tx_power,
            c.UTIL.AssocFindDevice.Req: self._assoc_find_device,
            c.UTIL.GetDeviceInfo.Req: self._get_device_info,
            c.UTIL.LEDControl.Req: self._led_control,
            c.AppConfig.BDBSetChannel.Req: self._bdb_set_channel,
            c.AppConfig.BDBStartCommissioning.Req: self._bdb_start_commissioning,
            c.AppConfig.BDBSetTcRequireKeyExchange.Req: self._set_require_key_exchange,
            c.AppConfig.BDBSetJoinUsesInstallCodeKey.Req: self._status_success,
            c.AppConfig.BDBAddInstallCode.Req: self._add_install_code,
            c.AppConfig.SetAllowRejoinTCPolicy.Req: self._status_success,
            c.AF.Register.Req: self._af_register,
            c.AF.Delete.Req: self._af_delete,
            c.AF.DataRequest.Req: self._af_data_request,
            c.AF.DataRequestExt.Req: self._af_data_request,
            c.AF.DataRequestSrcRtg.Req: self._af_data_request,
            c.ZDO.MsgCallbackRegister.Req: self._zdo_msg_cb_register,
            c.ZDO.MgmtPermitJoinReq.Req: self._zdo_permit_join,
            c.ZDO.ExtRouteChk.Req: self._zdo_route_check,
            c.ZDO.ExtRouteDisc.Req: self._status_success,
            c.ZDO.StartupFromApp.Req: self._zdo_startup_from_app,
        }
        if key_management:
            self._handlers[c.ZDO.SetLinkKey.Req] = self._zdo_add_link_key
            self._handlers[c.ZDO.GetLinkKey.Req] = lambda req: [req.Rsp(**dict(zip(
                ("Status", "IEEE", "LinkKeyData"), self.get_link_key(req.IEEE))))]
        if zdo_extensions:
            self._handlers[c.ZDO.SecAddLinkKey.Req] = self._zdo_add_link_key
            self._handlers[c.ZDO.ExtUpdateNwkKey.Req] = self._update_nwk_key
            self._handlers[c.ZDO.ExtSwitchNwkKey.Req] = self._switch_nwk_key
            # No APS groups on the emulated coordinator (MT_ZdoExtCountAllGroups).
            self._handlers[c.ZDO.ExtCountAllGroups.Req] = lambda req: [req.Rsp(GroupCount=0)]

    # ------------------------------------------------------------------ API
    @property
    def endpoints(self) -> dict[int, RegisteredEndpoint]:
        """Endpoints registered since the last reset, by number."""
        return dict(self._run.endpoints)

    @property
    def device_state(self) -> t.DeviceState:
        return self._run.device_state

    @property
    def ieee(self) -> t.EUI64:
        value = self.nvram.osal_get(OsalNvIds.EXTADDR, t.EUI64)
        return self.hardware_ieee if value is None else value

    @property
    def nib(self) -> t.NIB | None:
        return self.nvram.osal_get(OsalNvIds.NIB, t.NIB)

    @property
    def network_formed(self) -> bool:
        return self.nvram.osal(OsalNvIds.BDBNODEISONANETWORK) == b"\x01"

    @property
    def network_key(self) -> t.KeyData | None:
        desc = self.nvram.osal_get(OsalNvIds.NWK_ACTIVE_KEY_INFO, t.NwkKeyDesc)
        return None if desc is None else desc.Key

    @property
    def permit_join_s(self) -> int:
        return self._run.permit_join_s

    def handle(self, request: t.CommandBase) -> Reply:
        """Answer one host request as the firmware would."""
        handler = self._handlers.get(type(request))
        if handler is None:
            return self.not_recognized(request.header)
        return handler(request)

    def not_recognized(
        self, header: t.CommandHeader, code: c.rpc_error.ErrorCode | None = None
    ) -> Reply:
        """The RPC error a synchronous request gets when the firmware lacks it."""
        self.unknown_requests.append(header)
        LOGGER.info("Unsupported MT request %s", header)
        if header.type != t.CommandType.SREQ:
            return []
        if code is None:
            code = (
                c.rpc_error.ErrorCode.InvalidCommandId
                if header.subsystem in SUPPORTED_SUBSYSTEMS
                else c.rpc_error.ErrorCode.InvalidSubsystem
            )
        return [c.RPCError.CommandNotRecognized.Rsp(ErrorCode=code, RequestHeader=header)]

    def boot_indication(self) -> t.CommandBase:
        return c.SYS.ResetInd.Callback(Reason=t.ResetReason.PowerUp, **self.image.version)

    def incoming_message(
        self,
        *,
        src_nwk: int,
        src_ep: int,
        dst_ep: int,
        cluster_id: int,
        data: bytes,
        tsn: int | None = None,
        lqi: int = 255,
        encrypted: bool = True,
        group_id: int = 0x0000,
        broadcast: bool = False,
        timestamp: int = 0,
        radius: int = 0,
        profile_id: int | None = None,
    ) -> t.CommandBase | None:
        """An ``AF.IncomingMsg`` as the chip reports a frame received over the
        air, or None when the chip drops it.

        ``afIncomingData`` (``source/ti/zstack/stack/af/af.c`` of the TI
        SimpleLink SDK) hands a frame only to a registered endpoint
        (``afFindEndPointDesc``) whose simple descriptor has the frame's
        profile (or the wildcard profile 0xFFFF); anything else is dropped
        without a word to the host.  ``profile_id`` None means the sender used
        the endpoint's own profile.  The TSN defaults to the ZCL sequence
        number of ``data``; Z-Stack copies it from the ZCL header too.
        """
        registered = self._run.endpoints.get(dst_ep)
        if dst_ep != 0xFF and (registered is None or profile_id not in (None, 0xFFFF, registered.profile_id)):
            LOGGER.info("Dropped a frame for endpoint %d (profile %s): not in the endpoint table",
                        dst_ep, "?" if profile_id is None else f"0x{profile_id:04X}")
            return None
        if len(data) > MAX_INCOMING_DATA:
            raise ValueError(
                f"{len(data)} bytes do not fit one AF.IncomingMsg (max {MAX_INCOMING_DATA})"
            )
        if tsn is None:
            tsn = zcl_tsn(data)
        return c.AF.IncomingMsg.Callback(
            GroupId=group_id,
            ClusterId=cluster_id,
            SrcAddr=src_nwk,
            SrcEndpoint=src_ep,
            DstEndpoint=dst_ep,
            WasBroadcast=t.Bool(broadcast),
            LQI=lqi,
            SecurityUse=t.Bool(encrypted),
            TimeStamp=timestamp,
            TSN=tsn,
            Data=t.ShortBytes(data),
            MacSrcAddr=src_nwk,
            MsgResultRadius=radius,
        )

    def device_join(self, nwk: int, ieee: t.EUI64, *, capabilities: int = 0x80) -> Reply:
        """Callbacks of a device joining directly and announcing itself.

        The trust centre's part follows ``ZDSecMgrDeviceJoinDirect`` and
        ``ZDSecMgrDeviceJoin`` (``zd_sec_mgr.c``): a VERIFIED trust-centre
        entry starts again as DEFAULT, the device goes into the address
        manager (a full table is not fatal to the join: the result of
        ``ZDSecMgrAddrStore`` is not checked there), the network key is sent
        secured with the device's trust-centre link key, and the device joins
        the list of devices that must do the Zigbee 3.0 key exchange in time.
        """
        ieee = t.EUI64(ieee)
        index, entry = self.tclk_entry(ieee)
        if entry is not None and index is not None and entry.keyAttributes == t.KeyAttributes.VERIFIED_KEY:
            shift = (int(entry.SeedShift_IcIndex) + 1) & 0x0F
            self._write_tclk(index, entry.replace(keyAttributes=t.KeyAttributes.DEFAULT_KEY,
                                                  SeedShift_IcIndex=shift, txFrmCntr=0, rxFrmCntr=0))
        self._addrmgr_add(nwk, ieee, t.AddrMgrUserType.Assoc | t.AddrMgrUserType.Security)
        self.send_network_key(ieee, "join")
        self.tc_add_joining_device(ieee, COORDINATOR_NWK)
        annce = zdo_body(zdo_t.ZDOCmd.Device_annce, [nwk, ieee, capabilities])
        return [
            c.ZDO.TCDevInd.Callback(SrcNwk=nwk, SrcIEEE=ieee, ParentNwk=COORDINATOR_NWK),
            c.ZDO.EndDeviceAnnceInd.Callback(
                Src=nwk, NWK=nwk, IEEE=ieee, Capabilities=c.zdo.MACCapabilities(capabilities)
            ),
            *self.zdo_message(
                src_nwk=nwk,
                cluster_id=zdo_t.ZDOCmd.Device_annce,
                tsn=0x80,
                payload=annce,
                broadcast=True,
            ),
        ]

    def learn_address(self, nwk: int, ieee: t.EUI64) -> bool:
        """Remember a node's address pair, as the stack does on any frame that
        carries both; False when the address manager has no room."""
        return self._addrmgr_add(nwk, t.EUI64(ieee), t.AddrMgrUserType.Security) is not None

    def zdo_message(
        self, *, src_nwk: int, cluster_id: int, tsn: int, payload: bytes, broadcast: bool = False
    ) -> Reply:
        """A ZDO frame received over the air (payload without the TSN byte),
        reported only if the host registered for it, as Z-Stack does."""
        if cluster_id not in self._run.zdo_callbacks:
            return []
        return [
            c.ZDO.MsgCbIncoming.Callback(
                Src=src_nwk,
                IsBroadcast=t.Bool(broadcast),
                ClusterId=cluster_id,
                SecurityUse=0,
                TSN=tsn,
                MacDst=0xFFFF if broadcast else COORDINATOR_NWK,
                Data=t.Bytes(payload),
            )
        ]

    # ------------------------------------------------------------- SYS/UTIL
    def _factory(self) -> dict:
        return factory_items(
            self.hardware_ieee,
            image=self.image,
            tclk_seed=self._rng.randbytes(16),
            precfg_key=self._rng.randbytes(16),
        )

    def _ping(self, req: Any) -> Reply:
        return [c.SYS.Ping.Rsp(Capabilities=CAPABILITIES)]

    def _version(self, req: Any) -> Reply:
        reply = self.image.version_reply()
        if "CodeRevision" in reply:
            reply.update(BootloaderBuildType=c.sys.BootloaderBuildType.NON_BOOTLOADER_BUILD,
                         BootloaderRevision=0xFFFFFFFF)
        return [c.SYS.Version.Rsp(**reply)]

    def _reset_req(self, req: Any) -> Reply:
        options = self.nvram.osal_get(OsalNvIds.STARTUP_OPTION, t.StartupOptions)
        clear = t.StartupOptions.ClearState | t.StartupOptions.ClearConfig
        if options is not None and options & clear:
            ieee = self.ieee
            items = self._factory()
            self.nvram.replace_all(items)
            self.nvram.osal_set(OsalNvIds.EXTADDR, ieee)
        # A deleted EXTADDR comes back as the hardware address.
        if self.nvram.osal(OsalNvIds.EXTADDR) is None:
            self.nvram.osal_set(OsalNvIds.EXTADDR, self.hardware_ieee)
        self._run = _RunState()
        self._tc_reset()
        return [self.boot_indication()]

    def _set_tx_power(self, req: Any) -> Reply:
        return [c.SYS.SetTxPower.Rsp(StatusOrPower=t.Status.SUCCESS)]

    def _assoc_find_device(self, req: Any) -> Reply:
        # No children: an unused associated_devices_t, which also tells the
        # host how the firmware pads its structs.
        return [c.UTIL.AssocFindDevice.Rsp(Device=t.Bytes(b"\xff" * ASSOCIATED_DEVICE_SIZE))]

    def _get_device_info(self, req: Any) -> Reply:
        started = self._run.device_state == t.DeviceState.StartedAsCoordinator
        return [
            c.UTIL.GetDeviceInfo.Rsp(
                Status=t.Status.SUCCESS,
                IEEE=self.ieee,
                NWK=COORDINATOR_NWK if started else 0xFFFE,
                DeviceType=t.DeviceTypeCapabilities(0x07),
                DeviceState=self._run.device_state,
                AssociatedDevices=[],
            )
        ]

    def _led_control(self, req: Any) -> Reply:
        # CC26x2 builds without LEDs never answer this request.
        return []

    def _status_success(self, req: Any) -> Reply:
        return [req.Rsp(Status=t.Status.SUCCESS)]

    # ----------------------------------------------------------------- NVRAM
    def _osal_length(self, req: Any) -> Reply:
        return [c.SYS.OSALNVLength.Rsp(ItemLen=self.nvram.length(osal_key(req.Id)))]

    def _osal_read(self, req: Any) -> Reply:
        value = self.nvram.osal(req.Id)
        if value is None or req.Offset > len(value):
            return [req.Rsp(Status=t.Status.INVALID_PARAMETER, Value=t.ShortBytes(b""))]
        chunk = value[req.Offset : req.Offset + 248]
        return [req.Rsp(Status=t.Status.SUCCESS, Value=t.ShortBytes(chunk))]

    def _osal_write(self, req: Any) -> Reply:
        ok = self.nvram.write(osal_key(req.Id), req.Offset, bytes(req.Value))
        return [req.Rsp(Status=t.Status.SUCCESS if ok else t.Status.INVALID_PARAMETER)]

    def _osal_init(self, req: Any) -> Reply:
        if len(req.Value) > req.ItemLen:
            return [req.Rsp(Status=t.Status.INVALID_PARAMETER)]
        created = self.nvram.create(osal_key(req.Id), req.ItemLen, bytes(req.Value))
        # NV_ITEM_UNINIT means "created"; SUCCESS means "it was already there".
        return [req.Rsp(Status=t.Status.NV_ITEM_UNINIT if created else t.Status.SUCCESS)]

    def _osal_delete(self, req: Any) -> Reply:
        key = osal_key(req.Id)
        if not self.nvram.exists(key):
            return [req.Rsp(Status=t.Status.INVALID_PARAMETER)]
        if self.nvram.length(key) != req.ItemLen:
            return [req.Rsp(Status=t.Status.NV_BAD_ITEM_LEN)]
        self.nvram.delete(key)
        return [req.Rsp(Status=t.Status.SUCCESS)]

    def _nv_length(self, req: Any) -> Reply:
        return [req.Rsp(Length=self.nvram.length((req.SysId, req.ItemId, req.SubId)))]

    def _nv_read(self, req: Any) -> Reply:
        value = self.nvram.read((req.SysId, req.ItemId, req.SubId))
        if value is None or req.Offset > len(value):
            return [req.Rsp(Status=t.Status.FAILURE, Value=t.ShortBytes(b""))]
        chunk = value[req.Offset : req.Offset + min(req.Length, 244)]
        return [req.Rsp(Status=t.Status.SUCCESS, Value=t.ShortBytes(chunk))]

    def _nv_write(self, req: Any) -> Reply:
        ok = self.nvram.write((req.SysId, req.ItemId, req.SubId), req.Offset, bytes(req.Value))
        return [req.Rsp(Status=t.Status.SUCCESS if ok else t.Status.FAILURE)]

    def _nv_create(self, req: Any) -> Reply:
        created = self.nvram.create((req.SysId, req.ItemId, req.SubId), req.Length)
        return [req.Rsp(Status=t.Status.NV_ITEM_UNINIT if created else t.Status.SUCCESS)]

    def _nv_delete(self, req: Any) -> Reply:
        deleted = self.nvram.delete((req.SysId, req.ItemId, req.SubId))
        return [req.Rsp(Status=t.Status.SUCCESS if deleted else t.Status.NV_OPER_FAILED)]

    # ------------------------------------------------------------ formation
    def _bdb_set_channel(self, req: Any) -> Reply:
        if req.IsPrimary:
            self._run.bdb_primary = req.Channel
        else:
            self._run.bdb_secondary = req.Channel
        return [req.Rsp(Status=t.Status.SUCCESS)]

    def _bdb_start_commissioning(self, req: Any) -> Reply:
        reply: Reply = [req.Rsp(Status=t.Status.SUCCESS)]
        if not req.Mode & BDBCommissioningMode.NwkFormation:
            # Steering etc.: nothing to join as a coordinator; report done.
            return reply + [self._bdb_note(BDBCommissioningStatus.Success, req.Mode)]
        if self.network_formed:
            # Resume: the network comes back from NV; formation itself "fails".
            self._run.device_state = t.DeviceState.StartedAsCoordinator
            return reply + [
                self._bdb_note(
                    BDBCommissioningStatus.NetworkRestored,
                    BDBCommissioningMode.NONE,
                    BDBCommissioningMode.NwkFormation,
                ),
                c.ZDO.StateChangeInd.Callback(State=t.DeviceState.StartedAsCoordinator),
                self._bdb_note(
                    BDBCommissioningStatus.FormationFailure, BDBCommissioningMode.NwkFormation
                ),
            ]
        self._form()
        return reply + [
            c.ZDO.StateChangeInd.Callback(State=t.DeviceState.StartingAsCoordinator),
            self._bdb_note(
                BDBCommissioningStatus.InProgress,
                BDBCommissioningMode.NwkFormation,
                BDBCommissioningMode.NwkFormation,
            ),
            c.ZDO.StateChangeInd.Callback(State=t.DeviceState.StartedAsCoordinator),
            self._bdb_note(BDBCommissioningStatus.Success, BDBCommissioningMode.NwkFormation),
        ]

    def _zdo_startup_from_app(self, req: Any) -> Reply:
        if self.network_formed:
            state = c.zdo.StartupState.RestoredNetworkState
        else:
            self._form()
            state = c.zdo.StartupState.NewNetworkState
        self._run.device_state = t.DeviceState.StartedAsCoordinator
        return [
            req.Rsp(State=state),
            c.ZDO.StateChangeInd.Callback(State=t.DeviceState.StartedAsCoordinator),
        ]

    @staticmethod
    def _bdb_note(
        status: BDBCommissioningStatus,
        mode: BDBCommissioningMode,
        remaining: BDBCommissioningMode = BDBCommissioningMode.NONE,
    ) -> t.CommandBase:
        return c.AppConfig.BDBCommissioningNotification.Callback(
            Status=status, Mode=mode, RemainingModes=remaining
        )

    def _form(self) -> None:
        """Form a network from the commissioning settings in NV."""
        nv = self.nvram
        mask = self._run.bdb_primary or self._run.bdb_secondary or DEFAULT_BDB_PRIMARY_CHANNELS
        channels = sorted(mask)
        # A real chip runs an energy scan; a quiet virtual air has no favourite.
        channel = channels[0] if channels else 11
        pan_id = nv.osal_get(OsalNvIds.PANID, t.uint16_t)
        if pan_id is None or pan_id in (0xFFFF, 0xFFFE, 0x0000):
            pan_id = self._rng.randint(0x0001, 0xFFF7)
        ext_pan = nv.osal_get(OsalNvIds.APS_USE_EXT_PANID, t.EUI64)
        if ext_pan is None or ext_pan in (t.EUI64([0] * 8), t.EUI64([0xFF] * 8)):
            ext_pan = self.ieee
        key = nv.osal_get(OsalNvIds.PRECFGKEY, t.KeyData)
        if key is None:
            key = t.KeyData(self._rng.randbytes(16))
        nib = (nv.osal_get(OsalNvIds.NIB, t.NIB) or unformed_nib()).replace(
            nwkDevAddress=COORDINATOR_NWK,
            nwkLogicalChannel=channel,
            nwkCoordAddress=COORDINATOR_NWK,
            nwkPanId=pan_id,
            nwkState=t.NwkState.NWK_ROUTER,
            channelList=t.Channels.from_channel_list([channel]),
            extendedPANID=ext_pan,
            nwkKeyLoaded=t.Bool.true,
            nwkManagerAddr=COORDINATOR_NWK,
        )
        active = t.NwkKeyDesc(KeySeqNum=0, Key=key)
        nv.osal_set(OsalNvIds.NIB, nib)
        nv.osal_set(OsalNvIds.EXTENDED_PAN_ID, ext_pan)
        nv.osal_set(OsalNvIds.NWK_ACTIVE_KEY_INFO, active)
        nv.osal_set(OsalNvIds.NWK_ALTERN_KEY_INFO, active)
        nv.osal_set(OsalNvIds.BDBNODEISONANETWORK, t.uint8_t(1))
        material = [
            t.NwkSecMaterialDesc(FrameCounter=1, ExtendedPanID=ext_pan),
            t.NwkSecMaterialDesc(FrameCounter=0, ExtendedPanID=t.EUI64([0] * 8)),
        ]
        for sub_id, entry in enumerate(material):
            nv.set((NvSysIds.ZSTACK, ExNvIds.NWK_SEC_MATERIAL_TABLE, sub_id), pack(entry))
        self._run.device_state = t.DeviceState.StartedAsCoordinator

    # ------------------------------------------------------------------- AF
    def _af_register(self, req: Any) -> Reply:
        if req.Endpoint in self._run.endpoints or not 1 <= req.Endpoint <= 0xF2:
            # afRegister refuses duplicates with afStatus_INVALID_PARAMETER.
            return [req.Rsp(Status=t.Status.INVALID_PARAMETER)]
        self._run.endpoints[req.Endpoint] = RegisteredEndpoint(
            endpoint=req.Endpoint,
            profile_id=req.ProfileId,
            device_id=req.DeviceId,
            device_version=req.DeviceVersion,
            input_clusters=tuple(req.InputClusters),
            output_clusters=tuple(req.OutputClusters),
        )
        return [req.Rsp(Status=t.Status.SUCCESS)]

    def _af_delete(self, req: Any) -> Reply:
        if self._run.endpoints.pop(req.Endpoint, None) is None:
            return [req.Rsp(Status=t.Status.INVALID_PARAMETER)]
        return [req.Rsp(Status=t.Status.SUCCESS)]

    def _af_data_request(self, req: Any) -> Reply:
        frame = outgoing_frame(req, self._run.endpoints)
        if frame.src_endpoint != ZDO_ENDPOINT and frame.src_endpoint not in self._run.endpoints:
            return [req.Rsp(Status=t.Status.INVALID_PARAMETER)]
        if self._run.device_state != t.DeviceState.StartedAsCoordinator:
            # The network layer refuses to transmit before the network is up.
            return [req.Rsp(Status=t.Status.NWK_INVALID_REQUEST)]
        self.spend_nwk_frame_counter()
        if self.on_frame is not None:
            self.on_frame(frame)
        reply: Reply = [req.Rsp(Status=t.Status.SUCCESS)]
        if frame.dst_endpoint == ZDO_ENDPOINT:
            # ZDO frames never get an AF.DataConfirm; the coordinator answers its own.
            return reply + self._zdo_local(frame)
        if frame.dst_addr_mode != t.AddrMode.Broadcast:
            status = t.Status.SUCCESS if self.confirm_status is None else self.confirm_status(frame)
            if status is None:
                return reply  # the radio confirms it once the frame has been on the air
            reply.append(
                c.AF.DataConfirm.Callback(Status=status, Endpoint=frame.src_endpoint, TSN=frame.tsn)
            )
        return reply

    # ------------------------------------------------------------------ ZDO
    def _zdo_msg_cb_register(self, req: Any) -> Reply:
        if req.ClusterId == 0xFFFF:
            self._run.zdo_callbacks.update(int(cmd) for cmd in zdo_t.ZDOCmd)
        else:
            self._run.zdo_callbacks.add(int(req.ClusterId))
        return [req.Rsp(Status=t.Status.SUCCESS)]

    def _zdo_permit_join(self, req: Any) -> Reply:
        to_coordinator = req.AddrMode == t.AddrMode.Broadcast or req.Dst == COORDINATOR_NWK
        if to_coordinator:
            self._run.permit_join_s = int(req.Duration)
        src = COORDINATOR_NWK if req.AddrMode == t.AddrMode.Broadcast else req.Dst
        return [
            req.Rsp(Status=t.Status.SUCCESS),
            c.ZDO.MgmtPermitJoinRsp.Callback(Src=src, Status=t.ZDOStatus.SUCCESS),
        ]

    def _zdo_add_link_key(self, req: Any) -> Reply:
        """ZDSecMgrAddLinkKey: address manager entry, APS key data, and a link
        key table row marked as authenticated by CBKE, all in NV."""
        status = self.add_link_key(int(req.NWK), t.EUI64(req.IEEE), t.KeyData(req.LinkKeyData))
        return [req.Rsp(Status=status)]

    def _zdo_route_check(self, req: Any) -> Reply:
        # Every node of the emulated HAN is one hop away.
        return [req.Rsp(Status=c.zdo.RoutingStatus.SUCCESS)]

    def _zdo_local(self, frame: OutgoingFrame) -> Reply:
        """ZDO requests the coordinator receives itself (unicast to 0x0000 or broadcast)."""
        unicast = frame.dst_addr_mode == t.AddrMode.NWK and frame.dst_addr == COORDINATOR_NWK
        broadcast = frame.dst_addr_mode == t.AddrMode.Broadcast and frame.dst_addr in (
            0xFFFF,
            0xFFFD,
            0xFFFC,
        )
        to_self = unicast or broadcast
        if not to_self or frame.cluster_id & 0x8000 or not frame.data:
            return []
        descriptors = {ep: reg.simple_descriptor() for ep, reg in self._run.endpoints.items()}
        answerer = local_zdo.answerer(ieee=self.ieee, endpoints=descriptors, on_permit_joining=self._permit_for)
        reply = answerer.reply_to(frame.cluster_id, frame.data, broadcast=broadcast)
        if reply is None:
            return []
        return local_zdo.mt_callbacks(reply) + self.zdo_message(
            src_nwk=COORDINATOR_NWK, cluster_id=int(reply.command), tsn=reply.tsn, payload=reply.body()
        )

    def _permit_for(self, seconds: int) -> None:
        self._run.permit_join_s = seconds
