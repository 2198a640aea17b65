"""Run every benchmark script in this folder, one after another.

Each runs as if started on its own (``python benchmarks/bench_x.py``), with
the arguments below; one that fails is reported and the others still run.
``python benchmarks/bench_load.py`` alone runs the full virtual day."""

import runpy
import sys
import traceback
from pathlib import Path

#: Arguments for a quicker run of the slow ones (their defaults are the full figures).
QUICK = {"bench_load.py": ["--hours", "0.25"]}

here = Path(__file__).resolve().parent
sys.path.insert(0, str(here.parent))
failed = []
for script in sorted(here.glob("bench_*.py")):
    args = QUICK.get(script.name, [])
    print(f"== {script.name} {' '.join(args)}".rstrip(), flush=True)
    sys.argv = [str(script), *args]
    try:
        runpy.run_path(str(script), run_name="__main__")
    except SystemExit as exc:
        if exc.code not in (None, 0):
            failed.append(script.name)
    except Exception:
        traceback.print_exc()
        failed.append(script.name)
    print(flush=True)
if failed:
    print(f"failed: {', '.join(failed)}")
    sys.exit(1)
