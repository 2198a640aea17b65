"""Ambient consumption thresholds from the configuration: the ESI's
IAmbientConsumptionIndicator and the IHD screen agree at the configured
boundaries, through the HAN (the ESI's Read Attributes Response, written
out by hand, fed to a display's readout and shown)."""

from __future__ import annotations

import argparse
from decimal import Decimal

import pytest

from han_emu.meter.clock import VirtualClock
from han_emu.han.config import ConfigError, load, loads
from han_emu.meter.model import Flow, TwinMeter
from han_emu.meter.settings import PRIMARY, MeterSettings
from han_emu.readout import Readout, ZclIngest
from han_emu.server.esi import EsiServer
from han_emu.server.metering import AmbientThresholds
from han_emu.tui import DashboardApp, Snapshot

from ..server.server_helpers import frame, request
from .helpers import SIZE
from .test_app import squash, text_of

START = 1_767_225_600.0  # 2026-01-01 00:00 UTC
CONFIG = """
[ihd]
ambient_medium_kw = 0.75
ambient_high_kw = 2.5
"""


class StillSource:
    """One display's readout, held still."""

    def __init__(self, readout: Readout) -> None:
        self.readout = readout

    def snapshot(self) -> Snapshot:
        return Snapshot(time=START, readouts={"IHD": self.readout}, kinds={"IHD": "ihd"}, source="test")


def test_the_ihd_table_is_read_and_checked() -> None:
    assert load(None).ihd == AmbientThresholds(Decimal("1"), Decimal("3"))
    assert loads(CONFIG).ihd == AmbientThresholds(Decimal("0.75"), Decimal("2.5"))
    with pytest.raises(ConfigError, match=r"^ihd.ambient_high_kw: must be above"):
        loads("[ihd]\nambient_medium_kw = 2\nambient_high_kw = 2")
    with pytest.raises(ConfigError, match=r"^ihd.ambient_medium_kw: must not be negative"):
        loads("[ihd]\nambient_medium_kw = -0.1")
    with pytest.raises(ConfigError, match=r"^ihd.ambient_low_kw: unknown key"):
        loads("[ihd]\nambient_low_kw = 1")


#: (import W, export W, InstantaneousDemand int24 as served, indicator, IHD level)
CASES = [
    (0.0, 500.0, "0cfeff", 0, "Low"),  # exporting: -500 W
    (749.0, 0.0, "ed0200", 0, "Low"),
    (749.6, 0.0, "ee0200", 1, "Medium"),  # served as 750 W: both classify what the HAN carries
    (750.0, 0.0, "ee0200", 1, "Medium"),
    (2499.0, 0.0, "c30900", 1, "Medium"),
    (2500.0, 0.0, "c40900", 2, "High"),
    (7000.0, 0.0, "581b00", 2, "High"),
]


async def test_ihd_screen_and_esi_agree_at_the_configured_boundaries() -> None:
    config = loads(CONFIG)
    meter = TwinMeter(MeterSettings().validate(), START)
    server = EsiServer(meter, VirtualClock(START), ambient=config.ihd)
    source = StillSource(Readout())
    app = DashboardApp(source, thresholds=config.ihd, auto_refresh=False)
    async with app.run_test(size=SIZE):
        for tsn, (import_w, export_w, demand_hex, indicator, level) in enumerate(CASES, start=0x21):
            meter.set_flow(PRIMARY, Flow(import_w=import_w, export_w=export_w))
            # Read Attributes: InstantaneousDemand 0x0400, IAmbientConsumptionIndicator 0x0207,
            # Multiplier 0x0301, Divisor 0x0302.
            [reply] = server.handle(request(f"00 {tsn:02x} 00 0004 0702 0103 0203", 0x0702, dst_ep=1))
            assert frame(reply) == (
                f"18{tsn:02x}01"
                f"0004002a{demand_hex}"
                f"07020030{indicator:02x}"
                "0103002201000002030022e80300"
            ), (import_w, export_w)
            source.readout = Readout()
            ZclIngest(source.readout).frame(0x0000, 1, 0x1234, 2, 0x0702, bytes.fromhex(frame(reply)), START)
            assert source.readout.by_role("primary").ambient == indicator
            app.refresh_data()
            assert f"Ambient {level}" in squash(text_of(app, "#now")), (import_w, export_w)


def test_the_dashboard_gets_the_configured_thresholds(monkeypatch, tmp_path) -> None:
    import han_emu.cli.run as cli
    import han_emu.tui as tui

    path = tmp_path / "han.toml"
    path.write_text(CONFIG)
    seen: dict = {}
    monkeypatch.setattr(tui, "run_virtual_dashboard", lambda *a, **kw: seen.update(kw))
    args = argparse.Namespace(speed=1.0, duration=None, lab_accept_unencrypted=False)
    assert cli._dashboard(load(path), "none", START, args, None) == 0
    assert seen["thresholds"] == AmbientThresholds(Decimal("0.75"), Decimal("2.5"))
