"""How long the built-in ``mp184-ihd`` conformance plan takes against a virtual IHD.

Run from the repository root:  python benchmarks/bench_conform.py [--pcap]

The plan is two hours of virtual time (a solar burst, an export tier switch,
nine checks).  Target: under 30 s of wall time, judged with its checks, as
``han-emu conform --plan mp184-ihd`` runs it.  ``--pcap`` also writes the
capture and key log (every frame synthesized and encrypted: several times
slower).  The machine may be shared: the figure is wall time, noisy under
load; the ratio is against the fixed target, not a reference run.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from han_emu.conform.plan import load_plan  # noqa: E402
from han_emu.conform.run import VirtualDut, VirtualRun  # noqa: E402

TARGET_S = 30.0
START = 1_780_300_800.0  # 2026-06-01 08:00 UTC: the same run every time


def main() -> int:
    logging.disable(logging.WARNING)
    record = "--pcap" in sys.argv[1:]
    plan = load_plan("mp184-ihd")
    with tempfile.TemporaryDirectory() as tmp:
        options = {"pcap": str(Path(tmp) / "run.pcap"), "keylog": str(Path(tmp) / "run.keys")} if record else {}
        wall0 = time.perf_counter()
        run = VirtualRun(plan, VirtualDut("ihd"), start=START, **options)
        log = run.run()
        wall = time.perf_counter() - wall0
    passed, failed, pending = run.status.counts()
    print(f"mp184-ihd vs virtual IHD{' with capture' if record else ''}: {plan.duration / 3600:g} h virtual in "
          f"{wall:.2f} s wall ({len(log.observations)} packets observed; {passed} passed, {failed} failed, "
          f"{pending} pending)")
    print(f"target {TARGET_S:g} s: ratio {wall / TARGET_S:.2f} ({'within' if wall < TARGET_S else 'OVER'} target)")
    return 0 if failed == pending == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
