"""The Textual dashboard: IHD, PPMID and HAN screens over any source (and Conformance over a conformance run)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from textual.app import App, ScreenStackError
from textual.binding import Binding

from han_emu.tui.conform_screen import ConformScreen
from han_emu.tui.controls import Controls, next_speed, offers
from han_emu.tui.help import HelpScreen
from han_emu.tui.message_dialog import ComposedMessage, MessageDialog
from han_emu.tui.screens import DashScreen, HanScreen, IhdScreen, PpmidScreen
from han_emu.tui.source import DashboardSource, Snapshot, VirtualHanSource
from han_emu.tui.views import AmbientThresholds

if TYPE_CHECKING:
    from han_emu.han.virtual import VirtualHan

#: SMETS2 IHDs refresh electricity at least every 10 s; the screen refreshes at
#: least that often in virtual time, and never more than 4 times a wall second.
IHD_REFRESH_VIRTUAL_S = 10.0
MIN_REFRESH_S = 0.25
MAX_REFRESH_S = 1.0


def refresh_period(speed: float | None) -> float:
    """Wall seconds between screen refreshes at ``speed``."""
    if speed is None:
        return MIN_REFRESH_S
    return max(MIN_REFRESH_S, min(MAX_REFRESH_S, IHD_REFRESH_VIRTUAL_S / speed))


class DashboardApp(App[None]):
    """The dashboard.  ``source`` feeds it; ``controls`` (optional) are what the
    pause, speed, scenario and recording keys operate."""

    CSS_PATH = "dashboard.tcss"
    TITLE = "han-emu"
    MODES = {"ihd": IhdScreen, "ppmid": PpmidScreen, "han": HanScreen, "conform": ConformScreen}
    DEFAULT_MODE = "ihd"
    BINDINGS = [
        Binding("1", "switch_mode('ihd')", "IHD"),
        Binding("2", "switch_mode('ppmid')", "PPMID"),
        Binding("3", "switch_mode('han')", "HAN"),
        Binding("4", "conformance", "Conformance"),
        Binding("p", "pause", "Pause/resume"),
        Binding("plus,equals_sign", "speed(1)", "Faster", key_display="+"),
        Binding("minus,underscore", "speed(-1)", "Slower", key_display="-"),
        Binding("s", "scenario", "Scenario"),
        Binding("r", "record", "Record"),
        Binding("m", "message", "Message"),
        Binding("w", "withdraw", "Withdraw messages"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
    ]
    ENABLE_COMMAND_PALETTE = False

    def __init__(
        self,
        source: DashboardSource,
        controls: Controls | None = None,
        *,
        thresholds: AmbientThresholds | None = None,
        auto_refresh: bool = True,
        starting: Awaitable[Any] | None = None,
    ) -> None:
        """``starting``: the source's start (a stick's, which takes seconds), run
        once the dashboard is up so that its status line shows each step; if it
        fails the dashboard closes and :attr:`start_error` holds why.

        Controls that offer a conformance run open on its screen."""
        if offers(controls, "conformance"):
            self.DEFAULT_MODE = "conform"  # type: ignore[misc]  # App.__init__ reads it
        super().__init__()
        self.source = source
        self.controls = controls
        self.thresholds = thresholds or AmbientThresholds()
        self.auto_refresh_data = auto_refresh
        self.snapshot: Snapshot | None = None
        self._timer: Any = None
        self._notices_seen = 0
        self._starting = starting
        self.start_task: asyncio.Future[Any] | None = None
        self.start_error: BaseException | None = None

    # -- data -------------------------------------------------------------------------------
    def on_mount(self) -> None:
        self.refresh_data()
        if self.auto_refresh_data:
            self._schedule()
        if self._starting is not None:
            self.start_task = asyncio.ensure_future(self._starting)
            self.start_task.add_done_callback(self._started)

    def _started(self, task: asyncio.Future[Any]) -> None:
        if task.cancelled():
            return
        self.start_error = task.exception()
        if self.start_error is not None:
            self.exit()
        else:
            self.refresh_data()

    def _schedule(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        speed = self.controls.speed if self.controls is not None else 1.0
        self._timer = self.set_interval(refresh_period(speed), self.refresh_data)

    def refresh_data(self) -> None:
        """Take a snapshot from the source and show it on the current screen."""
        try:
            self.snapshot = self.source.snapshot()
        except (TimeoutError, RuntimeError) as exc:  # the source is busy or gone: keep the last one
            self.log.warning(f"no snapshot: {exc}")
            return
        self._notify_news(self.snapshot)
        self._show()

    def _notify_news(self, snapshot: Snapshot) -> None:
        """Pop up each of the source's notices once (a device joined, the link went down)."""
        for number, message in snapshot.notices:
            if number > self._notices_seen:
                self.notify(message, timeout=8)
                self._notices_seen = number

    def _show(self) -> None:
        try:
            screen = self.screen
        except ScreenStackError:  # the app is closing: a last timer tick has nothing to show on
            return
        if isinstance(screen, DashScreen) and self.snapshot is not None:
            screen.show(self.snapshot)

    # -- controls ---------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Keys the source does not answer to are neither shown nor run."""
        return offers(self.controls, action)

    def offered_bindings(self) -> list[Binding]:
        """The app's bindings this source answers to (for the help)."""
        return [b for b in self.BINDINGS if isinstance(b, Binding) and offers(self.controls, b.action.split("(")[0])]

    def action_pause(self) -> None:
        c = self.controls
        if c is None or not offers(c, "pause"):  # not offered: see check_action
            return
        if c.paused:
            c.resume()
        else:
            c.pause()
        self._show()

    def action_speed(self, step: int) -> None:
        c = self.controls
        if c is None or not offers(c, "speed"):  # not offered: see check_action
            return
        c.set_speed(next_speed(c.speed, step))
        self._schedule()
        self._show()

    def action_scenario(self) -> None:
        c = self.controls
        if c is None or not offers(c, "scenario"):  # not offered: see check_action
            return
        names = list(c.scenarios)
        current = names.index(c.scenario) if c.scenario in names else -1
        c.set_scenario(names[(current + 1) % len(names)])
        self.notify(f"Scenario: {c.scenario}")
        self._show()

    def action_record(self) -> None:
        c = self.controls
        if c is None or not offers(c, "record"):  # not offered: see check_action
            return
        if c.recording is None:
            try:
                c.start_recording()
            except (OSError, ValueError) as exc:
                self.notify(f"Cannot record: {exc}", severity="error")
                return
            self.notify(f"Recording to {c.recording}")
        else:
            c.stop_recording()
            self.notify("Recording stopped")
        self._show()

    def action_message(self) -> None:
        """Compose a message; Enter sends it to the displays at once."""
        c = self.controls
        if c is None or not offers(c, "message") or isinstance(self.screen, MessageDialog):
            return
        self.push_screen(MessageDialog(), self._send_message)

    def _send_message(self, composed: ComposedMessage | None) -> None:
        c = self.controls
        if composed is None or c is None:
            return
        try:
            message = c.send_message(composed.text, confirm=composed.confirm)  # type: ignore[attr-defined]
        except (RuntimeError, ValueError, TimeoutError) as exc:
            self.notify(f"Message not sent: {exc}", severity="error")
            return
        self.notify(f"Message #{message.id} sent to the displays")
        self.refresh_data()

    def action_withdraw(self) -> None:
        """Withdraw every message: CancelAllMessages from the ESI to the displays."""
        c = self.controls
        if c is None or not offers(c, "withdraw"):  # not offered: see check_action
            return
        try:
            message = c.withdraw_messages()  # type: ignore[attr-defined]
        except (RuntimeError, TimeoutError) as exc:
            self.notify(f"Messages not withdrawn: {exc}", severity="error")
            return
        held = "" if message is None else f" (#{message.id} was on the displays)"
        self.notify(f"Every message withdrawn{held}")
        self.refresh_data()

    def action_conformance(self) -> None:
        if offers(self.controls, "conformance"):  # not offered: see check_action
            self.switch_mode("conform")

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.offered_bindings()))


