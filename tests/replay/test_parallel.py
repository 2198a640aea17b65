"""Replay on several processes (``replay.parallel``) gives what one process gives:
the same jsonl lines in the same order, the same summary and warnings, the
same exit statuses, on the shipped captures and on generated ones cut into
small chunks (keys learnt mid-capture, APS blocks across chunks, damage)."""

from __future__ import annotations

import io
import json
import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from han_emu.cli.main import main
from han_emu.frames.pcap import PcapngWriter
from han_emu.replay import Replay
from han_emu.replay import parallel
from han_emu.replay.capture import capture_chunks, chunk_records, iter_records
from han_emu.replay.output import jsonl_line, summary_line
from han_emu.replay.parallel import ParallelReplay

from ..conftest import FIXTURES
from .helpers import LINK_KEY, NWK_KEY, T0, conversation_psdus, pcap_bytes
from .test_fragments import CAPTURE as PAGING, KEYLOG as PAGING_KEYS
from .test_public_captures import CAPTURES

REPO = Path(__file__).resolve().parents[2]
TC_LINK = bytes.fromhex("5a6967426565416c6c69616e63653039")


def reference(path: Path, network: list, link: list, keylog: Path | None = None) -> tuple[str, str, list[str]]:
    """One process, as ``replay --format jsonl`` writes it: lines, summary, warnings."""
    replay = Replay(path, network, link, keylog=keylog)
    text = "".join(jsonl_line(e) + "\n" for e in replay.frames())
    return text, summary_line(replay.summary), replay.warnings


def chunked(path: Path, network: list, link: list, keylog: Path | None = None, *, chunk_bytes: int,
            workers: int = 2) -> tuple[tuple[str, str, list[str]], ParallelReplay]:
    replay = ParallelReplay(path, network, link, keylog=keylog, workers=workers, chunk_bytes=chunk_bytes)
    text = "".join(replay.texts())
    return (text, summary_line(replay.summary), replay.warnings), replay


def _captures() -> list[tuple[Path, list, list, Path | None]]:
    out: list[tuple[Path, list, list, Path | None]] = [
        (FIXTURES / name, network, link, None) for name, (network, link) in sorted(CAPTURES.items())]
    out.append((PAGING, [], [], PAGING_KEYS))
    out.append((REPO / "captures" / "ihd-mp184.pcapng", [], [], REPO / "captures" / "ihd-mp184.keys"))
    return out


@pytest.mark.parametrize("chunk_bytes", [64, 700])
@pytest.mark.parametrize("capture", _captures(), ids=lambda c: c[0].name)
def test_shipped_captures_decode_the_same_in_chunks(capture, chunk_bytes) -> None:
    path, network, link, keylog = capture
    expected = reference(path, network, link, keylog)
    got, replay = chunked(path, network, link, keylog, chunk_bytes=chunk_bytes)
    assert got == expected
    assert replay.chunks > 1 or path.stat().st_size < 2 * chunk_bytes


def test_chunks_read_back_the_whole_file(tmp_path) -> None:
    for path, *_ in _captures():
        whole = list(iter_records(path))
        parts = [r for c in capture_chunks(path, 700) for r in chunk_records(path, c)]
        assert parts == whole, path.name
    one = pcap_bytes(conversation_psdus())
    big = tmp_path / "big.pcap"  # larger than the reader's buffer: records cross its refills
    big.write_bytes(one[:24] + one[24:] * 700 + one[24:60])  # and ends cut short
    whole = list(iter_records(big))
    for size in (5000, 1 << 18):
        chunks = list(capture_chunks(big, size))
        assert chunks[-1].end is None and all(c.end is not None for c in chunks[:-1])
        assert [r for c in chunks for r in chunk_records(big, c)] == whole


# --- generated captures -------------------------------------------------------------------


