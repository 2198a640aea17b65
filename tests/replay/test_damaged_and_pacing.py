"""Damaged files, pacing, the capture reader's fast paths, key logs and duty cycle."""

from __future__ import annotations

import io
import os
import struct

import pytest

from han_emu.cli.main import main
from han_emu.frames.fcs import fcs_bytes
from han_emu.frames.pcap import PcapngWriter, read_capture
from han_emu.replay import CaptureProblem, ErrorEvent, Replay, ZclEvent, iter_records, load_keylog, paced, replay_dutycycle
from han_emu.frames.fcs import crc16_kermit
from han_emu.frames.fcs import fcs_bytes as fcs_of
from han_emu.frames.keylog import KeylogError

from .helpers import LINK_KEY, NWK_KEY, T0, conversation_psdus, pcap_bytes


def _record_offsets(data: bytes) -> list[int]:
    offsets, off = [], 24
    while off < len(data):
        offsets.append(off)
        off += 16 + struct.unpack_from("<I", data, off + 8)[0]
    return offsets


def test_truncated_file_keeps_what_came_before(tmp_path, capsys) -> None:
    data = pcap_bytes(conversation_psdus())
    cut = _record_offsets(data)[6] + 20  # inside record 7
    path = tmp_path / "cut.pcap"
    path.write_bytes(data[:cut])
    replay = Replay(path, [NWK_KEY], [LINK_KEY])
    events = list(replay.frames())
    assert [e.frame for e in events if isinstance(e, ZclEvent)] == [1, 3, 5]
    last = events[-1]
    assert isinstance(last, ErrorEvent) and last.frame == 7 and "truncated record" in last.error
    assert str(_record_offsets(data)[6]) in last.error
    rc = main(["replay", str(path), "--key", NWK_KEY.hex(), "--link-key", LINK_KEY.hex()])
    err = capsys.readouterr().err
    assert rc == 1 and "frame 7" in err and "truncated" in err


def test_garbled_record_header_is_skipped_and_decoding_carries_on(tmp_path) -> None:
    data = bytearray(pcap_bytes(conversation_psdus()))
    bad = _record_offsets(bytes(data))[4]  # record 5 (third data frame)
    struct.pack_into("<I", data, bad + 8, 0xFFFFFFF0)
    path = tmp_path / "garbled.pcap"
    path.write_bytes(bytes(data))
    events = list(Replay(path, [NWK_KEY], [LINK_KEY]).frames())
    problems = [e for e in events if isinstance(e, ErrorEvent)]
    assert len(problems) == 1 and problems[0].frame == 5 and "malformed record header" in problems[0].error
    assert [e.frame for e in events if isinstance(e, ZclEvent)] == [1, 3, 7, 9, 11]


def test_truncated_pcapng_block(tmp_path) -> None:
    buf = io.BytesIO()
    w = PcapngWriter(buf, 195)
    for t, p in conversation_psdus():
        w.write(p, t)
    data = buf.getvalue()
    events = list(Replay(data[:-10], [NWK_KEY], [LINK_KEY]).frames())  # cuts the last ACK's block
    assert [e.frame for e in events if isinstance(e, ZclEvent)] == [1, 3, 5, 7, 9, 11]
    assert isinstance(events[-1], ErrorEvent) and events[-1].frame == 12 and "truncated block" in events[-1].error


def test_not_a_capture(tmp_path, capsys) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    assert main(["replay", str(path)]) == 1
    assert "not a pcap or pcapng file" in capsys.readouterr().err


def test_corrupted_frame_bytes_give_an_error_object_and_the_rest_decodes() -> None:
    psdus = conversation_psdus()
    t, p = psdus[2]
    psdus[2] = (t, p[:20] + bytes([p[20] ^ 0xFF]) + p[21:])
    events = list(Replay(pcap_bytes(psdus), [NWK_KEY], [LINK_KEY]).frames())
    assert events[1].to_json() == {"frame": 3, "error": "mac: FCS mismatch"}
    assert [e.frame for e in events if isinstance(e, ZclEvent)] == [1, 5, 7, 9, 11]


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, s: float) -> None:
        self.sleeps.append(round(s, 6))
        self.now += s


async def test_play_paces_by_capture_time_and_speed() -> None:
    fake = FakeTime()
    replay = Replay(pcap_bytes(conversation_psdus(with_acks=False)), [NWK_KEY], [LINK_KEY])
    frames = [e.frame async for e in replay.play(2.0, sleep=fake.sleep, clock=fake.clock)]
    assert frames == [1, 2, 3, 4, 5, 6]
    assert fake.sleeps == [0.5] * 5  # one second apart in the capture, at x2
    assert fake.now == pytest.approx(102.5)


