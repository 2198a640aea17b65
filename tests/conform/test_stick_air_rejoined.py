"""A second conformance run against a display still on the stick's network.

A lab's display stays joined to the stick between runs: it neither rejoins
nor redoes CBKE (it keeps its link key), while each run serves a fresh meter
that has authorised nobody.  With the host's software CBKE the meter starts
key establishment with it before the plan; with the NCP's own CBKE (which
the host drives as responder only) the run stops in one line first.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from han_emu.conform.run import RadioRun, RunError, RunStatus
from han_emu.crypto.certsets import TestCA, eui64_to_cert
from han_emu.han.fakestick import StickDisplays
from han_emu.radio.virtual.cbke_responder import refuse_key_establishment
from tests.conform.stick_air import stick_air
from tests.conform.test_stick_air_run import QUICK
from tests.radio.stick_support import STICK_IEEE, quick_ezsp_reset

PLAN = {
    "name": "stick-again", "duration": "3s", "dut": "ihd",
    "check": [
        {"type": "completes-cbke", "name": "completes CBKE"},
        {"type": "reads-attribute", "name": "reads demand", "endpoint": "primary", "cluster": "Metering",
         "attribute": "instantaneous_demand", "every_s": 2},
    ],
}
AGAIN = "re-establishing CBKE with {} (joined in an earlier session)"


@pytest.fixture(autouse=True)
def _quick_reset(monkeypatch) -> None:
    quick_ezsp_reset(monkeypatch)


def _steps(into: list[str]):
    def listener(status: RunStatus) -> None:
        if not into or into[-1] != status.step:
            into.append(status.step)
    return listener


@pytest.mark.parametrize("kind", ["znp", "ezsp"])
async def test_a_second_run_re_establishes_cbke_with_a_display_joined_earlier(kind: str, tmp_path: Path) -> None:
    seen: dict[str, object] = {}

    def finished(run: RadioRun, displays: StickDisplays) -> None:
        seen.update(display=displays.devices[0], ke=run.han.esi.key_establishment)

    async with stick_air(kind, tmp_path, QUICK, request_timeout=1.0) as air:
        first_steps: list[str] = []
        first, first_log = await air.run(PLAN, listener=_steps(first_steps))
        # A first run is as before: the display joins and runs CBKE itself.
        assert [v.passed for v in first.status.verdicts] == [True, True]
        assert not any(s.startswith("re-establishing") for s in first_steps), first_steps
        assert first.han.joined and "started by" not in first.status.verdicts[0].seen
        steps: list[str] = []
        second, log = await air.run(PLAN, listener=_steps(steps), finished=finished)
    verdicts = second.status.verdicts
    assert [v.passed for v in verdicts] == [True, True], [(v.spec.name, v.seen) for v in verdicts]
    # Nobody joined in this run: the meter re-established CBKE before the plan started.
    assert not second.han.joined and log.dut_nwk == first_log.dut_nwk
    assert AGAIN.format(second.ieee) in steps and steps.index(AGAIN.format(second.ieee)) < steps.index("running")
    assert "started by the meter" in verdicts[0].seen and "before the plan started" in verdicts[0].seen
    display, ke = seen["display"], seen["ke"]
    assert [(o.established, o.initiated) for o in ke.outcomes] == [(True, True)]
    assert display.key_exchanges == 2 and display.cbke_responder.exchanges == 1
    assert bytes(second.ieee) in second.han.authorised
    # The display's requests were answered, none refused NOT_AUTHORIZED, once the plan started.
    answers = [o for o in log.observations if not o.incoming and o.time >= 0 and o.cluster == 0x0702]
    assert answers and not [o for o in answers if o.status]


async def test_a_display_refusing_the_meters_cbke_stops_the_run_before_the_plan(tmp_path: Path) -> None:
    """A display joined earlier that refuses key establishment started by the meter (as a
    ``no-cbke`` display does: Default Response UNSUP_CLUSTER_COMMAND): one line, no plan."""
    async with stick_air("znp", tmp_path, QUICK, request_timeout=1.0) as air:
        await air.run(PLAN)
        air.displays.devices[0].handlers.insert(0, refuse_key_establishment)
        steps: list[str] = []
        with pytest.raises(RunError) as raised:
            await air.run(PLAN, listener=_steps(steps))
    assert steps[-1] == AGAIN.format(air.ieee)
    assert str(raised.value) == (
        f"{air.ieee} joined in an earlier session; CBKE with it failed (the display refused it "
        "(UNSUP_CLUSTER_COMMAND)): make the display leave the network and rejoin (or reset the stick's network), "
        "then run again")


async def test_a_display_silent_to_the_meters_cbke_stops_the_run_after_the_join_timeout(tmp_path: Path) -> None:
    """A display without certificates ignores key establishment: the run gives up after --join-timeout."""
    async with stick_air("znp", tmp_path, QUICK, request_timeout=1.0, display_cbke=False) as air:
        await air.run(PLAN)
        with pytest.raises(RunError) as raised:
            await air.run(PLAN, join_timeout=3)
    assert str(raised.value) == (
        f"{air.ieee} joined in an earlier session and did not complete CBKE with the meter within 3 s: "
        "make the display leave the network and rejoin (or reset the stick's network), then run again")


async def test_a_stick_with_ncp_cbke_stops_a_second_run_in_one_line(tmp_path: Path) -> None:
    """The EmberZNet NCP runs CBKE on its own library: the host cannot start it,
    so a display joined in an earlier session cannot be authorised by this run's meter."""
    certs = [TestCA.builtin(1).issue(eui64_to_cert(STICK_IEEE))]
    async with stick_air("ezsp", tmp_path, QUICK, request_timeout=1.0, host_cbke=False, cbke=certs) as air:
        first, _ = await air.run(PLAN)
        # Key establishment ran on the NCP (the host's ESI has none of its own); its frames are
        # observed all the same, so the run judges the display's CBKE.
        assert first.han.esi.key_establishment is None
        assert bytes(first.ieee) in first.han.authorised
        assert [v.passed for v in first.status.verdicts] == [True, True], first.status.verdicts
        assert "key established from" in first.status.verdicts[0].seen
        with pytest.raises(RunError) as raised:
            await air.run(PLAN)
    message = str(raised.value)
    assert "\n" not in message
    assert f"{air.ieee} joined the stick's network in an earlier session" in message
    assert "make the display leave the network and rejoin (or reset the stick's network)" in message


async def test_without_cbke_a_display_joined_earlier_is_served_as_it_is(tmp_path: Path) -> None:
    """The host runs no CBKE: the meter authorises nobody and refuses nobody, so a
    second run goes on with the display as it is (there is no key to re-establish)."""
    plan = {**PLAN, "check": PLAN["check"][1:]}
    async with stick_air("znp", tmp_path, QUICK, request_timeout=1.0, host_cbke=False) as air:
        await air.run(plan)
        steps: list[str] = []
        second, log = await asyncio.wait_for(air.run(plan, listener=_steps(steps)), 60)
    assert second.han.esi.key_establishment is None and not second.han.joined
    assert [v.passed for v in second.status.verdicts] == [True], second.status.verdicts
    assert not any(s.startswith("re-establishing") for s in steps)
