"""Each screen at a fixed terminal size, on the paused virtual HAN of the
fixture (fixed start time, the scenario's fixed seed): any change in what a
screen shows or how it is laid out shows up here.  Update with
``pytest tests/tui --snapshot-update`` after checking the new pictures."""

from __future__ import annotations

from han_emu.tui import DashboardApp

from .helpers import SIZE


def app_for(runner) -> DashboardApp:
    return DashboardApp(runner.source, runner, auto_refresh=False)


def test_ihd_screen(snap_compare, still_han) -> None:
    assert snap_compare(app_for(still_han), terminal_size=SIZE)


def test_ppmid_screen(snap_compare, still_han) -> None:
    assert snap_compare(app_for(still_han), press=["2"], terminal_size=SIZE)


def test_han_screen(snap_compare, still_han) -> None:
    assert snap_compare(app_for(still_han), press=["3"], terminal_size=SIZE)


def test_han_screen_raw_bytes_of_a_filtered_frame(snap_compare, still_han) -> None:
    assert snap_compare(app_for(still_han), press=["3", "slash", *"time", "enter", "b"], terminal_size=SIZE)


def test_help_overlay(snap_compare, still_han) -> None:
    assert snap_compare(app_for(still_han), press=["question_mark"], terminal_size=SIZE)
