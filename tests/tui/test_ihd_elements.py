"""The IHD screen shows the premises: both elements' import and cost now with
the split, the ambient level of their sum, today's cost from the tier
registers, and the 8-day, 5-week and 13-month history (import of both
elements, the secondary's export; an invalid value as a dash).  The readout
is fed hand-written frames (see ``tests/readout/test_costs.py``)."""

from __future__ import annotations

from han_emu.readout import Readout, ZclIngest
from han_emu.tui import DashboardApp, Snapshot

from ..readout.test_costs import MON, PRIMARY, SECONDARY, METERING, at, feed, rsp, tiers, u, watched_three_days
from ..readout.test_costs import scaling_and_prices
from .helpers import SIZE
from .test_app import squash, text_of

NOW = at(*MON, 18)


class StillSource:
    """One display's readout, held still."""

    def __init__(self, readout: Readout) -> None:
        self.readout = readout

    def snapshot(self) -> Snapshot:
        return Snapshot(time=NOW, readouts={"IHD": self.readout}, kinds={"IHD": "ihd"}, source="test")


def readout_of_both() -> Readout:
    readout, ingest = watched_three_days()  # the primary's tiers around Monday's midnight and at 18:00
    assert isinstance(ingest, ZclIngest)
    scaling_and_prices(ingest, SECONDARY, {1: 1350}, 0, at(*MON, 0, 0, 30))
    # The secondary's one import tier (0x0100 uint48): 200.000 kWh after midnight, 206.000 at 18:00.
    feed(ingest, SECONDARY, METERING, rsp("0001 00 25" + u(200_000, 6)), at(*MON, 0, 0, 40))
    feed(ingest, SECONDARY, METERING, rsp("0001 00 25" + u(206_000, 6)), NOW)
    # InstantaneousDemand 0x0400 int24: primary +345 W, secondary +2000 W; active import tier 1.
    tiers(ingest, PRIMARY, 1_004_010, 502_100, NOW)
    feed(ingest, PRIMARY, METERING, rsp("0004 00 2a 590100", "2000 00 30 01"), NOW)
    feed(ingest, SECONDARY, METERING, rsp("0004 00 2a d00700", "2000 00 30 01"), NOW)
    # History (uint24 0x22 for days and weeks, uint32 0x23 for months), Wh:
    # PreviousDay 0x0403, PreviousDay8 0x042C, PreviousWeek5 0x043A / received 0x043B,
    # PreviousMonth 0x0442, PreviousMonth13 0x045A; CurrentDay 0x0401 and received 0x0402.
    feed(ingest, PRIMARY, METERING, rsp("0304 00 22 581b00", "2c04 00 22 b82200", "3a04 00 22 50c300",
                                        "4204 00 23 e0930400", "5a04 00 23 ffffffff"), NOW)
    feed(ingest, SECONDARY, METERING, rsp("0304 00 22 881300", "2c04 00 22 570400", "3a04 00 22 881300",
                                          "3b04 00 22 393000", "4204 00 23 a0860100", "0104 00 22 701700"), NOW)
    feed(ingest, SECONDARY, METERING, rsp("0204 00 22 b80b00"), NOW)
    return readout


async def test_the_ihd_screen_shows_both_elements_and_the_history() -> None:
    app = DashboardApp(StillSource(readout_of_both()), auto_refresh=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        now = squash(text_of(app, "#now"))
        assert "Import now 2.345 kW" in now
        assert "primary + secondary 0.345 + 2.000 kW" in now
        # 0.345 kW at GBP 0.2850 plus 2 kW at GBP 0.1350: GBP 0.368325 an hour.
        assert "Cost now £0.37/h" in now and "£0.10 + £0.27/h" in now
        assert "Ambient Medium" in now  # 2.345 kW between 1 and 3 kW; the primary alone is Low
        periods = squash(text_of(app, "#periods"))
        # Today: 6.110 + 6.000 kWh; cost 4 kWh x 0.285 + 2 kWh x 0.135 + 0.532 + 6 kWh x 0.135 = GBP 2.752.
        assert "Today 12.110 kWh 6.110 + 6.000 £2.75 3.000 kWh" in periods
        days = squash(text_of(app, "#days"))
        assert "Sun 11 Jan 12.000" in days  # 7.000 + 5.000
        assert "Sun 04 Jan 9.999" in days  # the eighth day back: 8.888 + 1.111
        weeks = squash(text_of(app, "#weeks"))
        assert "w/c 08 Dec 55.000 - 12.345" in weeks  # the fifth week back; its cost was not watched
        months = squash(text_of(app, "#months"))
        assert "Dec 2025 400.000" in months
        assert "Dec 2024 - - -" in months  # the thirteenth month: 0xFFFFFFFF, invalid
        assert "16777" not in months
