"""One line of the HAN screen's frame log: a ZCL (or ZDO) frame decoded into
words, with its raw bytes kept for the byte view.

Decoding is deliberately shallow (cluster, command, attribute names and
values): the log is for watching a conversation, the frames package is for
dissecting one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zigpy.zcl import foundation
from zigpy.zcl.foundation import Direction, GeneralCommand, Status

from clusters import SE_CLUSTERS, Price, names
from clusters.ids import PRICE, SE_PROFILE_ID, ZDO_PROFILE_ID
from clusters.price_text import price_text
from han_emu.replay.zcl import attribute_name

_MAX_ITEMS = 6
PUBLISH_PRICE = Price.ClientCommandDefs.publish_price.id


@dataclass(frozen=True, slots=True)
class LoggedFrame:
    """A frame seen on the HAN, as the log shows it."""

    seq: int
    time: float
    src: str
    dst: str
    profile: int
    cluster: int
    src_ep: int
    dst_ep: int
    summary: str
    raw: bytes

    @property
    def cluster_name(self) -> str:
        return cluster_name(self.cluster, self.profile)

    def text(self) -> str:
        """Everything a filter should match against."""
        return f"{self.src} {self.dst} {self.cluster_name} 0x{self.cluster:04X} {self.summary}".lower()


def cluster_name(cluster: int, profile: int = SE_PROFILE_ID) -> str:
    if profile == ZDO_PROFILE_ID:
        return "ZDO"
    return names.cluster_name(cluster) or f"0x{cluster:04X}"


def cluster_label(profile: int, cluster: int) -> str:
    """"Metering 0x0702" (a table cell's shorter form of :func:`clusters.names.cluster_label`),
    or the ZDO command's name."""
    if profile == ZDO_PROFILE_ID:
        return "ZDO " + describe_zdo(cluster, b"")
    name = cluster_name(cluster, profile)
    return name if name.startswith("0x") else f"{name} 0x{cluster:04X}"


def _value(value: Any) -> str:
    raw = getattr(value, "value", value)
    if isinstance(raw, (bytes, bytearray)):
        text = bytes(raw).decode("utf-8", errors="replace")
        return repr(text) if text.isprintable() else bytes(raw).hex()
    if isinstance(raw, int):
        return str(int(raw))
    return str(raw)


def _attr_name(cluster: int, attr: int, manufacturer: int | None = None) -> str:
    """The attribute's name as the decoder gives it: a manufacturer-specific
    frame's ids are that manufacturer's (only the export MPAN's are known)."""
    return attribute_name(cluster, attr, manufacturer) or f"0x{attr:04X}"


def _items(items: list[str]) -> str:
    if len(items) > _MAX_ITEMS:
        return ", ".join(items[:_MAX_ITEMS]) + f", +{len(items) - _MAX_ITEMS} more"
    return ", ".join(items)


def _general(cluster: int, command: int, body: bytes, mfr: int | None = None) -> str:
    try:
        name = GeneralCommand(command).name
    except ValueError:
        return f"general 0x{command:02X}"
    schema = foundation.GENERAL_COMMANDS[GeneralCommand(command)].schema
    try:
        payload, _ = schema.deserialize(body)
    except Exception:
        return f"{name} (malformed)"
    if command == GeneralCommand.Read_Attributes:
        return f"{name} " + _items([_attr_name(cluster, int(a), mfr) for a in payload.attribute_ids])
    if command == GeneralCommand.Read_Attributes_rsp:
        cells = []
        for rec in payload.status_records:
            attr = _attr_name(cluster, int(rec.attrid), mfr)
            cells.append(f"{attr}={_value(rec.value)}" if rec.status == Status.SUCCESS else f"{attr}:{rec.status.name}")
        return f"{name} " + _items(cells)
    if command == GeneralCommand.Report_Attributes:
        return f"{name} " + _items([f"{_attr_name(cluster, int(r.attrid), mfr)}={_value(r.value)}"
                                    for r in payload.attribute_reports])
    if command == GeneralCommand.Default_Response:
        return f"{name} cmd 0x{int(payload.command_id):02X} {Status(payload.status).name}"
    return name


def describe_zcl(cluster: int, data: bytes) -> str:
    """A one-line description of a ZCL frame (header and payload)."""
    try:
        header, body = foundation.ZCLHeader.deserialize(data)
    except Exception:
        return f"not ZCL ({len(data)} bytes)"
    arrow = "->" if header.direction == Direction.Client_to_Server else "<-"
    if header.frame_control.is_general:
        mfr = None if header.manufacturer is None else int(header.manufacturer)
        return f"{arrow} {_general(cluster, int(header.command_id), body, mfr)}"
    cls = SE_CLUSTERS.get(cluster)
    commands = {}
    if cls is not None:
        commands = cls.server_commands if header.direction == Direction.Client_to_Server else cls.client_commands
    cmd = commands.get(int(header.command_id))
    name = cmd.name if cmd is not None else f"command 0x{int(header.command_id):02X}"
    if cmd is not None and cluster == PRICE and cmd.id == PUBLISH_PRICE and header.direction != Direction.Client_to_Server:
        try:
            p, _ = cmd.schema.deserialize(body)
        except Exception:
            return f"{arrow} {name} (malformed)"
        packed = p.price_trailing_digit_and_price_tier
        return f"{arrow} {name} " + publish_price_text(
            int(packed.price_tier), int(packed.trailing_digit), int(p.price), bytes(p.rate_label),
            int(p.currency), int(p.unit_of_measure))
    return f"{arrow} {name} ({len(body)} bytes)"


def publish_price_text(tier: int, digit: int, price: int, label: bytes | str | None,
                       currency: int | None, unit: int | None) -> str:
    """``tier 1 "Tier 1" 0.28500 GBP/kWh``: what a PublishPrice tells a display."""
    if isinstance(label, (bytes, bytearray)):
        label = bytes(label).decode("utf-8", errors="replace")
    text = f"tier {tier}"
    if label:
        text += f" {label!r}" if not label.isprintable() else f' "{label}"'
    return f"{text} {price_text(price, digit, currency=currency, unit=unit)}"


def _json_value(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    return str(value)


def describe_message(cluster: int, message: Any, size: int) -> str:
    """The line :func:`describe_zcl` gives, from a frame a capture replay has
    already decoded (a ``han_emu.replay.ZclMessage``; ``size`` is the ZCL
    frame's length).  Decoding every frame a second time with zigpy costs
    about a millisecond, which a long capture played as fast as possible
    cannot afford."""
    arrow = "<-" if message.server_to_client else "->"
    command_id = int(message.command_id)
    if message.cluster_specific:
        payload = message.payload or {}
        if cluster == PRICE and message.server_to_client and command_id == PUBLISH_PRICE and "price" in payload:
            return f"{arrow} {message.command} " + publish_price_text(
                payload.get("price_tier", 0), payload.get("price_trailing_digit", 0), payload["price"],
                payload.get("rate_label"), payload.get("currency"), payload.get("unit_of_measure"))
        header = 5 if message.manufacturer is not None else 3
        return f"{arrow} {message.command} ({size - header} bytes)"
    try:
        name = GeneralCommand(command_id).name
    except ValueError:
        return f"{arrow} general 0x{command_id:02X}"
    attributes: dict[str, Any] = message.attributes or {}
    payload: dict[str, Any] = message.payload or {}
    if command_id == GeneralCommand.Read_Attributes:
        return f"{arrow} {name} " + _items([_attr_name(cluster, int(a, 16)) for a in attributes])
    if command_id in (GeneralCommand.Read_Attributes_rsp, GeneralCommand.Report_Attributes):
        statuses = payload.get("statuses", {})
        cells = []
        for a, value in attributes.items():
            attr = _attr_name(cluster, int(a, 16))
            if a in statuses:
                try:
                    cells.append(f"{attr}:{Status(statuses[a]).name}")
                except ValueError:
                    cells.append(f"{attr}:0x{statuses[a]:02X}")
            else:
                cells.append(f"{attr}={_json_value(value)}")
        return f"{arrow} {name} " + _items(cells)
    if command_id == GeneralCommand.Default_Response and "status" in payload:
        try:
            status = Status(payload["status"]).name
        except ValueError:
            status = f"0x{payload['status']:02X}"
        return f"{arrow} {name} cmd 0x{int(payload['command_id']):02X} {status}"
    return f"{arrow} {name}"


def describe_zdo(cluster: int, data: bytes) -> str:
    return names.zdo_name(cluster) or f"ZDO 0x{cluster:04X}"


def describe(profile: int, cluster: int, data: bytes) -> str:
    if profile == ZDO_PROFILE_ID:
        return describe_zdo(cluster, data)
    return describe_zcl(cluster, data)


def hexdump(data: bytes, width: int = 16) -> str:
    """Offset, hex and printable characters, ``width`` bytes a line."""
    lines = []
    for off in range(0, len(data), width):
        chunk = data[off:off + width]
        hexes = " ".join(f"{b:02x}" for b in chunk)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{off:04x}  {hexes:<{width * 3 - 1}}  {text}")
    return "\n".join(lines) or "(no payload)"
