"""A conformance run as a dashboard source: its progress and verdicts, and its virtual HAN.

:class:`ConformRunner` runs a :class:`~han_emu.conform.run.VirtualRun` in a
thread of its own (Textual owns the main thread, and the run has its own
virtual-time loop, as :mod:`han_emu.tui.han_thread` explains).  The run's
HAN is shown like any virtual HAN, through a
:class:`~han_emu.tui.source.VirtualHanSource` made on the run's loop before
the HAN starts, so the IHD and HAN screens show the display under test.
Every snapshot also carries a :class:`ConformView` of the run's
:class:`~han_emu.conform.run.RunStatus` for the Conformance screen.

The checks are judged on the run's thread (the run's progress reports and
each event judge the observations so far), never on the dashboard's: a
snapshot only copies the verdicts last judged.

The runner is also the dashboard's controls: none of the pause, speed,
scenario, record or message keys (a conformance run is the plan's alone),
and the Conformance key (``conformance``).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypeVar

from han_emu.air.accounting import AirAccounting
from han_emu.conform.model import CheckSpec, RunLog, Verdict
from han_emu.tui.han_thread import call_on_loop
from han_emu.tui.source import Snapshot, VirtualHanSource

if TYPE_CHECKING:
    from han_emu.conform.run import RadioRun, VirtualRun

_T = TypeVar("_T")


@dataclass(frozen=True)
class ConformView:
    """A conformance run at one instant, for the Conformance screen.

    ``verdicts`` are the checks as last judged (empty before the first
    judgement): during the run the verdicts so far, pending where what a
    check waits for may still come; once ``finished``, the final ones (or,
    ``interrupted``, those of the run so far)."""

    plan: str
    description: str
    dut: str
    duration: float
    done_s: float
    step: str
    events_done: int
    events: int
    checks: tuple[CheckSpec, ...]
    verdicts: tuple[Verdict, ...]
    finished: bool
    interrupted: bool
    capture: str | None
    error: str | None = None

    def counts(self) -> tuple[int, int, int]:
        """(passed, failed, pending); a check not judged yet is pending."""
        passed = sum(v.passed is True for v in self.verdicts)
        failed = sum(v.passed is False for v in self.verdicts)
        return passed, failed, len(self.checks) - passed - failed

    def verdict(self, name: str) -> Verdict | None:
        return next((v for v in self.verdicts if v.spec.name == name), None)


def view_of(run: VirtualRun | RadioRun, error: BaseException | None = None) -> ConformView:
    """A run's view now: its status as last reported (``error``: why it failed, if it did)."""
    status, plan = run.status, run.plan
    return ConformView(
        plan=plan.name, description=plan.description, dut=status.dut, duration=plan.duration,
        done_s=status.done_s, step=status.step, events_done=status.events_done, events=len(plan.events),
        checks=tuple(plan.checks), verdicts=tuple(status.verdicts), finished=status.finished,
        interrupted=status.interrupted, capture=run.pcap, error=None if error is None else str(error))


class ConformControls:
    """The dashboard controls of a conformance run: none but the Conformance
    screen (the plan sets the pace and records with ``--pcap`` from its start)."""

    can_pause = False  # the plan sets the pace: no pause, no speed keys
    scenarios: tuple[str, ...] = ()
    scenario = ""
    recording: str | None = None
    can_record = False
    recording_frames: int | None = None

    @property
    def paused(self) -> bool:
        return False

    def pause(self) -> None:
        """Not offered (``can_pause``)."""

    def resume(self) -> None:
        """Not offered (``can_pause``)."""

    def set_speed(self, speed: float) -> None:
        """Not offered (``can_pause``)."""

    def set_scenario(self, name: str) -> None:
        """Not offered: no scenarios."""

    def start_recording(self) -> None:
        """Not offered: the run records with ``--pcap`` from its start."""

    def stop_recording(self) -> None:
        """Not offered."""


class ConformRunner(ConformControls):
    """Runs a virtual conformance run in a daemon thread and shows it (a
    :class:`~han_emu.tui.source.DashboardSource` and the dashboard's controls).

    :meth:`start` returns at once; until the run's HAN exists, snapshots carry
    only the run's view.  :meth:`stop` ends a run still going (its verdicts are
    then those so far) and waits for the thread; :attr:`log` and :attr:`error`
    say how it ended."""

    def __init__(self, run: VirtualRun, *, timeout: float = 10.0) -> None:
        self.run = run
        self.timeout = timeout
        self.log: RunLog | None = None
        self.error: BaseException | None = None
        self.source: VirtualHanSource | None = None
        self.accounting = AirAccounting(sub_ghz=lambda ieee: run.plan.sub_ghz)
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._notices: list[tuple[int, str]] = []
        self._last: Snapshot | None = None
        run.on_han = self._attach

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> ConformRunner:
        self._thread = threading.Thread(target=self._run, name="conformance-run", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self.log = self.run.run()
        except BaseException as exc:  # reported by the caller once the dashboard has closed
            self.error = exc
        finally:
            self._ended()

    def _attach(self, han: Any) -> None:
        """On the run's loop, before its HAN starts: listen to it as any virtual HAN."""
        self.loop = asyncio.get_running_loop()
        han.listeners.append(self.accounting.listener)
        source = VirtualHanSource(han, accounting=self.accounting, call=self.call)
        source.label = f"conformance run · {self.run.plan.name} · {self.run.dut.describe()}"
        self.source = source

    def _ended(self) -> None:
        status = self.run.status
        if self.error is not None:
            self._notify(f"The conformance run failed: {self.error}")
            return
        passed, failed, pending = status.counts()
        how = "stopped early" if status.interrupted else "finished"
        self._notify(f"Conformance run {how}: {passed} passed, {failed} failed, {pending} pending")

    def _notify(self, message: str) -> None:
        if self.source is not None:  # one numbering of the notices: the HAN source's
            self.source.notify(message)
        else:
            self._notices.append((len(self._notices) + 1, message))

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 30.0) -> None:
        """End the run if it is still going, and wait for its thread."""
        if self._thread is None:
            return
        if self._thread.is_alive():
            self.run.stop()
        self._thread.join(timeout)

    # -- running things on the run's thread -------------------------------------------------
    def call(self, fn: Callable[[], _T]) -> _T:
        """Run ``fn`` on the run's loop while it runs (its HAN lives there); once it
        has ended, nothing moves any more and ``fn`` runs here."""
        loop = self.loop
        if loop is None or not self.running or threading.current_thread() is self._thread:
            return fn()
        try:
            return call_on_loop(loop, fn, self.timeout)
        except RuntimeError:  # the loop closed in between: the run is over
            return fn()

    # -- the dashboard --------------------------------------------------------------------
    def conformance(self) -> ConformView:
        """The run's view now (its verdicts as the run's thread last judged them)."""
        return view_of(self.run, self.error)

    def snapshot(self) -> Snapshot:
        view = self.conformance()  # before the HAN's snapshot: a view "finished" has the HAN's last state too
        source = self.source
        if source is None:
            snapshot = Snapshot(time=None, source=f"conformance run · {view.plan} · {view.dut}")
        elif self.running or self._last is None:
            snapshot = source.snapshot()
            if not self.running:
                self._last = snapshot
        else:
            snapshot = self._last
        return replace(snapshot, conformance=view, notices=snapshot.notices + tuple(self._notices))

    # -- Controls (none but the Conformance screen: see ConformControls) ------------------------
    @property
    def speed(self) -> float | None:
        return self.run.speed
