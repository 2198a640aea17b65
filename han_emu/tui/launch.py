"""Opening the dashboard on a virtual HAN from the command line."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from han_emu.air.accounting import AirAccounting
from han_emu.air.dutycycle import AirtimeLedger
from han_emu.tui.app import DashboardApp
from han_emu.tui.controls import RecordingHook
from han_emu.tui.runner import HanRunner
from han_emu.tui.views import AmbientThresholds

if TYPE_CHECKING:
    from han_emu.han.virtual import VirtualHan


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
