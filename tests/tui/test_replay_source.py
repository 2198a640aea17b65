"""The dashboard on a capture replay: what the screens show equals what the
capture's frames carried (worked out by hand in ``replay_capture``), pause
holds the replay still, speed changes take, the progress bar reaches 100 %,
and the controls a capture cannot offer are shown as unavailable."""

from __future__ import annotations

import asyncio
import time

import pytest
from textual.widgets import DataTable, ProgressBar

from han_emu.tui import DashboardApp
from han_emu.tui.framelog import hexdump
from han_emu.tui.replay_source import DISPLAY, ReplaySource
from han_emu.tui.screens import HanScreen, IhdScreen, PpmidScreen

from ..support.waiting import wait_until_async
from .helpers import SIZE
from .replay_capture import ESI_FRAMES, EXPECTED, FRAMES, IHD_FRAMES, LAST_TIME, LINK_KEY, NWK_KEY, T0, capture_bytes
from .test_app import squash, text_of


def source(speed: float | None = None, **kw) -> ReplaySource:
    return ReplaySource(capture_bytes(), [NWK_KEY], [LINK_KEY], speed=speed, **kw)


async def play_to_end(app: DashboardApp, src: ReplaySource) -> None:
    await asyncio.wait_for(src.start(), 10)
    app.refresh_data()


async def test_screens_show_what_the_capture_carried() -> None:
    src = source()
    app = DashboardApp(src, src, auto_refresh=False)
    async with app.run_test(size=SIZE) as pilot:
        await play_to_end(app, src)
        await pilot.pause()
        assert isinstance(app.screen, IhdScreen)
        assert app.screen.sub_title == f"as the {DISPLAY} sees it"
        now = squash(text_of(app, "#now"))
        assert f"Import now {EXPECTED['import_kw']:.3f} kW" in now
        assert f"Cost now £{EXPECTED['cost_per_hour']:.2f}/h" in now
        assert "Ambient Medium" in now  # 1.5 kW between the default 1 and 3 kW
        assert f"Import tier {EXPECTED['import_tier']} @ £{EXPECTED['import_prices'][2]:.4f}/kWh" in now
        assert f"Export secondary {EXPECTED['export_kw']:.3f} kW" in now
        assert "Clock Wed 10 Jan 2024 12:00:12 GMT" in now  # the Time cluster's clock, run on to the last frame
        export = squash(text_of(app, "#export"))
        assert f"Export register {EXPECTED['export_register_kwh']:.3f} kWh" in export
        for tier, kwh in EXPECTED["export_tiers_kwh"].items():
            mark = "▶ " if tier == EXPECTED["export_tier"] else ""
            assert f"{mark}T{tier} {kwh:.3f} kWh £{EXPECTED['export_prices'][tier]:.4f}/kWh" in export
        assert export.count("▶") == 1
        assert EXPECTED["mpan"] in text_of(app, "#mpans")
        profile = squash(text_of(app, "#profile"))
        total = sum(EXPECTED["profile_kwh"].values())
        assert f"Wed 10 Jan {total:.3f} kWh in 3 of 48 half hours" in profile

        await pilot.press("2")
        assert isinstance(app.screen, PpmidScreen)
        tariff = squash(text_of(app, "#tariff"))
        for tier, price in EXPECTED["import_prices"].items():
            assert f"T{tier} £{price:.4f}/kWh" in tariff
        assert f"Standing charge £{EXPECTED['standing_charge']:.4f}/day" in tariff
        export_tariff = squash(text_of(app, "#export-tariff"))
        assert f"▶ T3 £{EXPECTED['export_prices'][3]:.4f}/kWh" in export_tariff

        await pilot.press("3")
        assert isinstance(app.screen, HanScreen)
        await pilot.pause()
        devices = app.screen.query_one("#devices", DataTable)
        rows = {devices.get_row_at(i)[0]: devices.get_row_at(i) for i in range(devices.row_count)}
        assert set(rows) == {"ESI", "0x4D2C"}
        assert rows["ESI"][1:3] == ["ESI", "0x0000"] and rows["ESI"][5] == str(ESI_FRAMES)
        assert rows["0x4D2C"][1:3] == ["client", "0x4D2C"] and rows["0x4D2C"][5] == str(IHD_FRAMES)
        assert rows["ESI"][4] == rows["ESI"][6] == "-"  # a capture gives no LQI here, nor ACK senders
        log = app.screen.query_one("#log", DataTable)
        assert log.row_count == len(FRAMES)
        # The selected frame (the last, followed by the cursor) and its raw bytes.
        await pilot.press("b")
        frame = app.screen.selected_frame()
        assert frame is not None and frame.seq == len(FRAMES)
        assert frame.raw == FRAMES[-1][0]
        assert hexdump(FRAMES[-1][0]) in text_of(app, "#raw")
        await pilot.press("up")
        assert app.screen.selected_frame().raw == FRAMES[-2][0]

        progress = app.screen.query_one("#progress-bar", ProgressBar)
        assert progress.percentage == 1.0
        assert "finished" in text_of(app, "#status") and "13 ZCL" in text_of(app, "#progress-text")


