"""Crash safety: the emulator is killed with SIGKILL at random moments, again
and again, and restarted on the same state database.

The child is the library equivalent of ``han-emu run --state DB`` (the same
``open_meter`` and ``VirtualHan`` with its periodic saves, one IHD, virtual
time as fast as it goes), forked from a process that imported its modules
once (:data:`ZYGOTE`), so that a run does not spend its start on imports; with
``HAN_EMU_CRASH_CLI=1`` the child is the real command, ``python -m han_emu.cli.main
run --state DB --speed 3600 --no-tui --interval 0.2`` (slower to start: the
figures of such a run are in docs/reliability.md).

"Acknowledged" is what was committed: just before each kill the harness reads
the database from a second connection, as any reader would.  After each kill:
nothing acknowledged is lost, registers never went backwards across all the
runs, and the logs are consistent (contiguous half-hour ends, sum of intervals
no more than the register, daily readings non-decreasing).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import IO

from han_emu.han.config import load
from han_emu.meter.model import Channel, TwinMeter
from han_emu.han.store import StateStore

REPO = Path(__file__).resolve().parents[2]
KILLS = int(os.environ.get("HAN_EMU_CRASH_KILLS", "10"))
USE_CLI = os.environ.get("HAN_EMU_CRASH_CLI") == "1"
SETTINGS = load(None).meter

CHILD = r"""
import sys, time
from han_emu.han.runner import open_meter
from han_emu.han.config import load
from han_emu.radio.vtime import run_virtual
from han_emu.sim.schedule import DeviceSettings
from han_emu.han.virtual import VirtualHan

config = load(None)
now = time.time()
meter, store = open_meter(config, sys.argv[1], now)

async def main():
    han = VirtualHan(config, meter, store=store, devices=[DeviceSettings("ihd", "IHD")], cbke=False)
    await han.start()
    await han.run_for(10 ** 9)

run_virtual(main(), max(meter.time, now))
"""

ZYGOTE = r"""
import os, sys, traceback
# CHILD's imports, paid once for all the runs (about a second of CPU each time otherwise).
import han_emu.han.config, han_emu.han.runner, han_emu.han.virtual, han_emu.radio.vtime, han_emu.sim.schedule

for line in sys.stdin:  # one state database path per run: fork a child running CHILD on it
    pid = os.fork()
    if pid == 0:
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
        sys.argv = ["-c", line.strip()]
        try:
            exec(compile(CHILD_SOURCE, "<child>", "exec"), {"__name__": "__main__"})
        except BaseException:
            traceback.print_exc()
            os._exit(1)
        os._exit(0)
    print(pid, flush=True)
    os.waitpid(pid, 0)
    print("exited", flush=True)
