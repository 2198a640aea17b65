"""The replay hot path (``iter_psdus`` + ``FastDecoder``) agrees with the
construct codecs and zigpy's ZCL parser on every frame of the shipped
captures, and refuses what it does not cover."""

from __future__ import annotations

from pathlib import Path

import pytest
import zigpy.zcl.foundation as foundation

from han_emu.frames.keylog import read_keylog_rows
from han_emu.frames import FrameError, KeyRing, decode, read_capture
from han_emu.frames.fastparse import FastDecoder, iter_psdus

from .frames_support import capture

CAPTURES = Path(__file__).resolve().parents[2] / "captures"
SHIPPED = ["ihd-mp184", "cad-profile-paging"]


def _attributes(command: int, payload: bytes) -> tuple[list[int], list[object]]:
    """Attribute ids and values of a general command, by zigpy."""
    GC = foundation.GeneralCommand
    if command not in (GC.Read_Attributes, GC.Read_Attributes_rsp, GC.Report_Attributes):
        return [], []
    rec, _ = foundation.GENERAL_COMMANDS[GC(command)].schema.deserialize(payload)
    if command == GC.Read_Attributes:
        return [int(a) for a in rec.attribute_ids], []
    items = rec.status_records if command == GC.Read_Attributes_rsp else rec.attribute_reports
    ids = [int(r.attrid) for r in items]
    values = [r.value.value for r in items if command == GC.Report_Attributes or r.status == foundation.Status.SUCCESS]
    return ids, [bytes(v) if isinstance(v, (bytes, bytearray)) else int(v) for v in values]


@pytest.mark.parametrize("name", SHIPPED)
def test_fast_path_agrees_on_the_shipped_captures(name: str) -> None:
    path = CAPTURES / f"{name}.pcapng"
    keys = [k for k, _ in read_keylog_rows(CAPTURES / f"{name}.keys")]
    network, links = keys[:1], keys[1:]
    records = list(read_capture(path))
    assert [p for p, _ in iter_psdus(path.read_bytes())] == [r.psdu for r in records]
    ring = KeyRing.of(network, links)
    fast = FastDecoder(network, links)
    zcl_frames = 0
    for record in records:
        slow = decode(record.psdu, ring)
        got = fast.decode(record.psdu)
        whole_zcl = slow.zcl is not None and slow.aps.profile != 0 and not (slow.aps.extended and slow.aps.extended.control.fragmentation)
        if not whole_zcl:
            assert got is None
            continue
        zcl_frames += 1
        cluster, command, ids, values = got
        assert (cluster, command) == (slow.aps.cluster, slow.zcl.command_id)
        if not slow.zcl.frame_control.frame_type:
            assert (ids, values) == _attributes(command, slow.payload)
    assert zcl_frames > 20


def test_fast_path_on_a_public_trace_with_link_keys() -> None:
    # Silicon Labs trace: ZDP only; NWK decrypts once the key is known
    psdus = [p for p, fcs in iter_psdus(capture("trace_app_link_key.pcapng").read_bytes())]
    assert len(psdus) == 185
    fast = FastDecoder([bytes.fromhex("321f5c2bfecd923ad71839c7b4e02f3d")])
    outcomes = set()
    for p in psdus:
        try:
            outcomes.add(fast.decode(p, fcs=False))
        except FrameError as exc:
            outcomes.add(exc.layer)
    assert None in outcomes  # ACKs, commands, ZDP: no ZCL


def test_fast_path_refusals() -> None:
    fast = FastDecoder([bytes(16)])
    psdus = [p for p, _ in iter_psdus((CAPTURES / "ihd-mp184.pcapng").read_bytes())]
    secured = next(p for p in psdus if len(p) > 60)
    with pytest.raises(FrameError, match="MIC"):
        fast.decode(secured)
    with pytest.raises(FrameError, match="FCS"):
        fast.decode(secured[:-1] + bytes([secured[-1] ^ 1]))
    with pytest.raises(FrameError):
        list(iter_psdus(b"\x00\x01\x02\x03" + bytes(20)))
    with pytest.raises(FrameError, match="malformed block|truncated"):
        list(iter_psdus((CAPTURES / "ihd-mp184.pcapng").read_bytes()[:-7]))
