"""Replay speed: ``han-emu replay --format jsonl`` against tshark on the same file and keys.

Builds (with the project's frame encoder) a capture of Smart Energy traffic,
every frame NWK- and APS-encrypted: Metering reads and responses, reports,
GetProfile and its responses, PublishPrice.  Then times both decoders on it
and prints wall time, frames/s, peak memory (max RSS) and the ratio.

    python benchmarks/bench_replay.py [--frames 110000] [--tshark-format json|fields|both] [--scale 2] [--keep FILE]

Memory should stay flat as the file grows: the same figures follow for a capture
``--scale`` times larger.  CPU time (user + system, of every process) is printed
too: on a busy machine it varies less than wall time.  A big capture is decoded
on every CPU (``han_emu.replay.parallel``): wall time is the figure the target
is set in; peak memory is given for the largest process and for all of them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from han_emu.frames.builders import aps_data, mac_data, nwk_frame, zcl_header  # noqa: E402
from han_emu.frames.pcap import PcapWriter  # noqa: E402
from han_emu.frames.stack import encode  # noqa: E402

NWK_KEY = bytes.fromhex("00112233445566778899aabbccddeeff")
LINK_KEY = bytes.fromhex("a0a1a2a3a4a5a6a7a8a9aaabacadaeaf")
ESI, ESI_IEEE = 0x0000, 0x0011223344556677
IHD, IHD_IEEE = 0x4D2C, 0x8877665544332211
DISTINCT = 2000  # distinct frames built; the capture repeats them with fresh timestamps


def _messages(i: int) -> list[tuple[int, int, int, int, bool, bool, int, bytes]]:
    """(src, dst, src_ep, dst_ep, cluster-specific, to client, command, payload) of one exchange."""
    summ = (1_000_000 + i * 7).to_bytes(6, "little")
    price = struct.pack("<I", 1) + b"\x06EXPORT" + struct.pack("<IIBHBBIHI", i, 757382400 + i, 0, 826, 0x52, 0x42, 0,
                                                                0xFFFF, 15000 + i)
    intervals = b"".join((100 + i + k).to_bytes(3, "little") for k in range(6))
    return [
        (IHD, ESI, 1, 1, False, False, 0x00, bytes.fromhex("000001000004")),
        (ESI, IHD, 1, 1, False, True, 0x01, b"\x00\x00\x00\x25" + summ + b"\x01\x00\x00\x25" + summ
         + b"\x00\x04\x00\x2a" + struct.pack("<i", -1500)[:3]),
        (ESI, IHD, 2, 1, False, True, 0x0A, b"\x01\x00\x25" + summ),
        (IHD, ESI, 1, 2, True, False, 0x00, b"\x01\x00\x00\x00\x00\x06"),
        (ESI, IHD, 2, 1, True, True, 0x00, struct.pack("<IBBB", 757382400 + i, 0, 2, 6) + intervals),
        (ESI, IHD, 2, 1, True, True, 0x00, price),
    ]


def build_capture(path: Path, frames: int) -> None:
    ieee = {ESI: ESI_IEEE, IHD: IHD_IEEE}
    templates: list[bytes] = []
    n = 0
    while len(templates) < min(frames, DISTINCT):
        for src, dst, sep, dep, specific, to_client, cmd, payload in _messages(n):
            cluster = 0x0700 if (specific and to_client and payload[4:5] == b"\x06") else 0x0702
            templates.append(encode(
                mac_data(seq=n & 0xFF, pan=0x1A62, dst=dst, src=src),
                nwk_frame(dst=dst, src=src, seq=n & 0xFF, frame_counter=n, source_ieee=ieee[src]),
                aps_data(cluster=cluster, dst_endpoint=dep, src_endpoint=sep, counter=n & 0xFF, frame_counter=n,
                         source_ieee=ieee[src]),
                zcl_header(tsn=n & 0xFF, command_id=cmd, cluster_specific=specific, server_to_client=to_client),
                payload, network_key=NWK_KEY, link_key=LINK_KEY,
            ))
            n += 1
    with open(path, "wb") as f:
        w = PcapWriter(f, 195)
        t0 = 1_704_067_200.0
        for i in range(frames):
            w.write(templates[i % len(templates)], t0 + i * 0.25)


def _descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (Linux /proc)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except OSError:
            pass
    return out


def _pss_mb(pids: list[int]) -> float:
    """Proportional set size of the processes together (shared pages counted once), MB."""
    total = 0
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
                    break
        except OSError:
            pass
    return total / 1024


def measure(cmd: list[str]) -> dict[str, float]:
    """Run ``cmd`` in a child that reports its own wall time, CPU time (of
    ``cmd`` and its workers) and peak RSS of its largest process; meanwhile
    sample the memory of all its processes together (PSS every 50 ms; 0 where
    /proc does not tell)."""
    code = (
        "import resource, subprocess, sys, time, json\n"
        "t = time.perf_counter()\n"
        "rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode\n"
        "wall = time.perf_counter() - t\n"
        "ru = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(json.dumps({'rc': rc, 'wall': wall, 'cpu': ru.ru_utime + ru.ru_stime, 'rss_mb': ru.ru_maxrss / 1024}))\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, *cmd], stdout=subprocess.PIPE, text=True)
    peak = 0.0
    while proc.poll() is None:
        peak = max(peak, _pss_mb(_descendants(proc.pid)[1:]))
        time.sleep(0.05)
    out = json.loads(proc.communicate()[0])
    out["tree_mb"] = peak
    return out


def run(frames: int, path: Path, formats: tuple[str, ...]) -> None:
    t = time.perf_counter()
    build_capture(path, frames)
    print(f"capture: {frames:,} frames, NWK+APS encrypted, {path.stat().st_size / 1e6:.1f} MB "
          f"(built in {time.perf_counter() - t:.1f} s)")
    env_path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    ours_cmd = ["env", f"PYTHONPATH={env_path}", sys.executable, "-m", "han_emu.cli.main", "replay", str(path),
                "--key", NWK_KEY.hex(), "--link-key", LINK_KEY.hex(), "--format", "jsonl"]
    ours = measure(ours_cmd)
    print(f"han-emu replay --format jsonl: {ours['wall']:7.2f} s  {frames / ours['wall']:10,.0f} frames/s  "
          f"cpu {ours['cpu']:6.2f} s  peak {ours['rss_mb']:6.0f} MB largest process, "
          f"{ours['tree_mb']:4.0f} MB all processes  (exit {ours['rc']})")
    tshark = shutil.which("tshark")
    if tshark is None:
        print("tshark not found: no comparison")
        return
    uat = f'"{NWK_KEY.hex().upper()}","Normal","nwk"\n"{LINK_KEY.hex().upper()}","Normal","aps"'
    for fmt in formats:
        theirs_cmd = [tshark, "-r", str(path), "-o", f"uat:zigbee_pc_keys:{uat}", "-T", fmt]
        if fmt == "fields":
            theirs_cmd += ["-e", "frame.number", "-e", "zbee_nwk.src", "-e", "zbee_nwk.dst", "-e", "zbee_aps.cluster",
                           "-e", "zbee_zcl.cmd.id", "-e", "zbee_zcl.attr.id"]
        theirs = measure(theirs_cmd)
        print(f"tshark -T {fmt}:{' ' * (19 - len(fmt))}{theirs['wall']:7.2f} s  "
              f"{frames / theirs['wall']:10,.0f} frames/s  cpu {theirs['cpu']:6.2f} s  "
              f"peak {theirs['rss_mb']:6.0f} MB  (exit {theirs['rc']})")
        print(f"  ratio (tshark -T {fmt} time / han-emu time): wall {theirs['wall'] / ours['wall']:.2f}x "
              f"(target 1.5x against -T fields), cpu {theirs['cpu'] / ours['cpu']:.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=110_000)
    ap.add_argument("--tshark-format", choices=("json", "fields", "both"), default="both")
    ap.add_argument("--scale", type=int, default=2,
                    help="then a capture this many times larger, to show memory stays flat (1: skip)")
    ap.add_argument("--keep", metavar="FILE", help="write the capture here and keep it")
    args = ap.parse_args()
    tmp = tempfile.TemporaryDirectory()
    path = Path(args.keep) if args.keep else Path(tmp.name) / "se.pcap"
    formats = ("json", "fields") if args.tshark_format == "both" else (args.tshark_format,)
    run(args.frames, path, formats)
    if args.scale > 1:
        print()
        run(args.frames * args.scale, Path(tmp.name) / "se-larger.pcap", ("fields",))
    tmp.cleanup()


if __name__ == "__main__":
    main()
