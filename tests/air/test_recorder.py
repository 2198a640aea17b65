"""Recording the virtual air: tshark as the independent oracle on every link
type, the key log Wireshark loads, per-frame flushing, ZEP over loopback UDP,
and the ledger feed."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest

from han_emu.air.dutycycle import AirtimeLedger
from han_emu.crypto.keys import DEFAULT_TC_LINK_KEY
from han_emu.frames.keylog import KeyLog, read_keylog_rows, uat_row
from han_emu.air.recorder import AirRecorder, PcapRecorder, ZepStreamer
from han_emu.frames import read_capture
from han_emu.air.synth import FrameKind, FrameSynthesizer, NetworkContext
from han_emu.frames.zep import ntp_to_posix, parse_zep

from .recorder_support import CBKE_KEY, NETWORK_KEY, SUMMATION, Exchange, run_exchange

BAD = "_ws.malformed || _ws.expert.severity >= error"
FIELDS = [
    "frame.protocols", "wpan.frame_type", "wpan.seq_no", "wpan.src16", "wpan.dst16", "wpan.ack_request", "wpan.ack_in",
    "wpan.ack_to", "zbee.sec.counter", "zbee.sec.decryption_key", "zbee_sec.encrypted_payload",
    "zbee_aps.type", "zbee_aps.counter", "zbee_aps.ack_req", "zbee_aps.profile", "zbee_aps.fragmentation",
    "zbee_aps.reassembled.in", "zbee_aps.reassembled.length", "zbee_aps.fragment.count", "zbee_zcl.cmd.id", "zbee_zcl_se.met.attr_id",
    "zbee_zcl.attr.uint48", "wpan-tap.ch_num",
]


@pytest.fixture(scope="module")
def exchange() -> Exchange:
    return run_exchange()


def record(exchange: Exchange, path: Path, linktype: int) -> Path:
    with PcapRecorder(path, linktype, channel=exchange.network.channel, page=exchange.network.page) as rec:
        for when, frame in exchange.frames:
            rec.emit(frame, when)
    return path


def keylog(exchange: Exchange, path: Path) -> KeyLog:
    log = KeyLog(path)
    for _kind, key, label in exchange.keys:
        log.add(key, label)
    return log


def tshark_json(tshark: str, path: Path, keys: str, *extra: str) -> list[dict]:
    args = [tshark, "-r", str(path), "-o", keys, "-o", "wpan.802154_ack_tracking:TRUE", "-2", "-T", "json", *extra]
    for f in FIELDS:
        args += ["-e", f]
    out = subprocess.run(args, capture_output=True, text=True, timeout=60, check=True).stdout
    return [pkt["_source"]["layers"] for pkt in json.loads(out)]


def ftype(row: dict) -> int:
    return int(row["wpan.frame_type"][0], 16)


def tshark_bad(tshark: str, path: Path, keys: str) -> str:
    return subprocess.run([tshark, "-r", str(path), "-o", keys, "-Y", BAD], capture_output=True, text=True,
                          timeout=60, check=True).stdout.strip()


@pytest.mark.tshark
@pytest.mark.parametrize(("linktype", "suffix"), [(195, "pcap"), (230, "pcap"), (283, "pcap"), (283, "pcapng"), (195, "pcapng")])
def test_tshark_decodes_the_recorded_exchange(tshark: str, tmp_path: Path, exchange: Exchange, linktype: int, suffix: str) -> None:
    path = record(exchange, tmp_path / f"han.{suffix}", linktype)
    keys = keylog(exchange, tmp_path / "han.keys").tshark_option()
    assert tshark_bad(tshark, path, keys) == ""
    rows = tshark_json(tshark, path, keys)
    assert len(rows) == len(exchange.frames)

    # every secured layer decrypted: NWK everywhere, APS on the Smart Energy frames
    # (an APS-secured APS ACK carries only a MIC: Wireshark has nothing to decrypt there)
    for row in rows:
        assert "zbee_sec.encrypted_payload" not in row
        layers = len(row.get("zbee.sec.counter", []))
        if row.get("zbee_aps.type") == ["0x02"]:
            layers = 1
        assert len(row.get("zbee.sec.decryption_key", [])) == layers
    se = [r for r in rows if r.get("zbee_aps.profile") == ["0x0109"]]
    assert se and all(len(r["zbee.sec.counter"]) == 2 for r in se)

    # the Metering reads and their answers, decoded down to the value
    zcl = [(r["zbee_zcl.cmd.id"][0], r.get("zbee_zcl_se.met.attr_id", [])) for r in se if "zbee_zcl.cmd.id" in r]
    assert zcl[0] == ("0x00", ["0x0000"])
    assert zcl[1] == ("0x01", ["0x0000"])
    assert any(r.get("zbee_zcl.attr.uint48") == [str(SUMMATION)] for r in se)
    # the fragmented read (70 attributes) and its fragmented answer reassemble
    assert zcl[2][0] == "0x00" and len(zcl[2][1]) == 70
    # (Wireshark lists at most 64 status records of a response and shows the rest as data)
    assert zcl[3][0] == "0x01" and len(zcl[3][1]) == 64
    reassembled = [(r["zbee_aps.fragment.count"][0], r["zbee_aps.reassembled.length"][0]) for r in rows if "zbee_aps.fragment.count" in r]
    # 3 + 70 * 2 bytes in 3 blocks, 3 + 70 * 3 bytes in 4 blocks
    assert reassembled == [("3", "143"), ("4", "213")]

    # MAC sequence numbers and NWK frame counters rise per transmitter
    seqs: dict[str, list[int]] = defaultdict(list)
    counters: dict[str, list[int]] = defaultdict(list)
    for r in rows:
        if ftype(r) == 1:
            src = r["wpan.src16"][0]
            seqs[src].append(int(r["wpan.seq_no"][0]))
            counters[src].append(int(r["zbee.sec.counter"][0]))
    assert len(seqs) == 2
    for src in seqs:
        assert seqs[src] == sorted(set(seqs[src])) and len(seqs[src]) > 10
        assert counters[src] == sorted(set(counters[src]))

    # each unicast data frame has its MAC ACK; each ACK answers one frame
    unicast = [r for r in rows if ftype(r) == 1 and r["wpan.ack_request"] == ["1"]]
    acks = [r for r in rows if ftype(r) == 2]
    assert unicast and all("wpan.ack_in" in r for r in unicast)
    assert len(acks) == len(unicast) and all("wpan.ack_to" in r for r in acks)

    # each APS frame that asked for an ACK gets an APS ACK with its counter
    # (one APS ACK per fragment: the window is one block)
    aps = [r for r in rows if "zbee_aps.type" in r]
    asked = [(r["wpan.src16"][0], r["zbee_aps.counter"][0]) for r in aps if int(r["zbee_aps.type"][0], 16) == 0 and r["zbee_aps.ack_req"] == ["1"]]
    answered = [(r["wpan.dst16"][0], r["zbee_aps.counter"][0]) for r in aps if int(r["zbee_aps.type"][0], 16) == 2]
    assert len(asked) >= 10 and sorted(asked) == sorted(answered)
    if linktype == 283:
        assert {r["wpan-tap.ch_num"][0] for r in rows} == {"15"}


@pytest.mark.tshark
def test_keylog_loads_as_wireshark_profile_file(tshark: str, tmp_path: Path, exchange: Exchange) -> None:
    """The documented second way: the key log copied as ``zigbee_pc_keys`` into the profile folder."""
    path = record(exchange, tmp_path / "han.pcapng", 283)
    profile = tmp_path / "home" / ".config" / "wireshark"
    profile.mkdir(parents=True)
    keylog(exchange, profile / "zigbee_pc_keys").close()
    env = {**os.environ, "HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(tmp_path / "home" / ".config")}
    out = subprocess.run([tshark, "-r", str(path), "-T", "fields", "-e", "zbee_zcl_se.met.attr_id"],
                         capture_output=True, text=True, timeout=60, check=True, env=env).stdout
    assert "0x0000" in out.split()


def test_keylog_file_is_private_and_follows_new_keys(tmp_path: Path) -> None:
    ctx = NetworkContext(pan_id=0x1A62, network_key=NETWORK_KEY)
    path = tmp_path / "keys"
    log = KeyLog(path)
    log.follow(ctx)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [k for k, _ in read_keylog_rows(path)] == [NETWORK_KEY, ctx.default_link_key]
    ctx.set_link_key(1, 2, CBKE_KEY)  # e.g. CBKE finished: logged at once, before close
    ctx.set_link_key(2, 1, CBKE_KEY)  # the same key again is not repeated
    assert read_keylog_rows(path)[-1] == (CBKE_KEY, "link key 0000000000000001 0000000000000002")
    assert len(read_keylog_rows(path)) == 3
    assert path.read_text().splitlines()[0] == '"0F0E0D0C0B0A09080706050403020100","Normal","network key seq 0"'
    log.close()
    ctx.set_link_key(1, 3, bytes(16))  # unsubscribed on close
    assert len(read_keylog_rows(path)) == 3
    # an existing, wider-open file is narrowed
    path.chmod(0o644)
    KeyLog(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert uat_row(CBKE_KEY, 'say "hi"') == '"A1A2A3A4A5A6A7A8A9AAABACADAEAFB0","Normal","say \'hi\'"'


@pytest.mark.parametrize("suffix", ["pcap", "pcapng"])
def test_capture_is_readable_before_close(tmp_path: Path, exchange: Exchange, suffix: str) -> None:
    path = tmp_path / f"live.{suffix}"
    rec = PcapRecorder(path, 283, channel=15)
    try:
        for when, frame in exchange.frames[:5]:
            rec.emit(frame, when)
        records = list(read_capture(path))  # as a crash would leave it
        assert [r.psdu for r in records] == [f.psdu for _, f in exchange.frames[:5]]
        assert [r.channel for r in records] == [15] * 5
        assert records[0].timestamp == pytest.approx(exchange.frames[0][0], abs=1e-6)
    finally:
        rec.close()


def test_zep_stream_round_trip(exchange: Exchange) -> None:
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    sink.settimeout(2)
    frames = exchange.frames[:12]
    try:
        with ZepStreamer("127.0.0.1", sink.getsockname()[1], channel=15, device_id=7) as zep:
            for when, frame in frames:
                zep.emit(frame, when)
        got = [parse_zep(sink.recv(2048)) for _ in frames]
    finally:
        sink.close()
    assert [bytes(p.content.body.frame) for p in got] == [f.psdu for _, f in frames]
    assert [p.content.body.sequence for p in got] == list(range(len(frames)))
    assert {(p.version, p.content.type, p.content.body.channel, p.content.body.device_id, p.content.body.lqi_mode) for p in got} == {(2, 1, 15, 7, 1)}
    assert ntp_to_posix(got[3].content.body.timestamp) == pytest.approx(frames[3][0], abs=1e-6)


def test_recorded_times_never_go_back(exchange: Exchange) -> None:
    ends = 0.0
    for when, frame in exchange.frames:
        assert when >= ends
        ends = when + frame.airtime


def test_air_recorder_feeds_a_ledger(exchange: Exchange) -> None:
    ledger = AirtimeLedger()
    rec = AirRecorder(FrameSynthesizer(NetworkContext(pan_id=1, network_key=NETWORK_KEY)), ledger=ledger)
    start = exchange.frames[0][0]
    for when, frame in exchange.frames:
        rec.feed([frame], when)
    expected: dict[int, int] = defaultdict(int)
    for _, frame in exchange.frames:
        expected[frame.tx_ieee] += frame.airtime_us
    now = start + 10
    got = {dev: round(sum(u.airtime for u in ledger.device_usage(dev, now)) * 1e6) for dev in ledger.devices()}
    assert got == dict(expected)
    assert set(got) == {exchange.esi_ieee, exchange.ihd_ieee}


def test_exchange_kinds(exchange: Exchange) -> None:
    kinds = [f.kind for _, f in exchange.frames]
    assert kinds.count(FrameKind.FRAGMENT) == 7
    assert kinds.count(FrameKind.APS_ACK) > 0
    # one key row per key: network, default TC link key, then the pair key set mid-run
    assert [k for _, k, _ in exchange.keys] == [NETWORK_KEY, DEFAULT_TC_LINK_KEY, CBKE_KEY]


# The shipped example captures (captures/) are regenerated and checked with
# tshark in tests/test_recording.py.
