"""Dashboard defects a first user met (issue 15, section 6)."""

from __future__ import annotations

import asyncio
import io

import pytest
from rich.console import Console
from textual.containers import VerticalScroll
from textual.widgets import DataTable
from textual.widgets._footer import FooterKey

from han_emu.replay.live import ZepListener
from han_emu.tui import DashboardApp
from han_emu.tui.controls import offers
from han_emu.tui.help import HelpScreen
from han_emu.tui.screens import HanScreen, IhdScreen, PpmidScreen
from han_emu.tui.widgets import Panel, StatusBar
from han_emu.tui.sniff_source import SniffSource

from .helpers import SIZE, START
from .replay_capture import LINK_KEY, NWK_KEY
from .test_app import squash, text_of


async def test_the_ppmid_names_the_configured_tariffs_as_the_han_carries_them(still_han) -> None:
    meter = still_han.han.meter
    app = DashboardApp(still_han.source, still_han, auto_refresh=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await pilot.pause()
        assert isinstance(app.screen, PpmidScreen)
        # Price TariffLabel of the primary, ReceivedTariffLabel of the secondary (MP184 R2).
        assert f"Tariff {meter.tariff('primary', 'import').label}" in squash(text_of(app, "#tariff"))
        assert f"Tariff {meter.tariff('secondary', 'export').label}" in squash(text_of(app, "#export-tariff"))


def footer_keys(app: DashboardApp) -> list[str]:
    """What the footer offers, as it shows it."""
    return [key.description for key in app.screen.query(FooterKey)]


async def test_the_sniff_dashboard_offers_only_the_keys_that_work_there() -> None:
    live = ZepListener("127.0.0.1", 0)
    src = SniffSource(live, [NWK_KEY], [LINK_KEY])
    app = DashboardApp(src, src, auto_refresh=False)
    async with app.run_test(size=SIZE) as pilot:
        src.start()
        await pilot.pause()
        # Pausing holds the display; a sniffer has no speed, scenario or recording.
        assert footer_keys(app) == ["IHD", "PPMID", "HAN", "Pause/resume", "Help", "Quit"]
        await pilot.press("+", "s", "r")
        await pilot.pause()
        assert src.speed is None and not app._notifications
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        keys = text_of(app, "#help-keys")
        assert "Pause/resume" in keys and not any(w in keys for w in ("Faster", "Slower", "Scenario", "Record"))
        await src.stop()


async def test_the_virtual_han_offers_its_controls(still_han) -> None:
    app = DashboardApp(still_han.source, still_han, auto_refresh=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        # This runner was given no recorder: there is nothing to record to, so no Record key.
        assert footer_keys(app) == ["IHD", "PPMID", "HAN", "Pause/resume", "Faster", "Slower", "Scenario",
                                    "Message", "Withdraw messages", "Help", "Quit"]


def test_a_dashboard_on_a_capture_s_scenario_starts_and_offers_no_scenario_key() -> None:
    """``run --scenario-from`` on a terminal: the HAN thread started on a scenario
    without settings to vary (it failed to start), and ``s`` had nothing to switch."""
    from han_emu.han.config import load
    from han_emu.han.virtual import VirtualHan
    from han_emu.meter.recorded import Recording, RecordedScenario
    from han_emu.tui.han_thread import HanRunner

    rec = Recording()
    rec.add_reading("secondary", "export", START, 1000)
    rec.add_reading("secondary", "export", START + 600, 1200)
    scenario = RecordedScenario(rec)
    config = load(None)
    runner = HanRunner(lambda: VirtualHan(config, scenario.new_meter(config.meter), scenario=scenario),
                       scenario.start, None, paused=True)
    runner.start()
    try:
        assert runner.scenarios == () and not offers(runner, "scenario")
        assert offers(runner, "pause") and offers(runner, "speed") and offers(runner, "record") is False
    finally:
        runner.stop()


# --- 5. an 80x24 terminal: panels stack, nothing is cut, every panel can be seen ---------------

SMALL = (80, 24)
SCREENS = [("1", IhdScreen, "#ihd"), ("2", PpmidScreen, "#ppmid"), ("3", HanScreen, "#han")]


def rendered(widget) -> str:
    """The widget's content as drawn at its own width (Rich cuts a label with "…")."""
    width = widget.content_size.width
    console = Console(width=width, file=io.StringIO(), record=True, color_system=None)
    console.print(widget.content)
    return console.export_text()


@pytest.mark.parametrize("key, kind, body", SCREENS, ids=["ihd", "ppmid", "han"])
async def test_at_80x24_the_panels_stack_whole_and_every_one_can_be_seen(still_han, key, kind, body) -> None:
    app = DashboardApp(still_han.source, still_han, auto_refresh=False)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press(key)
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, kind) and screen.has_class("-narrow")
        scroller = screen.query_one(body, VerticalScroll)
        width = scroller.scrollable_content_region.width
        shown = [w for w in screen.query("Panel, DataTable") if w.display]
        assert len(shown) >= 4
        for widget in shown:
            assert widget.outer_size.width == width, widget.id  # stacked: each the full width
            scroller.scroll_to_widget(widget, animate=False, top=True)
            await pilot.pause()
            assert scroller.region.contains_region(widget.region), widget.id  # all of it on the screen
            if isinstance(widget, Panel):
                text = rendered(widget)
                assert "…" not in text, (widget.id, text)
                assert max(len(line.rstrip()) for line in text.splitlines()) <= widget.content_size.width
        status = screen.query_one(StatusBar)
        assert "…" not in rendered(status) and "rec " in rendered(status)  # wrapped, not cut
        keys = list(screen.query(FooterKey))
        assert [k.description for k in keys][-2:] == ["Help", "Quit"]
        assert all(k.region.right <= SMALL[0] for k in keys)


async def test_at_80x24_the_han_screen_opens_on_its_frame_log(still_han) -> None:
    app = DashboardApp(still_han.source, still_han, auto_refresh=False)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("3")
        await pilot.pause()
        log = app.screen.query_one("#log", DataTable)
        assert app.screen.query_one("#han").region.contains_region(log.region) and log.size.height >= 6


async def test_the_wide_layout_keeps_panels_side_by_side(still_han) -> None:
    app = DashboardApp(still_han.source, still_han, auto_refresh=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert not app.screen.has_class("-narrow")
        now, export = app.screen.query_one("#now"), app.screen.query_one("#export")
        assert now.region.y == export.region.y and now.region.right <= export.region.x


@pytest.mark.parametrize("key", ["1", "2", "3"], ids=["ihd", "ppmid", "han"])
def test_80x24_snapshot(snap_compare, still_han, key) -> None:
    assert snap_compare(DashboardApp(still_han.source, still_han, auto_refresh=False), press=[key],
                        terminal_size=SMALL)


# --- 7. a stick's start is shown, not a blank screen --------------------------------------------


async def test_the_dashboard_on_an_ezsp_stick_names_each_step_of_the_start(monkeypatch) -> None:
    """The emulated EZSP NCP has no network: the dashboard opens at once and its
    status line names the step the stick is at, through to the network up."""
    import time

    import bellows.ezsp

    from han_emu.han.config import load
    from han_emu.han.hardware import HardwareHan
    from han_emu.meter.model import TwinMeter
    from han_emu.radio.backend import parse_radio
    from han_emu.radio.fakencp.ezsp.server import serve_ezsp
    from han_emu.tui.hardware_source import HardwareSource

    monkeypatch.setattr(bellows.ezsp, "NETWORK_COORDINATOR_STARTUP_RESET_WAIT", 0.05)
    fake = await serve_ezsp("127.0.0.1", 0)
    config = load(None)
    han = HardwareHan(config, TwinMeter(config.meter, time.time()), parse_radio(f"ezsp:{fake.url}"), step_s=0.05)
    source = HardwareSource(han, endpoints=config.endpoints).attach()
    app = DashboardApp(source, auto_refresh=False, starting=han.start())
    shown: list[str] = []

    def step(what: str) -> None:  # what the status line says as each step begins
        app.refresh_data()
        shown.append(squash(text_of(app, "#status")))

    han.on_step = step
    try:
        async with app.run_test(size=SMALL) as pilot:
            assert "connecting" in squash(text_of(app, "#status"))  # open before the stick answers
            await asyncio.wait_for(app.start_task, 30)
            await pilot.pause()
            assert "up, channel" in squash(text_of(app, "#status"))
        source.close()
    finally:
        await han.stop()
        await fake.close()
    where = f"coordinator: {han.radio.describe()}: connecting: "
    steps = [line.split(where, 1)[1].split("...")[0] for line in shown if where in line]
    assert len(steps) == len(shown)
    assert steps[:5] == ["opening the port", "registering the ESI endpoints", "reading the stick's network",
                         "forming a new network", "starting the network"]
    # A stick that formed its network is started once more, to register the ESIs on it.
    assert steps[5:] == ["opening the port", "registering the ESI endpoints", "reading the stick's network",
                         "starting the network"]


async def test_a_start_that_fails_closes_the_dashboard_and_is_raised() -> None:
    import time

    from han_emu.han.config import load
    from han_emu.han.hardware import HardwareHan
    from han_emu.meter.model import TwinMeter
    from han_emu.radio.backend import RadioError, parse_radio
    from han_emu.tui.hardware_source import HardwareSource

    config = load(None)
    han = HardwareHan(config, TwinMeter(config.meter, time.time()), parse_radio("ezsp:socket://127.0.0.1:9"))
    source = HardwareSource(han, endpoints=config.endpoints).attach()

    async def no_stick() -> None:
        raise RadioError("EZSP stick at socket://127.0.0.1:9: nothing answers")

    app = DashboardApp(source, starting=no_stick())
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        assert app.start_task is not None and app.start_task.done()
    assert isinstance(app.start_error, RadioError)  # what run_dashboard raises once the app has closed
    assert not app.is_running
    source.close()
