"""A live dashboard run serves the wall clock: speeding it up lets the state database go."""

from __future__ import annotations

import time
from pathlib import Path

from han_emu.han.config import load
from han_emu.han.runner import open_meter
from han_emu.han.statefile import holder
from han_emu.han.store import StateStore
from han_emu.han.virtual import VirtualHan
from han_emu.tui.han_thread import HanRunner


def test_speeding_up_a_live_run_keeps_the_saved_meter_on_the_wall_clock(tmp_path: Path) -> None:
    config = load(None)
    db = tmp_path / "m.db"
    now = time.time()

    def make_han() -> VirtualHan:
        meter, store = open_meter(config, str(db), now)
        return VirtualHan(config, meter, store=store, devices=[])

    runner = HanRunner(make_han, now, 1.0, paused=True)  # paused: the key is handled on the app's thread
    source = runner.start()
    try:
        assert runner.han is not None and runner.han.store is not None and holder(db) is not None
        runner.set_speed(60)
        assert runner.han.store is None and holder(db) is None  # saved once more, then let go
        snap = source.snapshot()
        assert "throwaway" in snap.source and "state not saved" in snap.source
        assert any("Sped up" in message for _, message in snap.notices)
        runner.set_speed(1)  # back at x1 the meter clock may be ahead already: still a throwaway
        assert runner.han.store is None
        runner.resume()
        runner.set_speed(3600)
        time.sleep(0.5)  # a fixed interval on purpose: half an hour of meter time that must not be saved
    finally:
        runner.stop()
    store = StateStore(db)
    meter = store.load(config.meter)
    store.close()
    assert meter is not None and meter.time <= time.time() + 5


def test_a_run_started_sped_up_keeps_saving(tmp_path: Path) -> None:
    """``--speed`` asked for on the command line is honoured (and warned about there)."""
    config = load(None)
    db = tmp_path / "m.db"
    now = time.time()

    def make_han() -> VirtualHan:
        meter, store = open_meter(config, str(db), now)
        return VirtualHan(config, meter, store=store, devices=[])

    runner = HanRunner(make_han, now, 600.0)
    runner.start()
    try:
        runner.set_speed(3600)
        assert runner.han is not None and runner.han.store is not None
    finally:
        runner.stop()
