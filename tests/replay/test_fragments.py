"""APS fragment reassembly in replay: fragmented frames come out whole, once,
at their last block; duplicates are ignored, gaps and timeouts are counted,
APS ACKs of block windows are never taken for blocks; the decoder's fast and
general paths agree.  The example capture is checked against tshark's own
reassembly (the independent oracle)."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import pytest

from han_emu.frames.builders import aps_data, mac_ack, mac_data, nwk_frame
from han_emu.frames.fragments import FIRST, SUBSEQUENT, Reassembler
from han_emu.frames.pcap import PcapngWriter, PcapWriter
from han_emu.frames.stack import encode
from han_emu.readout import Readout
from han_emu.replay import Replay, ZclEvent, iter_records
from han_emu.cli.replay import cmd_replay
from han_emu.replay.output import jsonl_line, text_line, text_summary

from .helpers import ESI, ESI_IEEE, IHD, IHD_IEEE, LINK_KEY, NWK_KEY, PAN, T0

REPO = Path(__file__).resolve().parents[2]
CAPTURE = REPO / "captures" / "cad-profile-paging.pcapng"
KEYLOG = REPO / "captures" / "cad-profile-paging.keys"
ZIGBEE_EPOCH = 946_684_800  # 2000-01-01 00:00 UTC, the origin of ZCL UTCTime

# --- hand-written frames (Zigbee spec 2.2.5.1: APS frame with the extended header) ------------------

# A GetProfileResponse (Metering 0x0702, server -> client, cluster-specific, default response off,
# TSN 5): end 2024-01-01 00:00 UTC (0x2d24bd00), success, 30-minute period (2), 12 intervals 1..12.
PROFILE_RSP = bytes.fromhex("19" "05" "00" "00bd242d" "00" "02" "0c") + b"".join(
    n.to_bytes(3, "little") for n in range(1, 13))
PART1, PART2 = PROFILE_RSP[:20], PROFILE_RSP[20:]


def aps_block(counter: int, fragmentation: int, block_number: int, payload: bytes) -> bytes:
    """Unsecured APS data frame, unicast, extended header: 0x80 | ack request 0x40;
    dst ep 1, Metering, Smart Energy, src ep 2, counter, ext control, block number."""
    return bytes([0xC0, 0x01, 0x02, 0x07, 0x09, 0x01, 0x02, counter, fragmentation, block_number]) + payload


def aps_block_ack(counter: int, block_number: int, bitfield: int) -> bytes:
    """APS ACK (0x02) with the extended header (0x80) acknowledging a window of blocks:
    dst ep 2, Metering, Smart Energy, src ep 1, counter, ext control (2), block number, ack bitfield."""
    return bytes([0x82, 0x02, 0x02, 0x07, 0x09, 0x01, 0x01, counter, 0x02, block_number, bitfield])


def carried(i: int, aps: bytes, *, src: int = ESI, dst: int = IHD) -> bytes:
    """A hand-written APS frame inside a NWK-secured data frame (the encoder builds MAC and NWK)."""
    ieee = ESI_IEEE if src == ESI else IHD_IEEE
    return encode(mac_data(seq=i & 0xFF, pan=PAN, dst=dst, src=src),
                  nwk_frame(dst=dst, src=src, seq=i & 0xFF, frame_counter=100 + i, source_ieee=ieee),
                  None, None, aps, network_key=NWK_KEY)


def secured_block(i: int, counter: int, fragmentation: int, block_number: int, payload: bytes) -> bytes:
    """A block APS-encrypted on its own with the link key (as Smart Energy sends them)."""
    aps = aps_data(cluster=0x0702, dst_endpoint=1, src_endpoint=2, counter=counter, frame_counter=300 + i,
                   source_ieee=ESI_IEEE, ack_request=True)
    aps["frame_control"]["extended_header"] = True
    aps["extended"] = dict(control=dict(reserved=0, fragmentation=fragmentation), block_number=block_number,
                           ack_bitfield=None)
    return encode(mac_data(seq=i & 0xFF, pan=PAN, dst=IHD, src=ESI),
                  nwk_frame(dst=IHD, src=ESI, seq=i & 0xFF, frame_counter=100 + i, source_ieee=ESI_IEEE),
                  aps, None, payload, network_key=NWK_KEY, link_key=LINK_KEY)


def capture(psdus: list[tuple[float, bytes]]) -> bytes:
    buf = io.BytesIO()
    w = PcapWriter(buf, 195)
    for t, p in psdus:
        w.write(p, t)
    return buf.getvalue()


def forced_general(replay: Replay) -> Replay:
    """Every frame through the decoder's general path (the one for frames of no common shape)."""
    replay.decoder.decode = replay.decoder.decode_general  # type: ignore[method-assign]
    return replay


