"""The dashboard on a running virtual HAN: the record key writes a real
capture and key log that tshark decodes, and the HAN screen's gauges show
the live airtime accounting's figures, states and alerts."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest

from han_emu.air.accounting import BAND_868, AirAccounting
from han_emu.air.dutycycle import DutyCycleLimits
from han_emu.han.config import load
from han_emu.meter.model import TwinMeter
from han_emu.tui import DashboardApp
from han_emu.tui.recording import DashboardRecorder, keys_path_for
from han_emu.tui.han_thread import HanRunner
from han_emu.han.virtual import VirtualHan

from ..support.waiting import wait_until_async
from .helpers import SIZE, START
from .screen_text import squash, text_of

BAD = "_ws.malformed || _ws.expert.severity >= error"


def live_runner(**kwargs) -> HanRunner:
    """A fresh meter (no history needed), two minutes in, paused."""
    config = load(None)
    return HanRunner(lambda: VirtualHan(config, TwinMeter(config.meter, START)), START, None,
                     warmup=120.0, paused=True, **kwargs)


def zcl_tsn(raw: bytes) -> int:
    """The ZCL sequence number: after the manufacturer code when bit 2 of the frame control says there is one."""
    return raw[3] if raw[0] & 0x04 else raw[1]


def tshark_zcl(tshark: str, capture: Path, keys: Path) -> list[tuple[int, int]]:
    """(cluster, TSN) of every ZCL frame tshark decrypts and decodes, in order."""
    option = "uat:zigbee_pc_keys:" + keys.read_text().strip()
    out = subprocess.run([tshark, "-r", str(capture), "-o", option, "-Y", "zbee_zcl", "-T", "fields",
                          "-e", "zbee_aps.cluster", "-e", "zbee_zcl.cmd.tsn"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    rows = []
    for line in out.splitlines():
        cluster, tsn = line.split("\t")
        rows.append((int(cluster, 16), int(tsn)))
    bad = subprocess.run([tshark, "-r", str(capture), "-o", option, "-Y", BAD],
                         capture_output=True, text=True, timeout=60, check=True).stdout.strip()
    assert bad == "", bad
    return rows


async def test_record_key_writes_a_capture_tshark_decodes_with_its_key_log(tmp_path, tshark) -> None:
    recorder = DashboardRecorder(tmp_path)
    runner = live_runner(recorder=recorder)
    source = runner.start()
    try:
        app = DashboardApp(source, runner, auto_refresh=False)
        async with app.run_test(size=SIZE) as pilot:
            assert "rec off" in text_of(app, "#status")
            await pilot.press("r")
            capture = Path(runner.recording)
            assert capture.parent == tmp_path and capture.name == "han-20260603T121201Z.pcapng"
            assert capture.exists() and keys_path_for(capture).exists()
            assert f"● {capture} 0 frames" in squash(text_of(app, "#status"))
            first = source.log.count  # the HAN is paused: nothing moves between the key and this line
            runner.set_speed(600)
            await pilot.press("p")
            # A few minutes of virtual time, well inside the log's length.
            await wait_until_async(lambda: source.log.count >= first + 100, timeout=30, what="100 frames logged")
            await pilot.press("p")
            last = source.log.count
            logged = [(e.cluster, zcl_tsn(e.raw)) for e in source.log.entries if first < e.seq <= last and e.profile]
            assert first + len(logged) <= last < first + source.log.entries.maxlen  # none has left the log
            app.refresh_data()
            assert recorder.frames > 0
            assert f"{capture} {recorder.frames} frames" in squash(text_of(app, "#status"))
            await pilot.press("r")
            assert runner.recording is None and "rec off" in text_of(app, "#status")
            written = recorder.frames
            # Running on after the stop writes nothing more to the file.
            await pilot.press("p")
            await pilot.pause(0.2)  # a fixed interval on purpose: nothing may be written in it
            await pilot.press("p")
            assert recorder.frames == written
    finally:
        runner.stop()
    assert runner.error is None
    keys = keys_path_for(capture)
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    # Every ZCL frame the dashboard logged while recording, and only those, decrypted in the same order.
    assert len(logged) > 10
    assert tshark_zcl(tshark, capture, keys) == logged


async def test_record_key_reports_a_file_it_cannot_make(tmp_path) -> None:
    recorder = DashboardRecorder(tmp_path / "missing")
    runner = live_runner(recorder=recorder)
    source = runner.start()
    try:
        app = DashboardApp(source, runner, auto_refresh=False)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("r")
            assert runner.recording is None and "rec off" in text_of(app, "#status")
            assert any("Cannot record" in n.message for n in app._notifications)
    finally:
        runner.stop()


async def test_pcap_given_records_from_the_start(tmp_path, tshark) -> None:
    capture = tmp_path / "run.pcapng"
    recorder = DashboardRecorder(tmp_path, pcap=capture)
    assert recorder.current == str(capture)
    runner = live_runner(recorder=recorder)
    source = runner.start()
    try:
        app = DashboardApp(source, runner, auto_refresh=False)
        async with app.run_test(size=SIZE):
            assert f"● {capture}" in squash(text_of(app, "#status"))
        logged = [(e.cluster, zcl_tsn(e.raw)) for e in source.log.entries if e.profile]
    finally:
        runner.stop()
    # The joins and CBKE are on it: every ZCL frame since the HAN started decodes.
    assert tshark_zcl(tshark, capture, tmp_path / "run.keys") == logged
    assert any(cluster == 0x0800 for cluster, _ in logged)  # key establishment


async def test_gauges_show_the_live_accounting() -> None:
    # Low limits, so that two minutes of joins, CBKE and reads cross them for real.
    acct = AirAccounting(sub_ghz="all", limits={28: DutyCycleLimits(0.3, 0.6, 5.0)}, hysteresis=0.0)
    runner = live_runner(accounting=acct)
    source = runner.start()
    try:
        app = DashboardApp(source, runner, auto_refresh=False)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("3")
            duty = squash(text_of(app, "#duty"))
            now = runner.han.clock.now()
            band = acct.bands[BAND_868]  # a frame's end may lie a moment past the clock: the panel reads there
            ledger = acct.ledger_868
            names = {"hub": 0x0000, **{d.name: int(d.nwk) for d in runner.han.devices}}
            for name, nwk in names.items():
                usage = ledger.usage(nwk, 28, 0, max(now, band.last))
                state = usage.state.name.lower()
                assert f"{name} 28/0 {usage.airtime:.3f} s of 5 s {usage.percent:.2f}%" in duty, name
                assert state in ("limited", "critical")
            # The hub's 2.4 GHz leg (its broadcasts) is measured, not regulated.
            assert "hub 0/15" in duty and "not regulated" in duty
            event, culprit = acct.events[-1]
            who = "hub" if event.device == 0 else next(n for n, v in names.items() if v == event.device)
            line = f"{who} 0x{int(event.alert):04X} {event.alert.name.lower().replace('_', ' ')}"
            assert line in duty
            hub_alerts = [(e, c) for e, c in acct.events if e.device == 0]
            assert hub_alerts and all(c in names.values() for _, c in hub_alerts)
            # Time runs on: the figures on screen follow the accounting.
            runner.set_speed(600)
            await pilot.press("p")
            await wait_until_async(lambda: runner.han.clock.now() > now, what="virtual time to run")
            await pilot.press("p")
            app.refresh_data()
            later = runner.han.clock.now()
            assert later > now
            usage = ledger.usage(0, 28, 0, max(later, band.last))
            assert f"hub 28/0 {usage.airtime:.3f} s of 5 s" in squash(text_of(app, "#duty"))
    finally:
        runner.stop()


def test_han_emu_run_on_a_terminal_wires_the_recorder_and_the_accounting(monkeypatch, tmp_path, capsys) -> None:
    import sys

    import han_emu.tui as tui
    from han_emu.cli import main as cli

    seen: dict = {}
    monkeypatch.setattr(tui, "run_virtual_dashboard", lambda *a, **kw: seen.update(kw))
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run", "--state", "none", "--pcap", "first.pcapng"]) == 0
    recorder = seen["recorder"]
    assert isinstance(recorder, DashboardRecorder) and isinstance(seen["accounting"], AirAccounting)
    assert recorder.files == [Path("first.pcapng")] and recorder.directory == tmp_path
    assert (tmp_path / "first.pcapng").exists() and (tmp_path / "first.keys").exists()
    assert recorder.current is None  # closed on the way out
    # A capture that cannot be made is refused before the HAN runs.
    assert cli.main(["run", "--state", "none", "--pcap", str(tmp_path / "missing" / "x.pcapng")]) == 2
    assert "cannot record" in capsys.readouterr().err


def test_gauges_snapshot(snap_compare) -> None:
    acct = AirAccounting(sub_ghz="all", limits={28: DutyCycleLimits(0.3, 0.6, 5.0)}, hysteresis=0.0)
    runner = live_runner(accounting=acct)
    runner.start()
    try:
        assert snap_compare(DashboardApp(runner.source, runner, auto_refresh=False), press=["3"], terminal_size=SIZE)
    finally:
        runner.stop()


def test_status_json_is_written_in_dashboard_mode_too(monkeypatch, tmp_path) -> None:
    """``han-emu run --status-json FILE`` on a terminal: the dashboard's HAN
    keeps the file up to date with the gauges' own accounting, and writes it a
    last time when it stops."""
    import json
    import sys

    import han_emu.tui as tui
    from han_emu.cli import main as cli

    status = tmp_path / "status.json"
    seen: dict = {}

    def dashboard(make_han, start_epoch, speed, **kw) -> None:  # the real runner, no screen
        runner = HanRunner(make_han, start_epoch, None, warmup=300.0, accounting=kw["accounting"],
                           on_stop=kw["on_stop"], recorder=kw["recorder"])
        runner.start()
        seen["written_while_running"] = json.loads(status.read_text())
        runner.stop()
        seen["han"] = runner.han

    monkeypatch.setattr(tui, "run_virtual_dashboard", dashboard)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run", "--state", "none", "--status-json", str(status)]) == 0
    final = json.loads(status.read_text())
    running = seen["written_while_running"]
    names = {"hub", *(d.name for d in seen["han"].devices)}
    assert {d["name"] for d in running["devices"].values()} == names
    assert {d["name"] for d in final["devices"].values()} == names
    # The last write is the gauges' figures when the HAN stopped: later, and more.
    assert final["time"] >= running["time"]
    assert all(final["devices"][k]["frames"] >= v["frames"] for k, v in running["devices"].items())
    assert sum(d["frames"] for d in final["devices"].values()) > 0
