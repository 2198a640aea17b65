"""A GB clock change in a conformance run on an emulated stick.

The meter on a stick runs on the wall clock plus an offset: it starts far
enough behind the plan's start time to reach it when the display has
joined, then steps forward to it, so the dst-change event falls on the
change of GB time.  The display reads the Time cluster through the stick
before and after the change and gets the local time of each side.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from pathlib import Path

import pytest
from zigpy.zcl import foundation

from clusters.ids import TIME
from han_emu.conform.plan import parse_plan
from han_emu.conform.run import RadioRun
from han_emu.crypto.certsets import TestCA, eui64_to_cert
from han_emu.han.config import load
from han_emu.han.fakestick import StickDisplays, display_codes
from han_emu.meter.gbtime import utc_offset
from clusters.utctime import utctime_to_posix
from han_emu.sim.schedule import DeviceSettings
from tests.radio.stick_support import STICK_IEEE, Stick, quick_ezsp_reset

#: The Time cluster every half second, demand every second.
QUICK = DeviceSettings("ihd", "IHD", demand_s=1.0, registers_s=0, prices_s=0, profile_s=0, history_s=0,
                       time_s=0.5, report=False)
PLAN = {
    "name": "stick-dst", "duration": "7s", "dut": "ihd",
    "event": [{"at": "+3s", "kind": "dst-change", "to": "gmt"}],
    "check": [
        {"type": "reads-attribute", "name": "reads the time", "endpoint": "primary", "cluster": "Time",
         "attribute": 0x0000, "every_s": 2},
        {"type": "reads-attribute", "name": "reads the local time", "endpoint": "primary", "cluster": "Time",
         "attribute": 0x0007, "every_s": 2},
    ],
}


@pytest.fixture(autouse=True)
def _quick_reset(monkeypatch) -> None:
    quick_ezsp_reset(monkeypatch)


def _time_answers(log) -> list[tuple[float, int, int]]:
    """(run time, Time, LocalTime) of each Read Attributes Response from the Time cluster carrying both."""
    out = []
    for o in log.observations:
        if o.incoming or o.cluster != TIME or not o.general or o.command != 0x01:
            continue
        records, _ = foundation.GENERAL_COMMANDS[foundation.GeneralCommand.Read_Attributes_rsp].schema.deserialize(
            o.data[3:])
        values = {int(r.attrid): r.value.value for r in records.status_records if r.status == 0}
        if 0x0000 in values and 0x0007 in values:
            out.append((o.time, int(values[0x0000]), int(values[0x0007])))
    return out


@pytest.mark.parametrize("kind", ["znp", "ezsp"])
async def test_the_clock_change_falls_in_a_stick_run_and_the_display_reads_the_new_local_time(
        kind: str, tmp_path: Path) -> None:
    logging.getLogger("han_emu").setLevel(logging.ERROR)
    plan = parse_plan(PLAN, "stick-dst")
    code = display_codes(["ihd"], tmp_path / "codes.txt")[0]
    config = dataclasses.replace(load(None), cbke=(TestCA.builtin(1).issue(eui64_to_cert(STICK_IEEE)),))
    async with Stick(kind) as stick:
        displays = StickDisplays(stick.fake, ["ihd"], [code], settings=[QUICK], retry_s=0.2, request_timeout=2.0)
        await displays.start()
        try:
            run = RadioRun(plan, stick.spec, code.eui64, code.code, config=config, join_timeout=30,
                           report=lambda line: None)
            log = await asyncio.wait_for(run.run(), 60)
        finally:
            await displays.stop()
    (change,) = log.events
    assert "error" not in change.outcome, change.outcome
    assert (change.outcome["utc_offset_before"], change.outcome["utc_offset_after"]) == (3600, 0)
    assert change.time == pytest.approx(3.0, abs=0.5)
    verdicts = run.status.verdicts
    assert [v.passed for v in verdicts] == [True, True], [(v.spec.name, v.seen) for v in verdicts]
    # Before the change the display read BST (local = UTC + 1 h), after it GMT.
    answers = _time_answers(log)
    before = [local - utc for at, utc, local in answers if 0 <= at < change.time - 0.2]
    after = [local - utc for at, utc, local in answers if at > change.time + 0.2]
    assert before and set(before) == {3600}, answers
    assert after and set(after) == {0}, answers
    # The meter's clock is the change's, not the wall clock's, and the served Time follows it.
    meter_time = run.han.meter.time
    assert utc_offset(meter_time - 3600) == 3600 and utc_offset(meter_time) == 0
    assert utctime_to_posix(answers[-1][1]) == pytest.approx(meter_time, abs=3)
