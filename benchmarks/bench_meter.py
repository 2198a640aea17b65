"""Three months of half-hourly data on all four channels, default scenario.

Reference: the foundation issue's target of 2 seconds for this run.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from han_emu.meter.model import Channel, TwinMeter  # noqa: E402
from han_emu.meter.profile import THREE_MONTHS  # noqa: E402
from han_emu.meter.scenario import Scenario  # noqa: E402
from han_emu.meter.settings import MeterSettings  # noqa: E402
from han_emu.meter.simulate import run  # noqa: E402

TARGET_S = 2.0
STEP_S = 300.0


def main() -> None:
    start = datetime(2026, 3, 1, tzinfo=timezone.utc).timestamp()
    best = float("inf")
    for _ in range(3):
        meter = TwinMeter(MeterSettings().validate(), start)
        t0 = time.perf_counter()
        run(meter, Scenario(), start + THREE_MONTHS * 1800, STEP_S)
        best = min(best, time.perf_counter() - t0)
    intervals = sum(len(meter.profiles[c]) for c in Channel)
    print(f"3 months, 4 channels, {STEP_S:.0f} s scenario steps: {intervals} intervals")
    print(f"best of 3: {best:.3f} s   target {TARGET_S:.1f} s   ratio {best / TARGET_S:.2f}x of target")


if __name__ == "__main__":
    main()
