"""The dashboard driven with keys and clicks on a virtual HAN: what it shows
equals the meter model (the meter is held still, so the IHD's readout and the
meter agree exactly) and the controls act on the running HAN."""

from __future__ import annotations

import io
from decimal import Decimal

from rich.console import Console
from textual.widgets import DataTable, Input

from han_emu.air.dutycycle import DutyCycleLedger
from han_emu.meter.gbtime import local_datetime
from han_emu.meter.model import Channel
from han_emu.meter.settings import PRIMARY, SECONDARY
from han_emu.tui import DashboardApp
from han_emu.tui.controls import SPEEDS
from han_emu.tui.framelog import hexdump
from han_emu.tui.help import HelpScreen
from han_emu.tui.screens import HanScreen, IhdScreen, PpmidScreen

from ..support.waiting import wait_until_async
from .helpers import SIZE, frozen_runner


def text_of(app: DashboardApp, selector: str) -> str:
    widget = app.screen.query_one(selector)
    console = Console(width=widget.size.width or SIZE[0], file=io.StringIO(), record=True, color_system=None)
    console.print(widget.content)
    return console.export_text()


def squash(text: str) -> str:
    return " ".join(text.split())


def kwh(wh: float) -> str:
    return f"{Decimal(int(wh)) / 1000:.3f} kWh"


async def test_ihd_shows_the_meter_as_the_ihd_received_it(still_han) -> None:
    han = still_han.han
    meter = han.meter
    app = DashboardApp(still_han.source, still_han, auto_refresh=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, IhdScreen)
        sec = meter.elements[SECONDARY]
        export = squash(text_of(app, "#export"))
        assert f"Export register {kwh(sec.export_wh)}" in export
        assert export.count("▶") == 1
        tariff = meter.tariff(SECONDARY, "export")
        active = meter.active_tier(SECONDARY, "export")
        for tier in range(1, 5):
            mark = "▶ " if tier == active else ""
            row = f"{mark}T{tier} {kwh(sec.export_tiers[tier - 1])} £{tariff.price_of(tier):.4f}/kWh"
            assert row in export, row
        now = text_of(app, "#now")
        pri = meter.elements[PRIMARY]
        assert f"{Decimal(round(pri.flow.export_w)) / 1000:.3f} kW" in now  # primary exports at noon
        assert f"{Decimal(round(sec.flow.export_w)) / 1000:.3f} kW" in now
        import_tier = meter.active_tier(PRIMARY, "import")
        assert f"{import_tier} @ £{meter.tariff(PRIMARY, 'import').price_of(import_tier):.4f}/kWh" in now
        assert "Ambient" in now and "Low" in now  # importing nothing while PV covers the load
        # The clock from the Time cluster, in GB local time.
        assert local_datetime(han.clock.now()).strftime("%H:%M") in now and "BST" in now
        # Today's consumption of both elements (with the split) and the secondary element's export today.
        today = meter.today()
        periods = text_of(app, "#periods")
        imp_today = meter.daily.day(today, Channel.PRIMARY_IMPORT, meter.reading(Channel.PRIMARY_IMPORT))
        sec_today = meter.daily.day(today, Channel.SECONDARY_IMPORT, meter.reading(Channel.SECONDARY_IMPORT))
        exp_today = meter.daily.day(today, Channel.SECONDARY_EXPORT, meter.reading(Channel.SECONDARY_EXPORT))
        assert kwh(imp_today + sec_today) in periods and kwh(exp_today) in periods
        assert f"{kwh(imp_today).split()[0]} + {kwh(sec_today).split()[0]}" in periods
        # History: the eighth previous day, the fifth previous week, the thirteenth month back (absent).
        days = text_of(app, "#days")
        back8 = meter.daily.day(today, Channel.PRIMARY_IMPORT, 0, 8)
        sec8 = meter.daily.day(today, Channel.SECONDARY_IMPORT, 0, 8)
        assert back8 is not None and sec8 is not None and f"{Decimal(back8 + sec8) / 1000:.3f}" in days
        weeks = text_of(app, "#weeks")
        w5 = meter.daily.week(today, Channel.SECONDARY_EXPORT, 0, 5)
        assert w5 is not None and f"{Decimal(w5) / 1000:.3f}" in weeks
        months = text_of(app, "#months")
        assert "Apr 2026" in months and "May 2025" in months
        mpans = text_of(app, "#mpans")
        m = meter.settings.mpans
        for value in (m.primary_import, m.primary_export, m.secondary_import, m.secondary_export):
            assert value in mpans
        profile = text_of(app, "#profile")
        assert "Wed 03 Jun" in profile and "Tue 02 Jun" in profile