async def run_dashboard(han: VirtualHan | DashboardSource, *, controls: Controls | None = None,
                        thresholds: AmbientThresholds | None = None, duration: float | None = None,
                        starting: Awaitable[Any] | None = None) -> None:
    """Run the dashboard on the current loop until the user quits.

    For a source on the caller's own loop (a replay, a hardware coordinator, or
    a VirtualHan on a wall-clock loop).  A virtual-time HAN whose speed the
    keys change runs best in its own thread: see :func:`run_virtual_dashboard`.
    ``duration``: quit by itself after that many wall seconds.  ``starting``:
    the source's start, run under the open dashboard (see :class:`DashboardApp`);
    its failure is raised here once the dashboard has closed, and a start
    still running when the user quits is cancelled.
    """
    from han_emu.han.virtual import VirtualHan as _VirtualHan

    source: DashboardSource = VirtualHanSource(han) if isinstance(han, _VirtualHan) else han
    app = DashboardApp(source, controls, thresholds=thresholds, starting=starting)
    try:
        if duration is not None:
            app.call_later(lambda: app.set_timer(duration, app.exit))
        await app.run_async()
    finally:
        task = app.start_task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if isinstance(source, VirtualHanSource) and source is not han:
            source.close()
    await asyncio.sleep(0)
    if app.start_error is not None:
        raise app.start_error