PATHS: dict[str, Callable[[Replay], Replay]] = {"fast": lambda r: r, "general": forced_general}


def replay_of(psdus: list[tuple[float, bytes]], path: str) -> tuple[Replay, list]:
    replay = PATHS[path](Replay(capture(psdus), [NWK_KEY], [LINK_KEY]))
    return replay, list(replay.frames())


def zcl_events(events: list) -> list[ZclEvent]:
    return [e for e in events if type(e) is ZclEvent]


# --- the reassembler on its own ---------------------------------------------------------------------

KEY = (ESI, IHD, 7, 0x0109, 0x0702, 2, 1)


def test_blocks_in_any_order_make_one_frame_once() -> None:
    r = Reassembler()
    assert r.add(KEY, SUBSEQUENT, 2, b"C", 10, 1.0) is None
    assert r.add(KEY, FIRST, 3, b"A", 11, 1.1) is None
    assert r.add(KEY, SUBSEQUENT, 2, b"C", 12, 1.2) is None  # a retry
    whole = r.add(KEY, SUBSEQUENT, 1, b"B", 13, 1.3)
    assert whole is not None and (whole.payload, whole.first_frame, whole.blocks) == (b"ABC", 10, 3)
    assert r.add(KEY, SUBSEQUENT, 1, b"B", 14, 1.4) is None  # a retry after completion: no second frame
    r.finish()
    assert (r.complete, r.incomplete, r.duplicates) == (1, 0, 2)


def test_timeout_slot_reuse_and_eviction_are_counted() -> None:
    r = Reassembler(timeout=30.0, max_pending=2)
    r.add(KEY, FIRST, 2, b"A", 1, 0.0)
    assert r.add(KEY, SUBSEQUENT, 1, b"B", 2, 31.0) is None  # the first set timed out; this one lacks block 0
    assert (r.incomplete, r.pending) == (1, 1)
    r.add(KEY, SUBSEQUENT, 1, b"X", 3, 32.0)  # same slot, other bytes: the counter came round
    assert (r.incomplete, r.pending) == (2, 1)
    other = [(ESI, IHD, c, 0x0109, 0x0702, 2, 1) for c in (8, 9)]
    r.add(other[0], FIRST, 2, b"A", 4, 33.0)
    r.add(other[1], FIRST, 2, b"A", 5, 33.0)  # a third open set: the oldest goes
    assert (r.incomplete, r.pending) == (3, 2)
    r.finish()
    assert (r.complete, r.incomplete, r.pending) == (0, 5, 0)


def test_nonsense_block_numbers_are_ignored() -> None:
    r = Reassembler()
    assert r.add(KEY, FIRST, 0, b"A", 1, 0.0) is None  # announces no blocks
    assert r.add(KEY, SUBSEQUENT, 0, b"A", 2, 0.0) is None  # block 0 is only ever the first
    assert r.add(KEY, 3, 1, b"A", 3, 0.0) is None  # reserved fragmentation value
    r.add(KEY, FIRST, 2, b"A", 4, 0.0)
    assert r.add(KEY, SUBSEQUENT, 5, b"Z", 5, 0.1) is None  # beyond the announced count
    whole = r.add(KEY, SUBSEQUENT, 1, b"B", 6, 0.2)
    assert whole is not None and whole.payload == b"AB"


def test_single_block_first_fragment_is_a_whole_frame() -> None:
    whole = Reassembler().add(KEY, FIRST, 1, b"only", 9, 0.0)
    assert whole is not None and (whole.payload, whole.first_frame) == (b"only", 9)


# --- hand-written fragments through the replay, fast and general paths -----------------------------

def _profile_rsp_ok(events: list, frame: int, first: int) -> None:
    (event,) = zcl_events(events)
    assert (event.frame, event.first_frame, event.zcl) == (frame, first, PROFILE_RSP)
    assert event.command == "get_profile_response"
    assert event.message.payload["end_time"] == 0x2D24BD00
    assert event.message.payload["intervals"] == list(range(1, 13))
    assert (event.src, event.dst, event.src_ep, event.dst_ep, event.cluster) == (ESI, IHD, 2, 1, 0x0702)


