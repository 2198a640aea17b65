"""Writing replay events: readable text, and jsonl (one object a line, from ``replay.jsonl``)."""

from __future__ import annotations

import json
from typing import Any, TextIO

import zigpy.types as t

from clusters.ids import PRICE, TIME
from clusters.names import cluster_label
from clusters.price_text import is_price_attribute, price_text
from clusters.utctime import UTCTIME_INVALID, ZCL_EPOCH_POSIX
from han_emu.meter.gbtime import iso_utc
from han_emu.replay.jsonl import jsonl_line, summary_line
from han_emu.replay.player import ErrorEvent, ReplaySummary, ZclEvent
from han_emu.replay.zcl import attribute_name, attribute_type, command_fields

__all__ = ["TextLines", "duty_text", "jsonl_line", "summary_line", "text_line", "text_summary", "write_event"]

def _value(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False) if isinstance(v, (str, dict, list)) else str(v)


# --- what a value means to a reader: a time, a price, or just a number -------------------

_UTC, _LOCAL, _PRICE = "utc", "local", "price"
_PRICE_SETTINGS = {"price_trailing_digit": "digit", "currency": "currency", "unit_of_measure": "unit"}
_UTC_SECONDS = {(TIME, "dst_start"), (TIME, "dst_end")}
"""Attributes ZCL types as plain uint32 that hold UTC seconds since 2000 all the same."""
_ATTRS: dict[tuple[int, str, int | None], tuple[str, str | None, str | None]] = {}
_FIELDS: dict[tuple[int, bool, int], dict[str, str]] = {}


def _kind_of(typ: Any) -> str | None:
    if isinstance(typ, type) and issubclass(typ, t.UTCTime):
        return _UTC
    if isinstance(typ, type) and issubclass(typ, (t.LocalTime, t.StandardTime)):
        return _LOCAL
    return None


def _attr_info(cluster: int, aid: str, manufacturer: int | None = None) -> tuple[str, str | None, str | None]:
    """(name, kind of value, Price setting it holds) of an attribute, worked
    out once; ``manufacturer``: the frame's code (its ids are that vendor's)."""
    key = (cluster, aid, manufacturer)
    info = _ATTRS.get(key)
    if info is None:
        number = int(aid, 16)
        name = attribute_name(cluster, number, manufacturer) or aid
        kind = _kind_of(attribute_type(cluster, number, manufacturer))
        setting = None
        if (cluster, name) in _UTC_SECONDS:
            kind = _UTC
        if cluster == PRICE:
            setting = _PRICE_SETTINGS.get(name.removeprefix("received_"))
            if manufacturer is None and is_price_attribute(number):
                kind = _PRICE
        info = _ATTRS[key] = (name, kind, setting)
    return info


def _field_kinds(cluster: int, to_client: bool, command_id: int) -> dict[str, str]:
    """Payload field -> kind of value, for a cluster-specific command, worked out once."""
    key = (cluster, to_client, command_id)
    kinds = _FIELDS.get(key)
    if kinds is None:
        fields = command_fields(cluster, to_client, command_id)
        kinds = _FIELDS[key] = {name: kind for name, typ in fields.items() if (kind := _kind_of(typ))}
    return kinds


def _time_text(value: Any, kind: str, name: str, field: bool = False) -> str:
    """An ISO date for a ZCL time.  A command field's 0 is the command's own
    special value: "now" for a start time, else left as 0 (GetProfile's
    "the latest interval", for one)."""
    if not isinstance(value, int) or isinstance(value, bool):
        return _value(value)
    if value == UTCTIME_INVALID:
        return "invalid"
    if value == 0 and field:
        return "now" if name.endswith("start_time") else "0"
    if kind == _LOCAL:  # seconds since 2000 on the local wall clock: ISO's local time has no offset
        return iso_utc(value + ZCL_EPOCH_POSIX).removesuffix("+00:00")
    return iso_utc(value + ZCL_EPOCH_POSIX)


Prices = dict[tuple[int | None, int | None], dict[str, int]]
"""Per Price server (address, endpoint): the trailing digit, currency and unit it last gave."""


