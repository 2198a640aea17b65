"""Simulated HAN devices (IHD, PPMID, CAD) on the virtual air.

A :class:`SimNode` behaves on the air as a real device's stack would: it joins
(association, then a device announce), answers the ZDO discovery zigpy uses to
interview it, finds ESIs with Match_Desc, sends ZCL requests and waits for the
matching response, and answers unsolicited frames (reports, publishes) with a
Default Response when the sender asked for one.  What a particular device does
with the frames it gets is left to handlers, so IHD/PPMID behaviour can be
built on top without touching the radio layer.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import zigpy.exceptions
import zigpy.types as t
import zigpy.util
import zigpy.zcl.foundation as foundation
import zigpy.zdo.types as zdo_t
from zigpy.zdo.types import SimpleDescriptor

from clusters.ids import KEY_ESTABLISHMENT, MESSAGING, METERING, PREPAYMENT, PRICE, SE_PROFILE_ID, TIME
from clusters.zcl_header import ZclHeader
from han_emu.radio.virtual.medium import COORDINATOR_NWK, VirtualAir
from han_emu.radio.virtual.packets import nwk_address
from han_emu.radio.vtime import running_loop
from han_emu.radio.zdo_answers import (
    ZDO_ENDPOINT,
    ZDO_PROFILE,
    ZdoAnswerer,
    node_descriptor,
    parse_zdo,
    zdo_frame,
)

LOGGER = logging.getLogger(__name__)

IHD_DEVICE = 0x0502
PPMID_DEVICE = 0x0506

DEFAULT_REQUEST_TIMEOUT = 5.0

_ACK_ENCRYPTED = t.TransmitOptions.ACK | t.TransmitOptions.APS_Encryption


def se_endpoint(
    device_type: int,
    *,
    endpoint: int = 1,
    servers: Iterable[int] = (KEY_ESTABLISHMENT,),
    clients: Iterable[int] = (KEY_ESTABLISHMENT,),
) -> SimpleDescriptor:
    """A Smart Energy (0x0109) simple descriptor."""
    return SimpleDescriptor(
        endpoint=endpoint,
        profile=SE_PROFILE_ID,
        device_type=device_type,
        device_version=0,
        input_clusters=list(servers),
        output_clusters=list(clients),
    )


def ihd_endpoint(endpoint: int = 1) -> SimpleDescriptor:
    """An In-Premise Display: client of Metering, Price, Time and Messaging."""
    return se_endpoint(
        IHD_DEVICE,
        endpoint=endpoint,
        clients=(METERING, PRICE, TIME, MESSAGING, KEY_ESTABLISHMENT),
    )


def ppmid_endpoint(endpoint: int = 1) -> SimpleDescriptor:
    """A Prepayment Meter Interface Device: an IHD that also uses Prepayment."""
    return se_endpoint(
        PPMID_DEVICE,
        endpoint=endpoint,
        clients=(METERING, PRICE, TIME, MESSAGING, PREPAYMENT, KEY_ESTABLISHMENT),
    )


@dataclass(frozen=True)
class ZclFrame:
    """An incoming ZCL frame handed to a node's handlers."""

    packet: t.ZigbeePacket
    header: ZclHeader
    payload: bytes


# A handler returns a ZCL status when it took the frame (SUCCESS, or an error
# to report in a Default Response), or None to leave it to the next handler.
FrameHandler = Callable[["SimNode", ZclFrame], foundation.Status | None]


def zcl_frame(
    tsn: int,
    command_id: int,
    payload: bytes = b"",
    *,
    general: bool = False,
    direction: foundation.Direction = foundation.Direction.Client_to_Server,
    manufacturer: int | None = None,
    disable_default_response: bool | None = None,
) -> bytes:
    """A complete ZCL frame (header built with zigpy) followed by ``payload``."""
    header = ZclHeader.make(
        tsn,
        command_id,
        general=general,
        direction=direction,
        manufacturer=manufacturer,
        disable_default_response=bool(disable_default_response),
    )
    return header.serialize() + payload