@pytest.mark.parametrize("path", sorted(PATHS))
def test_fragments_with_retries_and_window_acks(path: str) -> None:
    psdus = [
        (T0 + 0.00, carried(1, aps_block(0x17, FIRST, 2, PART1))),
        (T0 + 0.01, encode(mac_ack(seq=1))),
        (T0 + 0.02, carried(2, aps_block(0x17, FIRST, 2, PART1))),  # MAC retry of the first block
        (T0 + 0.03, carried(3, aps_block_ack(0x17, 0, 0x01), src=IHD, dst=ESI)),  # ACK of block 0
        (T0 + 0.04, carried(4, aps_block(0x17, SUBSEQUENT, 1, PART2))),
        (T0 + 0.05, carried(5, aps_block_ack(0x17, 1, 0x03), src=IHD, dst=ESI)),  # ACK of the window
        (T0 + 0.06, carried(6, aps_block(0x17, SUBSEQUENT, 1, PART2))),  # APS retry after the set is whole
    ]
    replay, events = replay_of(psdus, path)
    _profile_rsp_ok(events, frame=5, first=1)
    assert zcl_events(events)[0].time == pytest.approx(T0 + 0.04)
    s = replay.summary
    assert (s.decoded, s.reassembled, s.reassembly_incomplete, s.malformed) == (1, 1, 0, 0)


@pytest.mark.parametrize("path", sorted(PATHS))
def test_secured_blocks_out_of_order(path: str) -> None:
    psdus = [(T0, secured_block(1, 0x40, SUBSEQUENT, 1, PART2)), (T0 + 0.1, secured_block(2, 0x40, FIRST, 2, PART1))]
    replay, events = replay_of(psdus, path)
    _profile_rsp_ok(events, frame=2, first=1)
    assert replay.summary.aps_decrypted == 2


@pytest.mark.parametrize("path", sorted(PATHS))
def test_missing_block_and_timeout_give_no_zcl(path: str) -> None:
    psdus = [
        (T0, carried(1, aps_block(0x20, FIRST, 2, PART1))),  # its second block never comes
        (T0 + 1, carried(2, aps_block(0x21, FIRST, 2, PART1))),
        (T0 + 40, carried(3, aps_block(0x21, SUBSEQUENT, 1, PART2))),  # too late: 0x21's first block timed out
    ]
    replay, events = replay_of(psdus, path)
    assert zcl_events(events) == []
    assert not [e for e in events if getattr(e, "kind", None) == "malformed"]
    s = replay.summary
    assert (s.decoded, s.reassembled, s.reassembly_incomplete) == (0, 0, 3)
    assert text_summary(s).endswith("APS fragments: 0 frames reassembled, 3 incomplete")


def test_output_lines_name_the_first_block() -> None:
    psdus = [(T0, carried(1, aps_block(0x17, FIRST, 2, PART1))), (T0 + 0.01, carried(2, aps_block(0x17, SUBSEQUENT, 1, PART2)))]
    _, events = replay_of(psdus, "fast")
    (event,) = zcl_events(events)
    assert jsonl_line(event) == json.dumps(event.to_json(), separators=(",", ":"), ensure_ascii=False)
    assert list(event.to_json())[:3] == ["frame", "first_frame", "time"]
    assert (event.to_json()["frame"], event.to_json()["first_frame"]) == (2, 1)
    assert text_line(event).startswith("#2 (fragments from #1) ")


# --- the example capture against tshark -----------------------------------------------------------------

def _tshark_responses(tshark: str, path: Path) -> list[dict]:
    """Every reassembled GetProfileResponse as tshark sees it."""
    fields = ["frame.number", "zbee_aps.fragment", "zbee_aps.reassembled.length", "zbee_zcl.cmd.tsn",
              "zbee_zcl_se.met.get_profile_response.end_time", "zbee_zcl_se.met.get_profile_response.intervals"]
    args = [tshark, "-r", str(path), "-o", f"uat:zigbee_pc_keys:{KEYLOG.read_text().strip()}",
            "-Y", "zbee_zcl_se.met.get_profile_response.status", "-T", "fields", "-E", "occurrence=a",
            "-E", "aggregator=,", "-t", "ud"]
    for f in fields:
        args += ["-e", f]
    out = subprocess.run(args, capture_output=True, text=True, check=True, timeout=60).stdout
    rows = []
    for line in out.splitlines():
        number, fragments, length, tsn, end, intervals = line.split("\t")
        when = datetime.strptime(end.replace(" UTC", "")[:-3], "%b %d, %Y %H:%M:%S.%f").replace(tzinfo=timezone.utc)
        rows.append({"frame": int(number), "fragments": [int(f) for f in fragments.split(",") if f],
                     "length": int(length) if length else None, "tsn": int(tsn),
                     "end_time": int(when.timestamp()) - ZIGBEE_EPOCH,
                     "intervals": [int(v) for v in intervals.split(",")]})
    return rows


@pytest.fixture(scope="module")
def oracle(request) -> list[dict]:
    tshark = request.getfixturevalue("tshark")
    rows = _tshark_responses(tshark, CAPTURE)
    assert len(rows) == 6 and all(len(r["fragments"]) == 2 for r in rows)  # the capture is what its README says
    return rows