def _transport_key_frame() -> bytes:
    """The Transport-Key of test_replay_se: the network key, under the key-transport key of TC_LINK."""
    from han_emu.frames.aps import ApsFrameType
    from han_emu.frames.builders import aps_data, mac_data, nwk_frame
    from han_emu.frames.secheader import KeyId
    from han_emu.frames.stack import encode

    from .helpers import ESI, ESI_IEEE, IHD, IHD_IEEE, PAN
    payload = (bytes([0x05, 0x01]) + NWK_KEY + b"\x00" + IHD_IEEE.to_bytes(8, "little")
               + ESI_IEEE.to_bytes(8, "little"))
    aps = aps_data(cluster=0, dst_endpoint=0, src_endpoint=0, counter=1, frame_counter=7,
                   key_id=KeyId.KEY_TRANSPORT, source_ieee=ESI_IEEE)
    aps["frame_control"]["frame_type"] = ApsFrameType.COMMAND
    for k in ("dst_endpoint", "cluster", "profile", "src_endpoint"):
        aps[k] = None
    return encode(mac_data(seq=1, pan=PAN, dst=IHD, src=ESI), nwk_frame(dst=IHD, src=ESI, seq=1), aps,
                  payload=payload, link_key=TC_LINK)


def _conversations(n: int, *, key_at: int | None = None) -> list[tuple[float, bytes]]:
    """``n`` rounds of the helpers' conversation, a second apart; the Transport-Key before round ``key_at``."""
    one = conversation_psdus()
    out = []
    for k in range(n):
        if k == key_at:
            out.append((T0 + 60 * k - 1, _transport_key_frame()))
        out.extend((t + 60 * k, p) for t, p in one)
    return out


def _pcapng(psdus: list[tuple[float, bytes]]) -> bytes:
    buf = io.BytesIO()
    w = PcapngWriter(buf, 195)
    for t, p in psdus:
        w.write(p, t)
    return buf.getvalue()


def _record_offsets(data: bytes) -> list[int]:
    offsets, off = [], 24
    while off < len(data):
        offsets.append(off)
        off += 16 + struct.unpack_from("<I", data, off + 8)[0]
    return offsets


def test_generated_capture_uses_the_workers_and_keeps_the_order(tmp_path) -> None:
    path = tmp_path / "se.pcap"
    path.write_bytes(pcap_bytes(_conversations(60)))
    expected = reference(path, [NWK_KEY], [LINK_KEY])
    got, replay = chunked(path, [NWK_KEY], [LINK_KEY], chunk_bytes=2000)
    assert got == expected
    assert replay.chunks > 10 and replay.redone == 0  # every chunk as a worker decoded it
    frames = [json.loads(line)["frame"] for line in got[0].splitlines()]
    assert frames == sorted(frames) and len(frames) == 60 * 6


@pytest.mark.parametrize("form", ["pcap", "pcapng"])
def test_key_learnt_mid_capture(tmp_path, form) -> None:
    """Chunks handed out before the key was learnt are decoded again, so they decrypt as in one process."""
    psdus = _conversations(40, key_at=13)
    path = tmp_path / f"join.{form}"
    path.write_bytes(pcap_bytes(psdus) if form == "pcap" else _pcapng(psdus))
    expected = reference(path, [], [TC_LINK, LINK_KEY])
    got, replay = chunked(path, [], [TC_LINK, LINK_KEY], chunk_bytes=1500)
    assert got == expected
    assert replay.redone > 0
    assert '"not decrypted' not in got[0].split('"learnt', 1)[-1]  # nothing after the key fails
    assert any("learnt network key" in w for w in got[2])


@pytest.mark.parametrize("damage", ["truncated", "garbled"])
def test_damaged_capture(tmp_path, damage) -> None:
    data = bytearray(pcap_bytes(_conversations(30)))
    offsets = _record_offsets(bytes(data))
    if damage == "truncated":
        data = data[: offsets[300] + 20]
    else:
        struct.pack_into("<I", data, offsets[200] + 8, 0xFFFFFFF0)
    path = tmp_path / f"{damage}.pcap"
    path.write_bytes(bytes(data))
    expected = reference(path, [NWK_KEY], [LINK_KEY])
    got, replay = chunked(path, [NWK_KEY], [LINK_KEY], chunk_bytes=1500)
    assert got == expected
    assert replay.damaged  # exit status 1, as in one process
    assert ("truncated record" if damage == "truncated" else "malformed record header") in got[0]


