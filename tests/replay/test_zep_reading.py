"""The fast ZEP reading (``capture._zep``) agrees with the ZEP declaration
(``frames.zep``) byte for byte, and a ZEP listener iterated on its own thread
reads every waiting datagram in order, in batches, with a grown receive buffer."""

from __future__ import annotations

import socket
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from han_emu.frames.errors import FrameError
from han_emu.frames.zep import zep_v2_data
from han_emu.replay import capture
from han_emu.replay.live import ZepListener, grow_receive_buffer

from .helpers import conversation_psdus
from .test_live import ZEP_ACK, ZEP_V1, ZEP_V2


def _outcome(read, payload: bytes):
    try:
        return ("ok", read(payload))
    except capture._Skip:
        return ("skip", None)
    except FrameError as exc:
        return ("error", str(exc))


def _agree(payload: bytes) -> None:
    fast, declared = _outcome(capture._zep, payload), _outcome(capture._zep_declared, payload)
    assert fast == declared, payload.hex()


def _datagrams() -> list[bytes]:
    out = [ZEP_V2, ZEP_V1, ZEP_ACK]
    for n, (t, psdu) in enumerate(conversation_psdus()):
        out.append(zep_v2_data(psdu, channel=11 + n % 16, timestamp=t if n % 2 else 0, sequence=n, fcs=bool(n % 3)))
    v2_lqi = bytearray(ZEP_V2)
    v2_lqi[7] = 0  # LQI mode: the last two bytes are not an FCS
    out += [bytes(v2_lqi), ZEP_V2 + b"trailing", ZEP_V1 + b"\x00"]
    return out


def test_every_datagram_and_every_cut_of_it_reads_as_the_declaration_reads_it() -> None:
    for d in _datagrams():
        for n in range(len(d) + 1):
            _agree(d[:n])


def test_damaged_headers_read_as_the_declaration_reads_them() -> None:
    for d in (ZEP_V2, ZEP_V1):
        for i in range(len(d)):
            for b in (0x00, 0x01, 0x02, 0x03, 0xFF):
                damaged = bytearray(d)
                damaged[i] = b
                _agree(bytes(damaged))


@settings(max_examples=400, deadline=None)
@given(st.sampled_from([b"EX\x01", b"EX\x02\x01", b"EX\x02\x02", b"EX\x03", b"EY\x02", b""]), st.binary(max_size=80))
def test_fuzzed_datagrams_read_as_the_declaration_reads_them(head: bytes, rest: bytes) -> None:
    _agree(head + rest)


def test_receive_buffer_is_grown() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as plain, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as grown:
        default = plain.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        assert grow_receive_buffer(grown, 16 << 20) > default


def test_listener_reads_every_waiting_datagram_in_order() -> None:
    listener = ZepListener("127.0.0.1", 0, duration=1.0)
    waits = []
    listener.on_wait = lambda: waits.append(listener.frames)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    psdus = conversation_psdus() * 100  # 1,200 datagrams, all waiting before the first read
    for n, (t, psdu) in enumerate(psdus):
        sender.sendto(zep_v2_data(psdu, channel=11, timestamp=t, sequence=n), listener.address)
    sender.sendto(b"not zep", listener.address)
    sender.close()
    start = time.monotonic()
    records = list(listener)
    assert time.monotonic() - start < 30
    assert [r.index for r in records] == list(range(1, len(psdus) + 1))
    assert [r.frame + r.fcs for r in records] == [p for _, p in psdus]
    assert listener.not_zep == 1 and listener.frames == len(psdus)
    assert len(waits) < len(psdus) // 10  # read in batches: few waits
    assert not listener.ended  # stopped by the duration
    with pytest.raises(RuntimeError):
        next(iter(listener))
