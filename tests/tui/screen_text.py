"""Reading what a widget shows, as plain text."""

from __future__ import annotations

import io

from rich.console import Console

from han_emu.tui import DashboardApp

from .helpers import SIZE


def text_of(app: DashboardApp, selector: str) -> str:
    widget = app.screen.query_one(selector)
    console = Console(width=widget.size.width or SIZE[0], file=io.StringIO(), record=True, color_system=None)
    console.print(widget.content)
    return console.export_text()


def squash(text: str) -> str:
    return " ".join(text.split())
