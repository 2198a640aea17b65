"""The ZCL server: general commands, cluster command dispatch and reporting.

:class:`ZclServer` implements the radio backends' ``PacketServer`` contract over
a set of :class:`~han_emu.server.endpoint.Endpoint` descriptions.  It is
synchronous and total: whatever bytes arrive, ``handle()`` returns a list of
packets (possibly empty) and never raises.
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass
from typing import Any, Callable, Iterable, NamedTuple, Sequence

import zigpy.types as t
from zigpy.zcl import foundation
from zigpy.zcl.foundation import (
    Direction,
    FrameType,
    GeneralCommand,
    ReportingDirection,
    Status,
)
from zigpy.zdo.types import SimpleDescriptor

from clusters.zcl_header import ZclHeader

from han_emu.meter.clock import Clock
from han_emu.server.attributes import AttributeReadError, MissingValue
from han_emu.server.command import ZclError, ZclReply, ZclRequest
from han_emu.server.endpoint import ClusterSide, Endpoint
from han_emu.server.guards import (
    APS_PLAIN_CLUSTERS,
    SMART_ENERGY_CLUSTERS,
    DuplicateFilter,
    EncryptionRule,
    SenderCheck,
)
from han_emu.server.reporting import ReportingEngine, ReportTarget

LOGGER = logging.getLogger(__name__)

BROADCAST_ENDPOINT = 0xFF
#: Largest ZCL frame (header included) the server builds for its own responses:
#: what fits in one APS-encrypted frame (a 24-period GetProfile response is 82).
DEFAULT_MAX_FRAME = 82
TX_OPTIONS = t.TransmitOptions.APS_Encryption | t.TransmitOptions.ACK
PLAIN_TX_OPTIONS = t.TransmitOptions.ACK

_GENERAL_RESPONSES = frozenset(
    {
        GeneralCommand.Read_Attributes_rsp,
        GeneralCommand.Write_Attributes_rsp,
        GeneralCommand.Configure_Reporting_rsp,
        GeneralCommand.Read_Reporting_Configuration_rsp,
        GeneralCommand.Report_Attributes,
        GeneralCommand.Default_Response,
        GeneralCommand.Discover_Attributes_rsp,
        GeneralCommand.Write_Attributes_Structured_rsp,
        GeneralCommand.Discover_Commands_Received_rsp,
        GeneralCommand.Discover_Commands_Generated_rsp,
        GeneralCommand.Discover_Attribute_Extended_rsp,
    }
)


class _Malformed(Exception):
    """The payload does not parse as the command it claims to be."""


@dataclass(frozen=True)
class _Context:
    """One request as seen by one endpoint."""

    packet: t.ZigbeePacket
    header: ZclHeader
    endpoint: Endpoint
    side: ClusterSide | None

    @property
    def manufacturer(self) -> int | None:
        mfr = self.header.manufacturer
        return None if mfr is None else int(mfr)

    @property
    def command_id(self) -> int:
        return int(self.header.command_id)

    @property
    def groupcast(self) -> bool:
        dst = self.packet.dst
        return dst is not None and dst.addr_mode in (t.AddrMode.Group, t.AddrMode.Broadcast)


class ZclServer:
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
            budget = self.max_frame - self._header_size(report.manufacturer)
            chunk: list[bytes] = []
            for record in report.records:
                encoded = record.serialize()
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
            ctx = _Context(packet, header, endpoint, side)
            replies.extend(self._dispatch(ctx, payload))
        return replies

    def _dispatch(self, ctx: _Context, payload: bytes) -> list[t.ZigbeePacket]:
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
            return self._default_response(ctx, Status.NOT_AUTHORIZED)
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
        except _Malformed as exc:
            LOGGER.warning(
                "malformed command 0x%02X from %s on cluster 0x%04X: %s",
                ctx.command_id, packet.src, packet.cluster_id, exc,
            )
            return self._default_response(ctx, Status.MALFORMED_COMMAND)

    # -- cluster-specific commands -----------------------------------------------

    def _cluster_command(self, ctx: _Context, payload: bytes) -> list[t.ZigbeePacket]:
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
                args = _parse(definition.schema, payload)
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

    # -- general commands -----------------------------------------------------

    def _general(self, ctx: _Context, payload: bytes) -> list[t.ZigbeePacket]:
        cmd = ctx.command_id
        handler = self._GENERAL.get(cmd)
        if handler is not None:
            if cmd == GeneralCommand.Read_Attributes and not len(payload) % 2:
                # The busiest request: a bare list of uint16 ids, read without
                # building a zigpy struct (odd lengths go the long way, to fail).
                return handler(self, ctx, _ReadAttributesArgs(_uint16_list(payload)))
            definition = foundation.GENERAL_COMMANDS[GeneralCommand(cmd)]
            args = _parse(definition.schema, payload)
            return handler(self, ctx, args)
        if cmd in _GENERAL_RESPONSES:
            # Answers and reports from the peer: nothing to do but acknowledge.
            return self._default_response(ctx, Status.SUCCESS)
        return self._default_response(ctx, Status.UNSUP_GENERAL_COMMAND)

    def _read_attributes(self, ctx: _Context, args: Any) -> list[t.ZigbeePacket]:
        table = ctx.side.attributes
        budget = self.max_frame - self._header_size(ctx.manufacturer)
        records: list[bytes] = []
        used = 0
        for attr_id in args.attribute_ids:
            # A record is attribute id, status and, on success, type and value
            # (ZCL 2.5.2); built as bytes directly, this is the busiest reply.
            head = int(attr_id).to_bytes(2, "little")
            binding = table.get(attr_id, ctx.manufacturer)
            if binding is None:
                encoded = head + bytes((Status.UNSUPPORTED_ATTRIBUTE,))
            elif not binding.readable:
                encoded = head + bytes((Status.WRITE_ONLY,))
            else:
                try:
                    encoded = head + bytes((Status.SUCCESS,)) + binding.encode_bytes(self.missing_value)
                except AttributeReadError as exc:
                    encoded = head + bytes((exc.status,))
            if records and used + len(encoded) > budget:
                LOGGER.info("read response full: %d of %d records fit", len(records), len(args.attribute_ids))
                break
            records.append(encoded)
            used += len(encoded)
        return [self._general_reply(ctx, GeneralCommand.Read_Attributes_rsp, b"".join(records))]

    def _write_attributes(self, ctx: _Context, args: Any) -> list[t.ZigbeePacket]:
        cmd = ctx.command_id
        table = ctx.side.attributes
        checked: list[tuple[int, Status, Any, Any]] = []
        for record in args.attributes:
            attr_id = int(record.attrid)
            binding = table.get(attr_id, ctx.manufacturer)
            status, value = Status.SUCCESS, None
            if binding is None:
                status = Status.UNSUPPORTED_ATTRIBUTE
            elif int(record.value.type) != binding.type_id:
                status = Status.INVALID_DATA_TYPE
            elif not binding.writable:
                status = Status.READ_ONLY
            else:
                try:
                    value = _typed(binding.definition.type, record.value.value)
                except (ValueError, TypeError, OverflowError, KeyError):
                    status = Status.INVALID_VALUE
            checked.append((attr_id, status, binding, value))

        undivided = cmd == GeneralCommand.Write_Attributes_Undivided
        results: list[tuple[int, Status]] = []
        if undivided and any(s != Status.SUCCESS for _a, s, _b, _v in checked):
            results = [(a, s) for a, s, _b, _v in checked]
        else:
            for attr_id, status, binding, value in checked:
                if status == Status.SUCCESS:
                    status = _apply_write(binding, value)
                results.append((attr_id, status))

        if cmd == GeneralCommand.Write_Attributes_No_Response:
            failed = [s for _a, s in results if s != Status.SUCCESS]
            return self._default_response(ctx, failed[0] if failed else Status.SUCCESS)
        response = foundation.WriteAttributesResponse(
            foundation.WriteAttributesStatusRecord(status=s, attrid=a) for a, s in results
        )
        if not results:
            response = foundation.WriteAttributesResponse(
                [foundation.WriteAttributesStatusRecord(status=Status.SUCCESS)]
            )
        return [self._general_reply(ctx, GeneralCommand.Write_Attributes_rsp, response.serialize())]

    def _configure_reporting(self, ctx: _Context, args: Any) -> list[t.ZigbeePacket]:
        table = ctx.side.attributes
        now = self.clock.now()
        statuses: list[foundation.ConfigureReportingResponseRecord] = []
        for config in args.config_records:
            direction = ReportingDirection(config.direction)
            attr_id = int(config.attrid)
            target = self._target(ctx, attr_id)
            binding = table.get(attr_id, ctx.manufacturer)
            if direction == ReportingDirection.ReceiveReports:
                # The peer will report its own attribute to us: note the timeout.
                self.reporting.expect(target, int(config.timeout))
                status = Status.SUCCESS
            elif binding is None:
                status = Status.UNSUPPORTED_ATTRIBUTE
            elif not binding.reportable:
                status = Status.UNREPORTABLE_ATTRIBUTE
            elif int(config.datatype) != binding.type_id:
                status = Status.INVALID_DATA_TYPE
            else:
                status = self._apply_report_config(target, binding, config, now)
            statuses.append(
                foundation.ConfigureReportingResponseRecord(
                    status=status, direction=direction, attrid=t.uint16_t(attr_id)
                )
            )
        if not statuses:
            raise _Malformed("Configure Reporting without records")
        payload = foundation.ConfigureReportingResponse(statuses).serialize()
        return [self._general_reply(ctx, GeneralCommand.Configure_Reporting_rsp, payload)]

    def _apply_report_config(self, target: ReportTarget, binding: Any, config: Any, now: float) -> Status:
        min_i, max_i = int(config.min_interval), int(config.max_interval)
        if max_i == 0xFFFF or (max_i == 0 and min_i == 0xFFFF):
            # 0xFFFF stops reporting; 0/0xFFFF reverts to the default (none here).
            self.reporting.remove(target)
            return Status.SUCCESS
        if max_i != 0 and max_i < min_i:
            return Status.INVALID_VALUE
        change = getattr(config, "reportable_change", None) if binding.is_analog else None
        self.reporting.configure(target, binding, min_i, max_i, change, now)
        return Status.SUCCESS

    def _read_reporting_configuration(self, ctx: _Context, args: Any) -> list[t.ZigbeePacket]:
        table = ctx.side.attributes
        out: list[bytes] = []
        for record in args.attribute_records:
            attr_id = int(record.attrid)
            direction = ReportingDirection(record.direction)
            target = self._target(ctx, attr_id)
            config = foundation.AttributeReportingConfig()
            config.direction = direction
            config.attrid = t.uint16_t(attr_id)
            status = Status.SUCCESS
            if direction == ReportingDirection.ReceiveReports:
                timeout = self.reporting.expected_timeout(target)
                if timeout is None:
                    status = Status.NOT_FOUND
                else:
                    config.timeout = timeout
            else:
                binding = table.get(attr_id, ctx.manufacturer)
                current = self.reporting.get(target)
                if binding is None:
                    status = Status.UNSUPPORTED_ATTRIBUTE
                elif not binding.reportable:
                    status = Status.UNREPORTABLE_ATTRIBUTE
                elif current is None:
                    status = Status.NOT_FOUND
                else:
                    config.datatype = binding.type_id
                    config.min_interval = current.min_interval
                    config.max_interval = current.max_interval
                    config.reportable_change = current.reportable_change
            out.append(
                foundation.AttributeReportingConfigWithStatus(status=status, config=config).serialize()
            )
        return [
            self._general_reply(ctx, GeneralCommand.Read_Reporting_Configuration_rsp, b"".join(out))
        ]

    def _discover_attributes(self, ctx: _Context, args: Any) -> list[t.ZigbeePacket]:
        extended = ctx.command_id == GeneralCommand.Discover_Attribute_Extended
        table = ctx.side.attributes
        record_size = 4 if extended else 3
        fit = (self.max_frame - self._header_size(ctx.manufacturer) - 1) // record_size
        ids = [i for i in table.ids(ctx.manufacturer) if i >= args.start_attribute_id]
        chosen = ids[: min(int(args.max_attribute_ids), fit)]
        complete = t.Bool(len(chosen) == len(ids))
        if extended:
            records = []
            for attr_id in chosen:
                binding = table.get(attr_id, ctx.manufacturer)
                acl = foundation.AttributeAccessControl(0)
                if binding.readable:
                    acl |= foundation.AttributeAccessControl.READ
                if binding.writable:
                    acl |= foundation.AttributeAccessControl.WRITE
                if binding.reportable:
                    acl |= foundation.AttributeAccessControl.REPORT
                records.append(
                    foundation.DiscoverAttributesExtendedResponseRecord(
                        attrid=attr_id, datatype=binding.type_id, acl=acl
                    )
                )
            rsp = GeneralCommand.Discover_Attribute_Extended_rsp
            body = foundation.GENERAL_COMMANDS[rsp].schema(
                discovery_complete=complete, extended_attr_info=records
            )
        else:
            records = [
                foundation.DiscoverAttributesResponseRecord(
                    attrid=attr_id, datatype=table.get(attr_id, ctx.manufacturer).type_id
                )
                for attr_id in chosen
            ]
            rsp = GeneralCommand.Discover_Attributes_rsp
            body = foundation.GENERAL_COMMANDS[rsp].schema(
                discovery_complete=complete, attribute_info=records
            )
        return [self._general_reply(ctx, rsp, body.serialize())]

    def _discover_commands(self, ctx: _Context, args: Any) -> list[t.ZigbeePacket]:
        side = ctx.side
        if ctx.command_id == GeneralCommand.Discover_Commands_Received:
            known, rsp = side.received_ids(ctx.manufacturer), GeneralCommand.Discover_Commands_Received_rsp
        else:
            known, rsp = side.generated_ids(ctx.manufacturer), GeneralCommand.Discover_Commands_Generated_rsp
        fit = self.max_frame - self._header_size(ctx.manufacturer) - 1
        ids = [c for c in known if c >= args.start_command_id]
        chosen = ids[: min(int(args.max_command_ids), fit)]
        body = foundation.GENERAL_COMMANDS[rsp].schema(
            discovery_complete=t.Bool(len(chosen) == len(ids)),
            command_ids=[t.uint8_t(c) for c in chosen],
        )
        return [self._general_reply(ctx, rsp, body.serialize())]

    _GENERAL: dict[int, Callable[[ZclServer, _Context, Any], list[t.ZigbeePacket]]] = {
        GeneralCommand.Read_Attributes: _read_attributes,
        GeneralCommand.Write_Attributes: _write_attributes,
        GeneralCommand.Write_Attributes_Undivided: _write_attributes,
        GeneralCommand.Write_Attributes_No_Response: _write_attributes,
        GeneralCommand.Configure_Reporting: _configure_reporting,
        GeneralCommand.Read_Reporting_Configuration: _read_reporting_configuration,
        GeneralCommand.Discover_Attributes: _discover_attributes,
        GeneralCommand.Discover_Attribute_Extended: _discover_attributes,
        GeneralCommand.Discover_Commands_Received: _discover_commands,
        GeneralCommand.Discover_Commands_Generated: _discover_commands,
    }

    # -- building frames --------------------------------------------------------

    def _target(self, ctx: _Context, attr_id: int) -> ReportTarget:
        return ReportTarget(
            endpoint=ctx.endpoint.id,
            cluster_id=ctx.side.cluster_id,
            is_server=ctx.side.is_server,
            manufacturer=ctx.manufacturer,
            attr_id=attr_id,
            dst=ctx.packet.src,
            dst_ep=int(ctx.packet.src_ep or 0),
        )

    def _default_response(self, ctx: _Context, status: Status) -> list[t.ZigbeePacket]:
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

    def _general_reply(self, ctx: _Context, command_id: int, payload: bytes) -> t.ZigbeePacket:
        return self._reply(ctx, ZclReply(command_id, payload, cluster_specific=False))

    def _reply(self, ctx: _Context, reply: ZclReply) -> t.ZigbeePacket:
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
            src_ep=t.uint8_t(src_ep),
            dst=dst,
            dst_ep=t.uint8_t(dst_ep),
            tsn=t.uint8_t(tsn),
            profile_id=t.uint16_t(profile_id),
            cluster_id=t.uint16_t(cluster_id),
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
        return ZclHeader.make(
            tsn,
            command_id,
            general=frame_type == FrameType.GLOBAL_COMMAND,
            direction=direction,
            manufacturer=manufacturer,
            disable_default_response=bool(disable_default_response),
        ).serialize()

    @staticmethod
    def _header_size(manufacturer: int | None) -> int:
        return 3 if manufacturer is None else 5

    def _next_tsn(self) -> int:
        self._tsn = (self._tsn + 1) & 0xFF
        return self._tsn


class _ReadAttributesArgs(NamedTuple):
    """What the Read Attributes schema would give: the requested ids."""

    attribute_ids: list[int]


def _uint16_list(payload: bytes) -> list[int]:
    return list(struct.unpack(f"<{len(payload) // 2}H", payload))


def _parse(schema: Any, payload: bytes) -> Any:
    try:
        args, _rest = schema.deserialize(payload)
    except Exception as exc:  # zigpy raises ValueError, KeyError, IndexError...
        raise _Malformed(str(exc) or type(exc).__name__) from exc
    return args


def _typed(typ: Any, value: Any) -> Any:
    """Convert a written value to the attribute's type (dataN values are raw bytes)."""
    if isinstance(value, (t.data8, t.data16, t.data24, t.data32, t.data40, t.data48, t.data56, t.data64)):
        converted, rest = typ.deserialize(value.serialize())
        if rest:
            raise ValueError("trailing bytes in a data value")
        return converted
    if isinstance(value, typ):
        return value
    return typ(value)


def _apply_write(binding: Any, value: Any) -> Status:
    try:
        binding.write(value)
    except ZclError as exc:
        return exc.status
    except (ValueError, TypeError, OverflowError):
        return Status.INVALID_VALUE
    except Exception:
        LOGGER.exception("writing attribute 0x%04X to the model failed", binding.id)
        return Status.FAILURE
    return Status.SUCCESS
