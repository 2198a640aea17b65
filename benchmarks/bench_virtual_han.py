"""24 hours of virtual-HAN traffic: meter, IHD and PPMID on default schedules.

    python benchmarks/bench_virtual_han.py [hours] [--baseline DIR] [--repeat N] [--record]

Reference: the speed issue's target of 5 seconds of wall time for one virtual
day with the default displays (nothing recorded), on a 2-core development
machine.  Prints wall and CPU time, frames on the air, frames per second and
the ratio to the target (for a shorter run, to the target's share of it).

``--baseline DIR`` runs the same measurement, in the same run, on another
checkout of han-emu (say a worktree of the commit before a change) and
prints how many times faster this one is.  Both runs share the machine, so
the ratio holds even where the machine is busy; the wall times do not.
``--repeat N`` runs each N times, alternating, and keeps the fastest.

``--record`` measures the same run recorded to a pcapng capture with its key
log, as ``han-emu run --simulate 24h --pcap FILE`` records it: every frame
synthesized (MAC, NWK and APS headers, both layers of security), written
and flushed.  There is no wall-time target for a recorded run; the figure
is compared with the unrecorded one and, with ``--baseline``, with the same
recording on the other checkout.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGET_S = 5.0
DAY = 86400.0


def measure(hours: float, code: Path = HERE.parent, record: bool = False) -> dict[str, float]:
    """One run in this process, on the han-emu at ``code``: the HAN up, ``hours``
    of virtual time, down (recorded to a capture in a scratch folder if ``record``)."""
    sys.path.insert(0, str(code))
    if record:
        with tempfile.TemporaryDirectory() as folder:
            return _measure(hours, Path(folder))
    return _measure(hours, None)


def _measure(hours: float, folder: Path | None) -> dict[str, float]:
    from han_emu.han.config import load
    from han_emu.han.virtual import VirtualHan
    from han_emu.meter.model import TwinMeter
    from han_emu.radio.vtime import run_virtual

    config = load(None)
    start = datetime(2026, 6, 1, tzinfo=timezone.utc).timestamp()
    meter = TwinMeter(config.meter, start)

    recording = None
    if folder is not None:
        from han_emu.han.recording import HanRecording

        recording = HanRecording(pcap=folder / "day.pcapng", keylog=folder / "day.keys")

    async def day() -> VirtualHan:
        han = VirtualHan(config, meter)
        if recording is not None:
            recording.attach(han)
        await han.start()
        await han.run_for(hours * 3600.0)
        await han.stop()
        return han

    t0, c0 = time.perf_counter(), time.process_time()
    han = run_virtual(day(), start)
    if recording is not None:
        recording.close()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    recorded = recording.pcap.frames if recording is not None and recording.pcap is not None else 0
    return {"wall": wall, "cpu": cpu, "displays": len(han.devices), "data": sum(han.traffic.frames.values()),
            "acks": sum(han.traffic.acks.values()), "recorded": recorded}


def measure_in(checkout: Path, hours: float, record: bool = False) -> dict[str, float]:
    """The same measurement by this script, run on ``checkout``'s code."""
    env = dict(os.environ, PYTHONPATH=str(checkout))
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), str(hours), "--json", "--code", str(checkout)]
                         + (["--record"] if record else []),
                         env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out.splitlines()[-1])


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("hours", nargs="?", type=float, default=24.0)
    parser.add_argument("--baseline", type=Path, help="another checkout to measure in the same run")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each, alternating; the fastest counts")
    parser.add_argument("--record", action="store_true", help="record the run to a pcapng capture and a key log")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--code", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv[1:])
    if args.json:  # one run, for a --baseline: on that checkout's code (--code), not this one's
        print(json.dumps(measure(args.hours, args.code or HERE.parent, args.record)))
        return
    if args.record:
        record(args)
        return
    runs, bases = [], []
    for _ in range(max(1, args.repeat)):  # each in a fresh process, as a user runs it
        runs.append(measure_in(HERE.parent, args.hours))
        if args.baseline is not None:
            bases.append(measure_in(args.baseline, args.hours))
    r = min(runs, key=lambda x: x["wall"])
    frames = r["data"] + r["acks"]
    target = TARGET_S * args.hours * 3600.0 / DAY
    name = "24 h" if args.hours == 24 else f"{args.hours:g} h"
    print(f"{name} virtual HAN: {int(r['displays'])} displays, {int(r['data'])} APS data frames + "
          f"{int(r['acks'])} APS ACKs = {int(frames)} frames")
    line = (f"{name} virtual HAN: {r['wall']:.2f} s wall ({r['wall'] / target:.2f}x the {target:.3g} s target), "
            f"CPU {r['cpu']:.2f} s ({r['cpu'] / target:.2f}x); {frames / r['wall']:,.0f} frames/s, "
            f"{args.hours * 3600.0 / r['wall']:,.0f}x real time")
    if args.baseline is not None:
        base = min(bases, key=lambda x: x["wall"])
        line += (f"; {base['wall'] / r['wall']:.2f}x faster than {args.baseline} measured in the same run "
                 f"({base['wall']:.2f} s wall, CPU {base['cpu'] / r['cpu']:.2f}x)")
        if (base["data"], base["acks"]) != (r["data"], r["acks"]):
            line += f" -- NOTE: the baseline put {int(base['data'])}+{int(base['acks'])} frames on the air"
    print(line)
    print("(wall time includes whatever else the machine runs; the CPU time and the ratios hold better)")



def record(args: argparse.Namespace) -> None:
    """The recorded run, beside the unrecorded one (and the baseline's recorded run) in the same run."""
    runs, plain, bases = [], [], []
    for _ in range(max(1, args.repeat)):
        runs.append(measure_in(HERE.parent, args.hours, record=True))
        plain.append(measure_in(HERE.parent, args.hours))
        if args.baseline is not None:
            bases.append(measure_in(args.baseline, args.hours, record=True))
    r, p = min(runs, key=lambda x: x["wall"]), min(plain, key=lambda x: x["wall"])
    name = "24 h" if args.hours == 24 else f"{args.hours:g} h"
    target = TARGET_S * args.hours * 3600.0 / DAY
    line = (f"{name} virtual HAN recorded: {int(r['recorded'])} frames to pcapng in {r['wall']:.2f} s wall, "
            f"CPU {r['cpu']:.2f} s; {r['recorded'] / r['wall']:,.0f} frames/s; {r['wall'] / p['wall']:.2f}x the "
            f"unrecorded run ({p['wall']:.2f} s), {r['wall'] / target:.2f}x the unrecorded run's {target:.3g} s target")
    if args.baseline is not None:
        base = min(bases, key=lambda x: x["wall"])
        line += (f"; {base['wall'] / r['wall']:.2f}x faster than {args.baseline} recording the same run "
                 f"({base['wall']:.2f} s wall, CPU {base['cpu'] / r['cpu']:.2f}x)")
        if base.get("recorded") and base["recorded"] != r["recorded"]:
            line += f" -- NOTE: the baseline recorded {int(base['recorded'])} frames"
    print(line)
    print("(wall time includes whatever else the machine runs; the CPU time and the ratios hold better)")


if __name__ == "__main__":
    main(sys.argv)
