"""The simulated IHD reads the meter's Basic cluster at start, as a GB IHD's
'about the meter' page does, and the configured identity reaches its readout
and the dashboard's Now panel."""

from __future__ import annotations

from datetime import datetime, timezone

from han_emu.han.config import loads
from han_emu.han.virtual import VirtualHan
from han_emu.meter.model import TwinMeter
from han_emu.radio.vtime import run_virtual
from han_emu.sim.schedule import DeviceSettings
from han_emu.server.metering import AmbientThresholds
from han_emu.tui.screens import now_panel

START = datetime(2026, 6, 1, 10, tzinfo=timezone.utc).timestamp()
QUIET = [DeviceSettings(kind, kind.upper(), demand_s=0, registers_s=0, prices_s=0, profile_s=0,
                        history_s=0, time_s=0, report=False) for kind in ("ihd", "ppmid")]
CONFIG = """
[basic]
manufacturer = "Lab Meters Ltd"
model = "Twin ESME 2"
date_code = "20261201"
"""


def test_the_ihd_reads_the_configured_identity_and_the_ppmid_does_not() -> None:
    config = loads(CONFIG)
    meter = TwinMeter(config.meter, START)

    async def main() -> dict:
        han = VirtualHan(config, meter, devices=QUIET)
        await han.start()
        await han.run_for(60)
        readouts = {d.name: d.readout for d in han.devices}
        await han.stop()
        return readouts

    readouts = run_virtual(main(), meter.time)
    basic = readouts["IHD"].basic
    assert (basic["manufacturer"], basic["model"], basic["date_code"]) == ("Lab Meters Ltd", "Twin ESME 2", "20261201")
    assert {"zcl_version", "app_version", "stack_version", "hw_version", "power_source"} <= set(basic)
    assert readouts["PPMID"].basic == {}
    assert readouts["IHD"].to_json()["basic"]["model"] == "Twin ESME 2"
    rows = now_panel(readouts["IHD"], START + 60, AmbientThresholds())
    text = " ".join(str(cell) for column in rows.columns for cell in column._cells)
    assert "Lab Meters Ltd Twin ESME 2 (20261201)" in text
