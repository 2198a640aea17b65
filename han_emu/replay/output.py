"""Writing replay events: jsonl (one object a line) and readable text."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, TextIO

from .engine import ErrorEvent, ReplaySummary, ZclEvent
from .zcl import attribute_name, cluster_name

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def jsonl_line(event: ZclEvent | ErrorEvent) -> str:
    return _dumps(event.to_json())


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
    parts = [f"#{event.frame}", when, f"{src}:{event.src_ep} -> {dst}:{event.dst_ep}",
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
            f"APS decrypted {summary.aps_decrypted}")


def write_event(out: TextIO, event: ZclEvent | ErrorEvent, fmt: str) -> None:
    if fmt == "jsonl":
        out.write(jsonl_line(event) + "\n")
    elif type(event) is ZclEvent:
        out.write(text_line(event) + "\n")