async def test_play_as_fast_as_possible_only_yields_to_the_loop() -> None:
    fake = FakeTime()
    events = [ErrorEvent(i, T0 + i * 60, "malformed", "x") for i in range(10)]
    out = [e async for e in paced(events, None, sleep=fake.sleep, clock=fake.clock, batch=4)]
    assert len(out) == 10 and fake.sleeps == [0, 0]


async def test_play_updates_readout_as_events_are_yielded() -> None:
    from han_emu.readout import Readout

    readout = Readout()
    replay = Replay(pcap_bytes(conversation_psdus(with_acks=False)), [NWK_KEY], [LINK_KEY], readout=readout)
    seen = []
    async for e in replay.play(None):
        seen.append(readout.elements.get(1) is not None and readout.elements[1].summation.get("delivered"))
    assert seen[0] is False and seen[1] == 1234567


def test_fast_fcs_agrees_with_reference() -> None:
    assert crc16_kermit(b"123456789") == 0x2189
    for n in range(0, 130, 7):
        data = os.urandom(n)
        assert fcs_of(data) == fcs_bytes(data)


def test_reader_agrees_with_reference_reader_on_tap_and_pcapng() -> None:
    data = pcap_bytes(conversation_psdus(), 283)
    ours = [r for r in iter_records(data)]
    ref = list(read_capture(data))
    assert [(r.frame, r.fcs, r.channel, r.page, r.time) for r in ours] == [
        (r.frame, r.fcs, r.channel, r.page, r.timestamp) for r in ref]


def test_keylog_rows() -> None:
    ring = load_keylog(
        "# keys\n"
        f'"{NWK_KEY.hex().upper()}","Normal","network key 0"\n'
        f'"{LINK_KEY.hex().upper()}","Normal","link key 0"\n'
        "5a:69:67:42:65:65:41:6c:6c:69:61:6e:63:65:30:39\n"
    )
    tc = bytes.fromhex("5a6967426565416c6c69616e63653039")
    assert ring.network_keys == [tc, NWK_KEY]
    assert ring.link_keys == [LINK_KEY, tc]
    with pytest.raises(KeylogError, match="line 1"):
        load_keylog("abcd")


def test_cli_keylog(tmp_path, capsys) -> None:
    keylog = tmp_path / "keys.txt"
    keylog.write_text(f'"{NWK_KEY.hex()}","Normal","network"\n"{LINK_KEY.hex()}","Normal","link"\n')
    cap = tmp_path / "se.pcap"
    cap.write_bytes(pcap_bytes(conversation_psdus()))
    assert main(["replay", str(cap), "--keylog", str(keylog), "--format", "jsonl"]) == 0
    assert '"decoded":6' in capsys.readouterr().out.splitlines()[-1]


def test_dutycycle_charges_senders_and_acks() -> None:
    # each data frame (ESI or IHD) is acknowledged by its destination
    report = replay_dutycycle(pcap_bytes(conversation_psdus()), "gb868")
    devices = report["devices"]
    assert set(devices) == {"0x0000", "0x4d2c"}
    esi, ihd = devices["0x0000"][0], devices["0x4d2c"][0]
    # ESI sends 4 data frames and ACKs the IHD's 2; the IHD the reverse
    assert esi["frames"] == 6 and ihd["frames"] == 6
    psdus = [len(p) for _, p in conversation_psdus(with_acks=False)]
    ack_us = (12 + 5) * 80
    esi_data = [psdus[i] for i in (1, 3, 4, 5)]
    assert esi["airtime_s"] == pytest.approx((sum((12 + n) * 80 for n in esi_data) + 2 * ack_us) / 1e6)
    assert esi["ieee"] == "00:11:22:33:44:55:66:77"
    assert esi["state"] == "NORMAL" and report["transitions"] == []


def test_dutycycle_transitions_on_busy_sender() -> None:
    _, frame = conversation_psdus(with_acks=False)[1]
    # one frame every 50 ms for an hour-long burst: far past GB-868's 75 s/h critical mark
    psdus = [(T0 + i * 0.05, frame) for i in range(20000)]
    report = replay_dutycycle(pcap_bytes(psdus), "gb868")
    steps = [(t["from"], t["to"]) for t in report["transitions"]]
    assert steps[:3] == [("NORMAL", "LIMITED"), ("LIMITED", "CRITICAL"), ("CRITICAL", "SUSPENDED")]
    assert report["over_limit"] > 0
    u = report["devices"]["0x0000"][0]
    assert u["peak_hour_s"] >= 90


def test_cli_phy_report(tmp_path, capsys) -> None:
    cap = tmp_path / "se.pcap"
    cap.write_bytes(pcap_bytes(conversation_psdus()))
    assert main(["replay", str(cap), "--key", NWK_KEY.hex(), "--link-key", LINK_KEY.hex(), "--phy", "2.4"]) == 0
    out = capsys.readouterr().out
    assert "airtime on 2.4 GHz O-QPSK (12 frames)" in out and "0x4d2c" in out
