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


def _address(a: int | None) -> str:
    return "null" if a is None else f'"0x{a:04x}"'


class _Middles(dict):
    """(src, dst, src_ep, dst_ep, profile, cluster, command) -> the text of a
    line from ``"src"`` to ``"attributes":``, made the first time it is met (a
    capture holds a few such combinations; past ``LIMIT`` it starts again, so
    memory stays flat whatever the capture holds)."""

    LIMIT = 4096

    def __missing__(self, key: tuple) -> str:
        src, dst, src_ep, dst_ep, profile, cluster, command = key
        if len(self) >= self.LIMIT:
            self.clear()
        text = self[key] = (
            f'"src":{_address(src)},"dst":{_address(dst)},'
            f'"src_ep":{"null" if src_ep is None else src_ep},"dst_ep":{"null" if dst_ep is None else dst_ep},'
            f'"profile":{profile},"cluster":{cluster},"command":{_dumps(command)},"attributes":')
        return text


_MIDDLES = _Middles()


def jsonl_line(event: ZclEvent | ErrorEvent) -> str:
    """The event's jsonl line: the text ``json`` makes of ``event.to_json()``.

    A ZCL event is written as text around JSON for the attribute and payload
    objects alone (the part from the addresses to the command is made once per
    combination) because a replay writes one per frame; the tests hold it to
    the dict-and-``json`` form.
    """
    if type(event) is not ZclEvent:
        return _dumps(event.to_json())
    m = event.message
    attrs, payload = m.attributes, m.payload
    middle = _MIDDLES[(event.src, event.dst, event.src_ep, event.dst_ep, event.profile, event.cluster, m.command)]
    first = "" if event.first_frame is None else f'"first_frame":{event.first_frame},'
    return (f'{{"frame":{event.frame},{first}"time":{round(event.time, 6)!r},{middle}'
            f'{"null" if attrs is None else _object(attrs)},'
            f'"payload":{"null" if payload is None else _object(payload)}}}')


def summary_line(summary: ReplaySummary) -> str:
    return _dumps({"summary": summary.to_json()})


