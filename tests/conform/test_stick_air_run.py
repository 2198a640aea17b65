"""A conformance run on an emulated stick with a simulated display on its air.

The whole ``han-emu conform --radio`` path without hardware: the emulated
NCP (Z-Stack or EZSP) is the coordinator of a virtual air where a simulated
IHD waits for the network to open; the run admits it by its install code,
and it joins, runs CBKE with the host and polls the ESIs through the real
radio library.  A short plan with a tier switch, on quick poll settings, so
that a good display passes every check within a few seconds of wall time.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from han_emu.sim.schedule import DeviceSettings
from tests.conform.stick_air import run_on_stick_air
from tests.radio.stick_support import quick_ezsp_reset

#: Demand every second, prices once at start (GetCurrentPrice with the
#: receiver-on-when-idle bit: the display is then pushed new prices).
QUICK = DeviceSettings("ihd", "IHD", demand_s=1.0, registers_s=0, prices_s=600, profile_s=0, history_s=0,
                       time_s=0, report=False)
PLAN = {
    "name": "stick-air", "duration": "6s", "dut": "ihd",
    "event": [{"at": "+2s", "kind": "tier-switch", "element": "primary"}],
    "check": [
        {"type": "discovers-endpoint", "name": "discovers the secondary ESI", "endpoint": "secondary"},
        {"type": "completes-cbke", "name": "completes CBKE"},
        {"type": "reads-attribute", "name": "reads demand", "endpoint": "primary", "cluster": "Metering",
         "attribute": "instantaneous_demand", "every_s": 2},
        {"type": "follows-price-change", "name": "follows the tier switch", "within_s": 3},
    ],
}


@pytest.fixture(autouse=True)
def _quick_reset(monkeypatch) -> None:
    quick_ezsp_reset(monkeypatch)


@pytest.mark.parametrize("kind", ["znp", "ezsp"])
async def test_a_good_display_on_the_stick_air_passes_every_check(kind: str, tmp_path: Path) -> None:
    run, log = await run_on_stick_air(kind, PLAN, tmp_path, QUICK, request_timeout=2.0)
    verdicts = run.status.verdicts
    assert [v.passed for v in verdicts] == [True] * len(PLAN["check"]), [(v.spec.name, v.seen) for v in verdicts]
    # The stick answers Match_Desc itself: the check says what it could and could not see.
    assert "not visible from the host" in verdicts[0].seen
    # The tier switch reached the display as a push (it asked GetCurrentPrice with receiver-on-when-idle).
    (switch,) = log.events
    assert switch.outcome["published_to"] == 1 and "PublishPrice accepted" in verdicts[3].seen
    # No capture: no frame numbers; run times never go backwards (join and CBKE, if before the plan, < 0).
    assert all(o.frame is None for o in log.observations) and all(not v.frames for v in verdicts)
    times = [o.time for o in log.observations]
    assert times == sorted(times)


@pytest.mark.parametrize("kind", ["znp", "ezsp"])
async def test_a_display_that_binds_price_is_pushed_the_tier_switch_on_the_stick(kind: str, tmp_path: Path) -> None:
    """The display binds the primary ESI's Price cluster (ZDO Bind_req, which the
    stick's own stack answers) and asks GetCurrentPrice without the
    receiver-on-when-idle bit: the tier switch still reaches it, by the binding."""
    bound = dataclasses.replace(QUICK, bind_price=True)
    run, log = await run_on_stick_air(kind, PLAN, tmp_path, bound, request_timeout=2.0)
    verdicts = run.status.verdicts
    assert [v.passed for v in verdicts] == [True] * len(PLAN["check"]), [(v.spec.name, v.seen) for v in verdicts]
    (switch,) = log.events
    assert switch.outcome["published_to"] == 1 and "PublishPrice accepted" in verdicts[3].seen
