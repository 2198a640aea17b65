"""The emulated Z-Stack's radio side on a virtual air (see :mod:`..stickair`).

What is Z-Stack's own here, from the Z-Stack 3.x SDK and zigpy-znp:

- the host opens joining with ``ZDO_MGMT_PERMIT_JOIN_REQ`` (or a ZDO
  Mgmt_Permit_Joining_req it sends to the coordinator) and installs a device's
  key with ``APP_CNF_BDB_ADD_INSTALLCODE`` (zigpy-znp sends the key derived
  from the install code, format 2; format 1 carries the code and its CRC);
  ``APP_CNF_BDB_SET_JOINUSESINSTALLCODEKEY`` makes the trust centre refuse a
  device without one.  The BDB setting is RAM only: a reset clears it
  (zigpy-znp ``permit_with_link_key`` relies on that); the key is not: it is
  the device's trust-centre link key, kept in NV (:mod:`.tc_keys`), so the
  trust centre admits and reads a device with it after a reset too;
- a join reaches the host as ``ZDO_TC_DEV_IND``, then the device's announce
  (``ZDO_END_DEVICE_ANNCE_IND`` and its ``ZDO_MSG_CB_INCOMING`` copy);
- ZDO requests a node sends the coordinator (Match_Desc, IEEE_addr, the
  descriptors, Bind) are answered by the ZDO in the chip from the endpoints
  the host registered, and reported to the host as ``ZDO_MSG_CB_INCOMING``;
  ZDO responses come up the same way, everything else as ``AF_INCOMING_MSG``;
- a unicast no node acknowledges ends in ``AF_DATA_CONFIRM`` with MAC_NO_ACK;
  one that goes on air is confirmed once the radio is done with it: after
  the APS acknowledgement when one was asked for (ZApsNoAck when none
  comes), else after the MAC acknowledgement (Z-Stack Monitor and Test API,
  AF_DATA_CONFIRM).  A host that waits for the confirm knows the node has
  the frame (a stop right after the last CBKE answer does not cut it off).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from typing import Any

import zigpy.types as t
import zigpy.zdo.types as zdo_t
import zigpy_znp.commands as c
import zigpy_znp.types as znp_t

from han_emu.crypto.keys import DEFAULT_TC_LINK_KEY
from han_emu.radio.fakencp.stickair import PERMIT_FOREVER, StickAir
from han_emu.radio.fakencp.znp import local_zdo
from han_emu.radio.fakencp.znp.af_frames import OutgoingFrame
from han_emu.radio.fakencp.znp.server import FakeZnpServer
from han_emu.radio.zdo_answers import ZDO_ENDPOINT, ZDO_PROFILE

_ADDR_MODES = {
    znp_t.AddrMode.NWK: t.AddrMode.NWK,
    znp_t.AddrMode.IEEE: t.AddrMode.IEEE,
    znp_t.AddrMode.Broadcast: t.AddrMode.Broadcast,
    znp_t.AddrMode.Group: t.AddrMode.Group,
}
_PERMIT_JOINING = int(zdo_t.ZDOCmd.Mgmt_Permit_Joining_req)


class _Registered(Mapping[int, zdo_t.SimpleDescriptor]):
    """The endpoints the host registered since the chip's last reset, read live."""

    def __init__(self, server: FakeZnpServer) -> None:
        self._server = server

    def __getitem__(self, endpoint: int) -> zdo_t.SimpleDescriptor:
        return self._server.endpoints[endpoint].simple_descriptor()

    def __iter__(self) -> Iterator[int]:
        return iter(self._server.endpoints)

    def __len__(self) -> int:
        return len(self._server.endpoints)


def packet_of(frame: OutgoingFrame) -> t.ZigbeePacket | None:
    """The frame an ``AF_DATA_REQUEST*`` puts on the air (None for an address mode it cannot have)."""
    mode = _ADDR_MODES.get(znp_t.AddrMode(frame.dst_addr_mode))
    if mode is None:
        return None
    address: Any = t.EUI64(frame.dst_addr) if mode == t.AddrMode.IEEE else int(frame.dst_addr)
    options = t.TransmitOptions.NONE
    if frame.aps_ack:
        options |= t.TransmitOptions.ACK
    if frame.aps_encrypted:
        options |= t.TransmitOptions.APS_Encryption
    return t.ZigbeePacket(
        src_ep=frame.src_endpoint,
        dst=t.AddrModeAddress(addr_mode=mode, address=address),
        dst_ep=frame.dst_endpoint,
        tsn=frame.tsn,
        profile_id=frame.profile_id or 0,
        cluster_id=frame.cluster_id,
        data=t.SerializableBytes(frame.data),
        tx_options=options,
        radius=frame.radius,
    )


