"""``run --backfill``: 92 days of history filled and saved before the meter serves.

Reference: the backfill issue's target of 2 seconds for 92 days (the export
profile's three months) on a 2-core machine.  Timed as a run does it: the
scenario over the past on its 300 s grid, then one transaction into a new
state database.  400 days (the IHD's 13 months) are shown for scale.
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from han_emu.han.config import load  # noqa: E402
from han_emu.han.runner import backfill_meter  # noqa: E402
from han_emu.han.store import StateStore  # noqa: E402
from han_emu.meter.model import Channel  # noqa: E402

TARGET_S = 2.0
DAYS = 92
NOW = datetime(2026, 6, 1, 12, tzinfo=timezone.utc).timestamp()


def timed(days: int) -> tuple[float, float, int]:
    """(seconds in all, seconds of them saving, profile intervals) of one backfill into a new database."""
    config = load(None)
    with tempfile.TemporaryDirectory() as tmp:
        store = StateStore(Path(tmp) / "meter.db", snapshot_every=0)
        saving = 0.0
        save = store.save

        def timed_save(meter) -> None:  # type: ignore[no-untyped-def]
            nonlocal saving
            t0 = time.perf_counter()
            save(meter)
            saving = time.perf_counter() - t0

        store.save = timed_save  # type: ignore[method-assign]
        t0 = time.perf_counter()
        meter = backfill_meter(config, None, NOW, days * 86400.0, store=store, inform=lambda line: None)
        total = time.perf_counter() - t0
        store.close()
    return total, saving, sum(len(meter.profiles[c]) for c in Channel)


def main() -> None:
    runs = [timed(DAYS) for _ in range(3)]
    best, saving, intervals = min(runs)
    print(f"{DAYS} days of backfill, 4 channels: {intervals} intervals, saved in one transaction")
    print(f"best of 3: {best:.3f} s (saving {saving:.3f} s)   target {TARGET_S:.1f} s   "
          f"ratio {best / TARGET_S:.2f}x of target")
    total, saving, _ = timed(400)
    print(f"400 days for scale: {total:.3f} s (saving {saving:.3f} s)")


if __name__ == "__main__":
    main()
