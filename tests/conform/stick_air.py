"""The setup the stick-air conformance tests share: an emulated stick (Z-Stack
or EZSP) whose air holds one simulated IHD waiting for the network to open,
and a :class:`RadioRun` of a plan against it, admitted by its install code.

Each test gives its plan and the IHD's quick poll settings; the run goes
through the real radio library and the real ``conform --radio`` path.
:func:`stick_air` keeps the stick and its display for several runs (a lab's
display stays on the stick's network between runs).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from han_emu.conform.model import RunLog
from han_emu.conform.plan import parse_plan
from han_emu.conform.run import RadioRun
from han_emu.crypto.certsets import TestCA, eui64_to_cert
from han_emu.han.config import Config, load
from han_emu.han.fakestick import StickDisplays, display_codes
from han_emu.sim.schedule import DeviceSettings
from tests.radio.stick_support import STICK_IEEE, Stick


@dataclasses.dataclass
class StickAir:
    """A started emulated stick with one simulated IHD on its air, and the host's configuration."""

    stick: Stick
    displays: StickDisplays
    ieee: str
    code: bytes
    config: Config

    async def run(self, plan: dict[str, Any], *, serving: Callable[[RadioRun], None] | None = None,
                  finished: Callable[[RadioRun, StickDisplays], None] | None = None,
                  timeout_s: float = 60.0, **options: Any) -> tuple[RadioRun, RunLog]:
        """One ``conform --radio`` run of ``plan`` against the IHD; ``serving(run)`` is
        called once the run's ESI serves (before the display joins), ``finished(run,
        displays)`` once the run has ended; ``options`` go to :class:`RadioRun`."""
        parsed = parse_plan(plan, plan["name"])
        options = {"join_timeout": 30, **options}
        run = RadioRun(parsed, self.stick.spec, self.ieee, self.code, config=self.config,
                       report=lambda line: None, **options)
        task = asyncio.ensure_future(run.run())
        try:
            if serving is not None:
                while (run.han is None or run.han.esi is None) and not task.done():
                    await asyncio.sleep(0.05)
                if not task.done():
                    serving(run)
            log = await asyncio.wait_for(asyncio.shield(task), timeout_s)
        finally:
            if not task.done():
                run.stop()
                await asyncio.gather(task, return_exceptions=True)
        if finished is not None:
            finished(run, self.displays)
        return run, log


@asynccontextmanager
async def stick_air(kind: str, tmp_path: Path, settings: DeviceSettings, *, request_timeout: float,
                    host_cbke: bool = True, display_cbke: bool = True, **stick_options: Any
                    ) -> AsyncIterator[StickAir]:
    """A ``kind`` ("znp" or "ezsp") stick whose air holds one simulated IHD with
    ``settings``, powered on and waiting for the network to open; ``host_cbke``:
    the host's configuration carries a CBKE certificate for the stick;
    ``display_cbke``: the IHD has certificates (without, it skips CBKE and refuses it);
    ``stick_options`` go to :class:`Stick` (``cbke=[...]``: the NCP's own CBKE)."""
    logging.getLogger("han_emu").setLevel(logging.ERROR)
    code = display_codes(["ihd"], tmp_path / "codes.txt")[0]
    config = load(None)
    if host_cbke:
        config = dataclasses.replace(config, cbke=(TestCA.builtin(1).issue(eui64_to_cert(STICK_IEEE)),))
    async with Stick(kind, **stick_options) as stick:
        displays = StickDisplays(stick.fake, ["ihd"], [code], settings=[settings], retry_s=0.2,
                                 request_timeout=request_timeout, cbke=display_cbke)
        await displays.start()
        try:
            yield StickAir(stick, displays, code.eui64, code.code, config)
        finally:
            await displays.stop()


async def run_on_stick_air(kind: str, plan: dict[str, Any], tmp_path: Path, settings: DeviceSettings, *,
                           request_timeout: float, serving: Callable[[RadioRun], None] | None = None,
                           finished: Callable[[RadioRun, StickDisplays], None] | None = None,
                           timeout_s: float = 60.0) -> tuple[RadioRun, RunLog]:
    """Run ``plan`` on a ``kind`` ("znp" or "ezsp") stick against one simulated
    IHD with ``settings``; ``serving(run)`` is called once the run's ESI serves
    (before the display joins), ``finished(run, displays)`` once the run has
    ended, before the displays stop.  Returns the run and its log."""
    async with stick_air(kind, tmp_path, settings, request_timeout=request_timeout) as air:
        return await air.run(plan, serving=serving, finished=finished, timeout_s=timeout_s)
