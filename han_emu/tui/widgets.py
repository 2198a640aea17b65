"""Widgets shared by the screens."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import Static

from han_emu.tui import fmt

if TYPE_CHECKING:
    from han_emu.tui.controls import Controls
    from han_emu.tui.source import Snapshot


class Panel(Static):
    """A bordered block of text with a title."""

    def __init__(self, title: str, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__("", id=id, classes=classes)
        self.border_title = title


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
            if controls.paused:
                text.append(" PAUSED ", style="reverse bold yellow")
            else:
                text.append("running", style="green")
            text.append("  scenario ")
            text.append(controls.scenario, style="bold")
            text.append("  rec ")
            if not controls.can_record:
                text.append("unavailable", style="dim")
            elif controls.recording is None:
                text.append("off")
            else:
                text.append(f"● {controls.recording}", style="bold red")
        self.update(text)
