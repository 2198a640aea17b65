"""The ZCL server: dispatch of incoming frames, cluster commands and reporting.

:class:`ZclServer` implements the radio backends' ``PacketServer`` contract over
a set of :class:`~han_emu.server.endpoint.Endpoint` descriptions.  It is
synchronous and total: whatever bytes arrive, ``handle()`` returns a list of
packets (possibly empty) and never raises.  The general commands (read, write,
reporting configuration, discovery) are in :mod:`han_emu.server.general`.
"""

from __future__ import annotations

import logging
from typing import Any, Iterable, Sequence

import zigpy.types as t
from zigpy.zcl.foundation import Direction, FrameType, GeneralCommand, Status
from zigpy.zdo.types import SimpleDescriptor

from clusters.zcl_header import ZclHeader

from han_emu.meter.clock import Clock
from han_emu.server.attributes import MissingValue
from han_emu.server.command import ZclError, ZclReply, ZclRequest
from han_emu.server.context import Malformed, RequestContext, header_size, parse
from han_emu.server.endpoint import Endpoint
from han_emu.server.general import GeneralCommands
from han_emu.server.guards import (
    APS_PLAIN_CLUSTERS,
    SMART_ENERGY_CLUSTERS,
    DuplicateFilter,
    EncryptionRule,
    SenderCheck,
)
from han_emu.server.reporting import ReportingEngine

LOGGER = logging.getLogger(__name__)

BROADCAST_ENDPOINT = 0xFF
#: Largest ZCL frame (header included) the server builds for its own responses:
#: what fits in one APS-encrypted frame (a 24-period GetProfile response is 82).
DEFAULT_MAX_FRAME = 82
TX_OPTIONS = t.TransmitOptions.APS_Encryption | t.TransmitOptions.ACK
PLAIN_TX_OPTIONS = t.TransmitOptions.ACK


_HEADER_PREFIXES: dict[tuple[FrameType, Direction, bool, int | None], bytes] = {}
"""(frame type, direction, disable default response, manufacturer) -> the bytes
:class:`ZclHeader` puts before the TSN: every reply has one of a few."""
_UINT8: dict[int, t.uint8_t] = {}
_UINT16: dict[int, t.uint16_t] = {}


def _uint8(n: int) -> t.uint8_t:
    """``t.uint8_t(n)``, made once per value: zigpy integers are immutable, and
    every packet the server builds carries a few."""
    value = _UINT8.get(n)
    if value is None:
        value = _UINT8[n] = t.uint8_t(n)
    return value


def _uint16(n: int) -> t.uint16_t:
    """``t.uint16_t(n)``, made once per value (see :func:`_uint8`)."""
    value = _UINT16.get(n)
    if value is None:
        value = _UINT16[n] = t.uint16_t(n)
    return value


def refusal_security(request: t.ZigbeePacket, options: t.TransmitOptions) -> t.TransmitOptions:
    """A refusal goes out at the request's own security level.

    A display that sent its request under network security only has no APS
    link key with us (it has not done CBKE, or lost the key), so a refusal
    APS-encrypted under whatever key the coordinator holds for it would be
    dropped unread.  The radio libraries carry the request's level in
    ``tx_options`` both ways: bellows sets ``TransmitOptions.APS_Encryption``
    from ``APS_OPTION_ENCRYPTION`` of the incoming APS frame and the reverse
    when sending (``bellows/zigbee/application.py``); zigpy-znp from
    ``AF.IncomingMsg.SecurityUse`` and into ``TransmitOptions.ENABLE_SECURITY``
    (``zigpy_znp/zigbee/application.py``).
    """
    if t.TransmitOptions.APS_Encryption in request.tx_options:
        return options | t.TransmitOptions.APS_Encryption
    return options & ~t.TransmitOptions.APS_Encryption


