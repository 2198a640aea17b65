"""Replay events as jsonl: one JSON object a line, and the summary line.

Apart from the text output (``replay.output``) because a replay to jsonl, on
every worker process, needs only this: no names or units for people.
"""

from __future__ import annotations

import json
from typing import Any

from han_emu.replay.player import ErrorEvent, ReplaySummary, ZclEvent

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


