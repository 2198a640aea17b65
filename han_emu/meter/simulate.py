"""Drive a meter with a scenario through time (virtual or live steps), and
backfill the history a meter would have had before it is served."""

from __future__ import annotations

from han_emu.meter.model import TwinMeter
from han_emu.meter.profile import PERIOD
from han_emu.meter.scenario import Scenario
from han_emu.meter.settings import PRIMARY, MeterSettings


def step(meter: TwinMeter, scenario: Scenario, to: float) -> None:
    """Set the flows the scenario gives for the meter's current time, then
    integrate them up to ``to``."""
    imp_tariff = meter.tariff(PRIMARY, "import")
    cheap = imp_tariff.tiers > 1 and meter.active_tier(PRIMARY, "import") == _cheapest(imp_tariff)
    for name, flow in scenario.flows(meter.time, cheap_tier=cheap).items():
        meter.set_flow(name, flow)
    meter.advance(to)


def run(meter: TwinMeter, scenario: Scenario, until: float, step_s: float = 300.0) -> None:
    """Advance ``meter`` to ``until`` in steps of ``step_s`` seconds."""
    if step_s <= 0:
        raise ValueError("step must be positive")
    while meter.time < until:
        step(meter, scenario, min(until, meter.time + step_s))


BACKFILL_STEP_S = 300.0
"""The scenario's resolution in a backfill: its load noise changes every 300 s
(its slot) and its cloud every half-hour, so stepping per slot samples every
one of them once; 30 times fewer steps than the runner's 10 s live steps."""


def backfill(meter: TwinMeter, scenario: Scenario, until: float, step_s: float = BACKFILL_STEP_S) -> None:
    """Run ``scenario`` on ``meter`` up to ``until`` in steps on a ``step_s``
    grid (the first one ends on the grid), as fast as the meter goes.

    The meter closes its profile intervals, TOU tiers and daily readings
    exactly as in a live run; only the flows are sampled once per step.  From
    a meter time on the grid this is :func:`run` with the same ``step_s``,
    value for value."""
    if step_s <= 0:
        raise ValueError("step must be positive")
    while meter.time < until:
        step(meter, scenario, min(until, (meter.time // step_s + 1) * step_s))


def backfill_limit(settings: MeterSettings) -> float:
    """The longest backfill worth running: what the meter's longest log keeps
    (the daily readings' days, or the profile's half-hours if longer).  Any
    more would be written and pushed out of the logs again."""
    return float(max(settings.daily_capacity * 86400, settings.profile_capacity * PERIOD))


def check_backfill(seconds: float, settings: MeterSettings) -> float:
    """``seconds`` if a backfill that long fits the meter's logs, else ValueError (one line)."""
    limit = backfill_limit(settings)
    if seconds > limit:
        raise ValueError(f"{seconds / 86400:g} days is more history than the meter keeps: at most "
                         f"{limit / 86400:g} days (meter.daily_capacity and meter.profile_capacity)")
    return seconds


def _cheapest(tariff) -> int:
    prices = tariff.prices
    return prices.index(min(prices)) + 1
