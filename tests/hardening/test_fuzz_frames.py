"""Fuzzing the frame decoders: MAC, NWK, APS, ZCL header, ZEP, whole-stack decode,
the struct fast path, pcap/pcapng readers and the replay pipeline.

Property: on any bytes a decoder returns a result or raises its one documented
error type (``FrameError`` for the codecs, ``ValueError`` for the ZCL header);
construct, struct, index or key errors never escape.  Where a decoder accepts
the bytes, building them back gives the same bytes (construct's one
declaration serves both directions).
"""

from __future__ import annotations

import io

from hypothesis import given
from hypothesis import strategies as st

from clusters.zcl_header import ZclHeader
from han_emu.frames import FrameError, decode, fastparse, read_capture
from han_emu.frames.aps import parse_aps, parse_aps_command, parse_transport_key
from han_emu.frames.fcs import fcs_bytes, fcs_ok
from han_emu.frames.mac import build_mac, parse_mac
from han_emu.frames.nwk import parse_nwk, parse_nwk_command
from han_emu.frames.zcl import build_zcl, parse_zcl
from han_emu.frames.zep import build_zep, parse_zep
from han_emu.replay.capture import CaptureProblem, RawFrame, iter_records
from han_emu.replay.player import Replay

from .fuzzing import FUZZ, count, mutated, random_or_mutated
from .seeds import capture_files, keyring, layer_seeds, psdus

PSDUS = list(psdus())
SEEDS = layer_seeds()


def refix_fcs(frame: bytes) -> bytes:
    """Give a mutated frame a correct FCS so decoding reaches the inner layers."""
    return frame[:-2] + fcs_bytes(frame[:-2]) if len(frame) >= 3 else frame


@FUZZ
@given(random_or_mutated(PSDUS, 140), st.booleans())
def test_mac(data: bytes, with_fcs: bool) -> None:
    count("mac")
    try:
        frame = parse_mac(data, fcs=with_fcs)
    except FrameError:
        return
    assert build_mac(frame, fcs=with_fcs) == data
    if with_fcs:
        assert fcs_ok(data)


@FUZZ
@given(random_or_mutated(PSDUS, 140))
def test_fast_mac_agrees_or_refuses(data: bytes) -> None:
    count("fast mac")
    try:
        fast = fastparse.parse_mac(data)
    except FrameError:
        return
    slow = parse_mac(data)  # what the fast path accepts the codec accepts too
    assert fast["seq"] == slow.seq


@FUZZ
@given(random_or_mutated(list(SEEDS["nwk"]), 120))
def test_nwk(data: bytes) -> None:
    count("nwk")
    for parse in (parse_nwk, parse_nwk_command, fastparse.parse_nwk):
        try:
            parse(data)
        except FrameError:
            pass


@FUZZ
@given(random_or_mutated(list(SEEDS["aps"]), 100))
def test_aps(data: bytes) -> None:
    count("aps")
    for parse in (parse_aps, parse_aps_command, parse_transport_key, fastparse.parse_aps):
        try:
            parse(data)
        except FrameError:
            pass


@FUZZ
@given(random_or_mutated(list(SEEDS["zcl"]), 60))
def test_zcl_header_codecs_agree(data: bytes) -> None:
    count("zcl header")
    try:
        slow = parse_zcl(data)
    except FrameError:
        slow = None
    try:
        fast, rest = ZclHeader.deserialize(data)
    except ValueError:
        fast = None
    assert (slow is None) == (fast is None)
    if slow is not None and fast is not None:
        assert (slow.tsn, slow.command_id, bytes(slow.payload)) == (fast.tsn, fast.command_id, rest)
        assert build_zcl(slow) == data
        assert fast.serialize() + rest == data


@FUZZ
@given(random_or_mutated(list(SEEDS["zep"]), 160))
def test_zep(data: bytes) -> None:
    count("zep")
    try:
        packet = parse_zep(data)
    except FrameError:
        return
    assert data.startswith(build_zep(packet))


@FUZZ
@given(st.one_of(mutated(PSDUS).map(refix_fcs), mutated(PSDUS), st.binary(max_size=140).map(refix_fcs)),
       st.booleans())
def test_whole_stack_decode(data: bytes, strict: bool) -> None:
    count("stack decode")
    try:
        decode(data, keyring(), strict=strict)
    except FrameError:
        pass


@FUZZ
@given(random_or_mutated(list(capture_files()), 400))
def test_pcap_and_pcapng_reader(data: bytes) -> None:
    count("pcap reader")
    try:
        for record in read_capture(io.BytesIO(data)):
            assert isinstance(record.frame, bytes) and record.offset < len(data)
    except FrameError:
        pass


@FUZZ
@given(random_or_mutated(list(capture_files()), 400))
def test_replay_pipeline_reports_damage_instead_of_raising(data: bytes) -> None:
    count("replay")
    try:
        items = list(iter_records(data))
    except FrameError:
        return
    assert all(isinstance(x, (RawFrame, CaptureProblem)) for x in items)
    try:
        Replay(data, keys=keyring()).run()
    except FrameError:
        pass