def _no_answer(future: asyncio.Future[t.ZigbeePacket]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


class SimNode:
    """A simulated device on a :class:`VirtualAir`.

    ``attributes`` maps (endpoint, cluster, attribute id) to a
    ``foundation.TypeValue`` the node serves to Read Attributes; ``handlers``
    get every frame that is not the answer to one of the node's own requests.
    """

    def __init__(
        self,
        air: VirtualAir,
        ieee: t.EUI64 | str,
        endpoints: Sequence[SimpleDescriptor],
        *,
        name: str = "",
        router: bool = False,
        rx_on_when_idle: bool = True,
        mains_powered: bool = True,
        link_key: t.KeyData | None = None,
        manufacturer_code: int = 0x0000,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
    ) -> None:
        self.air = air
        self.ieee = t.EUI64.convert(ieee) if isinstance(ieee, str) else t.EUI64(ieee)
        self.name = name or str(self.ieee)
        self.nwk: t.NWK | None = None
        self.is_router = router
        self.rx_on_when_idle = rx_on_when_idle or router
        self.groups: set[int] = set()
        self.link_key = link_key
        self.request_timeout = request_timeout
        self.endpoints: dict[int, SimpleDescriptor] = {
            int(sd.endpoint): sd for sd in endpoints
        }
        self.attributes: dict[tuple[int, int, int], foundation.TypeValue] = {}
        self.handlers: list[FrameHandler] = []
        self.received: collections.deque[ZclFrame] = collections.deque(maxlen=1000)
        self.permit_until: float | None = None

        logical = zdo_t.LogicalType.Router if router else zdo_t.LogicalType.EndDevice
        self.descriptor = node_descriptor(
            logical,
            mains_powered=mains_powered,
            rx_on_when_idle=self.rx_on_when_idle,
            manufacturer_code=manufacturer_code,
        )
        self._zdo = ZdoAnswerer(
            ieee=lambda: self.ieee,
            nwk=lambda: t.NWK(self.nwk if self.nwk is not None else 0xFFFE),
            descriptor=self.descriptor,
            endpoints=self.endpoints,
            on_permit_joining=self._permit_joining if router else None,
            on_leave=self._leave_requested,
        )
        self._tsn = 0
        self._zcl_pending: dict[tuple[int, int, int, int], asyncio.Future[t.ZigbeePacket]] = {}
        self._zdo_pending: dict[tuple[int, int], list[t.ZigbeePacket] | asyncio.Future[t.ZigbeePacket]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        nwk = "----" if self.nwk is None else f"{self.nwk:04X}"
        return f"<SimNode {self.name} ieee={self.ieee} nwk=0x{nwk}>"

    @property
    def joined(self) -> bool:
        return self.nwk is not None and self.air.node_by_ieee(self.ieee) is self

    @property
    def capability(self) -> int:
        """The MAC capability flags sent in association and the device announce."""
        return int(self.descriptor.mac_capability_flags)

    # -- joining --------------------------------------------------------------------

    async def join(self) -> t.NWK:
        """Associate through the trust centre, then announce ourselves.

        Raises ``han_emu.radio.virtual.medium.JoinRefused`` when joining is not
        permitted (or this node's key is not the one the trust centre expects).
        """
        nwk = self.air.associate(self, link_key=self.link_key, nwk=self.nwk)
        await self.announce()
        return nwk

    async def announce(self) -> None:
        """Broadcast a ZDO Device_annce."""
        assert self.nwk is not None
        data = zdo_frame(
            zdo_t.ZDOCmd.Device_annce, self._next_tsn(), self.nwk, self.ieee, self.capability
        )
        await self.send(
            t.ZigbeePacket(
                src_ep=ZDO_ENDPOINT,
                dst=t.AddrModeAddress(
                    addr_mode=t.AddrMode.Broadcast,
                    address=t.BroadcastAddress.RX_ON_WHEN_IDLE,
                ),
                dst_ep=ZDO_ENDPOINT,
                tsn=data[0],
                profile_id=ZDO_PROFILE,
                cluster_id=zdo_t.ZDOCmd.Device_annce,
                data=t.SerializableBytes(data),
            )
        )

    async def leave(self) -> None:
        """Leave the network of our own accord."""
        if self.joined:
            self.air.leave(self)
        self.left_network()

    def left_network(self) -> None:
        """We are off the network (left, or removed by the coordinator)."""
        self.nwk = None
        for future in self._zcl_pending.values():
            if not future.done():
                future.set_exception(zigpy.exceptions.DeliveryError("left the network"))

    # -- link keys ----------------------------------------------------------------------

    def use_install_code(self, code: bytes) -> t.KeyData:
        """Pre-configure the trust-centre link key derived from an install code."""
        self.link_key = zigpy.util.convert_install_code(bytes(code))
        return self.link_key

    def aps_link_key(self, partner: t.EUI64) -> t.KeyData | None:
        """The APS link key used with ``partner``: ``link_key`` with the trust
        centre (None: the default TC link key); only that link is modelled."""
        tc = self.air.node_by_nwk(COORDINATOR_NWK)
        if tc is not None and tc.ieee == partner:
            return self.link_key
        return None

    # -- sending ----------------------------------------------------------------------

    async def send(self, packet: t.ZigbeePacket) -> None:
        """Put a packet on the air from this node (raises DeliveryError on failure)."""
        if not self.joined:
            raise zigpy.exceptions.DeliveryError(f"{self.name} is not on a network")
        await self.air.transmit(self, packet)

    def _next_tsn(self) -> int:
        self._tsn = (self._tsn + 1) & 0xFF
        return self._tsn

    def _source_endpoint(self, cluster: int, profile: int) -> int:
        for ep, sd in sorted(self.endpoints.items()):
            if sd.profile == profile and cluster in sd.output_clusters:
                return ep
        for ep, sd in sorted(self.endpoints.items()):
            if sd.profile == profile:
                return ep
        return min(self.endpoints)

    async def request(
        self,
        dst_nwk: int,
        dst_ep: int,
        cluster: int,
        data: bytes,
        *,
        encrypted: bool = True,
        src_ep: int | None = None,
        profile: int = SE_PROFILE_ID,
        timeout: float | None = None,
    ) -> t.ZigbeePacket:
        """Send a ZCL command and wait for the response with the same TSN.

        ``data`` is a complete ZCL frame; its TSN is replaced by one the node
        assigns.  The response (or a Default Response) from ``dst_nwk:dst_ep``
        on ``cluster`` is returned; ``TimeoutError`` if none comes in time.
        """
        tsn = self._next_tsn()
        frame = bytearray(data)
        # ZCL header: frame control, manufacturer code if bit 2 is set, then TSN.
        frame[3 if frame[0] & 0x04 else 1] = tsn
        frame = bytes(frame)
        if src_ep is None:
            src_ep = self._source_endpoint(cluster, profile)
        key = (int(dst_nwk), int(dst_ep), int(cluster), tsn)
        loop = running_loop()
        future: asyncio.Future[t.ZigbeePacket] = loop.create_future()
        self._zcl_pending[key] = future
        tx = _ACK_ENCRYPTED if encrypted else t.TransmitOptions.ACK
        limit = self.request_timeout if timeout is None else timeout
        deadline = loop.time() + limit
        direct = self._sent_before(loop, deadline)
        packet = t.ZigbeePacket(
            # Sent straight to the air's transmit, the packet carries our
            # address from the start: the air would put it in a copy otherwise.
            src=nwk_address(self.nwk) if direct and self.nwk is not None else None,
            src_ep=src_ep,
            dst=nwk_address(dst_nwk),
            dst_ep=dst_ep,
            tsn=tsn,
            profile_id=profile,
            cluster_id=cluster,
            data=t.SerializableBytes(frame),
            tx_options=tx,
        )
        try:
            if not direct:
                async with asyncio.timeout(limit):
                    await self.send(packet)
                    return await future
            # The send is over before the deadline: only the answer can be
            # late, and a timer failing its future says so (no timeout context
            # on one of the busiest awaits of a simulation).
            timer = loop.call_at(deadline, _no_answer, future)
            try:
                # await self.send(packet), which is SimNode's own here: its
                # check, then the air's transmit (a coroutine less per request).
                if not self.joined:
                    raise zigpy.exceptions.DeliveryError(f"{self.name} is not on a network")
                await self.air.transmit(self, packet)
                return await future
            finally:
                timer.cancel()
        finally:
            self._zcl_pending.pop(key, None)

    def _sent_before(self, loop: asyncio.AbstractEventLoop, deadline: float) -> bool:
        """Is a send started now surely over before ``deadline`` (loop time)?
        The air's own transmit is: it gives up on an APS acknowledgement after
        its ``ack_timeout`` and otherwise waits one ``latency``."""
        air = self.air
        return (
            type(self).send is SimNode.send
            and type(air).transmit is VirtualAir.transmit
            and deadline > loop.time() + max(air.ack_timeout, air.latency)
        )

    async def read_attributes(
        self,
        dst_nwk: int,
        dst_ep: int,
        cluster: int,
        attribute_ids: Iterable[int],
        **kwargs: object,
    ) -> list[foundation.ReadAttributeRecord]:
        """ZCL Read Attributes; returns the response's records.

        Raises ``zigpy.exceptions.InvalidResponse`` when the answer is a
        Default Response (an error) or anything but a Read Attributes Response.
        """
        schema = foundation.GENERAL_COMMANDS[foundation.GeneralCommand.Read_Attributes].schema
        payload = schema(attribute_ids=[t.uint16_t(a) for a in attribute_ids]).serialize()
        frame = zcl_frame(0, foundation.GeneralCommand.Read_Attributes, payload, general=True)
        rsp = await self.request(dst_nwk, dst_ep, cluster, frame, **kwargs)  # type: ignore[arg-type]
        header, body = ZclHeader.deserialize(rsp.data.serialize())
        if not (
            header.frame_control.is_general
            and header.command_id == foundation.GeneralCommand.Read_Attributes_rsp
        ):
            raise zigpy.exceptions.InvalidResponse(
                f"expected Read Attributes Response, got {header!r} {body.hex()}"
            )
        rsp_schema = foundation.GENERAL_COMMANDS[
            foundation.GeneralCommand.Read_Attributes_rsp
        ].schema
        records, _ = rsp_schema.deserialize(body)
        return list(records.status_records)

    # -- ZDO client ---------------------------------------------------------------------

    async def zdo_request(
        self,
        dst_nwk: int,
        command: zdo_t.ZDOCmd,
        *args: object,
        timeout: float | None = None,
    ) -> list:
        """Send a unicast ZDO request; return the response's fields."""
        tsn = self._next_tsn()
        rsp_cluster = command | 0x8000
        future: asyncio.Future[t.ZigbeePacket] = asyncio.get_running_loop().create_future()
        self._zdo_pending[(tsn, rsp_cluster)] = future
        try:
            async with asyncio.timeout(self.request_timeout if timeout is None else timeout):
                await self.send(self._zdo_packet(dst_nwk, command, tsn, args, broadcast=False))
                packet = await future
        finally:
            self._zdo_pending.pop((tsn, rsp_cluster), None)
        _, fields = parse_zdo(rsp_cluster, packet.data.serialize())
        return list(fields)

    async def zdo_broadcast(
        self,
        command: zdo_t.ZDOCmd,
        *args: object,
        window: float = 1.0,
        address: t.BroadcastAddress = t.BroadcastAddress.RX_ON_WHEN_IDLE,
    ) -> list[tuple[t.NWK, list]]:
        """Broadcast a ZDO request; collect (responder, fields) for ``window`` s."""
        tsn = self._next_tsn()
        rsp_cluster = command | 0x8000
        collected: list[t.ZigbeePacket] = []
        self._zdo_pending[(tsn, rsp_cluster)] = collected
        try:
            await self.send(self._zdo_packet(address, command, tsn, args, broadcast=True))
            await asyncio.sleep(window)
        finally:
            self._zdo_pending.pop((tsn, rsp_cluster), None)
        out = []
        for packet in collected:
            assert packet.src is not None
            out.append((t.NWK(packet.src.address), list(parse_zdo(rsp_cluster, packet.data.serialize())[1])))
        return out

    def _zdo_packet(
        self, dst: int, command: zdo_t.ZDOCmd, tsn: int, args: Sequence[object], *, broadcast: bool
    ) -> t.ZigbeePacket:
        mode = t.AddrMode.Broadcast if broadcast else t.AddrMode.NWK
        return t.ZigbeePacket(
            src_ep=ZDO_ENDPOINT,
            dst=t.AddrModeAddress(addr_mode=mode, address=dst),
            dst_ep=ZDO_ENDPOINT,
            tsn=tsn,
            profile_id=ZDO_PROFILE,
            cluster_id=command,
            data=t.SerializableBytes(zdo_frame(command, tsn, *args)),
            tx_options=t.TransmitOptions.NONE if broadcast else t.TransmitOptions.ACK,
        )

    async def match_descriptor(
        self,
        profile: int,
        in_clusters: Iterable[int] = (),
        out_clusters: Iterable[int] = (),
        *,
        dst_nwk: int | None = 0x0000,
        window: float = 1.0,
    ) -> list[tuple[t.NWK, list[int]]]:
        """Match_Desc: (node, matching endpoints) pairs, unicast to ``dst_nwk``
        or, with ``dst_nwk=None``, broadcast to every rx-on-when-idle node."""
        ins = [t.uint16_t(c) for c in in_clusters]
        outs = [t.uint16_t(c) for c in out_clusters]
        if dst_nwk is None:
            bcast = t.NWK(t.BroadcastAddress.RX_ON_WHEN_IDLE)
            answers = await self.zdo_broadcast(
                zdo_t.ZDOCmd.Match_Desc_req, bcast, profile, ins, outs, window=window
            )
        else:
            fields = await self.zdo_request(
                dst_nwk, zdo_t.ZDOCmd.Match_Desc_req, t.NWK(dst_nwk), profile, ins, outs
            )
            answers = [(t.NWK(dst_nwk), fields)]
        found = []
        for responder, (status, nwk, eps) in answers:
            if status == zdo_t.Status.SUCCESS and eps:
                found.append((t.NWK(nwk), [int(e) for e in eps]))
        return found

    async def find_esi(
        self, cluster: int = METERING, *, dst_nwk: int | None = 0x0000
    ) -> list[tuple[t.NWK, int]]:
        """The (node, endpoint) pairs serving ``cluster`` on the SE profile."""
        matches = await self.match_descriptor(SE_PROFILE_ID, [cluster], dst_nwk=dst_nwk)
        return [(nwk, ep) for nwk, eps in matches for ep in eps]

    # -- receiving ----------------------------------------------------------------------

    def air_receive(self, packet: t.ZigbeePacket) -> None:
        if packet.dst_ep == ZDO_ENDPOINT and packet.profile_id == ZDO_PROFILE:
            self._zdo_received(packet)
            return
        try:
            header, payload = ZclHeader.deserialize(packet.data.serialize())
        except (ValueError, KeyError):
            LOGGER.debug("%s: dropping malformed ZCL frame %r", self.name, packet)
            return
        assert packet.src is not None
        key = (int(packet.src.address), int(packet.src_ep or 0), int(packet.cluster_id), int(header.tsn))
        future = self._zcl_pending.get(key)
        if future is not None and header.direction == foundation.Direction.Server_to_Client:
            if not future.done():
                future.set_result(packet)
            return
        self._zcl_received(ZclFrame(packet, header, payload))

    def _zdo_received(self, packet: t.ZigbeePacket) -> None:
        if packet.cluster_id >= 0x8000:
            data = packet.data.serialize()
            if not data:
                return
            waiter = self._zdo_pending.get((data[0], packet.cluster_id))
            if isinstance(waiter, list):
                waiter.append(packet)
            elif waiter is not None and not waiter.done():
                waiter.set_result(packet)
            return
        for reply in self._zdo.handle(packet):
            self._spawn(self._send_quietly(reply))

    def _zcl_received(self, frame: ZclFrame) -> None:
        header = frame.header
        fc = header.frame_control
        if fc.is_general and header.command_id == foundation.GeneralCommand.Default_Response:
            self.received.append(frame)
            self._run_handlers(frame)
            return  # never answer a Default Response

        sd = self.endpoints.get(int(frame.packet.dst_ep or 0))
        if sd is None:
            return  # no such endpoint: the APS layer drops it
        status: foundation.Status | None
        if (
            fc.is_general
            and header.command_id == foundation.GeneralCommand.Read_Attributes
            and header.direction == foundation.Direction.Client_to_Server
        ):
            self._answer_read(frame)
            return
        self.received.append(frame)
        status = self._run_handlers(frame)
        if status is None:
            status = self._unhandled_status(sd, frame)
        if status != foundation.Status.SUCCESS or not fc.disable_default_response:
            self._reply(frame, foundation.GeneralCommand.Default_Response,
                        foundation.DefaultResponse(command_id=header.command_id, status=status).serialize())

    @staticmethod
    def _unhandled_status(sd: SimpleDescriptor, frame: ZclFrame) -> foundation.Status:
        """What to say about a frame no handler took: reports on a cluster we
        have are simply accepted; anything else is unsupported."""
        cluster = int(frame.packet.cluster_id)
        fc = frame.header.frame_control
        if cluster not in sd.input_clusters and cluster not in sd.output_clusters:
            return foundation.Status.UNSUPPORTED_CLUSTER
        if fc.is_general:
            if frame.header.command_id == foundation.GeneralCommand.Report_Attributes:
                return foundation.Status.SUCCESS
            return foundation.Status.UNSUP_GENERAL_COMMAND
        return foundation.Status.UNSUP_CLUSTER_COMMAND

    def _run_handlers(self, frame: ZclFrame) -> foundation.Status | None:
        for handler in list(self.handlers):
            try:
                status = handler(self, frame)
            except Exception:
                LOGGER.exception("%s: handler %r failed on %r", self.name, handler, frame)
                return foundation.Status.FAILURE
            if status is not None:
                return foundation.Status(status)
        return None

    def _answer_read(self, frame: ZclFrame) -> None:
        ep = int(frame.packet.dst_ep or 0)
        cluster = int(frame.packet.cluster_id)
        sd = self.endpoints[ep]
        if cluster not in sd.input_clusters:
            self._reply(
                frame,
                foundation.GeneralCommand.Default_Response,
                foundation.DefaultResponse(
                    command_id=frame.header.command_id,
                    status=foundation.Status.UNSUPPORTED_CLUSTER,
                ).serialize(),
            )
            return
        schema = foundation.GENERAL_COMMANDS[foundation.GeneralCommand.Read_Attributes].schema
        try:
            request, _ = schema.deserialize(frame.payload)
        except (ValueError, KeyError):
            self._reply(
                frame,
                foundation.GeneralCommand.Default_Response,
                foundation.DefaultResponse(
                    command_id=frame.header.command_id,
                    status=foundation.Status.MALFORMED_COMMAND,
                ).serialize(),
            )
            return
        records = []
        for attr in request.attribute_ids:
            value = self.attributes.get((ep, cluster, int(attr)))
            if value is None:
                records.append(
                    foundation.ReadAttributeRecord(attr, foundation.Status.UNSUPPORTED_ATTRIBUTE)
                )
            else:
                records.append(foundation.ReadAttributeRecord(attr, foundation.Status.SUCCESS, value))
        rsp_schema = foundation.GENERAL_COMMANDS[
            foundation.GeneralCommand.Read_Attributes_rsp
        ].schema
        self._reply(
            frame,
            foundation.GeneralCommand.Read_Attributes_rsp,
            rsp_schema(status_records=records).serialize(),
        )

    def _reply(self, frame: ZclFrame, command_id: int, payload: bytes) -> None:
        """Answer ``frame`` with a general command (same TSN, direction flipped)."""
        packet = frame.packet
        if packet.dst is not None and packet.dst.addr_mode in (
            t.AddrMode.Broadcast,
            t.AddrMode.Group,
        ):
            return  # no responses to broadcasts or groupcasts
        header = ZclHeader.make(
            frame.header.tsn,
            command_id,
            general=True,
            manufacturer=frame.header.manufacturer,
            direction=frame.header.direction.flip(),
            disable_default_response=True,
        )
        tx = t.TransmitOptions.ACK | (packet.tx_options & t.TransmitOptions.APS_Encryption)
        reply = t.ZigbeePacket(
            src_ep=packet.dst_ep,
            dst=packet.src,
            dst_ep=packet.src_ep,
            tsn=frame.header.tsn,
            profile_id=packet.profile_id,
            cluster_id=packet.cluster_id,
            data=t.SerializableBytes(header.serialize() + payload),
            tx_options=tx,
        )
        self._spawn(self._send_quietly(reply))

    async def _send_quietly(self, packet: t.ZigbeePacket) -> None:
        try:
            await self.send(packet)
        except zigpy.exceptions.DeliveryError as exc:
            LOGGER.debug("%s: reply %r not delivered: %s", self.name, packet, exc)

    def _spawn(self, coro: object) -> None:
        task = running_loop().create_task(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- management ---------------------------------------------------------------------

    def _permit_joining(self, seconds: int) -> None:
        loop = asyncio.get_running_loop()
        self.permit_until = loop.time() + seconds if seconds else None

    def _leave_requested(self, rejoin: bool) -> None:
        # Leave after the Mgmt_Leave_rsp has gone out.
        loop = asyncio.get_running_loop()
        loop.call_later(self.air.latency * 4, self._leave_now)

    def _leave_now(self) -> None:
        if self.joined:
            self.air.leave(self)
        self.left_network()
