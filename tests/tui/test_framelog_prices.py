"""PublishPrice in the dashboard's frame log: tier, label and the price with its
trailing digit applied (issue 15), whether the frame came off the virtual air
(zigpy decodes it) or out of a capture (the replay decoded it already)."""

from __future__ import annotations

from textual.widgets import DataTable

from han_emu.replay import decode_zcl
from han_emu.tui.app import DashboardApp
from han_emu.tui.framelog import describe, describe_message

from ..replay.helpers import PUBLISH_PRICE
from .helpers import SIZE

SE = 0x0109
PRICE = 0x0700


def test_publish_price_reads_as_tier_label_and_money() -> None:
    # tier 2, label "EXPORT", 15000 with trailing digit 5 in GBP (826), per kWh
    assert describe(SE, PRICE, PUBLISH_PRICE) == '<- publish_price tier 2 "EXPORT" £0.15000/kWh'
    message = decode_zcl(PRICE, PUBLISH_PRICE)
    assert describe_message(PRICE, message, len(PUBLISH_PRICE)) == describe(SE, PRICE, PUBLISH_PRICE)


def test_a_truncated_publish_price_is_said_to_be_malformed() -> None:
    assert describe(SE, PRICE, PUBLISH_PRICE[:12]) == "<- publish_price (malformed)"


async def test_the_han_screens_log_shows_the_price_served(still_han) -> None:
    app = DashboardApp(still_han.source, still_han, auto_refresh=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        await pilot.pause()
        log = app.screen.query_one("#log", DataTable)
        rows = [log.get_row_at(i) for i in range(log.row_count)]
        prices = [str(row[-1]) for row in rows if "publish_price" in str(row[-1])]
        assert prices, "the displays ask for the current price when they join"
        assert all(" tier " in p and "£0." in p and p.endswith("/kWh") for p in prices), prices