"""
"""A process that forks a child per run; the child is a process of its own, killed with SIGKILL."""


class Runs:
    """Starts the child on ``db``, run after run: forked from :data:`ZYGOTE`,
    or (``HAN_EMU_CRASH_CLI=1``) the real command in a fresh interpreter."""

    def __init__(self, db: Path, cwd: Path, errors: IO[bytes]) -> None:
        self.db, self.cwd, self.errors = db, cwd, errors
        self.env = dict(os.environ, PYTHONPATH=str(REPO))
        self.zygote: subprocess.Popen[str] | None = None
        if not USE_CLI:
            source = f"CHILD_SOURCE = {CHILD!r}\n" + ZYGOTE
            self.zygote = subprocess.Popen([sys.executable, "-c", source], stdin=subprocess.PIPE,
                                           stdout=subprocess.PIPE, stderr=errors, env=self.env, cwd=cwd, text=True)

    @contextlib.contextmanager
    def child(self) -> Iterator[int]:
        """One run: its process id while it runs; killed with SIGKILL (and gone) on leaving."""
        if self.zygote is None:
            command = [sys.executable, "-m", "han_emu.cli.main", "run", "--state", str(self.db),
                       "--speed", "3600", "--no-tui", "--interval", "0.2"]
            proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=self.errors, env=self.env,
                                    cwd=self.cwd)
            try:
                yield proc.pid
            finally:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
            return
        assert self.zygote.stdin is not None and self.zygote.stdout is not None
        self.zygote.stdin.write(f"{self.db}\n")
        self.zygote.stdin.flush()
        pid = int(self.zygote.stdout.readline())
        try:
            yield pid
        finally:
            with contextlib.suppress(ProcessLookupError):  # it may have died by itself
                os.kill(pid, signal.SIGKILL)
            assert self.zygote.stdout.readline().strip() == "exited"

    def close(self) -> None:
        if self.zygote is not None:
            self.zygote.kill()
            self.zygote.communicate()


def running(pid: int) -> bool:
    """The child has not ended (its parent reaps it at once when it does)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def committed(db: Path) -> TwinMeter | None:
    """The meter as last committed, read in one transaction by another connection."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        con.execute("BEGIN")
        row = con.execute("SELECT state FROM core WHERE id = 1").fetchone()
        if row is None:
            return None
        profile = con.execute("SELECT channel, end_time, value FROM profile ORDER BY channel, end_time").fetchall()
        daily = [(date.fromisoformat(d), tuple(json.loads(r)))
                 for d, r in con.execute("SELECT day, readings FROM daily ORDER BY day")]
        con.execute("COMMIT")
    except sqlite3.OperationalError:
        return None  # no tables yet
    finally:
        con.close()
    return TwinMeter.restore(SETTINGS, json.loads(row[0]), profile, daily)


def check_consistent(meter: TwinMeter) -> None:
    for ch in Channel:
        log = meter.profiles[ch]
        ends = [end for end, _ in log.items()]
        if not ends:
            continue
        assert all(end % 1800 == 0 for end in ends)
        assert ends == list(range(ends[0], ends[-1] + 1, 1800)), "profile ends are not contiguous"
        assert ends[-1] <= meter.time
        assert sum(v for _, v in log.items() if v is not None) <= meter.reading(ch)
    days = meter.daily.items()
    for (_, a), (_, b) in zip(days, days[1:]):
        assert all(y >= x for x, y in zip(a, b))
    if days:
        assert all(x <= y for x, y in zip(days[-1][1], meter.readings()))


def test_kill_nine_the_running_emulator_repeatedly(tmp_path: Path) -> None:
    db, errors = tmp_path / "state.db", tmp_path / "child-stderr.txt"
    rng = random.Random(9)
    history: list[tuple[int, ...]] = []  # readings acknowledged, run after run
    times: list[float] = []
    with errors.open("wb") as errors_out:
        runs = Runs(db, tmp_path, errors_out)
        try:
            for _ in range(KILLS):
                with runs.child() as pid:
                    # Wait for this run's first save of its own, then let it run a random while.
                    deadline = time.monotonic() + 20
                    while True:
                        assert running(pid), errors.read_text() or "child died"
                        seen = committed(db) if db.exists() else None
                        if seen is not None and (not times or seen.time > times[-1]):
                            break
                        assert time.monotonic() < deadline, "no save within 20 s"
                        time.sleep(0.02)
                    time.sleep(rng.uniform(0.0, 0.4))
                    acknowledged = committed(db)
                    assert acknowledged is not None
                check_run(db, acknowledged, history, times)
        finally:
            runs.close()
    assert len(history) == KILLS
    assert times == sorted(times) and times[-1] > times[0]  # it ran on between kills
    print(f"{KILLS} kills; meter time advanced {times[-1] - times[0]:.0f} s; final readings {history[-1]}")
    assert history[-1] > history[0]


def check_run(db: Path, acknowledged: TwinMeter, history: list[tuple[int, ...]], times: list[float]) -> None:
    """After a kill: what the database holds against what was acknowledged and what earlier runs reached."""
    previous = history[-1] if history else None
    store = StateStore(db)
    meter = store.load(SETTINGS)
    store.close()
    assert meter is not None
    # Nothing acknowledged is lost ...
    assert all(now >= ack for now, ack in zip(meter.readings(), acknowledged.readings()))
    assert meter.time >= acknowledged.time
    for ch in Channel:
        assert set(acknowledged.profiles[ch].items()) <= set(meter.profiles[ch].items())
    # ... registers never went backwards over all the runs ...
    if previous is not None:
        assert all(now >= before for now, before in zip(meter.readings(), previous))
    # ... and the logs hold together.
    check_consistent(meter)
    history.append(meter.readings())
    times.append(meter.time)
