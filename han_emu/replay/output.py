"""Writing replay events: jsonl (one object a line) and readable text."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, TextIO

from han_emu.replay.player import ErrorEvent, ReplaySummary, ZclEvent
from han_emu.replay.zcl import attribute_name, cluster_name

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _unserializable(o: Any) -> Any:
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")


def _object_encoder():
    """``_dumps`` for the attribute and payload objects without its per-call
    set-up: the C encoder it builds, made once (decoded values hold no cycles,
    so no cycle markers)."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return _dumps
    encode = make(None, _unserializable, json.encoder.c_encode_basestring, None, ":", ",", False, False, True)
    return lambda o: "".join(encode(o, 0))


_object = _object_encoder()
_names: dict[str, str] = {}


class _Addresses(dict):
    """Short address -> its JSON text, made the first time it is seen."""

    def __missing__(self, a: int | None) -> str:
        text = self[a] = "null" if a is None else f'"0x{a:04x}"'
        return text


_ADDRESSES = _Addresses()


def jsonl_line(event: ZclEvent | ErrorEvent) -> str:
    """The event's jsonl line: the text ``json`` makes of ``event.to_json()``.

    A ZCL event is written field by field (the fixed keys as text, JSON only
    for the attribute and payload objects) because a replay writes one per
    frame; the tests hold it to the dict-and-``json`` form.
    """
    if type(event) is not ZclEvent:
        return _dumps(event.to_json())
    m = event.message
    name = _names.get(m.command)
    if name is None:
        name = _names[m.command] = _dumps(m.command)
    attrs, payload = m.attributes, m.payload
    first = "" if event.first_frame is None else f'"first_frame":{event.first_frame},'
    return (f'{{"frame":{event.frame},{first}"time":{round(event.time, 6)!r},"src":{_ADDRESSES[event.src]},'
            f'"dst":{_ADDRESSES[event.dst]},"src_ep":{"null" if event.src_ep is None else event.src_ep},'
            f'"dst_ep":{"null" if event.dst_ep is None else event.dst_ep},"profile":{event.profile},'
            f'"cluster":{event.cluster},"command":{name},'
            f'"attributes":{"null" if attrs is None else _object(attrs)},'
            f'"payload":{"null" if payload is None else _object(payload)}}}')


def summary_line(summary: ReplaySummary) -> str:
    return _dumps({"summary": summary.to_json()})


def _value(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False) if isinstance(v, (str, dict, list)) else str(v)


def text_line(event: ZclEvent) -> str:
    """``#12 2024-05-01 12:00:00.123 0x0000:1 -> 0x4d2c:1 Metering read_attributes_rsp current_summ_delivered=1234``"""
    when = datetime.fromtimestamp(event.time, timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    src = "?" if event.src is None else f"0x{event.src:04x}"
    dst = "?" if event.dst is None else f"0x{event.dst:04x}"
    m = event.message
    frame = f"#{event.frame}" if event.first_frame is None else f"#{event.frame} (fragments from #{event.first_frame})"
    parts = [frame, when, f"{src}:{event.src_ep} -> {dst}:{event.dst_ep}",
             cluster_name(event.cluster), m.command]
    for aid, value in (m.attributes or {}).items():
        name = attribute_name(event.cluster, int(aid, 16)) or aid
        parts.append(name if value is None and m.command_id == 0 and not m.cluster_specific else f"{name}={_value(value)}")
    for key, value in (m.payload or {}).items():
        parts.append(f"{key}={_value(value)}")
    return " ".join(parts)


def text_summary(summary: ReplaySummary) -> str:
    return (f"{summary.frames} frames: {summary.decoded} ZCL decoded, {summary.failed_to_decrypt} not decrypted, "
            f"{summary.malformed} malformed; NWK decrypted {summary.nwk_decrypted} of {summary.nwk_secured} secured, "
            f"APS decrypted {summary.aps_decrypted}"
            + (f"; APS fragments: {summary.reassembled} frames reassembled, "
               f"{summary.reassembly_incomplete} incomplete"
               if summary.reassembled or summary.reassembly_incomplete else ""))


def write_event(out: TextIO, event: ZclEvent | ErrorEvent, fmt: str) -> None:
    if fmt == "jsonl":
        out.write(jsonl_line(event) + "\n")
    elif type(event) is ZclEvent:
        out.write(text_line(event) + "\n")
