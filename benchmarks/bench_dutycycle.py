"""How long the MP184 duty-cycle study takes: ``han-emu dutycycle --simulate 24h --compare mp184 --devices 3``.

Run from the repository root:  python benchmarks/bench_dutycycle.py [hours] [max displays] [--no-serial]

For 1..N sub-GHz displays (the default device mix cycled, default poll
schedules, CBKE joins, the hub throttling) the study runs a pair of
simulations, with and without the MP184 HAN items, each over a virtual day:
2N independent simulations, which it runs at once in worker processes, one
per core.

Reference: the speed issue's target of 30 s of wall time for ``--devices 3``
on a 2-core development machine (for a shorter run, the target's share of
it).  In the same run the study is also run the old way, one simulation after
another in one process (the old path), unless ``--no-serial``: the bench
prints how many times faster the pool is, and whether both gave the same
figures.  Per-core and real-time figures are printed too.

The study's figures are printed after the timings (the hub's GB-868 airtime
per hour with and without MP184, its peak rolling hour and headroom, and the
2.4 GHz leg), the same numbers the README records.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from han_emu.han.config import load  # noqa: E402
from han_emu.study.compare import Comparison, SimulationSettings, compare_mp184, comparison_json  # noqa: E402
from han_emu.study.workers import cores  # noqa: E402

DAY_S = 86_400.0
TARGET_S = 30.0


def run(hours: float, displays: int, workers: int | None) -> tuple[list[Comparison], float, float]:
    config = load(None)
    settings = SimulationSettings(duration_s=hours * 3600.0, sub_ghz_devices=displays)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    comparisons = compare_mp184(config, settings, workers=workers)
    return comparisons, time.perf_counter() - wall0, time.process_time() - cpu0


def figures(c: Comparison) -> list[str]:
    w, b = c.with_mp184, c.without_mp184
    hub_w, hub_b = w.hub, b.hub
    assert hub_w is not None and hub_b is not None
    head = w.headroom()
    leg_w = sum(d.per_hour_s for d in w.leg.values())
    leg_b = sum(d.per_hour_s for d in b.leg.values())
    rows = [
        f"  hub GB-868: {hub_w.per_hour_s:7.3f} s/h with MP184, {hub_b.per_hour_s:7.3f} without, "
        f"added {hub_w.per_hour_s - hub_b.per_hour_s:+.3f} s/h "
        f"({100 * (hub_w.airtime_s - hub_b.airtime_s) / hub_b.airtime_s:+.1f} %)",
        f"  hub peak rolling hour: {hub_w.peak_hour_s:7.3f} s with ({hub_w.peak_hour_s / 36:.2f} %), "
        f"{hub_b.peak_hour_s:7.3f} s without; headroom with MP184: limited {head['limited']:+.1f} s, "
        f"critical {head['critical']:+.1f} s, regulated {head['regulated']:+.1f} s",
        f"  state: {hub_w.state}; alerts with MP184: {w.alerts or 'none'}",
        f"  2.4 GHz hub<->ESME leg (hub + ESME): {leg_w:.3f} s/h with, {leg_b:.3f} without, "
        f"added {leg_w - leg_b:+.3f} s/h",
    ]
    for key, d in w.devices.items():
        if key != "0x0000":
            base = b.devices.get(key)
            rows.append(f"  display {d.name} ({key}): {d.per_hour_s:.3f} s/h with, "
                        f"{base.per_hour_s if base else 0:.3f} without, peak {d.peak_hour_s:.3f} s")
    return rows


def main(argv: list[str]) -> None:
    args = [a for a in argv[1:] if not a.startswith("--")]
    hours = float(args[0]) if args else 24.0
    top = int(args[1]) if len(args) > 1 else 3
    serial = "--no-serial" not in argv
    runs = 2 * top
    display_days = 2 * sum(range(1, top + 1)) * hours / 24
    target = TARGET_S * hours * 3600.0 / DAY_S * (sum(range(1, top + 1)) / 6)
    print(f"MP184 study, --devices {top}: {runs} simulations of {hours:g} h ({display_days:g} display-days), "
          f"on {cores()} cores")
    pooled, wall, _ = run(hours, top, None)
    line = (f"--compare mp184 --devices {top}, {hours:g} h: {wall:.1f} s wall in a pool of {min(cores(), runs)} "
            f"processes ({wall / target:.2f}x the {target:.3g} s target; {display_days / wall:.3f} display-days/s, "
            f"{runs * hours * 3600.0 / wall:,.0f}x real time)")
    if serial:
        alone, serial_wall, serial_cpu = run(hours, top, 0)
        same = json.dumps(comparison_json(alone), sort_keys=True) == json.dumps(comparison_json(pooled), sort_keys=True)
        line += (f"; {serial_wall / wall:.2f}x faster than one after another in one process (the old path), "
                 f"measured in the same run ({serial_wall:.1f} s wall, {serial_cpu:.1f} s CPU); same figures: "
                 + ("yes" if same else "no (in one process a simulation can come out slightly differently "
                                       "after others; the pool's are the same for any --jobs)"))
    print(line)
    print("(wall time includes whatever else the machine runs)")
    print()
    for c in pooled:
        print(f"{c.sub_ghz_devices} sub-GHz display(s):")
        for row in figures(c):
            print(row)


if __name__ == "__main__":
    main(sys.argv)