async def test_screens_switch_with_keys_and_help_lists_them(still_han) -> None:
    app = DashboardApp(still_han.source, still_han, auto_refresh=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        assert isinstance(app.screen, PpmidScreen)
        prepay = squash(text_of(app, "#prepay"))  # the default meter runs both elements in credit mode
        assert "primary credit £10.00 £5.00 £0.00 credit OK" in prepay
        tariff = text_of(app, "#tariff")
        assert "£0.2850/kWh" in tariff and "£0.1350/kWh" in tariff and "£0.5320/day" in tariff
        await pilot.press("3")
        assert isinstance(app.screen, HanScreen)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        keys = text_of(app, "#help-keys")
        for word in ("Pause/resume", "Faster", "Slower", "Scenario", "Raw bytes", "Filter", "Quit"):
            assert word in keys
        assert "Record" not in keys  # this runner has no recorder: the key is not offered
        await pilot.press("escape")
        assert isinstance(app.screen, HanScreen)
        await pilot.press("1")
        assert isinstance(app.screen, IhdScreen)


async def test_han_screen_devices_log_filter_and_raw_bytes(still_han) -> None:
    han = still_han.han
    app = DashboardApp(still_han.source, still_han, auto_refresh=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        await pilot.pause()
        screen = app.screen
        devices = screen.query_one("#devices", DataTable)
        rows = {devices.get_row_at(i)[0]: devices.get_row_at(i) for i in range(devices.row_count)}
        assert set(rows) == {"ESI", "IHD", "PPMID"}
        per_device = han.traffic.per_device()
        for device in han.devices:
            row = rows[device.name]
            assert row[2] == f"0x{int(device.nwk):04X}"
            assert row[4] == "255"  # the virtual air's default link quality
            assert row[5] == str(per_device[device.name])
        clusters = screen.query_one("#clusters", DataTable)
        metering = [clusters.get_row_at(i) for i in range(clusters.row_count)
                    if clusters.get_row_at(i)[2] == "Metering 0x0702"]
        assert {r[0]: int(r[1]) for r in metering} == {
            dev: n for (dev, cl), n in han.traffic.frames.items() if cl == 0x0702
        }
        # Click into the filter and type: only Price frames stay in the log.
        log = screen.query_one("#log", DataTable)
        everything = log.row_count
        await pilot.click("#filter")
        assert screen.query_one("#filter", Input).has_focus
        await pilot.press(*"price")
        await pilot.pause()
        assert 0 < log.row_count < everything
        assert all(log.get_row_at(i)[4] == "Price" for i in range(log.row_count))
        # Back to the log; show the selected frame's bytes.
        await pilot.press("enter")
        assert log.has_focus
        await pilot.press("up", "b")
        frame = screen.selected_frame()
        assert frame is not None and frame.cluster == 0x0700
        raw = text_of(app, "#raw")
        assert hexdump(frame.raw).splitlines()[0] in raw
        assert f"frame {frame.seq}" in str(screen.query_one("#raw").border_title)
        # The duty-cycle gauges say plainly that there is no ledger.
        assert "no data" in text_of(app, "#duty")


async def test_controls_pause_speed_scenario_and_recording() -> None:
    class Recorder:
        def __init__(self) -> None:
            self.calls: list[str] = []

        def start(self) -> str:
            self.calls.append("start")
            return "han.pcapng"

        def stop(self) -> None:
            self.calls.append("stop")

    recorder = Recorder()
    runner = frozen_runner(recorder=recorder)
    source = runner.start()
    try:
        app = DashboardApp(source, runner, auto_refresh=False)
        async with app.run_test(size=SIZE) as pilot:
            assert runner.paused and "PAUSED" in text_of(app, "#status")
            t0 = source.snapshot().time
            await pilot.press("minus")  # from "as fast as possible" to the top step, then down
            assert runner.speed == SPEEDS[-1]
            await pilot.press("minus", "minus")
            assert runner.speed == SPEEDS[-3]
            await pilot.press("plus")
            assert runner.speed == SPEEDS[-2]
            assert f"x{SPEEDS[-2]:g}" in text_of(app, "#status")
            await pilot.press("p")
            assert not runner.paused
            await wait_until_async(lambda: source.snapshot().time > t0, what="virtual time to run")
            await pilot.press("p")
            assert runner.paused
            t1 = source.snapshot().time
            assert t1 > t0  # virtual time ran while resumed...
            await pilot.pause(0.2)  # a fixed interval on purpose: nothing may move in it
            assert source.snapshot().time == t1  # ...and stands still while paused
            await pilot.press("s")
            assert runner.scenario == "no PV"
            assert runner.han.scenario.settings.secondary_pv_kwp == 0
            await pilot.press("s")
            assert runner.scenario == "winter"
            assert runner.han.scenario.settings.house_base_w == 450.0
            await pilot.press("r")
            assert recorder.calls == ["start"] and "han.pcapng" in text_of(app, "#status")
            await pilot.press("r")
            assert recorder.calls == ["start", "stop"] and "rec off" in text_of(app, "#status")
    finally:
        runner.stop()
    assert runner.error is None


async def test_duty_cycle_gauges_read_a_ledger() -> None:
    ledger = DutyCycleLedger()
    runner = frozen_runner(ledger=ledger)
    source = runner.start()
    try:
        now = runner.han.clock.now()  # the HAN is paused: its clock stands still
        # 80 s of airtime in the rolling hour on page 28: past Limited (36 s) and Critical (75 s).
        for i in range(8):
            ledger.record("IHD", 28, 1, 10.0, now - 800 + i * 100)
        app = DashboardApp(source, runner, auto_refresh=False)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("3")
            duty = text_of(app, "#duty")
            assert "IHD" in duty and "28/1" in duty and "80.0 s" in duty and "critical" in duty
            assert "0x8F20 limited action taken" in duty and "0x8F22 critical action taken" in duty
    finally:
        runner.stop()