@pytest.mark.parametrize("batch_size", [7, 100])
def test_live_batches_decode_as_one_process(tmp_path, batch_size) -> None:
    """A sniffer's records in batches (``run_live``), keys learnt on the way: the one-process output."""
    path = tmp_path / "join.pcap"
    path.write_bytes(pcap_bytes(_conversations(20, key_at=7)))
    expected = reference(path, [], [TC_LINK, LINK_KEY])
    replay = ParallelReplay(None, [], [TC_LINK, LINK_KEY], workers=2)
    texts: list[str] = []
    replay.run_live(list(iter_records(path)), texts.append, lambda: None, batch_size=batch_size)
    assert ("".join(texts), summary_line(replay.summary), replay.warnings) == expected
    assert replay.chunks > 1 and replay.redone > 0


# --- the command line ------------------------------------------------------------------------


def _cli(capsys, path: Path, *extra: str) -> tuple[int, str, str]:
    rc = main(["replay", str(path), "--key", NWK_KEY.hex(), "--link-key", LINK_KEY.hex(), "--format", "jsonl",
               *extra])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.mark.parametrize("cut", [False, True])
def test_cli_output_is_the_one_process_output(tmp_path, capsys, monkeypatch, cut) -> None:
    data = pcap_bytes(_conversations(30))
    if cut:
        data = data[: _record_offsets(data)[250] + 20]
    path = tmp_path / "se.pcap"
    path.write_bytes(data)
    monkeypatch.setattr(parallel, "MIN_BYTES", 1 << 40)
    one = _cli(capsys, path)
    monkeypatch.setattr(parallel, "MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "CHUNK_BYTES", 1024)
    assert parallel.can_run_parallel(path) == (parallel.worker_count() > 1)
    several = _cli(capsys, path)
    assert several == one
    assert several[0] == (1 if cut else 0)
    if cut:
        assert several[2].count("\n") == 1 and "frame 251" in several[2] and "truncated record" in several[2]


def test_cli_ctrl_c_stops_with_the_summary(tmp_path) -> None:
    if parallel.worker_count() < 2:
        pytest.skip("one CPU: replay runs in one process")
    one = pcap_bytes(_conversations(50))
    head, body = one[:24], one[24:]
    path = tmp_path / "big.pcap"
    with open(path, "wb") as f:  # ~6 MB: past MIN_BYTES (frames repeat; their times do not matter here)
        f.write(head)
        while f.tell() < parallel.MIN_BYTES + (2 << 20):
            f.write(body)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    out_path = tmp_path / "out.jsonl"
    with open(out_path, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "han_emu", "replay", str(path), "--key", NWK_KEY.hex(),
                                 "--link-key", LINK_KEY.hex(), "--format", "jsonl"],
                                stdout=out, stderr=subprocess.PIPE, env=env, start_new_session=True)
        deadline = time.monotonic() + 60
        while out_path.stat().st_size == 0 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)  # until the workers' first lines are out
        os.killpg(proc.pid, signal.SIGINT)  # as a terminal sends it: to the parent and its workers
        _, err = proc.communicate(timeout=60)
    lines = out_path.read_text().splitlines()
    if proc.returncode == 0:  # a fast machine finished before the signal
        pytest.skip("the replay ended before Ctrl-C")
    assert proc.returncode == 130, err
    assert b"Traceback" not in err
    assert b"interrupted after" in err
    assert lines and lines[-1].startswith("{\"summary\""), (lines[-3:], err)
    summary = json.loads(lines[-1])["summary"]
    assert json.loads(lines[-2]) == {"interrupted": {"frames": summary["frames"]}}
    events = [json.loads(line) for line in lines[:-2]]  # whole chunks only: every line whole
    assert len([e for e in events if "command" in e]) == summary["decoded"] > 0
