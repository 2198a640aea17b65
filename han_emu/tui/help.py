"""The help overlay: every key the dashboard answers to, from the bindings themselves."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from han_emu.tui.screens import HanScreen


def key_table(app_bindings: list[Binding], screen_bindings: dict[str, list[Binding]]) -> Table:
    table = Table(box=None, padding=(0, 2), show_header=False)
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column()
    for binding in app_bindings:
        if binding.description:
            table.add_row(_keys(binding.key), binding.description)
    for where, bindings in screen_bindings.items():
        table.add_row("", "")
        table.add_row("", f"[bold]{where}[/bold]")
        for binding in bindings:
            if binding.description:
                table.add_row(_keys(binding.key), binding.description)
    return table


_NAMES = {"plus": "+", "minus": "-", "question_mark": "?", "slash": "/", "escape": "Esc", "enter": "Enter",
          "equals_sign": "=", "underscore": "_", "ctrl+c": "Ctrl+C"}


def _keys(key: str) -> str:
    return " ".join(_NAMES.get(k.strip(), k.strip()) for k in key.split(","))


class HelpScreen(ModalScreen[None]):
    """Lists the keys; any of Esc, ? or q closes it."""

    BINDINGS = [
        Binding("escape,question_mark,q", "dismiss", "Close help"),
    ]

    def __init__(self, app_bindings: list[Binding]) -> None:
        super().__init__()
        self._app_bindings = app_bindings

    def compose(self) -> ComposeResult:
        extra = {"HAN screen": [b for b in HanScreen.BINDINGS if isinstance(b, Binding)]}
        extra["HAN screen"].append(Binding("enter", "", "Show the raw bytes of the selected frame"))
        if any(b.action == "conformance" for b in self._app_bindings):
            extra["Conformance screen"] = [Binding("up,down", "", "Select a check: its evidence is shown below")]
        with Vertical(id="help"):
            yield Static("[bold]han-emu dashboard keys[/bold]", id="help-title")
            yield Static(key_table(self._app_bindings, extra), id="help-keys")
            yield Static("[dim]Esc, ? or q closes this help[/dim]")
