"""The meter runner both HANs share: how the meter is stepped, when it is
saved, how a failing store is reported (the same way from the virtual and the
hardware HAN), and where a run's meter comes from."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest

from han_emu.han.config import load
from han_emu.han.hardware import HardwareHan
from han_emu.han.runner import MeterRunner, open_meter
from han_emu.han.store import StateStore, StoreError
from han_emu.han.virtual import VirtualHan
from han_emu.meter.clock import VirtualClock
from han_emu.meter.model import TwinMeter
from han_emu.meter.scenario import Scenario
from han_emu.meter.simulate import run
from han_emu.radio.backend import parse_radio
from han_emu.radio.fakencp.znp.server import FakeZnpServer
from han_emu.radio.vtime import clock_for_loop, run_virtual

START = 1_780_272_000.0  # 2026-06-01T00:00:00Z
RUNNER_LOGGER = "han_emu.han.runner"


def read_only(store: StateStore, on: bool) -> None:
    """The store's database refuses writes (a disk gone read-only), or takes them again."""
    store._db.execute(f"PRAGMA query_only = {int(on)}")


def store_records(caplog: pytest.LogCaptureFixture) -> list[tuple[str, int, str]]:
    """What was logged about saving: (logger, level, message with the path taken out)."""
    return [(r.name, r.levelno, r.getMessage().split(": ", 1)[-1])
            for r in caplog.records if r.levelno >= logging.WARNING and "sav" in r.getMessage()]


# -- stepping ---------------------------------------------------------------------------------

def test_drive_brings_the_meter_to_the_clock_in_steps_of_at_most_step_s() -> None:
    config = load(None)
    clock = VirtualClock(START)
    meter = TwinMeter(config.meter, START)
    runner = MeterRunner(meter, Scenario(config.scenario), clock=clock, step_s=300)
    clock.advance(5 * 3600 + 100)
    runner.drive()
    assert meter.time == clock.now()
    # The same as the scenario run in 300 s steps.
    expected = TwinMeter(config.meter, START)
    run(expected, Scenario(config.scenario), clock.now(), 300)
    assert meter.readings() == expected.readings()
    runner.drive()  # up to date: nothing more
    assert meter.readings() == expected.readings()


def test_the_runner_steps_and_saves_on_its_policy_and_saves_on_stop(tmp_path: Path) -> None:
    config = load(None)
    meter = TwinMeter(config.meter, START)
    store = StateStore(tmp_path / "m.db", snapshot_every=0)
    steps: list[float] = []
    kept: list[float] = []

    async def main() -> MeterRunner:
        runner = MeterRunner(meter, Scenario(config.scenario), clock=clock_for_loop(), store=store,
                             step_s=60, save_every_s=600,
                             on_step=lambda: steps.append(meter.time), save_also=lambda: kept.append(meter.time))
        runner.start()
        await asyncio.sleep(3630)
        assert runner.saves == 6  # at 600, 1200, ... 3600 s
        await runner.stop()
        await asyncio.sleep(100)  # stopped: no more steps
        runner.save_on_stop()
        return runner

    runner = run_virtual(main(), START)
    assert steps == [START + 60 * i for i in range(61)]  # one step a minute, the HAN told each time
    assert kept == [START + 600 * i for i in range(1, 7)] + [START + 3730]  # the last one at stop
    assert runner.saves == 7 and not runner.failing
    assert meter.time == START + 3730  # brought up to the clock before the last save
    saved = store.load(config.meter)
    assert saved is not None and saved.time == meter.time
    store.close()


def test_without_a_store_nothing_is_saved_and_stopping_before_starting_is_harmless() -> None:
    config = load(None)
    meter = TwinMeter(config.meter, START)
    runner = MeterRunner(meter, Scenario(config.scenario))
    assert runner.save() is True and runner.saves == 0
    asyncio.run(runner.stop())
    runner.save_on_stop()  # no clock yet: the meter stays where it is
    assert meter.time == START


# -- a failing store ----------------------------------------------------------------------------

def test_a_failing_store_is_reported_once_and_its_recovery_once(tmp_path: Path,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    config = load(None)
    clock = VirtualClock(START)
    store = StateStore(tmp_path / "m.db", snapshot_every=0)
    runner = MeterRunner(TwinMeter(config.meter, START), Scenario(config.scenario), clock=clock, store=store)
    assert runner.save()
    read_only(store, True)
    assert not runner.save() and not runner.save_meta("k", "v") and not runner.save()
    assert runner.failing and runner.saves == 1
    with pytest.raises(StoreError):  # the last save is not retried: the caller hears of it
        runner.save_on_stop()
    read_only(store, False)
    assert runner.save() and runner.save_meta("k", "v")
    assert not runner.failing and runner.saves == 2 and store.meta("k") == "v"
    assert store_records(caplog) == [
        (RUNNER_LOGGER, logging.ERROR, "attempt to write a readonly database; "
                                       "the meter keeps running and saving is retried"),
        (RUNNER_LOGGER, logging.WARNING, "state saved again after earlier failures"),
    ]
    store.close()


def test_both_hans_report_a_failing_store_the_same_way(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = load(None)

    async def virtual() -> None:
        store = StateStore(tmp_path / "virtual.db", snapshot_every=0)
        han = VirtualHan(config, TwinMeter(config.meter, START), store=store, devices=[], cbke=False, step_s=60)
        await han.start()
        await han.run_for(600)
        read_only(store, True)
        await han.run_for(3600)
        assert han.runner.failing
        read_only(store, False)
        await han.run_for(600)
        await han.stop()
        store.close()

    async def hardware() -> None:
        store = StateStore(tmp_path / "hardware.db", snapshot_every=0)
        fake = FakeZnpServer(state_path=tmp_path / "znp.json")
        await fake.start()
        han = HardwareHan(config, TwinMeter(config.meter, time.time()),
                          parse_radio(f"znp:socket://127.0.0.1:{fake.port}"), store=store,
                          step_s=0.02, save_every_s=0.05)
        try:
            await han.start()
            read_only(store, True)
            async with asyncio.timeout(5):
                while not han.runner.failing:
                    await asyncio.sleep(0.02)
            await asyncio.sleep(0.3)  # several failed saves
            read_only(store, False)
            async with asyncio.timeout(5):
                while han.runner.failing:
                    await asyncio.sleep(0.02)
        finally:
            await han.stop()
            await fake.close()
            store.close()

    run_virtual(virtual(), START)
    from_virtual = store_records(caplog)
    caplog.clear()
    asyncio.run(hardware())
    from_hardware = store_records(caplog)
    assert from_virtual == from_hardware == [
        (RUNNER_LOGGER, logging.ERROR, "attempt to write a readonly database; "
                                       "the meter keeps running and saving is retried"),
        (RUNNER_LOGGER, logging.WARNING, "state saved again after earlier failures"),
    ]


# -- where the meter comes from -----------------------------------------------------------------

def test_open_meter_starts_new_resumes_saved_or_keeps_nothing(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    config = load(None)
    meter, store = open_meter(config, "none", START)
    assert store is None and meter.time == START

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    meter, store = open_meter(config, None, START)  # the user's state directory by default
    assert store is not None and store.path == tmp_path / "state" / "han-emu" / "meter.db"
    assert meter.time == START
    meter.advance(START + 3600)
    store.save(meter)
    store.close()

    again, store = open_meter(config, None, START + 7200)  # resumed where it was saved, then now
    assert store is not None
    assert again.readings() == meter.readings() and again.time == START + 7200
    store.close()
