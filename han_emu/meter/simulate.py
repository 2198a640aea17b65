"""Drive a meter with a scenario through time (virtual or live steps)."""

from __future__ import annotations

from han_emu.meter.model import TwinMeter
from han_emu.meter.scenario import Scenario
from han_emu.meter.settings import PRIMARY


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


def _cheapest(tariff) -> int:
    prices = tariff.prices
    return prices.index(min(prices)) + 1
