"""How fast the duty-cycle ledger records frames.

Run from the repository root:  python benchmarks/bench_air.py [frames]

Offers 1,000,000 frames from 8 devices spread over a virtual day on GB-868
page 28 (regulated ledger) and times the ledger alone: the frame list is built
before the clock starts.

Reference load: a 24 h GB-868 simulation of 32 IHDs, each reading the ESME
every 10 s.  A read is a request and a response, each an APS-acknowledged
unicast: data frame + MAC ACK + APS ACK + MAC ACK = 4 frames, so 8 frames a
read, and 32 x 8,640 x 8 = 2,211,840 frames a day.
"""

from __future__ import annotations

import gc
import random
import sys
import time

from han_emu.air.airtime import ACK_PSDU, APS_ACK_PSDU, frame_airtime_us
from han_emu.air.dutycycle import AirtimeLedger, DutyCycleLedger

DAY_S = 86_400.0
REFERENCE_IHDS = 32
REFERENCE_POLL_S = 10.0
REFERENCE_FRAMES_PER_READ = 8
REFERENCE_FRAMES = int(REFERENCE_IHDS * DAY_S / REFERENCE_POLL_S * REFERENCE_FRAMES_PER_READ)


def make_frames(n: int, devices: int, seed: int = 1) -> list[tuple[str, float, int]]:
    """(device, time, airtime us) in time order: a third MAC ACKs, the rest APS ACKs
    and data frames.  ``dev0`` (the hub) sends 45 % of the frames, which keeps it
    near its regulated limit so the state ladder and discards are exercised."""
    rng = random.Random(seed)
    names = [f"dev{i}" for i in range(devices)]
    weights = [0.45] + [0.55 / (devices - 1)] * (devices - 1)
    step = DAY_S / n
    sizes = [ACK_PSDU, ACK_PSDU, APS_ACK_PSDU, 60, 90, 127]
    cost = {s: frame_airtime_us(s, 28) for s in sizes}
    who = rng.choices(names, weights, k=n)
    return [(who[i], i * step, cost[rng.choice(sizes)]) for i in range(n)]


def bench(ledger: AirtimeLedger, page: int, channel: int,
          frames: list[tuple[str, float, int]]) -> float:
    record = ledger.record_us
    start = time.perf_counter()
    for device, t, us in frames:
        record(device, page, channel, us, t)
    return time.perf_counter() - start


def main(argv: list[str]) -> None:
    n = int(argv[1]) if len(argv) > 1 else 1_000_000
    frames = make_frames(n, devices=8)
    gc.collect()
    gc.freeze()  # keep the collector from rescanning the prepared frames
    for name, ledger, page, channel in (
        ("GB-868 regulated ledger", DutyCycleLedger(), 28, 11),
        ("measuring ledger", AirtimeLedger(), 28, 11),
    ):
        events = [0]

        def count(_event: object, events: list[int] = events) -> None:
            events[0] += 1

        ledger.subscribe(count)
        elapsed = bench(ledger, page, channel, frames)
        rate = n / elapsed
        summary = ledger.summary(now=DAY_S)
        ref_s = REFERENCE_FRAMES / rate
        print(f"{name}: {n:,} frames, 8 devices, one virtual day in {elapsed:.2f} s "
              f"= {rate:,.0f} frames/s")
        print(f"  busiest peak hour {summary.peak:.1f} s, discarded {summary.discarded:,}, "
              f"alerts {events[0]:,}")
        print(f"  reference: a 24 h GB-868 simulation of {REFERENCE_IHDS} IHDs produces about "
              f"{REFERENCE_FRAMES:,} frames -> {ref_s:.2f} s of ledger time, "
              f"{DAY_S / ref_s:,.0f}x faster than real time "
              f"(ratio of rate to reference day: {rate / REFERENCE_FRAMES:.3f} days/s)")


if __name__ == "__main__":
    main(sys.argv)
