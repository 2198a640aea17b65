"""Backfill in the pure meter: the scenario run over the past on a 300 s grid,
the same as a normal run at that resolution, with the meter's own logs filled."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from han_emu.meter.clock import parse_duration
from han_emu.meter.gbtime import local_datetime
from han_emu.meter.model import Channel, TwinMeter
from han_emu.meter.profile import PERIOD
from han_emu.meter.scenario import Scenario
from han_emu.meter.settings import MeterSettings
from han_emu.meter.simulate import BACKFILL_STEP_S, backfill, backfill_limit, check_backfill, run, step

START = datetime(2026, 6, 1, tzinfo=timezone.utc).timestamp()  # on the 300 s grid
SETTINGS = MeterSettings().validate()


def state(meter: TwinMeter) -> tuple:
    """Everything a run leaves in the meter: registers, tier registers, logs, clock."""
    return (
        meter.time,
        meter.readings(),
        {n: (e.import_tiers, e.export_tiers, e.reactive_import_varh) for n, e in meter.elements.items()},
        [list(p.items()) for p in meter.profiles],
        meter.daily.items(),
    )


def test_a_backfill_is_a_normal_run_at_its_resolution_value_for_value() -> None:
    filled, normal = TwinMeter(SETTINGS, START), TwinMeter(SETTINGS, START)
    backfill(filled, Scenario(), START + 3 * 86400)
    run(normal, Scenario(), START + 3 * 86400, BACKFILL_STEP_S)
    assert state(filled) == state(normal)
    assert filled.reading(Channel.SECONDARY_EXPORT) > 0


def test_from_off_the_grid_the_first_step_ends_on_it() -> None:
    begin, until = START + 17.5, START + 2 * 86400 + 40
    filled = TwinMeter(SETTINGS, begin)
    backfill(filled, Scenario(), until)
    by_hand, scenario = TwinMeter(SETTINGS, begin), Scenario()
    step(by_hand, scenario, START + BACKFILL_STEP_S)  # up to the grid, then on it
    run(by_hand, scenario, START + 2 * 86400, BACKFILL_STEP_S)
    step(by_hand, scenario, until)
    assert filled.time == until
    assert state(filled) == state(by_hand)


def test_a_backfill_fills_every_log_from_its_first_reading() -> None:
    meter = TwinMeter(SETTINGS, START)
    backfill(meter, Scenario(), START + 10 * 86400)
    for ch in Channel:
        log = meter.profiles[ch]
        assert log.oldest_end == START + PERIOD and log.newest_end == START + 10 * 86400
        assert len(log) == 10 * 48 and None not in dict(log.items()).values()
    # 11 local midnights from 1 June 01:00 BST (the first reading) to 11 June: 11 daily rows.
    first_day = local_datetime(START).date()
    assert [d for d, _ in meter.daily.items()] == [first_day + timedelta(days=i) for i in range(11)]
    assert meter.daily.day(meter.today(), 1, meter.reading(Channel.PRIMARY_EXPORT), back=8) is not None
    assert sum(meter.elements["secondary"].export_tiers) == pytest.approx(meter.elements["secondary"].export_wh)


def test_backfill_limit_is_the_longest_log() -> None:
    assert backfill_limit(SETTINGS) == 450 * 86400
    assert backfill_limit(replace(SETTINGS, daily_capacity=30)) == 4416 * PERIOD  # the profile's 92 days
    assert check_backfill(400 * 86400, SETTINGS) == 400 * 86400
    with pytest.raises(ValueError, match="^451 days is more history than the meter keeps: at most 450 days"):
        check_backfill(451 * 86400, SETTINGS)


@pytest.mark.parametrize(("text", "seconds"), [("400d", 400 * 86400), ("90", 90), ("15m", 900), (" 2H ", 7200)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(("text", "message"), [
    ("soon", "not a duration: 'soon' (try 90, 90s, 15m, 24h or 3d)"),
    ("0d", "'0d': a duration must be more than zero (and finite)"),
    ("-1h", "'-1h': a duration must be more than zero (and finite)"),
    ("infd", "'infd': a duration must be more than zero (and finite)"),
])
def test_bad_durations_say_why(text: str, message: str) -> None:
    with pytest.raises(ValueError) as exc:
        parse_duration(text)
    assert str(exc.value) == message
