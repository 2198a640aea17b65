"""Coverage-guided fuzz target (atheris) for the decoders and the ESI request path.

Not collected by pytest.  Run from the repository root, e.g.::

    python tests/hardening/fuzz/fuzz_decoders.py -atheris_runs=200000

The first input byte picks the target; the rest is the input.  A target may
raise only its documented error type; anything else is a crash that atheris
reports with the input that caused it.
"""

from __future__ import annotations

import io
import logging
import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

with atheris.instrument_imports():
    from clusters import SE_CLUSTERS
    from clusters.zcl_header import ZclHeader
    from han_emu.frames import FrameError, decode, read_capture
    from han_emu.frames.aps import parse_aps
    from han_emu.frames.mac import parse_mac
    from han_emu.frames.nwk import parse_nwk
    from han_emu.frames.zep import parse_zep
    from han_emu.frames.keylog import load_keylog
    from tests.hardening.esi_support import ErrorLog, build_esi, fingerprint, packet

REPO = Path(__file__).resolve().parents[3]
KEYS = load_keylog((REPO / "captures" / "ihd-mp184.keys").read_text())
SCHEMAS = [d.schema for cls in SE_CLUSTERS.values() for side in (cls.server_commands, cls.client_commands)
           for d in side.values()]
SERVER, METER, CLOCK = build_esi()
BEFORE = fingerprint(METER)
ERRORS = ErrorLog()
logging.getLogger("han_emu").addHandler(ERRORS)
logging.disable(logging.WARNING)  # refusals are expected; ERROR records are crashes


def _frames(data: bytes) -> None:
    for parse in (lambda d: parse_mac(d, fcs=False), parse_nwk, parse_aps, parse_zep):
        try:
            parse(data)
        except FrameError:
            pass
    try:
        decode(data, KEYS, fcs=False, strict=False)
    except FrameError:
        pass
    try:
        ZclHeader.deserialize(data)
    except ValueError:
        pass


def _capture(data: bytes) -> None:
    try:
        for _ in read_capture(io.BytesIO(data)):
            pass
    except FrameError:
        pass


def _payload(data: bytes) -> None:
    if not data:
        return
    schema = SCHEMAS[data[0] % len(SCHEMAS)]
    try:
        schema.deserialize(data[1:])
    except ValueError:
        pass


def _esi(data: bytes) -> None:
    if len(data) < 4:
        return
    cluster = (0x0000, 0x0003, 0x000A, 0x0700, 0x0702, 0x0800)[data[0] % 6]
    CLOCK.set(CLOCK.now() + 5)
    SERVER.handle(packet(data[3:], cluster=cluster, dst_ep=1 + data[1] % 2, encrypted=bool(data[2] & 1)))
    SERVER.due()
    if fingerprint(METER) != BEFORE:
        raise AssertionError("a request changed the meter")
    if ERRORS.records:
        raise AssertionError(f"the server logged an error: {ERRORS.records[0].getMessage()}")


TARGETS = (_frames, _capture, _payload, _esi)


def test_one(data: bytes) -> None:
    if data:
        TARGETS[data[0] % len(TARGETS)](data[1:])


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one)
    atheris.Fuzz()
