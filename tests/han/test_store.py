"""Persistence: restarts and kill -9 at any moment keep consistent state."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from han_emu.meter.model import Channel, Flow, TwinMeter
from han_emu.meter.settings import MeterSettings, SECONDARY
from han_emu.han.store import StateStore, StoreError

START = datetime(2026, 9, 1, tzinfo=timezone.utc).timestamp()
REPO = Path(__file__).resolve().parents[2]


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    settings = MeterSettings().validate()
    m = TwinMeter(settings, START)
    m.set_flow(SECONDARY, Flow(import_w=50.0, export_w=1500.0))
    store = StateStore(tmp_path / "m.db")
    for hour in range(1, 30):
        m.advance(START + hour * 3600 + 600)
        store.save(m)
    store.close()

    again = StateStore(tmp_path / "m.db").load(settings)
    assert again is not None
    assert again.readings() == m.readings()
    assert again.time == m.time
    assert again.elements[SECONDARY].export_tiers == m.elements[SECONDARY].export_tiers
    for ch in Channel:
        assert list(again.profiles[ch].items()) == list(m.profiles[ch].items())
    assert again.daily.items() == m.daily.items()
    assert again.partial_interval(Channel.SECONDARY_EXPORT) == m.partial_interval(Channel.SECONDARY_EXPORT)


def test_database_is_owner_only(tmp_path: Path) -> None:
    StateStore(tmp_path / "m.db").close()
    assert (tmp_path / "m.db").stat().st_mode & 0o077 == 0


def test_corrupt_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="m.db"):
        StateStore(path).load(MeterSettings())


def test_state_of_another_tariff_shape_is_refused(tmp_path: Path) -> None:
    from dataclasses import replace
    from decimal import Decimal

    from han_emu.meter.settings import ElementSettings
    from han_emu.meter.tariff import SwitchingTable, Tariff

    settings = MeterSettings().validate()
    store = StateStore(tmp_path / "m.db")
    store.save(TwinMeter(settings, START))
    store.close()
    three = Tariff("x", (Decimal(1),) * 3, SwitchingTable.flat())
    other = replace(settings, primary=ElementSettings(three))
    with pytest.raises(StoreError, match="primary element has 2 import"):
        StateStore(tmp_path / "m.db").load(other)


CHILD = r"""
import json, sys
from han_emu.meter.model import TwinMeter
from han_emu.meter.scenario import Scenario
from han_emu.meter.settings import MeterSettings
from han_emu.meter.simulate import step
from han_emu.han.store import StateStore

settings = MeterSettings().validate()
store = StateStore(sys.argv[1])
meter = store.load(settings)
if meter is None:
    meter = TwinMeter(settings, float(sys.argv[2]))
scenario = Scenario()
while True:
    for _ in range(20):
        step(meter, scenario, meter.time + 300)
    store.save(meter)
    print(json.dumps(meter.readings()), flush=True)
"""


def _check_consistent(meter: TwinMeter) -> None:
    for ch in Channel:
        log = meter.profiles[ch]
        assert log.newest_end is None or log.newest_end <= meter.time
        if log.newest_end is not None:
            assert len(log) == min(log.capacity, (log.newest_end - log.oldest_end) // 1800 + 1)
        total = sum(v for _, v in log.items() if v is not None)
        assert total <= meter.reading(ch)
    days = meter.daily.items()
    for (_, a), (_, b) in zip(days, days[1:]):
        assert all(y >= x for x, y in zip(a, b))
    assert all(x <= y for x, y in zip(days[-1][1], meter.readings()))


def test_kill_nine_at_random_moments_loses_nothing_acknowledged(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    rng = random.Random(1234)
    acknowledged: tuple[int, ...] = (0, 0, 0, 0)
    settings = MeterSettings().validate()
    for _ in range(6):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(db), str(START)],
            stdout=subprocess.PIPE, env=env, text=True,
        )
        assert child.stdout is not None
        lines = 0
        wanted = rng.randint(2, 12)
        while lines < wanted:
            line = child.stdout.readline()
            assert line, "child died"
            acknowledged = tuple(json.loads(line))
            lines += 1
        time.sleep(rng.random() * 0.05)  # land somewhere inside the next save
        child.send_signal(signal.SIGKILL)
        child.wait()
        store = StateStore(db)
        meter = store.load(settings)
        store.close()
        assert meter is not None
        assert all(now >= ack for now, ack in zip(meter.readings(), acknowledged))
        _check_consistent(meter)


def test_integrity_check_passes_after_kills(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(db), str(START)], stdout=subprocess.PIPE, env=env)
    assert child.stdout is not None
    for _ in range(3):
        child.stdout.readline()
    child.kill()
    child.wait()
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