class ZclServer(GeneralCommands):
    """A Smart Energy ZCL server hosted on the coordinator's own endpoints."""

    def __init__(
        self,
        endpoints: Iterable[Endpoint],
        clock: Clock,
        *,
        address: t.AddrModeAddress | None = None,
        encrypted_clusters: Iterable[int] = SMART_ENERGY_CLUSTERS,
        accept_unencrypted: bool = False,
        duplicate_window: float = 3.0,
        missing_value: MissingValue = MissingValue.INVALID,
        max_frame: int = DEFAULT_MAX_FRAME,
        authorised: SenderCheck | None = None,
    ) -> None:
        """
        ``address`` is put as the source of outgoing packets (backends fill it
        in when None).  ``encrypted_clusters`` need APS encryption unless
        ``accept_unencrypted`` (a lab override, off by default) is set.
        ``authorised(src)``, when given, must also hold for the sender of a
        frame on those clusters (e.g. it completed key establishment); it can
        be set later on ``self.encryption.authorised``.
        """
        self.endpoints: dict[int, Endpoint] = {}
        for endpoint in endpoints:
            if endpoint.id in self.endpoints:
                raise ValueError(f"endpoint {endpoint.id} given twice")
            self.endpoints[endpoint.id] = endpoint
        self.clock = clock
        self.address = address
        self.encryption = EncryptionRule(
            encrypted_clusters, accept_unencrypted=accept_unencrypted, authorised=authorised
        )
        self.duplicates = DuplicateFilter(duplicate_window)
        self.missing_value = missing_value
        self.max_frame = max_frame
        self.reporting = ReportingEngine(missing_value)
        self._outbox: list[t.ZigbeePacket] = []
        self._tsn = 0

    # -- PacketServer ---------------------------------------------------------

    def descriptors(self) -> Sequence[SimpleDescriptor]:
        return [ep.simple_descriptor() for ep in self.endpoints.values()]

    def wants(self, packet: t.ZigbeePacket) -> bool:
        return bool(self._targets(packet))

    def handle(self, packet: t.ZigbeePacket) -> list[t.ZigbeePacket]:
        try:
            return self._handle(packet)
        except Exception:  # the contract: nothing raises out of handle()
            LOGGER.exception("dropping a frame the server failed to process: %r", packet)
            return []

    def due(self) -> list[t.ZigbeePacket]:
        out, self._outbox = self._outbox, []
        for report in self.reporting.due(self.clock.now()):
            direction = Direction.Server_to_Client if report.is_server else Direction.Client_to_Server
            budget = self.max_frame - header_size(report.manufacturer)
            chunk: list[bytes] = []
            for encoded in report.records:
                if chunk and sum(map(len, chunk)) + len(encoded) > budget:
                    out.append(self._report_packet(report, direction, b"".join(chunk)))
                    chunk = []
                chunk.append(encoded)
            if chunk:
                out.append(self._report_packet(report, direction, b"".join(chunk)))
        return out

    def next_due(self) -> float | None:
        if self._outbox:
            return self.clock.now()
        return self.reporting.next_due()

    # -- unsolicited frames ---------------------------------------------------

    def send(
        self,
        endpoint: int,
        cluster_id: int,
        command_id: int,
        payload: bytes | Any,
        dst: t.AddrModeAddress,
        dst_ep: int,
        *,
        cluster_specific: bool = True,
        from_server: bool = True,
        manufacturer: int | None = None,
        disable_default_response: bool = False,
    ) -> int:
        """Queue an unsolicited command (e.g. PublishPrice) for the next :meth:`due`.

        Returns the TSN it was given, so a caller can match the Default Response.
        """
        ep = self.endpoints[endpoint]
        tsn = self._next_tsn()
        data = payload if isinstance(payload, (bytes, bytearray)) else payload.serialize()
        frame = self._header(
            FrameType.CLUSTER_COMMAND if cluster_specific else FrameType.GLOBAL_COMMAND,
            Direction.Server_to_Client if from_server else Direction.Client_to_Server,
            disable_default_response,
            manufacturer,
            tsn,
            command_id,
        ) + bytes(data)
        self._outbox.append(
            self._packet(ep.id, ep.profile_id, cluster_id, dst, dst_ep, tsn, frame)
        )
        return tsn

    # -- dispatch -------------------------------------------------------------

    def _targets(self, packet: t.ZigbeePacket) -> list[Endpoint]:
        if packet.dst_ep == BROADCAST_ENDPOINT:
            return [
                ep
                for ep in self.endpoints.values()
                if ep.profile_id == packet.profile_id
                and (packet.cluster_id in ep.server_clusters or packet.cluster_id in ep.client_clusters)
            ]
        ep = self.endpoints.get(packet.dst_ep) if packet.dst_ep is not None else None
        if ep is None or ep.profile_id != packet.profile_id:
            return []
        return [ep]

    def _handle(self, packet: t.ZigbeePacket) -> list[t.ZigbeePacket]:
        targets = self._targets(packet)
        if not targets:
            LOGGER.debug("not for this server: %r", packet)
            return []
        data = packet.data.serialize() if hasattr(packet.data, "serialize") else bytes(packet.data)
        key = (packet.src, packet.src_ep, packet.dst_ep, packet.profile_id, packet.cluster_id, data)
        if self.duplicates.is_duplicate(key, self.clock.now()):
            LOGGER.debug("ignoring duplicate frame from %s: %s", packet.src, data.hex())
            return []
        try:
            header, payload = ZclHeader.deserialize(data)
        except Exception:
            LOGGER.warning(
                "dropping frame with unreadable ZCL header from %s cluster 0x%04X: %s",
                packet.src, packet.cluster_id, data.hex(),
            )
            return []
        if header.frame_control.frame_type not in (FrameType.GLOBAL_COMMAND, FrameType.CLUSTER_COMMAND):
            LOGGER.warning(
                "dropping ZCL frame of reserved frame type from %s: %s", packet.src, data.hex()
            )
            return []

        replies: list[t.ZigbeePacket] = []
        for endpoint in targets:
            side = endpoint.side(
                packet.cluster_id, server=header.direction == Direction.Client_to_Server
            )
            ctx = RequestContext.of(packet, header, endpoint, side)
            replies.extend(self._dispatch(ctx, payload))
        return replies

    def _dispatch(self, ctx: RequestContext, payload: bytes) -> list[t.ZigbeePacket]:
        packet = ctx.packet
        encrypted = t.TransmitOptions.APS_Encryption in packet.tx_options
        if self.encryption.refuses(packet.cluster_id, encrypted, packet.src):
            LOGGER.warning(
                "refusing %s frame from %s ep %s on Smart Energy cluster 0x%04X"
                " (command 0x%02X): %s (lab override is off)",
                "encrypted" if encrypted else "unencrypted",
                packet.src, packet.src_ep, packet.cluster_id, ctx.command_id,
                "the sender has not completed key establishment"
                if encrypted else "APS encryption is required",
            )
            return [
                refusal.replace(tx_options=refusal_security(packet, refusal.tx_options))
                for refusal in self._default_response(ctx, Status.NOT_AUTHORIZED)
            ]
        if ctx.side is None:
            return self._default_response(ctx, Status.UNSUPPORTED_CLUSTER)
        mfr = ctx.manufacturer
        general = ctx.header.frame_control.frame_type == FrameType.GLOBAL_COMMAND
        if mfr is not None and mfr not in ctx.side.manufacturer_codes():
            return self._default_response(
                ctx,
                Status.UNSUP_MANUF_GENERAL_COMMAND if general else Status.UNSUP_MANUF_CLUSTER_COMMAND,
            )
        try:
            if general:
                return self._general(ctx, payload)
            return self._cluster_command(ctx, payload)
        except Malformed as exc:
            LOGGER.warning(
                "malformed command 0x%02X from %s on cluster 0x%04X: %s",
                ctx.command_id, packet.src, packet.cluster_id, exc,
            )
            return self._default_response(ctx, Status.MALFORMED_COMMAND)

    # -- cluster-specific commands -----------------------------------------------

    def _cluster_command(self, ctx: RequestContext, payload: bytes) -> list[t.ZigbeePacket]:
        side = ctx.side
        assert side is not None
        handler = side.handlers.get((ctx.command_id, ctx.manufacturer))
        if handler is None:
            return self._default_response(
                ctx,
                Status.UNSUP_CLUSTER_COMMAND if ctx.manufacturer is None else Status.UNSUP_MANUF_CLUSTER_COMMAND,
            )
        args = None
        if side.cluster is not None and ctx.manufacturer is None:
            defs = side.cluster.server_commands if side.is_server else side.cluster.client_commands
            definition = defs.get(ctx.command_id)
            if definition is not None:
                args = parse(definition.schema, payload)
        request = ZclRequest(
            packet=ctx.packet,
            header=ctx.header,
            endpoint=ctx.endpoint.id,
            cluster_id=side.cluster_id,
            command_id=ctx.command_id,
            payload=payload,
            args=args,
        )
        try:
            replies = handler(request)
        except ZclError as exc:
            LOGGER.info("command 0x%02X on 0x%04X refused: %s", ctx.command_id, side.cluster_id, exc)
            return self._default_response(ctx, exc.status)
        except Exception:
            LOGGER.exception(
                "handler for command 0x%02X on cluster 0x%04X failed", ctx.command_id, side.cluster_id
            )
            return self._default_response(ctx, Status.FAILURE)
        if not replies:
            return self._default_response(ctx, Status.SUCCESS)
        return [self._reply(ctx, r) for r in replies]

    # -- building frames --------------------------------------------------------

    def _default_response(self, ctx: RequestContext, status: Status) -> list[t.ZigbeePacket]:
        """A Default Response, when ZCL 2.5.12.2 says one is due."""
        if ctx.command_id == GeneralCommand.Default_Response and (
            ctx.header.frame_control.frame_type == FrameType.GLOBAL_COMMAND
        ):
            return []
        if ctx.groupcast:
            return []
        if status == Status.SUCCESS and ctx.header.frame_control.disable_default_response:
            return []
        payload = bytes([ctx.command_id, int(status)])
        return [self._general_reply(ctx, GeneralCommand.Default_Response, payload)]

    def _general_reply(self, ctx: RequestContext, command_id: int, payload: bytes) -> t.ZigbeePacket:
        # self._reply(ctx, ZclReply(command_id, payload, cluster_specific=False)), without the
        # frozen ZclReply: every Read Attributes Response and Default Response comes this way.
        tsn = int(ctx.header.tsn)
        data = bytes(payload) if isinstance(payload, (bytes, bytearray)) else payload.serialize()
        frame = self._header(FrameType.GLOBAL_COMMAND, ctx.header.direction.flip(), True, ctx.manufacturer, tsn,
                             command_id) + data
        packet = ctx.packet
        return self._packet(ctx.endpoint.id, ctx.endpoint.profile_id, packet.cluster_id,
                            packet.src, int(packet.src_ep or 0), tsn, frame)

    def _reply(self, ctx: RequestContext, reply: ZclReply) -> t.ZigbeePacket:
        tsn = int(ctx.header.tsn)
        frame = self._header(
            FrameType.CLUSTER_COMMAND if reply.cluster_specific else FrameType.GLOBAL_COMMAND,
            ctx.header.direction.flip(),
            reply.disable_default_response,
            ctx.manufacturer,
            tsn,
            reply.command_id,
        ) + reply.payload_bytes()
        packet = ctx.packet
        cluster_id = reply.cluster_id if reply.cluster_id is not None else packet.cluster_id
        return self._packet(
            ctx.endpoint.id, ctx.endpoint.profile_id, cluster_id,
            packet.src, int(packet.src_ep or 0), tsn, frame,
        )

    def _report_packet(self, report: Any, direction: Direction, payload: bytes) -> t.ZigbeePacket:
        tsn = self._next_tsn()
        frame = self._header(
            FrameType.GLOBAL_COMMAND, direction, True, report.manufacturer, tsn,
            GeneralCommand.Report_Attributes,
        ) + payload
        ep = self.endpoints[report.endpoint]
        return self._packet(ep.id, ep.profile_id, report.cluster_id, report.dst, report.dst_ep, tsn, frame)

    def _packet(
        self,
        src_ep: int,
        profile_id: int,
        cluster_id: int,
        dst: t.AddrModeAddress | None,
        dst_ep: int,
        tsn: int,
        frame: bytes,
    ) -> t.ZigbeePacket:
        return t.ZigbeePacket(
            src=self.address,
            src_ep=_uint8(src_ep),
            dst=dst,
            dst_ep=_uint8(dst_ep),
            tsn=_uint8(tsn),
            profile_id=_uint16(profile_id),
            cluster_id=_uint16(cluster_id),
            data=t.SerializableBytes(frame),
            tx_options=PLAIN_TX_OPTIONS if cluster_id in APS_PLAIN_CLUSTERS else TX_OPTIONS,
        )

    @staticmethod
    def _header(
        frame_type: FrameType,
        direction: Direction,
        disable_default_response: bool,
        manufacturer: int | None,
        tsn: int,
        command_id: int,
    ) -> bytes:
        key = (frame_type, direction, bool(disable_default_response), manufacturer)
        prefix = _HEADER_PREFIXES.get(key)
        if prefix is None:
            # ZclHeader's bytes before the TSN and command id: frame control and manufacturer code.
            prefix = _HEADER_PREFIXES[key] = ZclHeader.make(
                0,
                0,
                general=frame_type == FrameType.GLOBAL_COMMAND,
                direction=direction,
                manufacturer=manufacturer,
                disable_default_response=bool(disable_default_response),
            ).serialize()[:-2]
        return prefix + bytes((tsn & 0xFF, command_id & 0xFF))

    def _next_tsn(self) -> int:
        self._tsn = (self._tsn + 1) & 0xFF
        return self._tsn
