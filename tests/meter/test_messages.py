"""The meter's message board: schedule, the message in force, expiry, confirmations,
and its place in the meter's saved state (old states without it still load)."""

from __future__ import annotations

import json

import pytest

from han_emu.meter.messages import MessageBoard, ScheduledMessage
from han_emu.meter.model import TwinMeter
from han_emu.meter.settings import MeterSettings

T0 = 1_780_308_000.0  # 2026-06-01 10:00 UTC


def test_relative_and_absolute_messages_fall_due_in_order() -> None:
    board = MessageBoard()
    board.schedule([ScheduledMessage("b", at=T0 + 600), ScheduledMessage("a", after_s=300, duration_min=5)], T0)
    assert board.next_due() == T0 + 300
    assert board.due(T0 + 299) == []
    [a] = board.due(T0 + 300)
    assert (a.id, a.text, a.start, a.end) == (1, "a", T0 + 300, T0 + 600)
    assert board.in_force(T0 + 599) is a and board.in_force(T0 + 600) is None  # expired
    [b] = board.due(T0 + 600)
    assert (b.id, b.end) == (2, None) and board.in_force(T0 + 10**6) is b  # until changed
    assert board.next_due() is None


def test_a_message_whose_whole_duration_passed_unseen_is_skipped() -> None:
    board = MessageBoard()
    board.schedule([ScheduledMessage("missed", at=T0, duration_min=10), ScheduledMessage("later", at=T0 + 3600)], T0)
    assert [m.text for m in board.due(T0 + 3600)] == ["later"]
    assert board.current is not None and board.current.text == "later"


def test_delivered_messages_are_not_sent_again_after_a_restart() -> None:
    items = [ScheduledMessage("absolute", at=T0 + 60), ScheduledMessage("relative", after_s=60)]
    board = MessageBoard()
    board.schedule(items, T0)
    assert [m.text for m in board.due(T0 + 60)] == ["absolute", "relative"]
    again = MessageBoard.from_state(json.loads(json.dumps(board.to_state())))
    again.schedule(items, T0 + 120)  # the next run starts two minutes later
    assert [p[2].text for p in again.pending] == ["relative"]  # counted from the new start
    assert again.next_id == 3


def test_confirmation_of_the_message_in_force() -> None:
    board = MessageBoard()
    message = board.compose("Visit on Monday", T0, confirm=True)
    record = board.confirm(message.id, T0 + 5, T0 + 6, "0x1234")
    assert record.known and message.confirmed_at == T0 + 5 and message.confirmed_by == "0x1234"
    board.confirm(message.id, T0 + 50, T0 + 51, "0x5678")  # a second display: logged, the first one kept
    assert message.confirmed_by == "0x1234" and len(board.confirmations) == 2
    assert not board.confirm(99, T0, T0, "0x1234").known


def test_cancel_withdraws_the_message_in_force() -> None:
    board = MessageBoard()
    message = board.compose("x", T0)
    assert board.cancel(T0 + 1) is message and message.cancelled
    assert board.in_force(T0 + 2) is None and board.cancel(T0 + 3) is None


def test_bad_importance_is_refused() -> None:
    with pytest.raises(ValueError, match="importance"):
        MessageBoard().compose("x", T0, importance="urgent")


def test_messages_survive_the_meters_core_state() -> None:
    settings = MeterSettings().validate()
    meter = TwinMeter(settings, T0)
    message = meter.messages.compose("Top up soon", T0, duration_min=90, confirm=True, importance="high")
    meter.messages.confirm(message.id, T0 + 10, T0 + 11, "0x1234")
    core = json.loads(json.dumps(meter.core_state()))
    again = TwinMeter.restore(settings, core, [], [])
    current = again.messages.current
    assert current is not None
    assert (current.id, current.text, current.duration_min, current.importance, current.confirmed_at) == (
        1, "Top up soon", 90, "high", T0 + 10)
    assert again.messages.next_id == 2 and again.messages.confirmations == meter.messages.confirmations


def test_a_core_state_from_before_messages_still_loads() -> None:
    settings = MeterSettings().validate()
    core = json.loads(json.dumps(TwinMeter(settings, T0).core_state()))
    del core["messages"]
    again = TwinMeter.restore(settings, core, [], [])
    assert again.messages.current is None and again.messages.next_id == 1
