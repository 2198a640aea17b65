"""The message key and the IHD's message panel: a message composed on the
dashboard goes out from the ESI at once, the simulated IHD shows and confirms
it, and the IHD screen says so."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from textual.widgets import Checkbox, Input

from han_emu.han.virtual import VirtualHan
from han_emu.tui import DashboardApp
from han_emu.tui.controls import offers
from han_emu.tui.han_thread import HanRunner
from han_emu.tui.help import HelpScreen
from han_emu.tui.message_dialog import MessageDialog, message_problem
from han_emu.tui.screens import IhdScreen

from ..support.waiting import wait_until_async
from .helpers import SIZE, frozen_runner
from .screen_text import squash, text_of


async def test_no_message_yet_and_the_key_is_offered(still_han) -> None:
    app = DashboardApp(still_han.source, still_han, auto_refresh=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "no message" in text_of(app, "#message")
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen) and "Message" in text_of(app, "#help-keys")
    assert not offers(None, "message")  # a source without controls (a capture) has no message key


@contextlib.asynccontextmanager
async def dashboard_on_a_held_han() -> AsyncIterator[tuple[HanRunner, VirtualHan, DashboardApp, Any]]:
    """A virtual HAN held still in its thread, and its dashboard under test."""
    runner = frozen_runner()
    runner.start()
    try:
        han = runner.han
        assert han is not None
        app = DashboardApp(runner.source, runner, auto_refresh=False)
        async with app.run_test(size=SIZE) as pilot:
            yield runner, han, app, pilot
    finally:
        runner.stop()


async def test_compose_key_sends_a_message_the_ihd_shows_and_confirms() -> None:
    async with dashboard_on_a_held_han() as (runner, han, app, pilot):
        await pilot.press("m")
        assert isinstance(app.screen, MessageDialog)
        text = app.screen.query_one("#message-text", Input)
        text.value = "x" * 67  # one byte too many: refused, the dialog stays
        await pilot.press("enter")
        assert isinstance(app.screen, MessageDialog)
        assert "67 bytes" in str(app.screen.query_one("#message-problem").content)
        text.value = "Engineer visit Monday 9-12"
        app.screen.query_one("#message-confirm", Checkbox).value = True
        await pilot.press("enter")
        assert isinstance(app.screen, IhdScreen)
        sent = han.meter.messages.current
        assert sent is not None and (sent.text, sent.confirm) == ("Engineer visit Monday 9-12", True)
        runner.resume()
        ihd = next(d for d in han.devices if d.settings.kind == "ihd")
        await wait_until_async(lambda: ihd.readout.message is not None and ihd.readout.message.confirmed,
                               timeout=20, what="the IHD to show and confirm the message")
        runner.pause()
        app.refresh_data()
        await pilot.pause()
        shown = squash(text_of(app, "#message"))
        assert "Engineer visit Monday 9-12" in shown
        assert f"#{sent.id}" in shown and "until changed" in shown and "confirmed" in shown
        assert sent.confirmed_at is not None


def test_message_problems() -> None:
    assert message_problem("  ") == "type a message first"
    assert message_problem("£" * 33) is None  # 66 bytes
    assert message_problem("£" * 34) == "68 bytes: a message holds at most 66 bytes of UTF-8"


async def test_withdraw_key_cancels_every_message_and_the_ihd_shows_it_cancelled() -> None:
    async with dashboard_on_a_held_han() as (runner, han, app, pilot):
        sent = runner.send_message("Meter exchange at 10:00", confirm=False)
        runner.resume()
        ihd = next(d for d in han.devices if d.settings.kind == "ihd")
        await wait_until_async(lambda: ihd.readout.message is not None, timeout=20,
                               what="the IHD to show the message")
        await pilot.press("w")
        await wait_until_async(lambda: ihd.readout.message is not None and ihd.readout.message.cancelled,
                               timeout=20, what="the IHD to take the CancelAllMessages")
        runner.pause()
        board = han.meter.messages
        assert board.current is not None and board.current.cancelled and board.cancelled_all_at is not None
        app.refresh_data()
        await pilot.pause()
        shown = squash(text_of(app, "#message"))
        assert f"#{sent.id}" in shown and "cancelled" in shown
        await pilot.press("question_mark")
        assert "Withdraw messages" in text_of(app, "#help-keys")
    assert not offers(None, "withdraw")
