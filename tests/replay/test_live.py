"""Live sniffer sources: ZEP over loopback UDP and pcap streams fed slowly
through pipes give the same ZCL events as replaying the capture they came
from; datagrams that are not ZEP are counted, not fatal; a port in use or a
bad address is one error line; Ctrl-C and --duration end with a summary."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import pytest

from han_emu.frames import read_capture
from han_emu.frames.zep import zep_v2_data
from han_emu.replay import Replay
from han_emu.replay.capture import RawFrame, iter_records, zep_frame
from han_emu.replay.live import StreamRecords, ZepListener
from han_emu.replay.output import jsonl_line

from ..support.command import run_main
from ..support.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
CAPTURE = REPO / "captures" / "ihd-mp184.pcapng"
KEYS = REPO / "captures" / "ihd-mp184.keys"
ENV = {**os.environ, "PYTHONPATH": str(REPO)}


# --- ZEP datagrams, by hand -------------------------------------------------------------------

FRAME = bytes.fromhex("02002a")  # a MAC ACK, sequence 0x2a
FCS = bytes.fromhex("abcd")  # whatever the sniffer stored after it
# ZEP v2 data: "EX", version 2, type 1, channel 11, device 0x0001, LQI mode 1 (CRC), LQI 0xff,
# NTP 2025-06-21 12:00:00.5 UTC (0xec011d40 s, fraction 0x80000000), sequence 7, 10 reserved, length 5
ZEP_V2 = bytes.fromhex("455802" "01" "0b" "0001" "01" "ff" "ec011d4080000000" "00000007" + "00" * 10 + "05") + FRAME + FCS
# ZEP v1: "EX", version 1, channel 20, device 0x0002, LQI mode 0 (the last two bytes are LQI data), LQI 0x80,
# 7 reserved, length 5
ZEP_V1 = bytes.fromhex("455801" "14" "0002" "00" "80" + "00" * 7 + "05") + FRAME + FCS
ZEP_ACK = bytes.fromhex("455802" "02" "00000007")


def test_zep_v2_datagram_gives_its_frame_at_the_sniffers_time() -> None:
    rec = zep_frame(3, ZEP_V2, arrival=99.0, offset=40)
    assert rec == RawFrame(3, 1750507200.5, FRAME, FCS, 40, 11, None)


def test_zep_v1_datagram_has_no_timestamp_so_takes_the_arrival_time() -> None:
    rec = zep_frame(1, ZEP_V1, arrival=123.25)
    assert (rec.time, rec.frame, rec.fcs, rec.channel) == (123.25, FRAME, None, 20)


def test_zep_ack_carries_no_frame() -> None:
    assert zep_frame(1, ZEP_ACK, arrival=0.0) is None


def test_the_project_zep_builder_makes_the_hand_written_datagram() -> None:
    assert zep_v2_data(FRAME + FCS, channel=11, timestamp=1750507200.5, sequence=7, device_id=1) == ZEP_V2


# --- helpers ----------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def zep_datagrams() -> list[bytes]:
    """The shipped capture, frame by frame, as a ZEP-forwarding sniffer sends it."""
    return [zep_v2_data(r.psdu, channel=r.channel or 11, timestamp=r.timestamp, sequence=i)
            for i, r in enumerate(read_capture(CAPTURE))]


def send(port: int, datagrams: list[bytes]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for d in datagrams:
            s.sendto(d, ("127.0.0.1", port))
            time.sleep(0.0005)  # loopback drops what a full receive buffer cannot hold


def frames_saved(path: Path) -> int:
    """Frames in a capture being written (-1 while it cannot be read yet)."""
    try:
        return len(list(read_capture(path)))
    except Exception:  # noqa: BLE001 - a file still growing: poll again
        return -1


def lines_of(stream: IO[str]) -> list[str]:
    """The lines of ``stream`` so far, read on a daemon thread as they come."""
    lines: list[str] = []

    def read() -> None:
        for line in stream:
            lines.append(line)

    threading.Thread(target=read, daemon=True).start()
    return lines


def replay_jsonl() -> list[dict]:
    """What ``han-emu replay --format jsonl`` prints for the capture: the reference."""
    out = run_main(["replay", str(CAPTURE), "--keylog", str(KEYS), "--format", "jsonl"], cwd=REPO, timeout=30)
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines()]


def events(lines: list[dict]) -> list[dict]:
    return [obj for obj in lines if "frame" in obj]


def sniff(*args: str, stdin: int | None = None) -> subprocess.Popen[str]:
    """``han-emu sniff`` started, returned once it says it is listening."""
    proc = subprocess.Popen([sys.executable, "-m", "han_emu.cli.main", "sniff", *args], stdin=stdin,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    first = proc.stderr.readline()
    assert "listening" in first, first + proc.stderr.read()
    return proc


@pytest.fixture(scope="module")
def reference() -> list[dict]:
    return replay_jsonl()


# --- han-emu sniff --zep ----------------------------------------------------------------------

def test_zep_sniff_prints_what_replay_prints(tmp_path: Path, reference: list[dict]) -> None:
    port = free_port()
    saved = tmp_path / "heard.pcapng"
    datagrams = zep_datagrams()
    proc = sniff("--zep", f"127.0.0.1:{port}", "--duration", "2.5", "--keylog", str(KEYS), "--format", "jsonl",
                 "--save", str(saved), "--readout-json", str(tmp_path / "readout.json"))
    send(port, [b"not zep at all"] + datagrams[:100] + [b"\x00" * 40])
    # --save is flushed per frame: the file reads while the sniffer still runs
    wait_until(lambda: frames_saved(saved) == 100, what="100 frames saved")
    assert proc.poll() is None
    send(port, datagrams[100:])
    out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert events(lines) == events(reference)
    assert len(events(lines)) == 71
    assert lines[-1]["summary"]["frames"] == 317 and lines[-1]["summary"]["decoded"] == 71
    stats = lines[-2]["sniff"]
    assert stats["not_zep"] == 2 and stats["stopped"] == "duration" and stats["saved"] == 317
    assert err.count("is not ZEP") == 1  # reported once, counted in the summary
    # the saved capture replays to the same events
    assert [jsonl_line(e) for e in Replay(saved, keylog=KEYS).frames()] == \
           [jsonl_line(e) for e in Replay(CAPTURE, keylog=KEYS).frames()]
    readout = json.loads((tmp_path / "readout.json").read_text())
    assert readout["elements"]["primary"]["prices"]["delivered1"] == 0.285


def test_ctrl_c_prints_the_summary_writes_the_readout_and_exits_130(tmp_path: Path) -> None:
    port = free_port()
    proc = sniff("--zep", f"127.0.0.1:{port}", "--keylog", str(KEYS), "--readout-json", str(tmp_path / "r.json"))
    warnings = lines_of(proc.stderr)
    # A malformed frame after the capture marks its end: the sniffer warns of it once
    # it has decoded every frame before it.
    send(port, zep_datagrams() + [ZEP_V2])
    wait_until(lambda: any("frame 318: mac: FCS mismatch" in line for line in warnings), what="the end marker")
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=10)
    out = proc.stdout.read()
    err = "".join(warnings)
    assert proc.returncode == 130, err  # stopped by Ctrl-C, as a shell reports it
    assert "Traceback" not in err
    last = out.splitlines()[-1]
    assert "stopped (interrupted)" in last and "318 frames: 71 ZCL decoded" in last and "1 malformed" in last
    assert "elements" in json.loads((tmp_path / "r.json").read_text())


def test_a_port_in_use_is_one_error_line() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        out = run_main(["sniff", "--zep", f"127.0.0.1:{port}"], cwd=REPO, timeout=30)
    assert out.returncode == 2
    assert out.stderr.splitlines() == [f"han-emu sniff: cannot listen on 127.0.0.1:{port}: Address already in use"]


@pytest.mark.parametrize("address", ["127.0.0.1:99999", "127.0.0.1:port"])
def test_a_bad_address_is_one_error_line(address: str) -> None:
    out = run_main(["sniff", "--zep", address], cwd=REPO, timeout=30)
    assert out.returncode == 2
    assert len(out.stderr.splitlines()) == 1 and address in out.stderr


def test_zep_listener_in_process_counts_what_is_not_zep() -> None:
    warnings: list[str] = []
    live = ZepListener("127.0.0.1", 0, duration=1.0, warn=warnings.append)
    threading.Timer(0.1, send, (live.address[1], [b"hello", ZEP_ACK, ZEP_V1, b"EX\x09junk", ZEP_V2])).start()
    recs = list(live)
    assert [(r.index, r.frame, r.channel) for r in recs] == [(1, FRAME, 20), (2, FRAME, 11)]
    assert live.not_zep == 2 and len(warnings) == 1


# --- pcap streams -----------------------------------------------------------------------------

def slow_writer(write, data: bytes, chunk: int = 600, pause: float = 0.01, close=None) -> threading.Thread:
    def run() -> None:
        for i in range(0, len(data), chunk):
            write(data[i:i + chunk])
            time.sleep(pause)
        if close is not None:
            close()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def test_iter_records_hands_on_each_record_as_it_lands_in_a_pipe() -> None:
    """A record must come out once its bytes have arrived, not when the
    reader's buffer fills: here the writer waits for the reader before
    sending the rest, which deadlocks a reader that waits for more."""
    data = CAPTURE.read_bytes()
    second = next(r.offset for r in iter_records(data) if r.index == 2)  # where the second record starts
    r, w = os.pipe()
    got_first = threading.Event()
    indexes: list[int] = []

    def read() -> None:
        with os.fdopen(r, "rb") as rf:
            for rec in iter_records(rf):
                indexes.append(rec.index)
                got_first.set()

    def write_rest(b: bytes) -> None:
        got_first.wait(5)
        wf.write(b)

    with os.fdopen(w, "wb", buffering=0) as wf:
        wf.write(data[:second])  # the headers and the first record only
        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        writer = slow_writer(write_rest, data[second:], close=wf.close)
        assert got_first.wait(3), "the first record waited for bytes after it"
        writer.join(10)
    reader.join(10)
    assert indexes == list(range(1, 318))


def test_pcap_stream_through_a_pipe_gives_the_same_events(reference: list[dict]) -> None:
    r, w = os.pipe()
    proc = sniff("--pcap-stream", "-", "--keylog", str(KEYS), "--format", "jsonl", stdin=r)
    os.close(r)
    pipe = os.fdopen(w, "wb", buffering=0)
    writer = slow_writer(pipe.write, CAPTURE.read_bytes(), chunk=800, pause=0.02, close=pipe.close)
    line = proc.stdout.readline()
    writing = writer.is_alive()
    writer.join(10)
    out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    lines = [json.loads(x) for x in [line, *out.splitlines()]]
    assert events(lines) == events(reference)
    assert lines[-2]["sniff"]["stopped"] == "end"
    assert writing, "the first event came out only after the whole stream had been written"


def test_stream_records_follow_a_file_a_sniffer_is_still_writing(tmp_path: Path) -> None:
    data = CAPTURE.read_bytes()
    path = tmp_path / "growing.pcapng"
    f = open(path, "wb", buffering=0)  # noqa: SIM115
    f.write(data[:5000])
    live = StreamRecords(path, duration=1.5)
    assert live.follow
    slow_writer(f.write, data[5000:], chunk=1000, pause=0.05, close=f.close)
    ours = [jsonl_line(e) for e in Replay(live, keylog=KEYS).frames()]
    assert ours == [jsonl_line(e) for e in Replay(CAPTURE, keylog=KEYS).frames()]


def test_a_stream_that_is_not_a_capture_exits_1() -> None:
    out = run_main(["sniff", "--pcap-stream", "-"], cwd=REPO, stdin=b"hello\n", timeout=30)
    assert out.returncode == 1
    assert "not a pcap or pcapng file" in out.stderr


# --- a key log that is still being written ---------------------------------------------------

def test_a_growing_key_log_is_followed_while_sniffing(tmp_path: Path) -> None:
    """``han-emu run --keylog`` writes each key as it is agreed: a live decode
    follows the file, from not existing yet to every key, and decodes what a
    replay with all the keys from the start decodes."""
    keys = tmp_path / "han.keys"
    rows = KEYS.read_text().splitlines(keepends=True)
    records = [r for r in iter_records(CAPTURE) if isinstance(r, RawFrame)]

    def arriving():
        for i, rec in enumerate(records):
            if i == 2:  # the network key first ...
                keys.write_text("".join(r for r in rows if "network" in r))
            if i == len(records) // 3:  # ... then, half-written, the rest
                text = "".join(rows)
                keys.write_text(text[: len(text) - 10])
            if i == len(records) // 3 + 5:
                keys.write_text("".join(rows))
            yield rec

    cutoff = records[len(records) // 3 + 5].index  # from here on every key is in the file
    live = Replay(arriving(), keylog=keys, follow_keylog=True)
    got = [e for e in live.frames() if e.__class__.__name__ == "ZclEvent"]
    full = [e for e in Replay(CAPTURE, keylog=KEYS).frames() if e.__class__.__name__ == "ZclEvent"]
    after = [jsonl_line(e) for e in got if e.frame >= cutoff]
    assert after and after == [jsonl_line(e) for e in full if e.frame >= cutoff]
    # Before that, only frames under keys not yet written failed: the network key was followed.
    assert 0 < live.summary.failed_to_decrypt < live.summary.nwk_secured // 4
    assert live.summary.nwk_decrypted >= live.summary.nwk_secured - 2
    # Not following, a key log that does not exist is an error at once.
    with pytest.raises(OSError):
        Replay(iter(records), keylog=tmp_path / "missing.keys")