class ZnpOnAir:
    """The Z-Stack NCP as :class:`~han_emu.radio.fakencp.stickair.StickAir` needs it."""

    def __init__(self, server: FakeZnpServer) -> None:
        self.server = server
        self.device = server.device
        #: APP_CNF_BDB_SET_JOINUSESINSTALLCODEKEY: only devices with an install code may join.
        self.install_code_only = False
        self._permit_until: float | None = None
        self._radio: StickAir | None = None
        #: The frame the host just handed the chip and the radio's transmission of it.
        self._on_air: tuple[OutgoingFrame, asyncio.Task[bool] | None] | None = None
        #: Chip resets so far: a confirm still due from before one is never sent.
        self._resets = 0
        self._undo: list[Any] = []
        self._zdo = local_zdo.answerer(ieee=self.device.ieee, endpoints=_Registered(server),
                                       on_permit_joining=self._permit)

    @property
    def ieee(self) -> t.EUI64:
        return t.EUI64(self.device.ieee)

    @property
    def network_up(self) -> bool:
        return self.device.device_state == znp_t.DeviceState.StartedAsCoordinator

    # -- binding to the NCP --------------------------------------------------------------
    def bind(self, radio: StickAir) -> None:
        self._radio = radio
        self._undo.append(self.server.add_frame_listener(self._host_sent))
        self.server.request_listeners.append(self._host_request)
        previous = self.device.confirm_status
        self.device.confirm_status = self._confirm
        self._undo.append(lambda: setattr(self.device, "confirm_status", previous))
        self._undo.append(lambda: self.server.request_listeners.remove(self._host_request))
        self.device.key_radio = radio
        self._undo.append(lambda: setattr(self.device, "key_radio", None))

    def unbind(self) -> None:
        while self._undo:
            self._undo.pop()()
        self._radio = None

    # -- what the host asks of the chip ------------------------------------------------------
    def _host_request(self, request: Any) -> None:
        if isinstance(request, c.ZDO.MgmtPermitJoinReq.Req):
            if request.AddrMode == znp_t.AddrMode.Broadcast or int(request.Dst) == local_zdo.COORDINATOR_NWK:
                self._permit(int(request.Duration))
        elif isinstance(request, c.AppConfig.BDBSetJoinUsesInstallCodeKey.Req):
            self.install_code_only = bool(request.BdbJoinUsesInstallCodeKey)
        elif isinstance(request, c.SYS.ResetReq.Req):
            self.install_code_only = False  # BDB settings live in RAM
            self._permit_until = None
            self._resets += 1

    def _host_sent(self, frame: OutgoingFrame) -> None:
        if (frame.dst_endpoint == ZDO_ENDPOINT and frame.cluster_id == _PERMIT_JOINING and len(frame.data) >= 2
                and (frame.dst_addr_mode == znp_t.AddrMode.Broadcast or frame.dst_addr == local_zdo.COORDINATOR_NWK)):
            self._permit(frame.data[1])  # Mgmt_Permit_Joining_req: TSN, PermitDuration, TC_Significance
        packet = packet_of(frame)
        if packet is not None and self._radio is not None:
            self._on_air = (frame, self._radio.transmit(packet))

    def _confirm(self, frame: OutgoingFrame) -> znp_t.Status | None:
        """The AF_DATA_CONFIRM status now, or None: sent when the radio is done."""
        on_air, self._on_air = self._on_air, None
        packet = packet_of(frame)
        if self._radio is None or packet is None or packet.dst is None:
            return znp_t.Status.SUCCESS
        if not self._radio.reaches(packet.dst):
            return znp_t.Status.MAC_NO_ACK
        if on_air is None or on_air[0] is not frame or on_air[1] is None:
            return znp_t.Status.SUCCESS
        resets = self._resets
        on_air[1].add_done_callback(lambda task: self._confirm_sent(frame, task, resets))
        return None

    def _confirm_sent(self, frame: OutgoingFrame, task: asyncio.Task[bool], resets: int) -> None:
        if task.cancelled() or self._radio is None or resets != self._resets:
            return  # the radio was shut down, or the chip reset since: nothing left to confirm
        if task.exception() is None and task.result():
            status = znp_t.Status.SUCCESS
        else:
            status = znp_t.Status.APS_NO_ACK if frame.aps_ack else znp_t.Status.MAC_NO_ACK
        self.server.confirm_sent(frame.src_endpoint, frame.tsn, status)

    def _permit(self, seconds: int) -> None:
        now = asyncio.get_running_loop().time()
        if seconds == 0:
            self._permit_until = None
        else:
            self._permit_until = float("inf") if seconds == PERMIT_FOREVER else now + seconds

    # -- the trust centre ----------------------------------------------------------------
    def permitting(self) -> bool:
        until = self._permit_until
        return until is not None and asyncio.get_running_loop().time() < until

    def trust_centre_key(self, ieee: t.EUI64) -> bytes | None:
        """The device's own trust-centre link key (``APSME_TCLinkKeyLoad``, read
        from NV): the install-code key the host gave it, or the one that
        replaced it; None for the well-known key."""
        key = bytes(self.device.tc_link_key(t.EUI64(ieee)))
        return None if key == DEFAULT_TC_LINK_KEY else key

    def admits(self, ieee: t.EUI64, key: bytes | None) -> bool:
        expected = self.trust_centre_key(ieee)
        if expected is not None:
            return key == expected
        return key is None and not self.install_code_only

    def link_key(self, ieee: t.EUI64) -> bytes | None:
        for partner, key in self.device.link_keys.items():
            if bytes(partner) == bytes(ieee):
                return bytes(key)
        return self.trust_centre_key(ieee)

    def joined(self, nwk: int, ieee: t.EUI64, node: Any) -> None:
        capabilities = int(getattr(node, "capability", 0x80))
        self.server.inject_device_join(nwk, ieee, capabilities=capabilities)

    def network_key(self) -> tuple[int, bytes] | None:
        active, _ = self.device.network_key_info()
        if active is None or not self.device.network_formed:
            return None
        return int(active.KeySeqNum), bytes(active.Key)

    def network_key_set(self) -> dict[int, bytes]:
        keys = {int(d.KeySeqNum): bytes(d.Key) for d in self.device.network_key_info() if d is not None}
        active = self.network_key()
        if active is not None:
            keys[active[0]] = active[1]
        return keys

    # -- the air to the host ----------------------------------------------------------------
    def heard(self, packet: t.ZigbeePacket) -> None:
        assert packet.src is not None and packet.dst is not None
        src = int(packet.src.address)
        data = packet.data.serialize()
        broadcast = packet.dst.addr_mode in (t.AddrMode.Broadcast, t.AddrMode.Group)
        if packet.dst_ep == ZDO_ENDPOINT and packet.profile_id == ZDO_PROFILE:
            if not data or packet.cluster_id == zdo_t.ZDOCmd.Device_annce:
                return  # a join's announce was reported with the join
            if packet.cluster_id < 0x8000:
                self._answer_zdo(packet, data, broadcast)
            self.server.inject_zdo(src, int(packet.cluster_id), data[0], data[1:], broadcast=broadcast)
            return
        self.server.inject_incoming(
            src, None, int(packet.src_ep or 0), int(packet.dst_ep or 0), int(packet.cluster_id), data,
            lqi=int(packet.lqi if packet.lqi is not None else 255),
            encrypted=t.TransmitOptions.APS_Encryption in packet.tx_options,
            group_id=int(packet.dst.address) if packet.dst.addr_mode == t.AddrMode.Group else 0,
            broadcast=broadcast,
        )

    def _answer_zdo(self, packet: t.ZigbeePacket, data: bytes, broadcast: bool) -> None:
        """The chip's ZDO answers a request about the coordinator, on the air."""
        reply = self._zdo.reply_to(int(packet.cluster_id), data, broadcast=broadcast)
        if reply is None or self._radio is None:
            return
        self._radio.transmit(t.ZigbeePacket(
            src_ep=ZDO_ENDPOINT, dst=packet.src, dst_ep=ZDO_ENDPOINT, tsn=reply.tsn, profile_id=ZDO_PROFILE,
            cluster_id=int(reply.command), data=t.SerializableBytes(reply.frame()),
            tx_options=t.TransmitOptions.NONE,
        ))
