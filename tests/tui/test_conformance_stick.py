"""The Conformance screen over a run on a coordinator stick (``conform --radio ... --tui``).

No hardware: the emulated NCP is the coordinator of a virtual air where a
simulated IHD (quick poll settings) waits for the network to open, as in
``tests/conform/test_stick_air_run.py``.  The run is a task on the
dashboard's own loop: the screen shows it waiting for the display, then the
plan's event and the verdicts live, then the final ones; the other screens
show the meter as the stick serves it.  On the command line, quitting mid-run
writes the reports with the verdicts so far and exits 130, and a stick that
cannot be opened is one line and exit status 3 before any dashboard.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import sys
import threading
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable

from han_emu.conform.plan import parse_plan
from han_emu.conform.run import RadioRun, RunError
from han_emu.crypto.certsets import TestCA, eui64_to_cert
from han_emu.han.config import load
from han_emu.han.fakestick import StickDisplays, display_codes, host_config_text
from han_emu.sim.schedule import DeviceSettings
from han_emu.tui import DashboardApp
from han_emu.tui.conform_screen import ConformScreen
from han_emu.tui.conform_stick import StickConformRun
from han_emu.tui.hardware_source import DISPLAY
from han_emu.tui.screens import HanScreen, IhdScreen
from tests.radio.stick_support import STICK_IEEE, Stick, quick_ezsp_reset

from .helpers import SIZE
from .screen_text import squash, text_of

#: Demand every second, prices once at start (with the receiver-on-when-idle bit: pushed new prices).
QUICK = DeviceSettings("ihd", "IHD", demand_s=1.0, registers_s=0, prices_s=600, profile_s=0, history_s=0,
                       time_s=0, report=False)
PLAN = {
    "name": "stick-air", "description": "A stick run: a tier switch. The display follows it.",
    "duration": "6s", "dut": "ihd",
    "event": [{"at": "+2s", "kind": "tier-switch", "element": "primary"}],
    "check": [
        {"type": "completes-cbke", "name": "completes CBKE"},
        {"type": "reads-attribute", "name": "reads demand", "endpoint": "primary", "cluster": "Metering",
         "attribute": "instantaneous_demand", "every_s": 2},
        {"type": "follows-price-change", "name": "follows the tier switch", "within_s": 3},
    ],
}
NAMES = ["completes CBKE", "reads demand", "follows the tier switch"]
WAIT_S = 60.0


@pytest.fixture(autouse=True)
def _quick_reset(monkeypatch) -> None:
    quick_ezsp_reset(monkeypatch)
    logging.getLogger("han_emu").setLevel(logging.ERROR)


def stick_config() -> Any:
    return dataclasses.replace(load(None), cbke=(TestCA.builtin(1).issue(eui64_to_cert(STICK_IEEE)),))


def step_of(app: DashboardApp) -> str:
    run = squash(text_of(app, "#conform-run"))
    return run.split(" Step ", 1)[1].split(" Checks ", 1)[0]


def rows(app: DashboardApp) -> list[tuple[str, str]]:
    table = app.screen.query_one("#checks", DataTable)
    return [(str(table.get_row_at(r)[0]), str(table.get_row_at(r)[1])) for r in range(table.row_count)]


@pytest.mark.parametrize("kind", ["znp", "ezsp"])
async def test_a_stick_run_is_shown_live_from_the_join_to_its_final_verdicts(kind: str, tmp_path: Path) -> None:
    plan = parse_plan(PLAN, "stick-air")
    code = display_codes(["ihd"], tmp_path / "codes.txt")[0]
    config = stick_config()
    async with Stick(kind) as stick:
        displays = StickDisplays(stick.fake, ["ihd"], [code], settings=[QUICK], retry_s=0.2, request_timeout=2.0)
        await displays.start(switch_on=False)  # the stick on the air; the display switched on below
        run = RadioRun(plan, stick.spec, code.eui64, code.code, config=config, join_timeout=30,
                       report=lambda line: None)
        source = StickConformRun(run, endpoints=config.endpoints).start()
        try:
            await asyncio.wait_for(source.wait_up(), WAIT_S)
            assert source.hardware is not None and run.han.is_up
            app = DashboardApp(source, source)
            async with app.run_test(size=SIZE) as pilot:
                assert isinstance(app.screen, ConformScreen)  # the dashboard opens on the run
                loop = asyncio.get_running_loop()
                deadline = loop.time() + WAIT_S
                steps = [step_of(app)]
                while "join" not in steps[0]:  # the network open to the display's install code
                    assert loop.time() < deadline, steps
                    app.refresh_data()
                    await pilot.pause(0.1)
                    steps[0] = step_of(app)
                displays.switch_on()  # as a user would once told to: it joins, runs CBKE and polls
                labels: set[str] = set()
                while not (steps[-1].startswith("finished") and not source.running):
                    assert loop.time() < deadline, f"the run did not finish in time; steps {steps}"
                    app.refresh_data()
                    await pilot.pause(0.1)
                    step = step_of(app)
                    if steps[-1] != step:
                        steps.append(step)
                    labels.update(label for label, _ in rows(app))
                app.refresh_data()
                await pilot.pause()
                final = step_of(app)
                # The stick's steps and the plan's event, as they came, then the end (the run's own
                # "finished" may show for one refresh before the screen has the final verdicts).
                assert steps[0] == f"waiting for {code.eui64} to join", steps
                assert [s for s in steps[1:] if not s.startswith("finished")] == ["running", "tier-switch at 2 s"], steps
                assert final == "finished: final verdicts", (final, steps)
                assert "passing" in labels  # verdicts so far, before the final ones
                assert rows(app) == [("PASS", name) for name in NAMES], run.status.verdicts
                panel = squash(text_of(app, "#conform-run"))
                assert "stick-air A stick run" in panel and f"{stick.spec.describe()} {code.eui64}" in panel
                assert "3 passed, 0 failed, 0 pending" in panel and "events 1 of 1" in panel
                assert "conformance run · stick-air · coordinator:" in squash(text_of(app, "#status"))
                notices = [n.message for n in app._notifications]
                assert any("joined as 0x" in n for n in notices), notices
                assert "Conformance run finished: 3 passed, 0 failed, 0 pending" in notices
                # The other screens: the meter as the stick served it to the display under test.
                await pilot.press("1")
                assert isinstance(app.screen, IhdScreen) and app.screen.sub_title == f"as the {DISPLAY} sees it"
                assert "Import now" in text_of(app, "#now")
                await pilot.press("3")
                assert isinstance(app.screen, HanScreen)
                nwk = f"0x{run.log.dut_nwk:04X}"
                assert [str(c) for c in app.screen.query_one("#devices").get_row(nwk)][:2] == [nwk, "joined"]
                await pilot.press("4")
                assert isinstance(app.screen, ConformScreen)
        finally:
            await source.stop()
            await displays.stop()
    assert source.error is None and source.log is run.log
    assert run.status.finished and not run.status.interrupted and not run.han.is_up  # the stick was stopped


async def test_a_display_that_does_not_join_is_shown_failed_and_the_stick_is_stopped(tmp_path: Path) -> None:
    plan = parse_plan(PLAN, "stick-air")
    code = display_codes(["ihd"], tmp_path / "codes.txt")[0]  # no display switched on: nobody joins
    async with Stick("znp") as stick:
        run = RadioRun(plan, stick.spec, code.eui64, code.code, join_timeout=1, report=lambda line: None)
        source = StickConformRun(run).start()
        try:
            await asyncio.wait_for(source.wait_up(), WAIT_S)
            app = DashboardApp(source, source)
            async with app.run_test(size=SIZE) as pilot:
                async with asyncio.timeout(WAIT_S):
                    while source.running:
                        await pilot.pause(0.1)
                app.refresh_data()
                await pilot.pause()
                failed = f"{code.eui64} did not join within 1 s"
                assert step_of(app) == f"failed: {failed}"
                assert f"The conformance run failed: {failed}" in [n.message for n in app._notifications]
        finally:
            await source.stop()
    assert isinstance(source.error, RunError) and source.log is None and not run.han.is_up


# -- the command line ---------------------------------------------------------------------------------------


class StickThread:
    """An emulated Z-Stack with a quick simulated IHD on its air, on a loop in a thread of its
    own: the command line runs its own loop (as a user's second terminal would)."""

    def __init__(self, tmp_path: Path) -> None:
        self.code = display_codes(["ihd"], tmp_path / "codes.txt")[0]
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> StickThread:
        self.thread.start()

        async def up() -> tuple[Stick, StickDisplays]:
            stick = await Stick("znp").__aenter__()
            displays = StickDisplays(stick.fake, ["ihd"], [self.code], settings=[QUICK], retry_s=0.2,
                                     request_timeout=2.0)
            await displays.start()
            return stick, displays

        self.stick, self.displays = asyncio.run_coroutine_threadsafe(up(), self.loop).result(20)
        return self

    def __exit__(self, *exc: object) -> None:
        async def down() -> None:
            await self.displays.stop()
            await self.stick.__aexit__()

        asyncio.run_coroutine_threadsafe(down(), self.loop).result(20)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def on_a_terminal(monkeypatch, pilot: Any) -> list[str]:
    """``conform --tui`` as on a terminal, with its dashboard headless and driven by ``pilot``;
    returns the list the launcher's calls are noted in."""
    import han_emu.tui.launch as launch

    calls: list[str] = []
    original = launch.run_stick_conform_dashboard

    def headless(run: RadioRun, **kwargs: Any) -> StickConformRun:
        calls.append(run.plan.name)
        return original(run, headless=True, auto_pilot=pilot, **kwargs)

    monkeypatch.setattr(launch, "run_stick_conform_dashboard", headless)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    return calls


def test_quitting_mid_run_stops_the_stick_writes_the_reports_so_far_and_exits_130(
        tmp_path: Path, monkeypatch, capsys: pytest.CaptureFixture[str]) -> None:
    from han_emu.cli.main import main

    plan = dict(PLAN, name="stick-long", duration="2m",
                event=[{"at": "+90s", "kind": "tier-switch", "element": "primary"}])
    (tmp_path / "plan.toml").write_text(toml(plan))
    (tmp_path / "host.toml").write_text(host_config_text(STICK_IEEE))
    seen: dict[str, Any] = {}

    async def quit_once_served(pilot: Any) -> None:
        app = pilot.app
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT_S
        while loop.time() < deadline:  # until CBKE is done and demand read, then quit
            await pilot.pause(0.1)
            app.refresh_data()
            view = app.snapshot.conformance
            if view.counts()[0] >= 2:
                break
        await pilot.pause()
        seen["screen"], seen["rows"], seen["step"] = app.screen, rows(app), step_of(app)
        seen["han"] = app.source.run.han
        await pilot.press("q")

    calls = on_a_terminal(monkeypatch, quit_once_served)
    junit, report = tmp_path / "run.xml", tmp_path / "run.md"
    with StickThread(tmp_path) as stick:
        code = main(["conform", "--plan", str(tmp_path / "plan.toml"), "--radio", f"znp:{stick.stick.fake.url}",
                     "--install-code", f"{stick.code.eui64}:{stick.code.code.hex()}",
                     "--config", str(tmp_path / "host.toml"), "--tui", "--junit", str(junit),
                     "--report", str(report)])
    captured = capsys.readouterr()
    assert code == 130, captured.err
    assert calls == ["stick-long"] and isinstance(seen["screen"], ConformScreen)
    assert seen["step"] == "running", seen["step"]
    assert ("passing", "completes CBKE") in seen["rows"] and ("pending", "follows the tier switch") in seen["rows"]
    assert not seen["han"].is_up  # the stick was stopped
    err = captured.err
    assert "stopped at" in err and "of 120 s: the verdicts are those so far" in err and "Traceback" not in err
    # The reports, with the verdicts so far: the tier switch had not come, so its check is pending.
    cases = {c.get("name"): c for c in ET.parse(junit).getroot().iter("testcase")}
    assert sorted(cases) == sorted(NAMES)
    assert cases["completes CBKE"].find("failure") is None and cases["reads demand"].find("failure") is None
    assert "pending" in cases["follows the tier switch"].find("failure").get("message")
    assert "2 passed, 0 failed, 1 pending" in report.read_text() and "2 passed, 0 failed, 1 pending" in captured.out


def test_a_stick_that_cannot_be_opened_is_one_line_and_status_3_before_any_dashboard(
        tmp_path: Path, monkeypatch, capsys: pytest.CaptureFixture[str]) -> None:
    from han_emu.cli.main import main

    async def never(pilot: Any) -> None:
        opened.append(True)
        await pilot.press("q")

    opened: list[bool] = []
    calls = on_a_terminal(monkeypatch, never)
    code = main(["conform", "--plan", "price-change", "--radio", "znp:socket://127.0.0.1:1", "--install-code",
                 "00:0d:6f:00:0a:bc:de:f1:83FED3407A939723A5C639B26916D505C3B5", "--tui",
                 "--junit", str(tmp_path / "run.xml")])
    err = capsys.readouterr().err.strip()
    assert code == 3 and calls == ["price-change"] and not opened
    assert err.startswith("han-emu conform: ") and "\n" not in err and "connection refused" in err, err
    assert not (tmp_path / "run.xml").exists()


def toml(plan: dict[str, Any]) -> str:
    """A plan as its TOML file (strings, numbers and one table array each of events and checks)."""
    def value(v: Any) -> str:
        return f'"{v}"' if isinstance(v, str) else str(v)

    lines = [f"{k} = {value(v)}" for k, v in plan.items() if not isinstance(v, list)]
    for table in ("event", "check"):
        for entry in plan[table]:
            lines += ["", f"[[{table}]]", *(f"{k} = {value(v)}" for k, v in entry.items())]
    return "\n".join(lines) + "\n"
