"""The PPMID screen's credit panel and its keys, on a virtual HAN whose primary
element runs in prepayment mode: what it shows equals the meter's account, and
the keys make the simulated PPMID top up and select emergency credit over the air."""

from __future__ import annotations

import io

from rich.console import Console

from han_emu.han.config import loads
from han_emu.han.virtual import VirtualHan
from han_emu.meter.model import TwinMeter
from han_emu.meter.scenario import Scenario
from han_emu.meter.settings import PRIMARY
from han_emu.meter.simulate import run
from han_emu.tui import DashboardApp
from han_emu.tui.han_thread import HanRunner
from han_emu.tui.screens import PpmidScreen

from ..support.waiting import wait_until_async
from .helpers import SIZE, START

CONFIG = """
[prepayment.primary]
mode = "prepayment"
initial_credit = 2.50
emergency_credit_threshold = 1.00
top_up_amount = 15
[[prepayment.primary.debts]]
label = "Old account"
amount = 30
rate = 1
"""


def prepay_runner() -> HanRunner:
    config = loads(CONFIG)

    def make() -> VirtualHan:
        meter = TwinMeter(config.meter, START - 86400)
        run(meter, Scenario(config.scenario), START + 7 * 86400, 300)  # held still: ahead of the HAN's clock
        meter.time = START + 7 * 86400
        return VirtualHan(config, meter)

    return HanRunner(make, START, None, warmup=120.0, paused=True)


def text_of(app: DashboardApp, selector: str) -> str:
    widget = app.screen.query_one(selector)
    console = Console(width=widget.size.width or SIZE[0], file=io.StringIO(), record=True, color_system=None)
    console.print(widget.content)
    return " ".join(console.export_text().split())


async def run_until_shown(runner: HanRunner, app: DashboardApp, done, words: str) -> None:
    """Let the HAN run until ``done()`` and the credit panel shows ``words``, then
    hold it still and refresh the screen once more."""

    def shown() -> bool:
        app.refresh_data()
        return bool(done()) and words in text_of(app, "#prepay")

    runner.resume()
    try:
        await wait_until_async(shown, timeout=20, what=words)
    finally:
        runner.pause()
    app.refresh_data()


async def test_ppmid_screen_shows_credit_and_its_keys_act_through_the_ppmid() -> None:
    runner = prepay_runner()
    runner.start()
    try:
        han = runner.han
        assert han is not None
        account = han.meter.prepayment[PRIMARY]
        app = DashboardApp(runner.source, runner, auto_refresh=False)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("2")
            await pilot.pause()
            assert isinstance(app.screen, PpmidScreen)
            prepay = text_of(app, "#prepay")
            assert (f"primary prepayment £{account.credit:.2f} £5.00 £{account.accumulated_debt:.2f} "
                    "(Old account") in prepay
            assert "emergency credit available (e)" in prepay
            assert "secondary credit £10.00 £5.00 £0.00 credit OK" in prepay
            footer = " ".join(str(k.description) for k in app.screen.query("FooterKey"))
            assert "Top up" in footer and "Emergency credit" in footer

            await pilot.press("e")
            await run_until_shown(runner, app, lambda: account.emergency_selected, "emergency credit selected")
            assert "emergency credit selected" in text_of(app, "#prepay")

            await pilot.press("t")
            await run_until_shown(runner, app, lambda: account.top_ups, "Last top-up")
            prepay = text_of(app, "#prepay")
            assert f"Last top-up (primary): Accepted, £15.00, credit then £{account.credit:.2f}" in prepay
            assert f"primary prepayment £{account.credit:.2f}" in prepay
            assert account.top_ups[-1].device == 2  # the PPMID sent it (SE: an IHD-type device)
    finally:
        runner.stop()


async def test_keys_are_not_offered_without_a_ppmid_source() -> None:
    from han_emu.tui.controls import offers

    assert not offers(None, "top_up") and not offers(None, "emergency")
    assert offers(prepay_runner(), "top_up")
