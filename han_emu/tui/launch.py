"""Opening the dashboard from the command line: on a virtual HAN, on a capture, on a live sniffer,
on a conformance run (virtual, or on a stick).

Each launcher owns the event loop (or thread) its source needs and returns the
source when the user quits, so the caller can report what was shown."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from han_emu.air.accounting import AirAccounting
from han_emu.air.dutycycle import AirtimeLedger
from han_emu.tui.app import DashboardApp
from han_emu.tui.conform_source import ConformRunner
from han_emu.tui.conform_stick import StickConformRun
from han_emu.tui.controls import RecordingHook
from han_emu.tui.hardware_source import NoticeHandler
from han_emu.tui.replay_source import ReplaySource
from han_emu.tui.han_thread import HanRunner
from han_emu.tui.sniff_source import SniffSource
from han_emu.tui.views import AmbientThresholds

if TYPE_CHECKING:
    from textual.pilot import Pilot

    from clusters.mp184 import EndpointMap
    from han_emu.conform.run import RadioRun, VirtualRun
    from han_emu.han.virtual import VirtualHan
    from han_emu.replay.dutycycle import ReplayDutyCycle
    from han_emu.replay.live import LiveRecords


def run_virtual_dashboard(
    make_han: Callable[[], VirtualHan],
    start_epoch: float,
    speed: float = 1.0,
    *,
    duration: float | None = None,
    recorder: RecordingHook | None = None,
    ledger: AirtimeLedger | None = None,
    accounting: AirAccounting | None = None,
    thresholds: AmbientThresholds | None = None,
    on_stop: Callable[[VirtualHan], None] | None = None,
) -> VirtualHan | None:
    """Run the HAN ``make_han()`` builds in its own thread and the dashboard in
    this one (the main thread: Textual needs it) until the user quits, or for
    ``duration`` wall seconds.  The HAN is stopped (and saves its state) on the
    way out, then ``on_stop`` runs on its thread; returns it.

    ``recorder`` is what the record key operates (a
    :class:`~han_emu.tui.recording.DashboardRecorder`); ``accounting`` the
    live airtime accounting the HAN screen's gauges show."""
    runner = HanRunner(make_han, start_epoch, speed, recorder=recorder, ledger=ledger, accounting=accounting,
                       on_stop=on_stop)
    source = runner.start()
    try:
        app = DashboardApp(source, runner, thresholds=thresholds)
        if duration is not None:
            app.call_later(lambda: app.set_timer(duration, app.exit))
        app.run()
    finally:
        runner.stop()
        source.close()
    if runner.error is not None:
        raise runner.error
    return runner.han


def run_replay_dashboard(
    capture: str | Path,
    network_keys: Iterable[bytes | str] = (),
    link_keys: Iterable[bytes | str] = (),
    *,
    keylog: str | Path | None = None,
    speed: float | None = 1.0,
    thresholds: AmbientThresholds | None = None,
    endpoints: EndpointMap | None = None,
    duty: ReplayDutyCycle | None = None,
    headless: bool = False,
    auto_pilot: Callable[[Pilot[None]], Coroutine[Any, Any, None]] | None = None,
) -> ReplaySource:
    """Play ``capture`` into the dashboard until the user quits; returns the
    :class:`~han_emu.tui.replay_source.ReplaySource` (its readout is final
    if the capture was played to its end).  ``headless`` and ``auto_pilot``
    are Textual's, for running the dashboard without a terminal."""
    source = ReplaySource(capture, network_keys, link_keys, keylog=keylog, endpoints=endpoints, speed=speed,
                          duty=duty)

    async def main() -> None:
        source.start()
        try:
            await DashboardApp(source, source, thresholds=thresholds).run_async(headless=headless,
                                                                               auto_pilot=auto_pilot)
        finally:
            await source.stop()

    asyncio.run(main())
    return source


def run_sniff_dashboard(live: LiveRecords, network_keys: Iterable[bytes | str] = (),
                        link_keys: Iterable[bytes | str] = (), *, keylog: str | Path | None = None,
                        duty: ReplayDutyCycle | None = None, duration: float | None = None,
                        headless: bool = False) -> SniffSource:
    """Show ``live`` in the dashboard until the user quits (or ``duration``
    seconds); returns the :class:`~han_emu.tui.sniff_source.SniffSource`."""
    source = SniffSource(live, network_keys, link_keys, keylog=keylog, duty=duty)

    async def main() -> None:
        app = DashboardApp(source, source)
        source.start()
        timer = asyncio.get_running_loop().call_later(duration, app.exit) if duration else None
        try:
            await app.run_async(headless=headless)
        finally:
            if timer is not None:
                timer.cancel()
            await source.stop()

    asyncio.run(main())
    return source


def run_conform_dashboard(run: VirtualRun, *, thresholds: AmbientThresholds | None = None,
                          duration: float | None = None, headless: bool = False,
                          auto_pilot: Callable[[Pilot[None]], Coroutine[Any, Any, None]] | None = None
                          ) -> ConformRunner:
    """Show the conformance ``run`` (in a thread of its own) on the dashboard's
    Conformance screen until the user quits (or ``duration`` wall seconds);
    a run still going then is stopped, its verdicts those so far.  Returns the
    :class:`~han_emu.tui.conform_source.ConformRunner` (``log``, ``error``,
    ``run.status``)."""
    runner = ConformRunner(run).start()
    try:
        app = DashboardApp(runner, runner, thresholds=thresholds)
        if duration is not None:
            app.call_later(lambda: app.set_timer(duration, app.exit))
        app.run(headless=headless, auto_pilot=auto_pilot)
    finally:
        runner.stop()
    return runner


def run_stick_conform_dashboard(run: RadioRun, *, thresholds: AmbientThresholds | None = None,
                                endpoints: EndpointMap | None = None, duration: float | None = None,
                                headless: bool = False,
                                auto_pilot: Callable[[Pilot[None]], Coroutine[Any, Any, None]] | None = None,
                                on_up: Callable[[], None] | None = None) -> StickConformRun:
    """Start the stick of the conformance ``run``, then show the run on the dashboard's
    Conformance screen (the other screens: the meter as the stick serves it) until the
    user quits, or ``duration`` wall seconds; a run still going is then stopped, its
    verdicts those so far.  The run is a task on the dashboard's own loop.

    A stick that cannot be opened raises its ``RadioError`` here before the dashboard
    opens; ``on_up`` is called once it is up, before the dashboard opens (a status line on
    the terminal goes).  Returns the :class:`~han_emu.tui.conform_stick.StickConformRun` (``log``,
    ``error``, ``run.status``)."""
    source = StickConformRun(run, endpoints=endpoints)

    async def main() -> None:
        source.start()
        try:
            await source.wait_up()
            if source.hardware is None:  # the run ended before its stick came up, with nothing to show
                return
            if on_up is not None:
                on_up()
            app = DashboardApp(source, source, thresholds=thresholds)
            if duration is not None:
                app.call_later(lambda: app.set_timer(duration, app.exit))
            root = logging.getLogger()  # while the dashboard owns the terminal, log lines become notices
            handlers, root.handlers = root.handlers[:], [NoticeHandler(source.hardware)]
            try:
                await app.run_async(headless=headless, auto_pilot=auto_pilot)
            finally:
                root.handlers = handlers
        finally:
            await source.stop()

    asyncio.run(main())
    return source