def text_line(event: ZclEvent, prices: Prices | None = None) -> str:
    """``#12 2024-05-01T12:00:00.123+00:00 0x0000:1 -> 0x4d2c:1 Metering (0x0702) read_attributes_rsp current_summ_delivered=1234``

    Times (the frame's and every UTCTime field's) are ISO dates with their
    zone; a price shows with its trailing digit applied where the frame, or
    an earlier one from the same server in ``prices``, gave the digit."""
    when = iso_utc(event.time, ms=True)
    src = "?" if event.src is None else f"0x{event.src:04x}"
    dst = "?" if event.dst is None else f"0x{event.dst:04x}"
    m = event.message
    frame = f"#{event.frame}" if event.first_frame is None else f"#{event.frame} (fragments from #{event.first_frame})"
    label = _LABELS.get(event.cluster) or _LABELS.setdefault(event.cluster, cluster_label(event.cluster))
    parts = [frame, when, f"{src}:{event.src_ep} -> {dst}:{event.dst_ep}", label, m.command]
    money: dict[str, int] | None = None
    if event.cluster == PRICE:
        money = {} if prices is None else prices.setdefault((event.src, event.src_ep), {})
    attrs = m.attributes or {}
    if money is not None:
        for aid, value in attrs.items():
            setting = _attr_info(event.cluster, aid, m.manufacturer)[2]
            if setting is not None and isinstance(value, int):
                money[setting] = value >> 4 if setting == "digit" else value
    for aid, value in attrs.items():
        name, kind, setting = _attr_info(event.cluster, aid, m.manufacturer)
        if value is None and m.command_id == 0 and not m.cluster_specific:
            parts.append(name)
        elif setting == "digit" and isinstance(value, int):
            parts.append(f"{name}={value >> 4}")  # the digit sits in the byte's high nibble
        elif kind is None or value is None:
            parts.append(f"{name}={_value(value)}")
        elif kind == _PRICE:
            parts.append(f"{name}={_money(value, money)}")
        else:
            parts.append(f"{name}={_time_text(value, kind, name)}")
    payload = m.payload or {}
    kinds = _field_kinds(event.cluster, m.server_to_client, m.command_id) if m.cluster_specific and payload else {}
    if money is not None and "price_trailing_digit" in payload and "price" in payload:  # PublishPrice
        money.update(digit=payload["price_trailing_digit"], currency=payload.get("currency"),
                     unit=payload.get("unit_of_measure"))
        kinds = {**kinds, "price": _PRICE, "generation_price": _PRICE}
    for key, value in payload.items():
        kind = kinds.get(key)
        if kind is None:
            parts.append(f"{key}={_value(value)}")
        elif kind == _PRICE:
            parts.append(f"{key}={_money(value, money)}")
        else:
            parts.append(f"{key}={_time_text(value, kind, key, True)}")
    return " ".join(parts)


def _money(value: Any, money: dict[str, int] | None) -> str:
    digit = None if money is None else money.get("digit")
    if digit is None or not isinstance(value, int):
        return _value(value)
    return price_text(value, digit, currency=money.get("currency"), unit=money.get("unit"))  # type: ignore[union-attr]


_LABELS: dict[int, str] = {}


class TextLines:
    """:func:`text_line` for one capture: it remembers what each Price server
    said of its prices (trailing digit, currency, unit), so the prices of a
    later frame read as money too."""

    def __init__(self) -> None:
        self.prices: Prices = {}

    def __call__(self, event: ZclEvent) -> str:
        return text_line(event, self.prices)


def text_summary(summary: ReplaySummary) -> str:
    return (f"{summary.frames} frames: {summary.decoded} ZCL decoded, {summary.failed_to_decrypt} not decrypted, "
            f"{summary.malformed} malformed; NWK decrypted {summary.nwk_decrypted} of {summary.nwk_secured} secured, "
            f"APS decrypted {summary.aps_decrypted}"
            + (f"; APS fragments: {summary.reassembled} frames reassembled, "
               f"{summary.reassembly_incomplete} incomplete"
               if summary.reassembled or summary.reassembly_incomplete else ""))


def duty_text(report: dict[str, Any]) -> str:
    """The airtime block of a replay or sniff (:meth:`ReplayDutyCycle.report`) as text."""
    phy = report["phy"]
    how = report.get("phy_from")
    if how == "capture":
        phy += " (from the capture)"
    elif how == "default":
        phy += " (assumed: the capture does not say which PHY; --phy names it)"
    lines = [f"airtime on {phy} ({report['frames']} frames):"]
    for device, tracks in report["devices"].items():
        for u in tracks:
            lines.append(f"  {device:<24} page {u['page']} ch {u['channel']:>2}: {u['frames']:7d} frames "
                         f"{u['airtime_s']:10.3f} s, peak hour {u['peak_hour_s']:.3f} s ({u['peak_hour_percent']:.3f} %), "
                         f"{u['state']}")
    for t in report["transitions"]:
        lines.append(f"  {iso_utc(t['time'], ms=True)} {t['device']} {t['from']} -> {t['to']} (alert {t['alert']})")
    return "\n".join(lines) + "\n"


def write_event(out: TextIO, event: ZclEvent | ErrorEvent, fmt: str) -> None:
    if fmt == "jsonl":
        out.write(jsonl_line(event) + "\n")
    elif type(event) is ZclEvent:
        out.write(text_line(event) + "\n")
