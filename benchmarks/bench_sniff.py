"""Live sniffing speed: ``han-emu sniff --zep`` against a sender blasting ZEP at a fixed rate.

A sender process sends NWK+APS-encrypted Smart Energy frames (the ones
bench_replay builds) as ZEP v2 datagrams over loopback, at each rate for some
seconds, paced every millisecond.  The sniffer decodes them to jsonl; this
script counts the lines as they come out.  For each rate it prints frames
sent, frames the sniffer heard and decoded, drops, and how long after the
last datagram the last line came out (the backlog: a sniffer that keeps up
has next to none).  The target is 20,000 frames/s with no drops.

    python benchmarks/bench_sniff.py [--rates 20000,30000,40000] [--seconds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
from multiprocessing import get_context
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_replay import DISTINCT, ESI, ESI_IEEE, IHD, IHD_IEEE, LINK_KEY, NWK_KEY, _messages  # noqa: E402
from han_emu.frames.builders import aps_data, mac_data, nwk_frame, zcl_header  # noqa: E402
from han_emu.frames.stack import encode  # noqa: E402
from han_emu.frames.zep import zep_v2_data  # noqa: E402

TARGET = 20_000


def datagrams(count: int = DISTINCT) -> list[bytes]:
    """``count`` distinct ZEP v2 datagrams (bench_replay's frames; timestamp 0: the arrival time counts)."""
    ieee = {ESI: ESI_IEEE, IHD: IHD_IEEE}
    out: list[bytes] = []
    n = 0
    while len(out) < count:
        for src, dst, sep, dep, specific, to_client, cmd, payload in _messages(n):
            cluster = 0x0700 if (specific and to_client and payload[4:5] == b"\x06") else 0x0702
            psdu = encode(
                mac_data(seq=n & 0xFF, pan=0x1A62, dst=dst, src=src),
                nwk_frame(dst=dst, src=src, seq=n & 0xFF, frame_counter=n, source_ieee=ieee[src]),
                aps_data(cluster=cluster, dst_endpoint=dep, src_endpoint=sep, counter=n & 0xFF, frame_counter=n,
                         source_ieee=ieee[src]),
                zcl_header(tsn=n & 0xFF, command_id=cmd, cluster_specific=specific, server_to_client=to_client),
                payload, network_key=NWK_KEY, link_key=LINK_KEY,
            )
            out.append(zep_v2_data(psdu, channel=11, timestamp=0, sequence=n))
            n += 1
    return out[:count]


def send(port: int, packets: list[bytes], rate: int, seconds: float, ready: object) -> None:
    """Send ``rate`` datagrams a second for ``seconds``, in bursts every millisecond."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    total = int(rate * seconds)
    ready.wait()  # type: ignore[attr-defined]
    t0 = time.perf_counter()
    sent, i, n = 0, 0, len(packets)
    while sent < total:
        due = min(total, int((time.perf_counter() - t0) * rate) + 1)
        while sent < due:
            try:
                sock.sendto(packets[i], ("127.0.0.1", port))
            except BlockingIOError:
                break
            sent += 1
            i = i + 1 if i + 1 < n else 0
        time.sleep(0.001)
    sock.close()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(rate: int, seconds: float, packets: list[bytes]) -> dict[str, float]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    sniffer = subprocess.Popen(
        [sys.executable, "-m", "han_emu.cli.main", "sniff", "--zep", f"127.0.0.1:{port}", "--key", NWK_KEY.hex(),
         "--link-key", LINK_KEY.hex(), "--format", "jsonl"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert sniffer.stdout is not None and sniffer.stderr is not None
    sniffer.stderr.readline()  # "listening: ..."
    cpu0 = cpu_seconds(sniffer.pid)
    lines = {"n": 0, "last": 0.0, "summary": None}

    def count() -> None:
        for line in sniffer.stdout:  # type: ignore[union-attr]
            if line.startswith(b'{"frame"'):
                lines["n"] += 1
                lines["last"] = time.perf_counter()
            elif line.startswith(b'{"summary"'):
                lines["summary"] = json.loads(line)["summary"]

    reader = threading.Thread(target=count, daemon=True)
    reader.start()
    ctx = get_context("fork")
    ready = ctx.Event()
    sender = ctx.Process(target=send, args=(port, packets, rate, seconds, ready))
    sender.start()
    t0 = time.perf_counter()
    ready.set()
    sender.join()
    sent_at = time.perf_counter()
    total = int(rate * seconds)
    while lines["n"] < total and time.perf_counter() - max(lines["last"], sent_at) < 2.0:
        time.sleep(0.05)  # the backlog drains, or 2 s pass with no new line
    cpu = cpu_seconds(sniffer.pid) - cpu0
    sniffer.send_signal(2)  # Ctrl-C: the summary
    sniffer.wait(timeout=30)
    reader.join(timeout=10)
    summary = lines["summary"] or {}
    return {"rate": rate, "sent": total, "heard": summary.get("frames", 0), "decoded": lines["n"],
            "send_s": sent_at - t0, "backlog_s": max(0.0, lines["last"] - sent_at), "cpu_s": cpu}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time so far of a process and its live workers (Linux /proc; 0 elsewhere)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
            for task in Path(f"/proc/{p}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except OSError:
            continue
    return total / os.sysconf("SC_CLK_TCK")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rates", default="20000,30000,40000", help="frames/s to try, comma-separated")
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()
    packets = datagrams()
    best = 0
    for rate in (int(r) for r in args.rates.split(",")):
        r = run(rate, args.seconds, packets)
        drops = r["sent"] - r["heard"]
        achieved = r["sent"] / r["send_s"]
        print(f"ZEP at {rate:6,} frames/s ({rate / TARGET:.2f}x the 20,000 target; sent at {achieved:,.0f}/s): "
              f"sent {r['sent']:,}, heard {r['heard']:,}, decoded {r['decoded']:,}, drops {drops:,}, "
              f"last line {r['backlog_s']:.2f} s after the last datagram")
        if r["cpu_s"] and r["decoded"]:
            per = r["cpu_s"] / r["decoded"]
            print(f"  sniffer CPU (all its processes) {r['cpu_s']:.2f} s: {per * 1e6:.1f} us a frame, "
                  f"so one idle core would decode {1 / per:,.0f} frames/s ({1 / per / TARGET:.2f}x the target)")
        if drops == 0 and r["decoded"] == r["sent"] and r["backlog_s"] < 1.0:
            best = max(best, rate)
    print(f"max sustained without drops (of the rates tried): {best:,} frames/s = {best / TARGET:.2f}x the target")


if __name__ == "__main__":
    main()
