"""The setup the stick-air conformance tests share: an emulated stick (Z-Stack
or EZSP) whose air holds one simulated IHD waiting for the network to open,
and a :class:`RadioRun` of a plan against it, admitted by its install code.

Each test gives its plan and the IHD's quick poll settings; the run goes
through the real radio library and the real ``conform --radio`` path.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from han_emu.conform.model import RunLog
from han_emu.conform.plan import parse_plan
from han_emu.conform.run import RadioRun
from han_emu.crypto.certsets import TestCA, eui64_to_cert
from han_emu.han.config import load
from han_emu.han.fakestick import StickDisplays, display_codes
from han_emu.sim.schedule import DeviceSettings
from tests.radio.stick_support import STICK_IEEE, Stick


async def run_on_stick_air(kind: str, plan: dict[str, Any], tmp_path: Path, settings: DeviceSettings, *,
                           request_timeout: float, serving: Callable[[RadioRun], None] | None = None,
                           finished: Callable[[RadioRun, StickDisplays], None] | None = None,
                           timeout_s: float = 60.0) -> tuple[RadioRun, RunLog]:
    """Run ``plan`` on a ``kind`` ("znp" or "ezsp") stick against one simulated
    IHD with ``settings``; ``serving(run)`` is called once the run's ESI serves
    (before the display joins), ``finished(run, displays)`` once the run has
    ended, before the displays stop.  Returns the run and its log."""
    logging.getLogger("han_emu").setLevel(logging.ERROR)
    parsed = parse_plan(plan, plan["name"])
    code = display_codes(["ihd"], tmp_path / "codes.txt")[0]
    config = dataclasses.replace(load(None), cbke=(TestCA.builtin(1).issue(eui64_to_cert(STICK_IEEE)),))
    async with Stick(kind) as stick:
        displays = StickDisplays(stick.fake, ["ihd"], [code], settings=[settings], retry_s=0.2,
                                 request_timeout=request_timeout)
        await displays.start()
        try:
            run = RadioRun(parsed, stick.spec, code.eui64, code.code, config=config, join_timeout=30,
                           report=lambda line: None)
            task = asyncio.ensure_future(run.run())
            if serving is not None:
                while (run.han is None or run.han.esi is None) and not task.done():
                    await asyncio.sleep(0.05)
                if not task.done():
                    serving(run)
            log = await asyncio.wait_for(task, timeout_s)
            if finished is not None:
                finished(run, displays)
        finally:
            await displays.stop()
    return run, log
