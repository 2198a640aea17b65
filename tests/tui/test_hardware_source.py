"""The dashboard over a coordinator stick: the emulated Z-Stack NCP carries
the ESI server, an IHD's requests are injected at the NCP, and the dashboard
shows them in the frame log, the device list and (from the ESI's own replies)
the IHD screen's readout.  On the emulated EZSP NCP the HAN screen shows the
stick's own duty-cycle view.

ZCL requests are written by hand from the ZCL spec; the expected values are
decoded by hand from the reply bytes the NCP transmitted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any
from decimal import Decimal

import zigpy.types as zt

from clusters.ids import METERING
from clusters.ids import SE_PROFILE_ID as SE
from han_emu.han.config import load
from han_emu.han.hardware import HardwareHan
from han_emu.meter.model import TwinMeter
from han_emu.radio.backend import parse_radio
from han_emu.radio.fakencp.znp.server import serve_znp
from han_emu.tui import DashboardApp
from han_emu.tui.hardware_source import DISPLAY, HardwareSource, NoticeHandler, ServerTap
from han_emu.tui.screens import HanScreen

from ..support.waiting import wait_until_async
from .helpers import SIZE
from .screen_text import squash, text_of

IHD_NWK = 0x3C2A
IHD_IEEE = zt.EUI64.convert("00:0d:6f:00:0a:bc:de:f1")
SECONDARY_EP = 2
#: Read Attributes (0x00), client to server, of CurrentSummationReceived
#: (0x0001), UnitOfMeasure (0x0300), Multiplier (0x0301), Divisor (0x0302).
READ = "00 {tsn:02X} 00 01 00 00 03 01 03 02 03"


def decode_read_response(data: bytes, tsn: int) -> dict[int, int]:
    """The four attributes out of the Read Attributes Response, by hand."""
    assert data[:3] == bytes([0x18, tsn, 0x01])  # server to client, no default response; command 0x01
    sizes = {0x25: 6, 0x30: 1, 0x22: 3}  # uint48, enum8, uint24
    values, at = {}, 3
    while at < len(data):
        attr, status, kind = int.from_bytes(data[at:at + 2], "little"), data[at + 2], data[at + 3]
        assert status == 0x00
        size = sizes[kind]
        values[attr] = int.from_bytes(data[at + 4:at + 4 + size], "little")
        at += 4 + size
    return values


async def started_znp_han() -> tuple[Any, HardwareHan, Any]:
    """An emulated Z-Stack stick and a HardwareHan up on it: (fake, han, config)."""
    fake = await serve_znp("127.0.0.1", 0)
    config = load(None)
    han = HardwareHan(config, TwinMeter(config.meter, time.time()), parse_radio(f"znp:socket://127.0.0.1:{fake.port}"),
                      step_s=0.05)
    try:
        await han.start()
    except BaseException:
        await fake.close()
        raise
    return fake, han, config


async def test_dashboard_on_a_znp_stick_shows_an_ihd_read_and_the_meter_as_served() -> None:
    fake, han, config = await started_znp_han()
    try:
        source = HardwareSource(han, endpoints=config.endpoints).attach()
        han.report = source.report
        assert isinstance(han.server, ServerTap) and han.app.server is han.server
        assert source._on_packet in han.packet_listeners
        app = DashboardApp(source, auto_refresh=False)
        async with app.run_test(size=SIZE) as pilot:
            status = squash(text_of(app, "#status"))
            assert f"coordinator: {han.radio.describe()}: up, channel" in status
            assert "Export register - no data yet" in squash(text_of(app, "#export"))  # nothing served yet
            fake.inject_device_join(IHD_NWK, IHD_IEEE)
            fake.inject_incoming(IHD_NWK, IHD_IEEE, 7, SECONDARY_EP, METERING, bytes.fromhex(READ.format(tsn=0x41)),
                                 lqi=180)
            async with asyncio.timeout(5):
                while True:
                    reply = await fake.frames.get()
                    if reply.cluster_id == METERING and reply.tsn == 0x41:
                        break
            assert reply.src_endpoint == SECONDARY_EP and reply.profile_id == SE
            values = decode_read_response(reply.data, 0x41)
            app.refresh_data()
            await pilot.pause()
            # The IHD screen: the secondary export register as the ESI served it, scaled as it said.
            kwh = Decimal(values[0x0001]) * values[0x0301] / values[0x0302]
            assert values[0x0300] == 0x00  # kWh
            assert f"Export register {kwh:.3f} kWh" in squash(text_of(app, "#export"))
            assert source.readout.elements[SECONDARY_EP].summation["received"] == values[0x0001]
            assert any("joined as 0x3C2A" in n.message for n in app._notifications)
            # The HAN screen: the joined IHD, and the request and its reply in the frame log.
            await pilot.press("3")
            assert isinstance(app.screen, HanScreen)
            devices = app.screen.query_one("#devices")
            row = [str(c) for c in devices.get_row("0x3C2A")]
            assert row[:3] == ["0x3C2A", "joined", "0x3C2A"] and row[4] == "180" and row[5] == "1"
            log = app.screen.query_one("#log")
            rows = [[str(c) for c in log.get_row_at(i)] for i in range(log.row_count)]
            assert rows[-2][2:6] == ["0x3C2A", "ESI", "Metering",
                                     "-> Read_Attributes current_summ_received, unit_of_measure, multiplier, divisor"]
            assert rows[-1][2:5] == ["ESI", "0x3C2A", "Metering"]
            assert rows[-1][5].startswith(f"<- Read_Attributes_rsp current_summ_received={values[0x0001]}")
            assert "reports no duty cycle" in text_of(app, "#duty")  # Z-Stack keeps none
        source.close()
        assert source._on_packet not in han.packet_listeners and han.app.server is han.server
    finally:
        await han.stop()
        await fake.close()


def test_log_records_become_notices() -> None:
    class Han:
        joined: list = []

    source = HardwareSource(Han())
    logger = logging.getLogger("han_emu.test.notices")
    handler = NoticeHandler(source)
    logger.addHandler(handler)
    try:
        logger.warning("stick %s lost", "znp")
        logger.info("not shown")
    finally:
        logger.removeHandler(handler)
    assert list(source.notices) == [(1, "stick znp lost")]


async def test_han_screen_shows_the_ezsp_stick_s_own_duty_cycle(monkeypatch) -> None:
    import bellows.ezsp

    from han_emu.radio.fakencp.ezsp.server import serve_ezsp

    monkeypatch.setattr(bellows.ezsp, "NETWORK_COORDINATOR_STARTUP_RESET_WAIT", 0.05)
    fake = await serve_ezsp("127.0.0.1", 0)
    config = load(None)
    han = HardwareHan(config, TwinMeter(config.meter, time.time()), parse_radio(f"ezsp:{fake.url}"), step_s=0.05)
    try:
        await han.start()
        source = HardwareSource(han, endpoints=config.endpoints).attach()
        app = DashboardApp(source, auto_refresh=False)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("3")
            duty = squash(text_of(app, "#duty"))
            assert han.ncp_duty_cycle.channel_page is None  # no dutyCycleHandler callback yet: no page shown
            # The emulated NCP's limits are 1.00 / 1.80 / 2.50 % of the hour: 36, 64.8 and 90 s.
            assert ("Coordinator's own view (NCP): normal limits: limited 36 s/h (1.00 %), "
                    "critical 64.8 s/h (1.80 %), regulated 90 s/h (2.50 %)") in duty
            assert "ESI 0.000 s 0.00%" in duty
            status = squash(text_of(app, "#status"))  # one line: the link, and the NCP's view in its panel
            assert f"coordinator: {han.radio.describe()}: up, channel" in status and "NCP duty" not in status
        source.close()
    finally:
        await han.stop()
        await fake.close()


def test_han_emu_run_on_a_stick_opens_the_dashboard_on_a_terminal(monkeypatch) -> None:
    """``han-emu run --radio znp:...`` with a terminal: the dashboard gets a
    HardwareSource watching the ESI, the HAN's messages and warnings become its
    notices, and the stick gets its own server back afterwards."""
    import sys
    import threading

    import han_emu.tui as tui
    from han_emu.cli import main as cli

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    fake = asyncio.run_coroutine_threadsafe(serve_znp("127.0.0.1", 0), loop).result(10)
    seen: dict = {}

    async def dashboard(source, **kwargs) -> None:
        seen["source"], seen["kwargs"] = source, kwargs
        seen["handlers"] = list(logging.getLogger().handlers)
        seen["state_before"] = source.han.link.state
        await kwargs.pop("starting")  # the dashboard opens first, then the stick starts under it
        fake.inject_incoming(IHD_NWK, IHD_IEEE, 7, SECONDARY_EP, METERING, bytes.fromhex(READ.format(tsn=0x51)))
        await wait_until_async(lambda: source.ingest.frames >= 2, what="the request and its reply")
        source.han.report("the stick is fine")
        seen["snapshot"] = source.snapshot()

    monkeypatch.setattr(tui, "run_dashboard", dashboard)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    try:
        code = cli.main(["run", "--radio", f"znp:socket://127.0.0.1:{fake.port}", "--state", "none",
                         "--duration", "5"])
    finally:
        asyncio.run_coroutine_threadsafe(fake.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
    assert code == 0
    source = seen["source"]
    assert isinstance(source, HardwareSource) and seen["kwargs"]["duration"] == 5
    assert seen["state_before"] == "connecting"
    assert [type(h) for h in seen["handlers"]] == [NoticeHandler]
    assert not any(isinstance(h, NoticeHandler) for h in logging.getLogger().handlers)
    snapshot = seen["snapshot"]
    assert snapshot.notices[-1][1] == "the stick is fine"
    assert [(e.src, e.dst) for e in snapshot.log] == [("0x3C2A", "ESI"), ("ESI", "0x3C2A")]
    assert snapshot.readouts[DISPLAY].elements[SECONDARY_EP].summation["received"] >= 0
    assert source.tap is None and source._on_packet not in source.han.packet_listeners


async def test_on_a_stick_the_keys_change_the_scenario_and_record_what_is_served(tmp_path, tshark) -> None:
    """``s`` gives the meter another scenario, ``r`` records what the ESI
    serves to a capture and key log that tshark decodes, ``w`` withdraws every
    message; ``p`` and ``+`` are not offered (the stick runs on the wall clock) and do nothing."""
    import subprocess
    from pathlib import Path

    from han_emu.tui.hardware_source import HardwareControls

    fake, han, config = await started_znp_han()
    try:
        source = HardwareSource(han, endpoints=config.endpoints).attach()
        controls = HardwareControls(han, tmp_path)
        app = DashboardApp(source, controls, auto_refresh=False)
        async with app.run_test(size=SIZE) as pilot:
            offered = {b.binding.action for b in app.screen.active_bindings.values()}
            assert "pause" not in offered and "speed(1)" not in offered and {"scenario", "record"} <= offered
            await pilot.press("p")
            await pilot.press("+")
            assert controls.speed == 1.0 and not controls.paused
            before = han.scenario.settings
            await pilot.press("s")
            assert controls.scenario != "configured" and han.scenario.settings != before
            await pilot.press("r")
            capture = controls.recording
            assert capture is not None and capture.startswith(str(tmp_path / "han-served-"))
            fake.inject_device_join(IHD_NWK, IHD_IEEE)
            fake.inject_incoming(IHD_NWK, IHD_IEEE, 7, SECONDARY_EP, METERING, bytes.fromhex(READ.format(tsn=0x42)))
            async with asyncio.timeout(5):
                while True:
                    reply = await fake.frames.get()
                    if reply.cluster_id == METERING and reply.tsn == 0x42:
                        break
            app.refresh_data()
            await pilot.pause()
            assert controls.recording_frames >= 4  # request and reply, each with its ACKs
            assert f"rec ● {capture} {controls.recording_frames} frames" in squash(text_of(app, "#status"))
            await pilot.press("r")
            assert controls.recording is None
            assert "withdraw" in offered
            await pilot.press("w")  # CancelAllMessages from the ESI on the stick; the meter keeps its time
            assert han.esi.meter.messages.cancelled_all_at is not None
        controls.close()
        source.close()
    finally:
        await han.stop()
        await fake.close()
    keys = Path(capture).with_suffix(".keys")
    option = "uat:zigbee_pc_keys:" + keys.read_text().strip()
    out = subprocess.run([tshark, "-r", capture, "-o", option, "-Y", "zbee_zcl", "-T", "fields",
                          "-e", "zbee_zcl.cmd.tsn"], capture_output=True, text=True, timeout=60, check=True).stdout.split()
    assert out == ["66", "66"]  # the IHD's read and the ESI's answer, decrypted
