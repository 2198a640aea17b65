"""A conformance run on a coordinator stick: the emulated Z-Stack, a display admitted by its install code."""

from __future__ import annotations

import asyncio
import logging

import pytest

from clusters.ids import METERING
from han_emu.conform.plan import parse_plan
from han_emu.conform.run import RadioRun, RunError
from tests.radio.stick_support import IHD_IEEE, IHD_NWK, Stick

CODE = bytes.fromhex("83FED3407A939723A5C639B26916D505C3B5")


def read_demand(tsn: int) -> bytes:
    return bytes([0x00, tsn, 0x00, 0x00, 0x04])  # Read Attributes: InstantaneousDemand


async def test_a_real_display_is_admitted_then_observed_on_the_wall_clock() -> None:
    logging.getLogger("han_emu").setLevel(logging.ERROR)
    plan = parse_plan({"name": "stick", "duration": "2s",
                       "event": [{"at": "+0.5s", "kind": "export-burst", "kw": 1, "minutes": 1}],
                       "check": [{"type": "reads-attribute", "name": "demand", "endpoint": "primary",
                                  "cluster": "Metering", "attribute": "instantaneous_demand", "every_s": 5}]},
                      "stick")
    async with Stick("znp") as stick:
        run = RadioRun(plan, stick.spec, str(IHD_IEEE), CODE, join_timeout=10)

        async def display() -> None:
            while run.han is None or run.han.app is None or "waiting" not in run.status.step:
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.2)
            stick.join(IHD_NWK, IHD_IEEE)
            while run.log.dut_nwk is None:
                await asyncio.sleep(0.05)
            for tsn in (0x21, 0x22, 0x23):
                stick.inject(1, METERING, read_demand(tsn))
                await asyncio.sleep(0.3)

        task = asyncio.get_running_loop().create_task(display())
        log = await asyncio.wait_for(run.run(), 60)
        await task
    assert log.dut_nwk == IHD_NWK and log.dut_ieee == str(IHD_IEEE)
    reads = [o for o in log.observations if o.incoming and o.cluster == METERING and o.general and o.command == 0]
    answers = [o for o in log.observations if not o.incoming and o.cluster == METERING and o.command == 1]
    assert len(reads) == 3 and len(answers) == 3 and reads[0].attributes == (0x0400,)
    assert all(o.src_nwk == IHD_NWK for o in reads) and all(o.dst_nwk == IHD_NWK for o in answers)
    assert log.events[0].kind == "export-burst" and "error" not in log.events[0].outcome
    assert [v.passed for v in run.status.verdicts] == [True]


def test_a_plan_a_stick_cannot_play_is_refused_before_the_stick_is_opened() -> None:
    plan = parse_plan({"name": "x", "duration": "1m", "event": [{"at": "+10s", "kind": "subghz-suspend"}],
                       "check": [{"type": "completes-cbke", "name": "c"}], "phy": "gb868"}, "x")
    with pytest.raises(RunError, match="cannot play subghz-suspend .*2.4 GHz"):
        RadioRun(plan, None, str(IHD_IEEE), CODE)
