"""A conformance run on a coordinator stick as a dashboard source: its progress
and verdicts, and the meter as the stick serves it.

A :class:`~han_emu.conform.run.RadioRun` runs on the wall clock, so unlike a
virtual run (:mod:`han_emu.tui.conform_source`) it needs no thread or loop of
its own: it is a task on the dashboard's loop.  The stick is started before
the dashboard opens (:meth:`StickConformRun.wait_up`), so a stick that cannot
be opened ends in one line rather than in a dashboard that closes at once.

Once the stick is up a :class:`~han_emu.tui.hardware_source.HardwareSource`
listens to it, as for ``han-emu run --radio``: the IHD, PPMID and HAN screens
show the meter as it is served to the display under test, and the HAN's
messages (a device joined, CBKE done, the link lost) become notices.  Every
snapshot also carries the run's :class:`~han_emu.tui.conform_source.ConformView`;
its verdicts are those the run's own progress reports last judged (after each
event, and at most every half second between).

It is also the dashboard's controls: none but the Conformance key, as for a
virtual run (the plan sets what happens, the wall clock its pace).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from han_emu.conform.model import RunLog
from han_emu.tui.conform_source import ConformControls, ConformView, view_of
from han_emu.tui.hardware_source import HardwareSource
from han_emu.tui.source import Snapshot

if TYPE_CHECKING:
    from clusters.mp184 import EndpointMap
    from han_emu.conform.run import RadioRun

STOP_TIMEOUT_S = 60.0
"""Wall seconds a stopped run has to stop its stick (the HAN's own stop waits at most some 20 s)."""


class StickConformRun(ConformControls):
    """Runs a :class:`~han_emu.conform.run.RadioRun` as a task on the running
    loop and shows it (a :class:`~han_emu.tui.source.DashboardSource` and the
    dashboard's controls).

    :meth:`start`, then :meth:`wait_up` until the stick is up (it raises what
    stopped the run before: ``RadioError`` for a stick that cannot be opened);
    :meth:`stop` ends a run still going (its verdicts are then those so far)
    and waits for it.  :attr:`log` and :attr:`error` say how it ended."""

    def __init__(self, run: RadioRun, *, endpoints: EndpointMap | None = None) -> None:
        self.run = run
        self.endpoints = endpoints
        self.log: RunLog | None = None
        self.error: BaseException | None = None
        #: The stick's HAN as ``han-emu run --radio`` shows it, once the stick is up.
        self.hardware: HardwareSource | None = None
        self.task: asyncio.Task[RunLog] | None = None
        self._up: asyncio.Future[None] | None = None
        self._han: Any = None
        self._han_report: Callable[[str], None] | None = None  # the HAN's own, given back by stop()
        self._notices: list[tuple[int, str]] = []
        run.on_up = self._attach

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> StickConformRun:
        """Start the run (and its stick) as a task on the running loop."""
        loop = asyncio.get_running_loop()
        self._up = loop.create_future()
        self.task = loop.create_task(self.run.run(), name="conformance-run")
        self.task.add_done_callback(self._ended)
        return self

    async def wait_up(self) -> None:
        """Until the stick is up, or the run has ended before: then what ended it is raised
        (``RadioError``: the stick could not be opened)."""
        if self.task is None or self._up is None:
            raise RuntimeError("start() the run first")
        await asyncio.wait([self.task, self._up], return_when=asyncio.FIRST_COMPLETED)
        if not self._up.done() and not self.task.cancelled():
            self.task.result()

    def _attach(self, han: Any) -> None:
        """On the run's task, once the stick is up: listen to it as ``run --radio`` does."""
        source = HardwareSource(han, endpoints=self.endpoints).attach()
        self._han, self._han_report, han.report = han, han.report, source.report
        self.hardware = source
        if self._up is not None and not self._up.done():
            self._up.set_result(None)

    def _ended(self, task: asyncio.Task[RunLog]) -> None:
        if task.cancelled():  # cancelled from outside (the loop closing): nothing to report
            return
        self.error = task.exception()
        if self.error is None:
            self.log = task.result()
            status = self.run.status
            passed, failed, pending = status.counts()
            how = "stopped early" if status.interrupted else "finished"
            self._notify(f"Conformance run {how}: {passed} passed, {failed} failed, {pending} pending")
        else:
            self._notify(f"The conformance run failed: {self.error}")

    def _notify(self, message: str) -> None:
        if self.hardware is not None:  # one numbering of the notices: the HAN's
            self.hardware.report(message)
        else:
            self._notices.append((len(self._notices) + 1, message))

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    async def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """End the run if it is still going, and wait for it (and its stick) to stop.
        The HAN's messages go back where they went before the dashboard."""
        if self._han is not None and self._han_report is not None:
            self._han.report = self._han_report
        task = self.task
        if task is None:
            return
        if not task.done():
            self.run.stop()
            await asyncio.wait([task], timeout=timeout)
        if self.hardware is not None:
            self.hardware.close()

    # -- the dashboard --------------------------------------------------------------------
    def conformance(self) -> ConformView:
        """The run's view now (its verdicts as last judged)."""
        return view_of(self.run, self.error)

    def snapshot(self) -> Snapshot:
        view = self.conformance()
        hardware = self.hardware
        if hardware is None:
            return Snapshot(time=None, source=f"conformance run · {view.plan} · {view.dut}", conformance=view,
                            notices=tuple(self._notices))
        snapshot = hardware.snapshot()
        return replace(snapshot, source=f"conformance run · {view.plan} · {snapshot.source}", conformance=view)

    # -- Controls (none but the Conformance screen: see ConformControls) ------------------------
    @property
    def speed(self) -> float:
        return 1.0  # the wall clock