async def test_pause_holds_the_replay_and_speed_changes_take() -> None:
    src = source(speed=5)  # 12 capture seconds in 2.4 wall seconds
    app = DashboardApp(src, src, auto_refresh=False)
    async with app.run_test(size=SIZE) as pilot:
        src.start()
        await wait_until_async(lambda: src.decoded >= 3)
        await pilot.press("p")
        assert src.paused and not src.finished
        app.refresh_data()
        assert "PAUSED" in text_of(app, "#status")
        held = src.snapshot()
        await asyncio.sleep(0.4)  # a fixed interval on purpose (two capture seconds at x5): nothing may move
        still = src.snapshot()
        assert (still.progress, still.time, len(still.log)) == (held.progress, held.time, len(held.log))
        assert T0 <= held.time < LAST_TIME
        await pilot.press("plus")
        assert src.speed == 10  # the next step up from x5
        assert "x10" in text_of(app, "#status")
        await pilot.press("p")
        assert not src.paused
        await wait_until_async(lambda: src.finished)
        assert src.error is None and src.decoded == len(FRAMES)
        app.refresh_data()
        await pilot.pause()
        assert app.screen.query_one("#progress-bar", ProgressBar).percentage == 1.0
        assert src.snapshot().time == LAST_TIME


async def test_frames_are_shown_at_capture_time_not_before() -> None:
    src = source(speed=2)  # a frame every half second
    app = DashboardApp(src, src, auto_refresh=False)
    async with app.run_test(size=SIZE):
        src.start()
        await wait_until_async(lambda: src.decoded >= 1)
        started = time.monotonic()
        await wait_until_async(lambda: src.decoded >= 3)
        assert time.monotonic() - started >= 0.7  # two more frames, half a second apart (less polling lag)
        snap = src.snapshot()
        assert snap.progress is not None and 0 < snap.progress.fraction < 1
        assert snap.readouts[DISPLAY].time_utc == T0 + 1  # the Time response (frame 2) has been shown
        primary = snap.readouts[DISPLAY].by_role("primary")
        assert primary is not None and primary.summation == {}  # the Metering response (frame 4) not yet
        await src.stop()


async def test_scenario_and_recording_are_unavailable_on_a_replay() -> None:
    src = source(paused=True)
    app = DashboardApp(src, src, auto_refresh=False)
    async with app.run_test(size=SIZE) as pilot:
        src.start()
        status = text_of(app, "#status")
        assert "scenario unavailable" in status and "rec unavailable" in status
        offered = {b.binding.action for b in app.screen.active_bindings.values()}
        assert "scenario" not in offered and "record" not in offered  # not offered, so not in the footer
        assert {"pause", "speed(1)", "speed(-1)"} <= offered
        await pilot.press("s", "r")  # and they do nothing
        await pilot.pause()
        assert not app._notifications
        assert src.decoded == 0 and src.paused  # nothing played while paused from the start
        with pytest.raises(ValueError):
            src.set_scenario("no PV")
        await src.stop()


def test_ihd_snapshot_after_the_replay(snap_compare) -> None:
    src = source()
    app = DashboardApp(src, src, auto_refresh=False)

    async def run_before(pilot) -> None:
        await play_to_end(pilot.app, src)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_han_snapshot_after_the_replay(snap_compare) -> None:
    src = source()
    app = DashboardApp(src, src, auto_refresh=False)

    async def run_before(pilot) -> None:
        await play_to_end(pilot.app, src)
        await pilot.press("3", "up", "b")

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_replayed_frames_are_described_as_the_virtual_han_describes_them() -> None:
    from han_emu.replay import decode_zcl
    from han_emu.tui.framelog import describe, describe_message

    from ..replay.helpers import PUBLISH_PRICE, READ_ATTRIBUTES_RSP

    extra = [(READ_ATTRIBUTES_RSP, 0, 0, 1, 1, 0x0702), (PUBLISH_PRICE, 0, 0, 2, 1, 0x0700),
             (bytes.fromhex("18 09 0b 00 00"), 0, 0, 1, 1, 0x0702)]  # Default Response
    for zcl, *_, cluster in FRAMES + extra:
        message = decode_zcl(cluster, zcl)
        assert describe_message(cluster, message, len(zcl)) == describe(0x0109, cluster, zcl)
    # The status of an attribute that could not be read.
    assert "instantaneous_demand:UNSUPPORTED_ATTRIBUTE" in describe_message(
        0x0702, decode_zcl(0x0702, READ_ATTRIBUTES_RSP), len(READ_ATTRIBUTES_RSP))
