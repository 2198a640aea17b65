"""The virtual HAN in a thread of its own, with the dashboard's controls.

Textual must own the main thread (it installs signal handlers) and paces its
own timers by the wall clock, while the HAN runs on a virtual-time loop whose
speed the user changes.  Two loops in two threads keep both honest: the app
asks for snapshots, which the runner takes on the HAN's thread, and pausing
parks that thread so virtual time stands still.

A live run (started at x1 on the wall clock, with a state database) serves
the wall clock: the first speed-up saves the meter and lets the state
database go, and the run goes on with a throwaway copy of the meter (the
status bar and a notice say so), so the saved meter clock never runs ahead.

Pacing: the loop itself runs as fast as possible and a governor task holds
virtual time to ``speed`` times the wall clock, checking every 20 ms of wall
time.  Pacing every timer wait separately (the loop's own ``speed``) loses
the processing time of each step, which at x1800 left the HAN near x300.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from han_emu.air.accounting import AirAccounting
from han_emu.air.dutycycle import AirtimeLedger
from han_emu.han.runner import CLOCK_SLACK_S, clock_ahead_note
from han_emu.radio.vtime import VirtualTimeLoop, run_virtual
from han_emu.tui.controls import RecordingHook, ScenarioChoice, scenario_variants
from han_emu.tui.source import VirtualHanSource

if TYPE_CHECKING:
    from han_emu.han.virtual import VirtualHan

_T = TypeVar("_T")



def call_on_loop(loop: asyncio.AbstractEventLoop, fn: Callable[[], _T], timeout: float | None) -> _T:
    """Run ``fn`` on ``loop`` (running in another thread) and return its result
    or raise what it raised; RuntimeError when the loop is closed."""
    future: concurrent.futures.Future[_T] = concurrent.futures.Future()

    def run() -> None:
        try:
            future.set_result(fn())
        except BaseException as exc:
            future.set_exception(exc)

    loop.call_soon_threadsafe(run)
    return future.result(timeout)

class HanRunner(ScenarioChoice):
    """Runs ``make_han()`` on a :class:`VirtualTimeLoop` in a daemon thread.

    ``make_han`` is called on that thread, so what it opens (a SQLite store)
    belongs there; ``on_stop`` runs there too, after the HAN has stopped.
    ``warmup`` virtual seconds are run (as fast as possible when ``speed`` is
    None) before :meth:`start` returns; with ``paused`` the HAN then waits for
    :meth:`resume`.  Implements :class:`han_emu.tui.controls.Controls`.

    A ``recorder`` with ``attach(han)`` (a
    :class:`~han_emu.tui.recording.DashboardRecorder`) is attached before the
    HAN starts and closed after it stops; ``accounting`` (an
    :class:`~han_emu.air.accounting.AirAccounting`) hears every frame from
    the start and feeds the HAN screen's duty-cycle gauges.
    """

    def __init__(
        self,
        make_han: Callable[[], VirtualHan],
        start_epoch: float,
        speed: float | None = 1.0,
        *,
        warmup: float = 0.0,
        paused: bool = False,
        recorder: RecordingHook | None = None,
        ledger: AirtimeLedger | None = None,
        accounting: AirAccounting | None = None,
        timeout: float = 10.0,
        on_stop: Callable[[VirtualHan], None] | None = None,
    ) -> None:
        self._make_han = make_han
        self._start_epoch = start_epoch
        self._speed = speed
        #: Started at x1 without a warm-up: the HAN keeps the wall clock until it is first sped up.
        self._live = speed == 1.0 and warmup == 0
        self._anchor: tuple[float, float] | None = None  # (wall, virtual) pacing is measured from
        self._warmup = warmup
        self._start_paused = paused
        self.recorder = recorder
        self._ledger = ledger
        self.accounting = accounting
        self.timeout = timeout
        self._on_stop = on_stop
        self.han: VirtualHan | None = None
        self.source: VirtualHanSource | None = None
        self.loop: VirtualTimeLoop | None = None
        self.error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._parked = threading.Event()
        self._resume = threading.Event()
        self._resume.set()
        self._stop: asyncio.Event | None = None
        self._scenario = "configured"
        self._variants: dict[str, Any] = {}
        # A recorder opened on a path given up front is recording already.
        self._recording: str | None = getattr(recorder, "current", None)

    # -- lifecycle ------------------------------------------------------------------------
    def start(self, timeout: float = 60.0) -> VirtualHanSource:
        """Start the thread; return the source once the HAN is up (and parked, if asked)."""
        self._thread = threading.Thread(target=self._run, name="virtual-han", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("the virtual HAN did not start in time")
        if self.error is not None:
            raise RuntimeError("the virtual HAN failed to start") from self.error
        if self._start_paused and not self._parked.wait(timeout):
            raise TimeoutError("the virtual HAN did not pause in time")
        assert self.source is not None
        return self.source

    def _run(self) -> None:
        try:
            run_virtual(self._main(), self._start_epoch, None)
        except BaseException as exc:  # reported through start() or stop()
            self.error = exc
        finally:
            self._ready.set()

    async def _main(self) -> None:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, VirtualTimeLoop)
        self.loop = loop
        self._stop = asyncio.Event()
        han = self._make_han()
        self.han = han
        settings = getattr(han.scenario, "settings", None)  # a capture's scenario has no variants
        self._variants = scenario_variants(settings) if settings is not None else {}
        attach = getattr(self.recorder, "attach", None)
        if callable(attach):
            attach(han)
        if self.accounting is not None:
            han.listeners.append(self.accounting.listener)
        self.source = VirtualHanSource(han, ledger=self._ledger, accounting=self.accounting, call=self.call)
        if self._live and han.store is not None and han.meter.time - time.time() > CLOCK_SLACK_S:
            self.source.notify(clock_ahead_note(han.store.path, han.meter.time - time.time()))
        await han.start()
        try:
            if self._warmup > 0:
                await han.run_for(self._warmup)
            governor = loop.create_task(self._govern(), name="pace")
            if self._start_paused:
                self._resume.clear()
                loop.call_soon(self._park)
            self._ready.set()
            await self._stop.wait()
            governor.cancel()
        finally:
            if self._recording is not None and self.recorder is not None:
                self.recorder.stop()
                self._recording = None
            try:
                await han.stop()
            finally:
                close = getattr(self.recorder, "close", None)
                if callable(close):
                    close()
                if self._on_stop is not None:
                    self._on_stop(han)

    PACE_WALL_S = 0.02

    async def _govern(self) -> None:
        """Hold virtual time to ``speed`` x wall time (no faster; slower only when
        the HAN cannot keep up)."""
        loop = self.loop
        assert loop is not None
        while True:
            speed = self._speed
            await asyncio.sleep(self.PACE_WALL_S * (speed or 50.0))
            if speed is None or speed != self._speed:
                self._anchor = None
                continue
            if self._anchor is None:
                self._anchor = (time.monotonic(), loop.time())
                continue
            wall0, virtual0 = self._anchor
            ahead = loop.time() - (virtual0 + (time.monotonic() - wall0) * speed)
            if ahead > 0:
                time.sleep(ahead / speed)  # the whole HAN waits: that is the pacing
            elif ahead < -speed:  # more than a wall second behind: do not sprint to catch up
                self._anchor = (time.monotonic(), loop.time())

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the HAN (saving its state as it does) and end the thread."""
        if self._thread is None:
            return
        if self._parked.is_set():
            self.resume()
        if self.loop is not None and self._stop is not None and self._thread.is_alive():
            self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)
        self._thread = None

    # -- running things on the HAN's thread -----------------------------------------------
    def _park(self) -> None:
        self._parked.set()
        self._resume.wait()

    def call(self, fn: Callable[[], _T]) -> _T:
        """Run ``fn`` where the HAN lives and return its result.

        While parked the HAN does nothing, so ``fn`` runs in the caller's thread.
        """
        if self._parked.is_set() or threading.current_thread() is self._thread or self.loop is None:
            return fn()
        if not self.loop.is_running():
            raise RuntimeError("the virtual HAN is not running")
        return call_on_loop(self.loop, fn, self.timeout)

    # -- Controls -------------------------------------------------------------------------
    @property
    def paused(self) -> bool:
        return self._parked.is_set()

    def pause(self) -> None:
        if self._parked.is_set() or self.loop is None:
            return
        self._resume.clear()
        self.loop.call_soon_threadsafe(self._park)
        if not self._parked.wait(self.timeout):
            self._resume.set()
            raise TimeoutError("the virtual HAN did not pause")

    def resume(self) -> None:
        # Cleared here, in the controlling thread, before the HAN may move again.
        self._anchor = None  # paused time is not to be caught up
        self._parked.clear()
        self._resume.set()

    @property
    def speed(self) -> float | None:
        """Virtual seconds per wall second (None: as fast as possible)."""
        return self._speed

    def set_speed(self, speed: float | None) -> None:
        """Takes effect from the governor's next check (20 ms of wall time).

        A live run leaving x1 first lets its state database go (see the module's notes)."""
        if speed is not None and not 1 <= speed <= 3600:
            raise ValueError("speed must be between 1 and 3600")
        if speed != 1.0 and self._live:
            self._leave_wall_clock()
        self._anchor = None
        self._speed = speed

    def _leave_wall_clock(self) -> None:
        """Save the meter once more and keep nothing after: the run meters a throwaway copy."""
        self._live = False
        han = self.han
        if han is None:
            return
        store = self.call(han.runner.detach_store)
        if store is not None and self.source is not None:
            self.source.label = "virtual HAN · throwaway meter, state not saved"
            self.source.notify(f"Sped up: this run now meters a throwaway copy; {store.path} keeps the meter "
                               "as it was at x1 (a live run serves the wall clock)")

    def set_scenario(self, name: str) -> None:
        """Give the running scenario other settings; the battery keeps its charge."""
        settings = self._variants[name].validate()
        han = self.han
        assert han is not None

        def apply() -> None:
            han.scenario.settings = settings

        self.call(apply)
        self._scenario = name

    @property
    def recording(self) -> str | None:
        return self._recording

    @property
    def can_record(self) -> bool:
        return self.recorder is not None

    @property
    def recording_frames(self) -> int | None:
        """Frames written to the running recording (None: not recording, or not counted)."""
        if self._recording is None:
            return None
        frames = getattr(self.recorder, "frames", None)
        return frames if isinstance(frames, int) else None

    def start_recording(self) -> None:
        if self.recorder is None or self._recording is not None:
            return
        self._recording = self.call(self.recorder.start)

    def stop_recording(self) -> None:
        if self.recorder is None or self._recording is None:
            return
        self.call(self.recorder.stop)
        self._recording = None

    def ppmid_key(self, key: str) -> bool:
        """Press the simulated PPMID's ``key`` ("top_up" or "emergency") for the
        primary element: the PPMID sends the command over the virtual air.
        False when the HAN has no PPMID that has found the ESI."""
        han = self.han
        if han is None:
            return False
        return self.call(lambda: han.ppmid_key(key)) is not None
    def send_message(self, text: str, *, confirm: bool = False) -> Any:
        """A message from the ESI to the displays, now (the dashboard's message key)."""
        han = self.han
        if han is None:
            raise RuntimeError("the virtual HAN is not running")
        return self.call(lambda: han.send_message(text, confirm=confirm))

    def withdraw_messages(self) -> Any:
        """CancelAllMessages from the ESI to the displays, now (the dashboard's withdraw key)."""
        han = self.han
        if han is None:
            raise RuntimeError("the virtual HAN is not running")
        return self.call(han.withdraw_messages)

    def set_ledger(self, ledger: AirtimeLedger | None) -> None:
        """Show this duty-cycle ledger's gauges on the HAN screen."""
        self._ledger = ledger
        if self.source is not None:
            source = self.source
            self.call(lambda: source.set_ledger(ledger))