def _responses(replay: Replay) -> list[ZclEvent]:
    return [e for e in replay.frames() if type(e) is ZclEvent and e.command == "get_profile_response"]


@pytest.mark.parametrize("path", sorted(PATHS))
def test_capture_profile_responses_match_tshark(path: str, oracle: list[dict]) -> None:
    replay = PATHS[path](Replay(CAPTURE, keylog=KEYLOG))
    got = _responses(replay)
    assert [(e.frame, e.first_frame, len(e.zcl), e.message.tsn, e.message.payload["end_time"],
             e.message.payload["intervals"]) for e in got] == [
        (r["frame"], r["fragments"][0], r["length"], r["tsn"], r["end_time"], r["intervals"]) for r in oracle]
    assert all(r["fragments"][-1] == r["frame"] for r in oracle)
    s = replay.summary
    assert (s.reassembled, s.reassembly_incomplete, s.malformed, s.failed_to_decrypt) == (6, 0, 0, 0)


def test_fast_and_general_agree_on_the_capture() -> None:
    fast = [e.to_json() for e in Replay(CAPTURE, keylog=KEYLOG).frames()]
    general = [e.to_json() for e in forced_general(Replay(CAPTURE, keylog=KEYLOG)).frames()]
    assert fast == general


def test_readout_shows_the_cads_profile(oracle: list[dict]) -> None:
    readout = Readout()
    Replay(CAPTURE, keylog=KEYLOG, readout=readout).run()
    profile = readout.elements[2].profile[1]  # secondary element, channel 1 (consumption received)
    expected = {}
    for r in oracle:
        end = r["end_time"] + ZIGBEE_EPOCH
        expected.update({end - i * 1800: v for i, v in enumerate(r["intervals"])})
    assert len(expected) == 144 and profile == expected


def _copy(path: Path, out: Path, keep: Callable[[int], int]) -> None:
    """The capture rewritten with the project's writer, each record ``keep(index)`` times."""
    with out.open("wb") as f:
        w = PcapngWriter(f, 283)
        for rec in iter_records(path):
            for _ in range(keep(rec.index)):
                w.write(rec.frame + (rec.fcs or b""), rec.time, channel=rec.channel, page=rec.page or 0)


@pytest.mark.parametrize("path", sorted(PATHS))
def test_capture_with_every_block_repeated(path: str, oracle: list[dict], tmp_path: Path) -> None:
    blocks = {f for r in oracle for f in r["fragments"]}
    copy = tmp_path / "repeated.pcapng"
    _copy(CAPTURE, copy, lambda i: 2 if i in blocks else 1)
    replay = PATHS[path](Replay(copy, keylog=KEYLOG))
    got = _responses(replay)
    assert [e.message.payload["intervals"] for e in got] == [r["intervals"] for r in oracle]
    assert (replay.summary.reassembled, replay.summary.reassembly_incomplete) == (6, 0)


@pytest.mark.parametrize("path", sorted(PATHS))
def test_capture_with_a_block_lost(path: str, oracle: list[dict], tmp_path: Path) -> None:
    lost = oracle[1]["fragments"][1]  # the second answer's last block
    copy = tmp_path / "lost.pcapng"
    _copy(CAPTURE, copy, lambda i: 0 if i == lost else 1)
    replay = PATHS[path](Replay(copy, keylog=KEYLOG))
    events = list(replay.frames())
    got = [e for e in zcl_events(events) if e.command == "get_profile_response"]
    assert [e.message.tsn for e in got] == [r["tsn"] for i, r in enumerate(oracle) if i != 1]
    assert not [e for e in events if getattr(e, "kind", None) == "malformed"]
    assert (replay.summary.reassembled, replay.summary.reassembly_incomplete) == (5, 1)


def test_cli_jsonl_summary_and_readout(tmp_path: Path, capsys) -> None:
    readout = tmp_path / "readout.json"
    args = argparse.Namespace(file=str(CAPTURE), key=[], link_key=[], keylog=str(KEYLOG), format="jsonl",
                              readout_json=str(readout), phy=None, tui=False, speed=1.0)
    assert cmd_replay(args) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    summary = lines[-1]["summary"]
    assert (summary["reassembled"], summary["reassembly_incomplete"]) == (6, 0)
    assert sum(1 for line in lines if line.get("command") == "get_profile_response") == 6
    shown = json.loads(readout.read_text())["elements"]
    assert shown["secondary"]["profile_intervals"] == {"1": 144}  # three days of half-hours, channel 1
    assert shown["primary"]["profile_intervals"] == {}
