"""The meter's re-key on an emulated stick with a simulated display on its air.

The host runs CBKE in software (certificates in its configuration) on Z-Stack
and on EmberZNet alike: the ESI starts key establishment with the display
through the real radio library, the display answers as responder, the new
key goes into the stick's key table, and the display is served under it.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from han_emu.conform.plan import parse_plan
from han_emu.conform.run import RadioRun, RunError
from han_emu.crypto.certsets import TestCA, eui64_to_cert
from han_emu.han.config import load
from han_emu.han.fakestick import StickDisplays
from tests.conform.stick_air import run_on_stick_air
from tests.conform.test_stick_air_run import QUICK
from tests.radio.stick_support import STICK_IEEE, Stick, quick_ezsp_reset

PLAN = {
    "name": "stick-rekey", "duration": "6s", "dut": "ihd",
    "event": [{"at": "+2s", "kind": "cbke-rekey"}],
    "check": [
        {"type": "completes-cbke", "name": "completes the re-key", "after": "cbke-rekey", "within_s": 3},
        {"type": "reads-attribute", "name": "reads demand", "endpoint": "primary", "cluster": "Metering",
         "attribute": "instantaneous_demand", "every_s": 2},
    ],
}


@pytest.fixture(autouse=True)
def _quick_reset(monkeypatch) -> None:
    quick_ezsp_reset(monkeypatch)


@pytest.mark.parametrize("kind", ["znp", "ezsp"])
async def test_the_meter_rekeys_a_display_on_the_stick_air(kind: str, tmp_path: Path) -> None:
    seen = {}

    def finished(run: RadioRun, displays: StickDisplays) -> None:
        seen.update(display=displays.devices[0], ke=run.han.esi.key_establishment, memory=displays.memory)

    run, log = await run_on_stick_air(kind, PLAN, tmp_path, QUICK, request_timeout=2.0, finished=finished)
    display, ke = seen["display"], seen["ke"]
    verdicts = run.status.verdicts
    assert [v.passed for v in verdicts] == [True, True], [(v.spec.name, v.seen) for v in verdicts]
    (event,) = log.events
    assert "error" not in event.outcome and event.outcome["endpoint_from"] == "its own key establishment"
    assert "established again, started by the meter" in verdicts[0].seen
    assert [(o.established, o.initiated) for o in ke.outcomes] == [(True, False), (True, True)]
    assert display.key_exchanges == 2 and display.cbke_responder.exchanges == 1
    assert seen["memory"].get(display.ieee)["link_key"] == bytes(display.link_key).hex()  # kept for a restart
    # Served under the new key after the re-key: answered, none refused.
    after = [o for o in log.observations if o.time > 2.5 and not o.incoming and o.cluster == 0x0702]
    assert after and not [o for o in after if o.status]


@pytest.mark.parametrize("kind, cbke, why", [
    ("znp", None, "the host runs no CBKE"),
    ("ezsp", "ncp", "runs key establishment on its own CBKE library"),
])
async def test_a_stick_without_software_cbke_refuses_the_rekey_in_one_line(kind: str, cbke: str | None,
                                                                           why: str) -> None:
    """No certificates for the host: no CBKE to start.  An EmberZNet NCP with its own CBKE
    library and certificate: the host drives it as responder only, so the plan is refused
    once the stick is up, before any display is admitted."""
    logging.getLogger("han_emu").setLevel(logging.ERROR)
    plan = parse_plan(PLAN, "stick-rekey")
    options = {"cbke": [TestCA.builtin(1).issue(eui64_to_cert(STICK_IEEE))]} if cbke == "ncp" else {}
    async with Stick(kind, **options) as stick:
        run = RadioRun(plan, stick.spec, "00:0d:6f:00:00:01:10:00", bytes(18), config=load(None), join_timeout=5,
                       report=lambda line: None)
        with pytest.raises(RunError, match=f"plan stick-rekey: a stick run cannot play cbke-rekey here: .*{why}"):
            await asyncio.wait_for(run.run(), 60)
    assert run.status.step == "starting the stick"
