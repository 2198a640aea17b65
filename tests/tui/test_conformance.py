"""The Conformance screen: a short virtual conformance run shown live, its checks and verdicts,
the key that reaches it (offered only with a run), and a fault shown failed with its evidence."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual.widgets import DataTable

from han_emu.conform.plan import Plan, load_plan
from han_emu.conform.run import VirtualDut, VirtualRun
from han_emu.tui import DashboardApp
from han_emu.tui.conform_screen import ConformScreen
from han_emu.tui.conform_source import ConformRunner
from han_emu.tui.help import HelpScreen
from han_emu.tui.launch import run_conform_dashboard
from han_emu.tui.screens import IhdScreen

from .helpers import SIZE
from .screen_text import squash, text_of

PLAN = """
name = "short"
description = "A short run: a message to confirm. Then the reads go on."
duration = "4m"
start = 2026-06-01T08:00:00Z

[[event]]
at = "+1m"
kind = "message"
text = "please confirm"
confirm = true

[[check]]
type = "discovers-endpoint"
name = "discovers the secondary ESI"

[[check]]
type = "confirms-message"
name = "confirms the message"
within_s = 60

[[check]]
type = "reads-attribute"
name = "reads demand"
endpoint = "primary"
cluster = 0x0702
attribute = 0x0400
every_s = 12

[[check]]
type = "completes-cbke"
name = "completes CBKE"
"""
NAMES = ["discovers the secondary ESI", "confirms the message", "reads demand", "completes CBKE"]
WAIT_S = 120.0


@pytest.fixture
def plan(tmp_path: Path) -> Plan:
    path = tmp_path / "short.toml"
    path.write_text(PLAN)
    return load_plan(str(path))


async def until_finished(pilot, app: DashboardApp) -> None:
    """Wait (wall time) for the run to end (its thread too: the notice of its end is out)
    and the screen to show it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while loop.time() < deadline:
        await pilot.pause(0.2)
        view = app.snapshot.conformance if app.snapshot is not None else None
        if view is not None and view.finished and not app.controls.running:
            app.refresh_data()
            await pilot.pause()
            return
    raise AssertionError("the conformance run did not finish in time")


def rows(app: DashboardApp) -> list[tuple[str, str]]:
    table = app.screen.query_one("#checks", DataTable)
    return [(str(table.get_row_at(r)[0]), str(table.get_row_at(r)[1])) for r in range(table.row_count)]


async def test_the_screen_opens_first_and_lists_the_checks_with_their_final_verdicts(plan: Plan) -> None:
    runner = ConformRunner(VirtualRun(plan, VirtualDut("ihd"))).start()
    try:
        app = DashboardApp(runner, runner)
        async with app.run_test(size=SIZE) as pilot:
            assert isinstance(app.screen, ConformScreen)
            await until_finished(pilot, app)
            assert rows(app) == [("PASS", name) for name in NAMES]
            run = squash(text_of(app, "#conform-run"))
            assert "short A short run" in run and "virtual ihd" in run
            assert "finished: final verdicts" in run and "4 passed, 0 failed, 0 pending" in run
            assert "events 1 of 1" in run
            evidence = squash(text_of(app, "#evidence"))  # the first row's
            assert "PASS discovers the secondary ESI (discovers-endpoint)" in evidence
            assert "Expected a Match_Desc_rsp" in evidence and "Seen Match_Desc_rsp in t=" in evidence
            # The other screens show the display under test.
            await pilot.press("1")
            assert isinstance(app.screen, IhdScreen)
            assert "as the IHD sees it" in app.screen.sub_title
            assert "Import now" in text_of(app, "#now")
            await pilot.press("4")
            assert isinstance(app.screen, ConformScreen)
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)
            keys = squash(text_of(app, "#help-keys"))
            assert "4 Conformance" in keys and "Conformance screen" in keys
    finally:
        runner.stop()
    assert runner.error is None and runner.log is not None
    assert not runner.run.status.interrupted


