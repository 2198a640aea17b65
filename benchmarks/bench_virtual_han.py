"""24 hours of virtual-HAN traffic: meter, IHD and PPMID on default schedules.

Reference: the ESI-server issue's target of 10 seconds of wall time for one
virtual day.  Prints wall time, frames on the air, frames per second and the
ratio to the target.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from han_emu.han.config import load  # noqa: E402
from han_emu.meter.model import TwinMeter  # noqa: E402
from han_emu.radio.vtime import run_virtual  # noqa: E402
from han_emu.han.virtual import VirtualHan  # noqa: E402

TARGET_S = 10.0
DAY = 86400.0


def main() -> None:
    config = load(None)
    start = datetime(2026, 6, 1, tzinfo=timezone.utc).timestamp()
    meter = TwinMeter(config.meter, start)

    async def day() -> VirtualHan:
        han = VirtualHan(config, meter)
        await han.start()
        await han.run_for(DAY)
        await han.stop()
        return han

    t0, c0 = time.perf_counter(), time.process_time()
    han = run_virtual(day(), start)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    data = sum(han.traffic.frames.values())
    acks = sum(han.traffic.acks.values())
    frames = data + acks
    print(f"virtual day: {len(han.devices)} displays, {data} APS data frames + {acks} APS ACKs = {frames} frames")
    print(f"wall time {wall:.2f} s   {frames / wall:,.0f} frames/s   {DAY / wall:,.0f}x real time")
    print(f"CPU time {cpu:.2f} s (wall time includes whatever else the machine runs)")
    print(f"target {TARGET_S:.0f} s   ratio {wall / TARGET_S:.2f}x of target (CPU: {cpu / TARGET_S:.2f}x)")


if __name__ == "__main__":
    main()
