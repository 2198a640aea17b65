"""Replay speed: our fast path against tshark on the same capture and keys.

Builds (once, cached in the temp folder) a capture of NWK+APS-encrypted Smart
Energy traffic with the project's encoder: an IHD reading Metering
attributes and the ESI answering, each frame secured at both layers with the
extended nonce.  Then, in the same run, it measures

- ours: the replay engine (``Replay``: the streaming capture reader, the one
  frame decoder parsing MAC/NWK/APS and decrypting both layers, the ZCL
  command with its attribute ids and values) for every frame;
- tshark: ``tshark -r FILE -o 'uat:zigbee_pc_keys:...' -T fields -e zbee_zcl.attr.id``
  (plus the Metering attribute field, where SE attribute ids land);

each in a child process, and prints frames/s, the ratio and each one's peak
memory (max RSS).  Ours streams the file and keeps nothing per frame, so its
memory does not grow with the file; ``--frames`` changes the size.

    python benchmarks/bench_frames.py [--frames 100000] [--rebuild]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from han_emu.frames.keylog import tshark_option, uat_row  # noqa: E402
from han_emu.frames.builders import aps_data, mac_data, nwk_frame, zcl_header  # noqa: E402
from han_emu.frames.pcap import PcapWriter  # noqa: E402
from han_emu.frames.stack import encode  # noqa: E402
from han_emu.replay import Replay, ZclEvent  # noqa: E402

NETWORK_KEY = bytes.fromhex("4E45545752524B4B45592D48414E2D31")
LINK_KEY = bytes.fromhex("04F3D128BD0F0B00F694131CC966C112")
ESI, IHD = 0x000D6F0000000001, 0x000D6F0000011000
ESI_NWK, IHD_NWK = 0x0000, 0xD82D
METERING = 0x0702
START = 1_750_507_200.0


def _frame(i: int) -> bytes:
    """Frame ``i``: even ones IHD -> ESI Read Attributes, odd ones the ESI's answer."""
    request = i % 2 == 0
    src, dst, src_nwk, dst_nwk = (IHD, ESI, IHD_NWK, ESI_NWK) if request else (ESI, IHD, ESI_NWK, IHD_NWK)
    attrs = [(i // 2 + k) % 8 for k in range(3)]
    if request:
        payload = b"".join(struct.pack("<H", a) for a in attrs)
    else:
        payload = b"".join(struct.pack("<HBB", a, 0, 0x25) + (1000 * i + a).to_bytes(6, "little") for a in attrs)
    n = i // 2
    return encode(
        mac_data(seq=n & 0xFF, pan=0x1A62, dst=dst_nwk, src=src_nwk),
        nwk_frame(dst=dst_nwk, src=src_nwk, seq=n & 0xFF, frame_counter=n, source_ieee=src),
        aps_data(cluster=METERING, dst_endpoint=1 if request else 3, src_endpoint=3 if request else 1,
                 counter=n & 0xFF, frame_counter=n, source_ieee=src),
        zcl_header(tsn=n & 0xFF, command_id=0x00 if request else 0x01, server_to_client=not request,
                   disable_default_response=not request),
        payload, network_key=NETWORK_KEY, link_key=LINK_KEY,
    )


def _frames(bounds: tuple[int, int]) -> list[bytes]:
    return [_frame(i) for i in range(*bounds)]


def build(path: Path, count: int) -> None:
    """Write ``count`` frames with the encoder (in parallel: it is the slow part)."""
    chunk = 5000
    parts = [(i, min(i + chunk, count)) for i in range(0, count, chunk)]
    tmp = path.with_suffix(".part")
    with open(tmp, "wb") as f, ProcessPoolExecutor() as pool:
        writer = PcapWriter(f, 283)
        done = 0
        for frames in pool.map(_frames, parts):
            for psdu in frames:
                writer.write(psdu, START + done * 0.01, channel=15)
                done += 1
            print(f"\r  building {path.name}: {done}/{count} frames", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    tmp.replace(path)


def keys_option() -> str:
    return tshark_option([uat_row(NETWORK_KEY, "network key"), uat_row(LINK_KEY, "IHD-ESI link key")])


def ours(path: Path) -> tuple[int, int, float]:
    """(frames, attribute ids, seconds) decoding ``path`` with the replay engine."""
    replay = Replay(path, [NETWORK_KEY], [LINK_KEY])
    attributes = 0
    start = time.perf_counter()
    for event in replay.frames():
        if type(event) is ZclEvent and event.message.attributes:
            attributes += len(event.message.attributes)
    return replay.summary.frames, attributes, time.perf_counter() - start


def _max_rss_mib(usage: resource.struct_rusage) -> float:
    return usage.ru_maxrss / 1024  # kilobytes on Linux


def measure_child(args: list[str]) -> tuple[str, float, float]:
    """Run a child process; (its stdout, wall seconds, peak RSS in MiB)."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - start
    if proc.returncode:
        raise SystemExit(f"{args[0]} failed with status {proc.returncode}")
    return out, elapsed, _max_rss_mib(usage)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=100_000)
    ap.add_argument("--rebuild", action="store_true", help="build the capture again even if cached")
    ap.add_argument("--worker", metavar="FILE", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:  # child: decode and report
        frames, attributes, seconds = ours(Path(args.worker))
        print(frames, attributes, seconds)
        return
    path = Path(tempfile.gettempdir()) / f"han-emu-bench-{args.frames}.pcap"
    if args.rebuild or not path.exists():
        build(path, args.frames)
    print(f"capture: {path} ({path.stat().st_size / 1e6:.1f} MB, {args.frames} frames, NWK+APS encrypted)")

    out, wall, rss = measure_child([sys.executable, __file__, "--worker", str(path)])
    frames, attributes, seconds = out.split()
    frames_i, seconds_f = int(frames), float(seconds)
    ours_rate = frames_i / seconds_f
    print(f"ours:   {ours_rate:10,.0f} frames/s  ({frames_i} frames, {attributes} attribute ids, "
          f"{seconds_f:.2f} s decoding, {wall:.2f} s with start-up; peak {rss:.0f} MiB)")

    tshark = shutil.which("tshark")
    if tshark is None:
        print("tshark: not installed, no comparison")
        return
    out, t_wall, t_rss = measure_child([tshark, "-r", str(path), "-o", keys_option(), "-T", "fields",
                                        "-e", "zbee_zcl.attr.id", "-e", "zbee_zcl_se.met.attr_id"])
    t_attrs = sum(len(line.replace("\t", ",").strip(",").split(",")) for line in out.splitlines() if line.strip("\t\n"))
    t_rate = args.frames / t_wall
    print(f"tshark: {t_rate:10,.0f} frames/s  ({t_attrs} attribute ids, {t_wall:.2f} s; peak {t_rss:.0f} MiB)")
    print(f"ratio:  {ours_rate / t_rate:10.2f}x tshark's throughput (with our start-up: {t_wall / wall:.2f}x)")
    if t_attrs != int(attributes):
        print(f"warning: tshark found {t_attrs} attribute ids, we found {attributes}")


if __name__ == "__main__":
    main()