async def test_a_display_that_does_not_confirm_shows_failed_with_its_evidence(plan: Plan, tmp_path: Path) -> None:
    pcap = tmp_path / "run.pcap"
    runner = ConformRunner(VirtualRun(plan, VirtualDut.parse("ihd:no-confirm"), pcap=str(pcap))).start()
    try:
        app = DashboardApp(runner, runner)
        async with app.run_test(size=SIZE) as pilot:
            await until_finished(pilot, app)
            assert rows(app) == [("PASS", NAMES[0]), ("FAIL", NAMES[1]), ("PASS", NAMES[2]), ("PASS", NAMES[3])]
            assert "3 passed, 1 failed, 0 pending" in squash(text_of(app, "#conform-run"))
            # The cursor is on the failed check, whose evidence is shown in full.
            assert app.screen.query_one("#checks", DataTable).cursor_row == 1
            evidence = squash(text_of(app, "#evidence"))
            assert "FAIL confirms the message (confirms-message)" in evidence
            assert "MessageConfirmation" in evidence.split("Seen")[0]  # what was expected
            assert "Seen message at t=60 s: DisplayMessage in frame" in evidence
            assert "no MessageConfirmation within 60 s" in evidence
            assert "in run.pcap" in evidence  # the frame numbers point into the run's capture
            await pilot.press("up")
            assert "PASS discovers the secondary ESI" in squash(text_of(app, "#evidence"))
    finally:
        runner.stop()
    assert runner.run.status.counts() == (3, 1, 0)


async def test_without_a_conformance_run_the_key_is_not_offered(still_han) -> None:
    app = DashboardApp(still_han.source, still_han, auto_refresh=False)
    async with app.run_test(size=SIZE) as pilot:
        assert isinstance(app.screen, IhdScreen)
        assert "conformance" not in [b.action for b in app.offered_bindings()]
        await pilot.press("4")
        assert isinstance(app.screen, IhdScreen)
        await pilot.press("question_mark")
        keys = squash(text_of(app, "#help-keys"))
        assert "Conformance" not in keys and "3 HAN" in keys


def test_quitting_before_the_end_stops_the_run_with_the_verdicts_so_far(plan: Plan) -> None:
    run = VirtualRun(plan, VirtualDut("ihd"), speed=5)  # 4 min of plan: about 50 s of wall time

    async def quit_soon(pilot) -> None:
        app = pilot.app
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT_S
        while loop.time() < deadline:  # until the IHD has been served, then quit mid-run
            await pilot.pause(0.2)
            view = app.snapshot.conformance if app.snapshot is not None else None
            if view is not None and view.counts()[0] >= 1 and not view.events_done:
                break
        app.refresh_data()
        await pilot.pause()
        shown.extend(rows(app))
        await pilot.press("q")

    shown: list[tuple[str, str]] = []
    runner = run_conform_dashboard(run, headless=True, auto_pilot=quit_soon)
    # While it ran: passes so far, and the message check pending (its event had not come).
    assert ("passing", "discovers the secondary ESI") in shown and ("pending", "confirms the message") in shown
    assert "FAIL" not in [label for label, _ in shown]
    status = run.status
    assert runner.error is None and not runner.running
    assert status.finished and status.interrupted
    assert 0 < status.done_s < plan.duration and runner.log is not None and runner.log.duration == status.done_s
    verdicts = {v.spec.name: v.passed for v in status.verdicts}
    # Decided: served and read; the message is still to come, so its check is pending, not failed.
    assert verdicts["discovers the secondary ESI"] is True
    assert verdicts["confirms the message"] is None
    assert False not in verdicts.values()


def test_conformance_screen_snapshot(snap_compare, plan: Plan) -> None:
    """The finished screen of a display that does not confirm, at a fixed size (fixed start and seed:
    the same frames every time)."""
    runner = ConformRunner(VirtualRun(plan, VirtualDut.parse("ihd:no-confirm"))).start()

    async def finished(pilot) -> None:
        await until_finished(pilot, pilot.app)

    try:
        assert snap_compare(DashboardApp(runner, runner), run_before=finished, terminal_size=SIZE)
    finally:
        runner.stop()
