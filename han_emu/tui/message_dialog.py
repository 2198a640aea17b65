"""The compose dialog of the dashboard's message key: text, and whether to ask for confirmation.

The text is checked here as the configuration checks ``[[messages]]`` text:
not empty, and at most :data:`~clusters.messaging.MAX_MESSAGE_BYTES` bytes of
UTF-8, so the DisplayMessage fits one frame.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Checkbox, Input, Static

from clusters.messaging import MAX_MESSAGE_BYTES


@dataclass(frozen=True)
class ComposedMessage:
    text: str
    confirm: bool


def message_problem(text: str) -> str | None:
    """Why ``text`` cannot be sent (None: it can)."""
    if not text.strip():
        return "type a message first"
    size = len(text.encode("utf-8"))
    if size > MAX_MESSAGE_BYTES:
        return f"{size} bytes: a message holds at most {MAX_MESSAGE_BYTES} bytes of UTF-8"
    return None


class MessageDialog(ModalScreen[ComposedMessage | None]):
    """Enter sends the message to the displays; Esc closes without sending."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(id="message-dialog"):
            yield Static("[bold]Message to the displays[/bold] (Enter sends, Esc cancels)")
            yield Input(placeholder="text of the message", id="message-text")
            yield Checkbox("Ask the display to confirm it", id="message-confirm")
            yield Static("", id="message-problem")

    def on_mount(self) -> None:
        self.query_one("#message-text", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        problem = message_problem(event.value)
        if problem is not None:
            self.query_one("#message-problem", Static).update(f"[red]{problem}[/red]")
            return
        self.dismiss(ComposedMessage(event.value, self.query_one("#message-confirm", Checkbox).value))

    def action_cancel(self) -> None:
        self.dismiss(None)
