"""The ZCL general (foundation) commands the server answers on every cluster:
Read and Write Attributes, Configure Reporting and Read Reporting
Configuration, Discover Attributes (plain and extended) and Discover Commands.

:class:`GeneralCommands` is mixed into :class:`~han_emu.server.engine.ZclServer`,
which dispatches to it and frames its replies.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Callable

import zigpy.types as t
from zigpy.zcl import foundation
from zigpy.zcl.foundation import GeneralCommand, ReportingDirection, Status

from han_emu.meter.clock import Clock
from han_emu.server.attributes import AttributeReadError, MissingValue, ReadPlan
from han_emu.server.command import ZclError
from han_emu.server.context import Malformed, RequestContext, header_size, parse
from han_emu.server.reporting import ReportingEngine, ReportTarget

LOGGER = logging.getLogger(__name__)

#: General commands that answer or report: acknowledged, never acted on.
GENERAL_RESPONSES = frozenset(
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


class GeneralCommands:
    """The general commands, on the server's clock, reporting engine and frame budget."""

    clock: Clock
    reporting: ReportingEngine
    missing_value: MissingValue
    max_frame: int

    if TYPE_CHECKING:  # framed by the server this is mixed into (engine.ZclServer)
        def _general_reply(self, ctx: RequestContext, command_id: int, payload: bytes) -> t.ZigbeePacket: ...

        def _default_response(self, ctx: RequestContext, status: Status) -> list[t.ZigbeePacket]: ...

    def _general(self, ctx: RequestContext, payload: bytes) -> list[t.ZigbeePacket]:
        cmd = ctx.command_id
        handler = self._GENERAL.get(cmd)
        if handler is not None:
            if cmd == GeneralCommand.Read_Attributes and not len(payload) % 2:
                # The busiest request: a bare list of uint16 ids, read without
                # building a zigpy struct (odd lengths go the long way, to fail);
                # its plan is found by the payload's bytes, as the displays send
                # the same few lists all day.
                plan = ctx.side.attributes.read_plan_of(payload, ctx.manufacturer)
                return self._read_reply(ctx, plan, len(payload) // 2)
            definition = foundation.GENERAL_COMMANDS[GeneralCommand(cmd)]
            args = parse(definition.schema, payload)
            return handler(self, ctx, args)
        if cmd in GENERAL_RESPONSES:
            # Answers and reports from the peer: nothing to do but acknowledge.
            return self._default_response(ctx, Status.SUCCESS)
        return self._default_response(ctx, Status.UNSUP_GENERAL_COMMAND)

    def _read_attributes(self, ctx: RequestContext, args: Any) -> list[t.ZigbeePacket]:
        ids = args.attribute_ids
        plan = ctx.side.attributes.read_plan(ids if type(ids) is tuple else tuple(ids), ctx.manufacturer)
        return self._read_reply(ctx, plan, len(ids))

    def _read_reply(self, ctx: RequestContext, plan: ReadPlan, asked: int) -> list[t.ZigbeePacket]:
        """The Read Attributes Response to ``plan`` (of ``asked`` ids), as many records as fit."""
        budget = self.max_frame - header_size(ctx.manufacturer)
        records: list[bytes] = []
        used = 0
        missing = self.missing_value
        for head, binding in plan:
            # A record is attribute id, status and, on success, type and value
            # (ZCL 2.5.2); built as bytes directly, this is the busiest reply.
            if binding is None:
                encoded = head
            else:
                try:
                    encoded = head + binding.encode_bytes(missing)
                except AttributeReadError as exc:
                    encoded = head[:2] + bytes((exc.status,))
            if records and used + len(encoded) > budget:
                LOGGER.info("read response full: %d of %d records fit", len(records), asked)
                break
            records.append(encoded)
            used += len(encoded)
        return [self._general_reply(ctx, GeneralCommand.Read_Attributes_rsp, b"".join(records))]

    def _write_attributes(self, ctx: RequestContext, args: Any) -> list[t.ZigbeePacket]:
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

    def _configure_reporting(self, ctx: RequestContext, args: Any) -> list[t.ZigbeePacket]:
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
            raise Malformed("Configure Reporting without records")
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

    def _read_reporting_configuration(self, ctx: RequestContext, args: Any) -> list[t.ZigbeePacket]:
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

    def _discover_attributes(self, ctx: RequestContext, args: Any) -> list[t.ZigbeePacket]:
        extended = ctx.command_id == GeneralCommand.Discover_Attribute_Extended
        table = ctx.side.attributes
        record_size = 4 if extended else 3
        fit = (self.max_frame - header_size(ctx.manufacturer) - 1) // record_size
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

    def _discover_commands(self, ctx: RequestContext, args: Any) -> list[t.ZigbeePacket]:
        side = ctx.side
        if ctx.command_id == GeneralCommand.Discover_Commands_Received:
            known, rsp = side.received_ids(ctx.manufacturer), GeneralCommand.Discover_Commands_Received_rsp
        else:
            known, rsp = side.generated_ids(ctx.manufacturer), GeneralCommand.Discover_Commands_Generated_rsp
        fit = self.max_frame - header_size(ctx.manufacturer) - 1
        ids = [c for c in known if c >= args.start_command_id]
        chosen = ids[: min(int(args.max_command_ids), fit)]
        body = foundation.GENERAL_COMMANDS[rsp].schema(
            discovery_complete=t.Bool(len(chosen) == len(ids)),
            command_ids=[t.uint8_t(c) for c in chosen],
        )
        return [self._general_reply(ctx, rsp, body.serialize())]

    _GENERAL: dict[int, Callable[[GeneralCommands, RequestContext, Any], list[t.ZigbeePacket]]] = {
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

    # -- reporting targets ------------------------------------------------------

    def _target(self, ctx: RequestContext, attr_id: int) -> ReportTarget:
        return ReportTarget(
            endpoint=ctx.endpoint.id,
            cluster_id=ctx.side.cluster_id,
            is_server=ctx.side.is_server,
            manufacturer=ctx.manufacturer,
            attr_id=attr_id,
            dst=ctx.packet.src,
            dst_ep=int(ctx.packet.src_ep or 0),
        )


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
