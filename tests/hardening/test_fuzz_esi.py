"""Fuzzing the ESI server's request path (``EsiServer.handle``) on every cluster
and command of both endpoints, with well-formed, random and mutated frames.

After every input: no exception escaped and nothing was logged at ERROR (the
engine turns a crashing handler into a logged FAILURE, which would hide a bug);
the meter's clock, registers, tiers and logs are unchanged; Smart Energy
requests without APS encryption got nothing but NOT_AUTHORIZED; every reply
fits one frame; and the server still answers a valid request with the exact
bytes written by hand from the meter's known registers.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
import zigpy.types as t
from hypothesis import given
from hypothesis import strategies as st
from zigpy.zcl import foundation

from clusters import SE_CLUSTERS
from han_emu.server.engine import DEFAULT_MAX_FRAME
from han_emu.server.esi import EsiServer

from .esi_support import END, ErrorLog, Y2K, build_esi, fingerprint, packet
from .fuzzing import FUZZ, count, mutated, value_bytes

SERVER_CLUSTERS = (0x0000, 0x0003, 0x000A, 0x0700, 0x0702)


def _attr_ids(cluster_id: int) -> list[int]:
    cls = SE_CLUSTERS[cluster_id]
    return sorted(int(a.id) for a in cls.attributes.values())


@st.composite
def general_frame(draw: st.DrawFn, cluster_id: int) -> bytes:
    """A well-formed general command: reads, writes, reporting, discovery, responses."""
    ids = _attr_ids(cluster_id)
    attr = st.sampled_from(ids) | st.integers(0, 0xFFFF)
    cmd = draw(st.sampled_from([0x00, 0x02, 0x03, 0x05, 0x06, 0x08, 0x0A, 0x0B, 0x0C, 0x11, 0x13, 0x15]))
    if cmd == 0x00:
        body = b"".join(draw(attr).to_bytes(2, "little") for _ in range(draw(st.integers(0, 12))))
    elif cmd in (0x02, 0x03, 0x05, 0x0A):
        body = b""
        for _ in range(draw(st.integers(1, 3))):
            type_id = draw(st.sampled_from([0x10, 0x18, 0x20, 0x21, 0x23, 0x25, 0x29, 0x2A, 0x30, 0x41, 0x42, 0xE2]))
            value = draw(st.binary(min_size=0, max_size=8))
            if type_id in (0x41, 0x42):
                value = bytes([len(value)]) + value
            body += draw(attr).to_bytes(2, "little") + bytes([type_id]) + value
    elif cmd == 0x06:
        body = b""
        for _ in range(draw(st.integers(1, 3))):
            body += bytes([0]) + draw(attr).to_bytes(2, "little") + bytes([draw(st.sampled_from([0x25, 0x2A, 0x21, 0x00]))])
            body += draw(st.integers(0, 0xFFFF)).to_bytes(2, "little") + draw(st.integers(0, 0xFFFF)).to_bytes(2, "little")
            body += draw(st.binary(min_size=0, max_size=6))
    elif cmd == 0x08:
        body = b"".join(bytes([draw(st.integers(0, 1))]) + draw(attr).to_bytes(2, "little")
                        for _ in range(draw(st.integers(1, 4))))
    elif cmd == 0x0B:
        body = bytes([draw(st.integers(0, 255)), draw(st.integers(0, 255))])
    else:
        body = draw(st.binary(min_size=2, max_size=3))
    mfr = draw(st.none() | st.integers(0, 0xFFFF)) if draw(st.integers(0, 9)) == 0 else None
    fc = 0x00 | (0x04 if mfr is not None else 0) | (0x08 if draw(st.integers(0, 9)) == 0 else 0) \
        | (0x10 if draw(st.booleans()) else 0)
    head = bytes([fc]) + (mfr.to_bytes(2, "little") if mfr is not None else b"")
    return head + bytes([draw(st.integers(0, 255)), cmd]) + body


@st.composite
def cluster_frame(draw: st.DrawFn, cluster_id: int) -> bytes:
    """A cluster command with a payload well-formed for its schema (any command id)."""
    cls = SE_CLUSTERS[cluster_id]
    commands = dict(cls.server_commands)
    if commands and draw(st.integers(0, 7)):
        command_id = draw(st.sampled_from(sorted(commands)))
        body = draw(value_bytes(commands[command_id].schema))
    else:
        command_id, body = draw(st.integers(0, 255)), draw(st.binary(max_size=20))
    fc = 0x01 | (0x08 if draw(st.integers(0, 9)) == 0 else 0) | (0x10 if draw(st.booleans()) else 0)
    return bytes([fc, draw(st.integers(0, 255)), command_id]) + body


@st.composite
def request(draw: st.DrawFn, clusters: tuple[int, ...]) -> dict[str, Any]:
    cluster_id = draw(st.sampled_from(clusters))
    frame = draw(general_frame(cluster_id) | cluster_frame(cluster_id))
    if draw(st.integers(0, 2)) == 0:
        frame = draw(mutated([frame]))
    elif draw(st.integers(0, 9)) == 0:
        frame = draw(st.binary(max_size=40))
    return dict(
        data=frame,
        cluster=cluster_id if draw(st.integers(0, 19)) else draw(st.integers(0, 0xFFFF)),
        dst_ep=draw(st.sampled_from([1, 2, 1, 2, 0xFF, 3, 0])),
        src_nwk=draw(st.sampled_from([0x1234, 0x5678, 0xFFFD])),
        encrypted=draw(st.integers(0, 5)) > 0,
        profile=0x0109 if draw(st.integers(0, 19)) else draw(st.sampled_from([0x0104, 0x0000, 0xC05E])),
    )


class Probe:
    """A valid request and its answer written by hand, asked after each input."""

    def __init__(self) -> None:
        self.tsn = 0

    def check(self, server: EsiServer) -> None:
        self.tsn = (self.tsn + 1) & 0xFF
        tsn = f"{self.tsn:02x}"
        # Read CurrentSummationReceived on the secondary ESI: 12000 Wh (uint48).
        [reply] = server.handle(packet(bytes.fromhex(f"00{tsn}000100"), cluster=0x0702, dst_ep=2, src_nwk=0x4321))
        assert reply.data.serialize().hex() == f"18{tsn}01010000" "25" "e02e00000000"
        # GetProfile, newest two export intervals: 500 Wh each, ending at 12:00.
        [reply] = server.handle(packet(bytes.fromhex(f"01{tsn}00" "01" "00000000" "02"),
                                       cluster=0x0702, dst_ep=2, src_nwk=0x4321))
        end = (END - Y2K).to_bytes(4, "little").hex()
        assert reply.data.serialize().hex() == f"19{tsn}00{end}000202" "f40100" "f40100"


def _run(server: EsiServer, meter, clock, probe: Probe, errors: ErrorLog, before: tuple, req: dict[str, Any]) -> None:
    clock.set(clock.now() + 5)  # out of the duplicate window of the previous input
    count("ESI requests")
    replies = server.handle(packet(**req))
    assert isinstance(replies, list)
    for reply in replies:
        data = reply.data.serialize()
        assert len(data) <= DEFAULT_MAX_FRAME
        if 0x0700 <= req["cluster"] <= 0x07FF and not req["encrypted"]:
            # Only a Default Response NOT_AUTHORIZED (status 0x7E) for an unencrypted SE request.
            assert data[0] & 0x03 == 0 and data[-3] == 0x0B and data[-1] == 0x7E
    server.due()  # reports and price publishes the input may have configured
    assert not errors.records, [r.getMessage() for r in errors.records]
    assert fingerprint(meter) == before
    probe.check(server)


@pytest.fixture(scope="module")
def errors() -> Any:
    handler = ErrorLog()
    logger = logging.getLogger("han_emu")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


def test_esi_request_path(errors: ErrorLog) -> None:
    server, meter, clock = build_esi()
    before = fingerprint(meter)
    probe = Probe()
    probe.check(server)

    @FUZZ
    @given(request(SERVER_CLUSTERS))
    def run(req: dict[str, Any]) -> None:
        _run(server, meter, clock, probe, errors, before, req)

    run()


def test_esi_request_path_as_a_trust_centre(errors: ErrorLog) -> None:
    """With CBKE on: Key Establishment traffic from anyone, SE requests refused
    from senders without an established key; the lab override is off."""
    server, meter, clock = build_esi(cbke=True)
    before = fingerprint(meter)

    @FUZZ
    @given(request(SERVER_CLUSTERS + (0x0800, 0x0800)))
    def run(req: dict[str, Any]) -> None:
        clock.set(clock.now() + 5)
        count("ESI requests")
        replies = server.handle(packet(**req))
        for reply in replies:
            data = reply.data.serialize()
            assert len(data) <= DEFAULT_MAX_FRAME
            if 0x0700 <= req["cluster"] <= 0x07FF:
                assert data[-3] == 0x0B and data[-1] == 0x7E  # NOT_AUTHORIZED: nobody completed CBKE
        server.due()
        assert not errors.records, [r.getMessage() for r in errors.records]
        assert fingerprint(meter) == before

    run()
    # Nobody completed key establishment, so a valid read is still refused.
    [reply] = server.handle(packet(bytes.fromhex("00ee000100"), cluster=0x0702, dst_ep=2, src_nwk=0x4321))
    assert reply.data.serialize().hex() == "18ee0b00" "7e"


def test_scheduled_prices_past_the_utctime_range_found_by_the_atheris_target(errors: ErrorLog) -> None:
    """GetScheduledPrices from StartTime 0xFFFFFFFF: the next tier changes lie past
    2136, where no UTCTime exists.  The handler used to crash (FAILURE and an
    ERROR log); now there is nothing to schedule: Default Response NOT_FOUND."""
    server, meter, clock = build_esi()
    before = fingerprint(meter)
    frame = bytes.fromhex("01 10 01" "ffffffff" "ff".replace(" ", ""))
    [reply] = server.handle(packet(frame, cluster=0x0700, dst_ep=1))
    assert reply.data.serialize().hex() == "18100b01" "8b"
    assert not errors.records
    assert fingerprint(meter) == before
