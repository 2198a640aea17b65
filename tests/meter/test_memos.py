"""The meter's memos give what the computations they stand for give.

The GB local minute is made once per UTC minute, and the scenario keeps its
daily shape, noise, season and cloud by what they depend on; a simulation asks
for them every few seconds.  Here each is held to the plain computation, over
times that cross days, DST switches and the instants just short of a minute
(where a time rounds to the next microsecond's minute).
"""

from __future__ import annotations

import random
from datetime import datetime, timezone

from han_emu.meter.gbtime import bst_window, local_date, local_datetime, local_minute
from han_emu.meter.scenario import Scenario, ScenarioSettings

START = datetime(2026, 6, 1, tzinfo=timezone.utc).timestamp()


def _times() -> list[float]:
    rng = random.Random(19)
    times = [START + rng.uniform(-400, 400) * 86400 for _ in range(3000)]
    for year in (2025, 2026, 2027):  # around both DST switches, to the microsecond
        for switch in bst_window(year):
            times += [switch + d for d in (-60.0, -1e-6, -2.4e-7, 0.0, 1e-6, 59.9999999, 60.0)]
    minute = 1780358400.0  # a whole minute: just short of it, in float steps
    times += [minute - d for d in (1e-3, 1e-4, 1e-5, 1e-6, 5e-7, 2.4e-7, 0.0)]
    return times


def test_local_minute_is_local_datetime_to_the_minute() -> None:
    for ts in _times():
        whole = local_datetime(ts)
        assert local_minute(ts) == whole.replace(second=0, microsecond=0), ts
        assert local_date(ts) == whole.date(), ts


def test_the_scenario_memos_give_the_plain_figures() -> None:
    """A scenario that has seen many times gives, at each, what a new one gives
    (a new one computes everything afresh), to the last bit."""
    used = Scenario(ScenarioSettings(seed=3))
    for ts in sorted(_times()):
        fresh = Scenario(ScenarioSettings(seed=3))
        assert used.house_load_w(ts) == fresh.house_load_w(ts)
        assert used.solar_fraction(ts) == fresh.solar_fraction(ts)
        local = local_minute(ts)
        assert used.house_load_w(ts, local) == fresh.house_load_w(ts, local_datetime(ts))


def test_new_settings_are_not_answered_from_the_old_memos() -> None:
    scenario = Scenario(ScenarioSettings(seed=1))
    times = [START + n * 300.0 + 17 for n in range(300)]
    before = [scenario.house_load_w(ts) for ts in times]
    scenario.settings = ScenarioSettings(seed=2, power_factor=0.8)
    other = Scenario(ScenarioSettings(seed=2, power_factor=0.8))
    assert [scenario.house_load_w(ts) for ts in times] == [other.house_load_w(ts) for ts in times] != before
    assert scenario.flows(times[0]) == other.flows(times[0])


def test_flows_stepped_through_a_day_match_a_scenario_without_memos() -> None:
    """The flows a 10 s run sees: the memoised scenario against one whose memos
    are emptied before every step."""
    a, b = Scenario(), Scenario()
    for n in range(0, 86400, 10):
        ts = START + n + 0.25
        b.settings = b.settings  # empties its memos
        assert a.flows(ts, cheap_tier=n % 7 == 0) == b.flows(ts, cheap_tier=n % 7 == 0)
        assert a.battery_wh == b.battery_wh
