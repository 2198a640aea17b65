"""How long the MP184 duty-cycle study takes: ``han-emu dutycycle --simulate 24h --compare mp184``.

Run from the repository root:  python benchmarks/bench_dutycycle.py [hours] [max displays]

For 1, 2 and 3 sub-GHz displays (the default device mix cycled, default poll
schedules, CBKE joins, the hub throttling) it runs the study's pair of
simulations, with and without the MP184 HAN items, each over a virtual day,
and prints the wall and CPU time of the pair.

Reference: real time.  A day of HAN traffic lasts 86,400 s on the wall clock;
the ratio says how many times faster than that the emulator lives through the
study's virtual days (two per display count: with and without MP184).  A
display-day per wall second figure is printed too, since the cost grows with
the traffic.

The study's figures are printed after the timings (the hub's GB-868 airtime
per hour with and without MP184, its peak rolling hour and headroom, and the
2.4 GHz leg), the same numbers the README records.
"""

from __future__ import annotations

import sys
import time

from han_emu.study.compare import Comparison, SimulationSettings, compare_mp184
from han_emu.han.config import load

DAY_S = 86_400.0


def run(hours: float, displays: int) -> tuple[Comparison, float, float]:
    config = load(None)
    settings = SimulationSettings(duration_s=hours * 3600.0)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    (comparison,) = compare_mp184(config, settings, counts=[displays])
    return comparison, time.perf_counter() - wall0, time.process_time() - cpu0


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
    hours = float(argv[1]) if len(argv) > 1 else 24.0
    top = int(argv[2]) if len(argv) > 2 else 3
    simulated = 2 * hours * 3600.0
    print(f"MP184 study, {hours:g} h of virtual time per variant, 2 variants per display count")
    print(f"{'displays':>8} {'wall s':>8} {'cpu s':>8} {'x real time':>12} {'display-days/s':>15}")
    results = []
    total = 0.0
    for n in range(1, top + 1):
        comparison, wall, cpu = run(hours, n)
        total += wall
        results.append(comparison)
        print(f"{n:8d} {wall:8.1f} {cpu:8.1f} {simulated / wall:12.0f} "
              f"{2 * n * hours / 24 / wall:15.3f}")
    print(f"--compare mp184 --devices {top} runs all of them: {total:.1f} s wall "
          f"({top * simulated / total:.0f}x real time)")
    print()
    for c in results:
        print(f"{c.sub_ghz_devices} sub-GHz display(s):")
        for row in figures(c):
            print(row)


if __name__ == "__main__":
    main(sys.argv)
