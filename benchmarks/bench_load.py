"""Load: 32 simulated IHD/PPMID/CAD nodes polling at 10 times their normal rate
on the virtual HAN for one virtual day (``--hours`` to shorten, ``--nodes``,
``--rate``).

Prints requests answered / sent, virtual-time latency percentiles (request on
the air -> response on the air), wall cost per request and the wall time.
Every node joins with its install code and runs CBKE first, as in a real run.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from han_emu.han.config import load  # noqa: E402
from han_emu.meter.model import TwinMeter  # noqa: E402
from han_emu.radio.vtime import run_virtual  # noqa: E402
from han_emu.sim.schedule import DeviceSettings, cad, default_devices  # noqa: E402
from han_emu.han.virtual import VirtualHan  # noqa: E402

START = datetime(2026, 6, 1, tzinfo=timezone.utc).timestamp()
# General commands that ask for an answer: Read Attributes, Write Attributes,
# Configure Reporting, Read Reporting Configuration, Discover Attributes.
REQUESTS = frozenset({0x00, 0x02, 0x06, 0x08, 0x0C})
PERIODS = ("demand_s", "registers_s", "prices_s", "profile_s", "history_s", "time_s")


def population(nodes: int, rate: float) -> list[DeviceSettings]:
    """IHDs, PPMIDs and CADs in turn, each polling ``rate`` times as often as normal."""
    ihd, ppmid = default_devices()
    kinds = (ihd, ppmid, replace(cad(), full_log=False))
    out = []
    for i in range(nodes):
        base = kinds[i % 3]
        faster = {p: getattr(base, p) / rate for p in PERIODS}
        out.append(replace(base, name=f"{base.kind.upper()}{i + 1:02d}", **faster))
    return out


@dataclass
class LoadResult:
    nodes: int
    virtual_s: float
    wall_s: float
    requests: int
    answered: int
    failures: int
    latencies: list[float] = field(default_factory=list)
    unmatched: int = 0
    """Requests seen on the air with no response on the air by the end (in flight at the stop)."""
    error_answers: dict[int, int] = field(default_factory=dict)
    """Default Responses from the ESI with an error status, by status."""

    def percentile(self, q: float) -> float:
        xs = sorted(self.latencies)
        return xs[min(len(xs) - 1, int(q / 100 * len(xs)))] if xs else float("nan")

    def report(self) -> str:
        ms = {q: self.percentile(q) * 1000 for q in (50, 90, 99, 99.9)}
        return "\n".join([
            f"{self.nodes} nodes, {self.virtual_s / 3600:g} virtual hours, wall {self.wall_s:.1f} s",
            f"requests answered {self.answered} / {self.requests}   display-side failures {self.failures}",
            f"on the air: {len(self.latencies)} request/response pairs, {self.unmatched} requests unanswered at the stop; "
            f"error Default Responses {sum(self.error_answers.values())}"
            + (" (" + ", ".join(f"0x{k:02X}: {v}" for k, v in sorted(self.error_answers.items())) + ")"
               if self.error_answers else ""),
            "virtual latency ms  p50 {:.1f}  p90 {:.1f}  p99 {:.1f}  p99.9 {:.1f}  max {:.1f}".format(
                ms[50], ms[90], ms[99], ms[99.9], max(self.latencies, default=0) * 1000),
            f"wall cost {self.wall_s / max(self.requests, 1) * 1e6:.0f} us per request   "
            f"{self.requests / self.wall_s:,.0f} requests/s",
        ])


def run_load(nodes: int = 32, hours: float = 24.0, rate: float = 10.0,
             progress: bool = False) -> LoadResult:
    config = load(None)
    meter = TwinMeter(config.meter, START)
    sent: dict[tuple[int, int, int, int], float] = {}
    latencies: list[float] = []
    errors: Counter[int] = Counter()

    def on_air(han: VirtualHan, frame) -> None:
        if frame.aps_ack or frame.packet.profile_id != 0x0109:
            return
        data = frame.packet.data.serialize()
        if len(data) < 3:
            return
        tsn = data[3] if data[0] & 0x04 else data[1]
        from_server = bool(data[0] & 0x08)
        cluster = int(frame.packet.cluster_id)
        command = data[4] if data[0] & 0x04 else data[2]
        general = data[0] & 0x03 == 0
        if int(frame.src) != 0 and not from_server and not (general and command not in REQUESTS):
            # a request from a display (its Default Responses to reports and
            # publishes are client-to-server too, but answer nothing)
            sent[(int(frame.src), int(frame.packet.src_ep), cluster, tsn)] = frame.time
        elif int(frame.src) == 0 and frame.packet.dst is not None:
            key = (int(frame.packet.dst.address), int(frame.packet.dst_ep), cluster, tsn)
            when = sent.pop(key, None)
            if when is not None:
                latencies.append(frame.time - when)
            if general and command == 0x0B and len(data) >= 5 and data[-1] != 0x00:
                errors[data[-1]] += 1  # a Default Response whose status is an error

    async def main() -> VirtualHan:
        han = VirtualHan(config, meter, devices=population(nodes, rate))
        han.listeners.append(on_air)
        await han.start()
        done = 0.0
        while done < hours * 3600:
            step = min(3600.0, hours * 3600 - done)
            await han.run_for(step)
            done += step
            if progress:  # a long run shows it is alive, and leaves figures if stopped
                asked = sum(sum(d.requests.values()) for d in han.devices)
                failed = sum(d.failures for d in han.devices)
                print(f"  {done / 3600:5.2f} virtual h  requests {asked:,}  failures {failed}  "
                      f"unanswered on the air {len(sent)}  wall {time.perf_counter() - t0:,.0f} s",
                      flush=True)
        await han.stop()
        return han

    t0 = time.perf_counter()
    han = run_virtual(main(), START)
    wall = time.perf_counter() - t0
    requests = sum(sum(d.requests.values()) for d in han.devices)
    failures = sum(d.failures for d in han.devices)
    return LoadResult(nodes, hours * 3600, wall, requests, requests - failures, failures, latencies,
                      unmatched=len(sent), error_answers=dict(errors))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=32)
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--progress", action="store_true", help="print a line per virtual hour")
    args = parser.parse_args(sys.argv[1:] if __name__ == "__main__" and sys.argv[0].endswith("bench_load.py") else [])
    print(run_load(args.nodes, args.hours, args.rate, args.progress).report())


if __name__ == "__main__":
    main()
