"""The state database's safeguards in the library: what a path holds, the
process lock, and the clock resynchronised with the logs kept consistent."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from han_emu.han.statefile import APPLICATION_ID, NotStateError, StateLock, examine, holder, lock_path
from han_emu.han.store import OtherMeterError, StateStore
from han_emu.meter.model import Channel, Flow, TwinMeter
from han_emu.meter.settings import PRIMARY, SECONDARY, MeterSettings

START = 1_780_000_000.0
SETTINGS = MeterSettings().validate()


def test_examine_tells_what_a_path_holds_and_changes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    assert examine(db) == "absent" and not db.exists()
    db.write_bytes(b"")
    assert examine(db) == "empty"
    StateStore(db).close()
    assert examine(db) == "han-emu"
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    con.execute("PRAGMA application_id = 0")
    con.commit()
    con.close()
    assert examine(db) == "han-emu unmarked"
    before = sorted(p.name for p in tmp_path.iterdir())
    other = tmp_path / "other.db"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE meta (k)")  # one table of the same name is not enough
    con.commit()
    con.close()
    with pytest.raises(NotStateError, match="tables meta"):
        StateStore(other, exclusive=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*before, "other.db"])


def test_the_lock_is_one_owner_per_process_and_released_with_the_last_holder(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    first = StateStore(db, exclusive=True)
    second = StateStore(db, exclusive=True)  # the same process (the dashboard's thread): allowed
    assert str(os.getpid()) in (holder(db) or "")
    first.close()
    assert holder(db) is not None
    second.close()
    second.close()  # twice is harmless
    assert holder(db) is None and lock_path(db).read_text() == ""
    StateLock.take(db).release()


def test_another_meter_is_refused_until_adopted(tmp_path: Path) -> None:
    from dataclasses import replace

    store = StateStore(tmp_path / "m.db")
    store.save(TwinMeter(SETTINGS, START))
    other = replace(SETTINGS, serial="OTHER")
    with pytest.raises(OtherMeterError, match="meter.serial is HANEMU0000000001 there, OTHER here"):
        store.load(other)
    assert store.load(other, adopt=True) is not None
    assert store.load(other) is not None  # adopted for good
    store.close()


def _consistent(meter: TwinMeter) -> None:
    for ch in Channel:
        ends = [end for end, _ in meter.profiles[ch].items()]
        assert ends == list(range(ends[0], ends[-1] + 1, 1800)) and ends[-1] <= meter.time
        assert sum(v for _, v in meter.profiles[ch].items() if v is not None) <= meter.reading(ch)
    days = meter.daily.items()
    for (_, a), (_, b) in zip(days, days[1:]):
        assert all(y >= x for x, y in zip(a, b))
    assert all(x <= y for x, y in zip(days[-1][1], meter.readings()))


def test_resync_brings_the_clock_back_and_registers_never_decrease(tmp_path: Path) -> None:
    meter = TwinMeter(SETTINGS, START)
    meter.set_flow(PRIMARY, Flow(import_w=800))
    meter.set_flow(SECONDARY, Flow(export_w=2500))
    meter.advance(START + 3 * 86400 + 1000)  # three days ahead of "now" below
    store = StateStore(tmp_path / "m.db", snapshot_every=0)
    store.save(meter)
    ahead = meter.readings()
    now = START + 7 * 3600 + 600
    assert store.resync_clock(now) == pytest.approx(3 * 86400 + 1000 - 7 * 3600 - 600)
    assert store.resync_clock(now) == 0.0  # once is enough
    back = store.load(SETTINGS)
    assert back is not None and back.time == now and back.readings() == ahead
    assert back.partial_interval(Channel.SECONDARY_EXPORT)[1] == 0  # the interval in progress starts afresh
    # ... at ``now``, inside it: a partial interval (as the meter's first one was), nothing later marked.
    assert back.partial_interval(Channel.SECONDARY_EXPORT)[0] == now
    assert back.partial_ends() == [(START // 1800 + 1) * 1800, (now // 1800 + 1) * 1800]
    _consistent(back)
    back.resume(now + 7200)  # the next run, two hours later, and on
    back.set_flow(PRIMARY, Flow(import_w=500))
    back.set_flow(SECONDARY, Flow(export_w=1000))
    back.advance(now + 2 * 86400)
    assert all(b >= a for a, b in zip(ahead, back.readings())) and back.readings() != ahead
    _consistent(back)
    store.save(back)
    store.close()
    again = StateStore(tmp_path / "m.db").load(SETTINGS)
    assert again is not None and again.readings() == back.readings()
    _consistent(again)
