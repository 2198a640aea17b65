"""The state database keeps what the history fixes added (the first reading,
partial intervals, the export TOU registers of the daily log), and a database
written before them still loads."""

from __future__ import annotations

import json
import sqlite3
from datetime import date, datetime, timezone
from pathlib import Path

from han_emu.han.store import StateStore
from han_emu.meter.model import Channel, Flow, TwinMeter
from han_emu.meter.settings import SECONDARY, MeterSettings


def ts(*args: int) -> float:
    return datetime(*args, tzinfo=timezone.utc).timestamp()


def _run(tmp_path: Path) -> tuple[MeterSettings, TwinMeter]:
    settings = MeterSettings().validate()
    m = TwinMeter(settings, ts(2026, 12, 3, 10, 12))
    m.set_flow(SECONDARY, Flow(export_w=1000.0))
    store = StateStore(tmp_path / "m.db")
    for hour in range(1, 40):
        m.advance(ts(2026, 12, 3, 10, 12) + hour * 3600)
        store.save(m)
    store.close()
    return settings, m


def test_export_tiers_partial_intervals_and_first_reading_survive_a_restart(tmp_path: Path) -> None:
    settings, m = _run(tmp_path)
    again = StateStore(tmp_path / "m.db").load(settings)
    assert again is not None
    assert again.daily.export_tiers(date(2026, 12, 4)) == m.daily.export_tiers(date(2026, 12, 4))
    assert again.daily.export_tiers(date(2026, 12, 4)) == (0, 5800, 3000, 5000)  # from 10:12
    assert again.partial_ends() == [int(ts(2026, 12, 3, 10, 30))]
    assert again.first_reading == m.first_reading
    now = again.reading(Channel.SECONDARY_EXPORT)
    assert again.daily.week(again.today(), Channel.SECONDARY_EXPORT, now) == now


def test_state_saved_before_the_fixes_still_loads(tmp_path: Path) -> None:
    settings, m = _run(tmp_path)
    con = sqlite3.connect(tmp_path / "m.db")
    core = json.loads(con.execute("SELECT state FROM core WHERE id = 1").fetchone()[0])
    for key in ("first_reading", "tariff_since", "tariffs", "measuring_since", "partial_ends"):
        del core[key]
    con.execute("UPDATE core SET state = ? WHERE id = 1", (json.dumps(core),))
    for day, readings in con.execute("SELECT day, readings FROM daily").fetchall():
        con.execute("UPDATE daily SET readings = ? WHERE day = ?", (json.dumps(json.loads(readings)[:4]), day))
    con.commit()
    con.close()
    again = StateStore(tmp_path / "m.db").load(settings)
    assert again is not None
    assert again.readings() == m.readings()
    assert again.daily.export_tiers(date(2026, 12, 4)) is None  # not logged then
    assert again.partial_ends() == []
    # The first reading is the oldest day of a log that never overflowed.
    assert again.daily.first_day == date(2026, 12, 3)
    now = again.reading(Channel.SECONDARY_EXPORT)
    assert again.daily.week(again.today(), Channel.SECONDARY_EXPORT, now) == now
