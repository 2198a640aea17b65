"""Widgets shared by the screens."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.widgets import Footer, ProgressBar, Static

from han_emu.tui import fmt

if TYPE_CHECKING:
    from han_emu.tui.controls import Controls
    from han_emu.tui.source import Progress, Snapshot


class Panel(Static):
    """A bordered block of text with a title."""

    def __init__(self, title: str, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__("", id=id, classes=classes)
        self.border_title = title


class KeyFooter(Footer):
    """The keys, at the foot of each screen.

    Narrower than :data:`NARROW_WIDTH` columns, it is compact and leaves out
    the keys of :data:`NARROW_HIDDEN` (speed, scenario, record, message): they still
    work, and the help (``?``) lists them, but the keys that move between
    screens, pause, help and quit then fit on one line instead of being cut.
    """

    NARROW_WIDTH = 100
    NARROW_HIDDEN = frozenset({"speed(1)", "speed(-1)", "scenario", "record", "message", "withdraw"})

    narrow: reactive[bool] = reactive(False, recompose=True)

    def on_resize(self, event: events.Resize) -> None:
        self.narrow = event.size.width < self.NARROW_WIDTH
        self.compact = self.narrow

    def compose(self) -> ComposeResult:
        for widget in super().compose():
            if self.narrow and getattr(widget, "action", None) in self.NARROW_HIDDEN:
                continue  # a FooterKey (the only child with an action) for a key the help lists
            yield widget


class ProgressLine(Horizontal):
    """A finite source's progress: a bar, and what has been played so far.

    Hidden on sources without an end (the virtual HAN)."""

    def compose(self) -> ComposeResult:
        yield ProgressBar(total=100, show_eta=False, id="progress-bar")
        yield Static("", id="progress-text")

    def show(self, progress: Progress | None) -> None:
        self.display = progress is not None
        if progress is None:
            return
        fraction = progress.fraction
        bar = self.query_one(ProgressBar)
        if fraction is None:
            bar.update(total=None)
        else:
            bar.update(total=100, progress=round(fraction * 100, 1))
        text = Text()
        if progress.finished:
            text.append("finished", style="bold green")
        else:
            text.append(f"frame {progress.frame}" if progress.frame else "starting")
        if progress.total:
            text.append(f"  {progress.done:,} of {progress.total:,} bytes", style="dim")
        text.append(f"  {progress.decoded} ZCL")
        if progress.undecrypted:
            text.append(f"  {progress.undecrypted} not decrypted", style="yellow")
        if progress.malformed:
            text.append(f"  {progress.malformed} malformed", style="red")
        self.query_one("#progress-text", Static).update(text)


class StatusBar(Static):
    """Source time, speed, run state, scenario and recording, in one line."""

    def show(self, snapshot: Snapshot | None, controls: Controls | None) -> None:
        text = Text()
        text.append(fmt.utc(snapshot.time if snapshot else None), style="bold")
        if snapshot is not None and snapshot.source:
            text.append(f"  {snapshot.source}")
        if controls is None:
            text.append("  (no controls on this source)", style="dim")
        else:
            speed = controls.speed
            text.append("  speed ")
            text.append("max" if speed is None else f"x{speed:g}", style="bold")
            text.append("  ")
            if snapshot is not None and ((snapshot.progress is not None and snapshot.progress.finished) or (
                    snapshot.conformance is not None and snapshot.conformance.finished)):
                text.append("finished", style="bold")
            elif controls.paused:
                text.append(" PAUSED ", style="reverse bold yellow")
            else:
                text.append("running", style="green")
            text.append("  scenario ")
            if controls.scenarios:
                text.append(controls.scenario, style="bold")
            else:
                text.append("unavailable", style="dim")
            text.append("  rec ")
            if not controls.can_record:
                text.append("unavailable", style="dim")
            elif controls.recording is None:
                text.append("off")
            else:
                text.append(f"● {controls.recording}", style="bold red")
                frames = controls.recording_frames
                if frames is not None:
                    text.append(f" {frames} frames", style="red")
        self.update(text)
