"""A meter restart in a conformance run on an emulated stick.

The ESI on the stick goes silent, the meter is read back from the run's
state store and served by a new ESI server on the same network: the
display, admitted and authorised by CBKE before the restart, is served
again without rejoining or redoing key establishment.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from han_emu.sim.schedule import DeviceSettings
from tests.conform.stick_air import run_on_stick_air
from tests.radio.stick_support import quick_ezsp_reset

#: Demand every half second: the display asks during the silence and after it.
QUICK = DeviceSettings("ihd", "IHD", demand_s=0.5, registers_s=0, prices_s=0, profile_s=0, history_s=0,
                       time_s=0, report=False)
DOWN_S = 3.0
PLAN = {
    "name": "stick-restart", "duration": "8s", "dut": "ihd",
    "event": [{"at": "+1.5s", "kind": "meter-restart", "down_s": DOWN_S}],
    "check": [
        {"type": "completes-cbke", "name": "completes CBKE"},
        {"type": "recovers-after-restart", "name": "served again after the restart", "within_s": 3},
    ],
}


@pytest.fixture(autouse=True)
def _quick_reset(monkeypatch) -> None:
    quick_ezsp_reset(monkeypatch)


@pytest.mark.parametrize("kind", ["znp", "ezsp"])
async def test_a_good_display_is_served_again_after_the_meter_restarts_on_a_stick(kind: str, tmp_path: Path) -> None:
    esis = []
    run, log = await run_on_stick_air(kind, PLAN, tmp_path, QUICK, request_timeout=1.0,
                                      serving=lambda r: esis.append(r.han.esi))
    first_esi = esis[0]
    verdicts = run.status.verdicts
    assert [v.passed for v in verdicts] == [True, True], [(v.spec.name, v.seen) for v in verdicts]
    (restart,) = log.events
    assert restart.kind == "meter-restart" and "error" not in restart.outcome, restart.outcome
    # A new ESI server served after the restart, still trusting the display's CBKE.
    han = run.han
    assert han.esi is not first_esi and han.server.inner is han.esi
    assert str(run.ieee) in {str(i) for i in han.authorised.values()}
    assert han.addresses.nwk_of(run.ieee) == log.dut_nwk
    # Nothing answered during the silence; answers before and after it; one CBKE only (before the plan).
    start, end = restart.time, restart.time + DOWN_S
    answers = [o.time for o in log.observations if not o.incoming and o.dst_nwk == log.dut_nwk]
    assert any(a < start for a in answers) and any(a > end for a in answers)
    assert not [a for a in answers if start + 0.1 < a < end - 0.1]
    asked = [o.time for o in log.observations if o.incoming and start + 0.1 < o.time < end - 0.1]
    assert asked, "the display asked nothing while the meter was down"
