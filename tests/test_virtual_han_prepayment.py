"""End to end on the virtual HAN: the PPMID reads both elements' Prepayment
clusters, tops up and selects emergency credit over the air, and the run's
summary carries credit, emergency credit and debt."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from clusters.prepayment import ResultType
from han_emu.han.config import loads
from han_emu.han.summary import summary_text
from han_emu.han.virtual import VirtualHan
from han_emu.meter.model import TwinMeter
from han_emu.meter.scenario import Scenario
from han_emu.meter.settings import PRIMARY, SECONDARY
from han_emu.meter.simulate import run
from han_emu.radio.vtime import run_virtual
from han_emu.sim.schedule import DeviceSettings

START = datetime(2026, 6, 1, tzinfo=timezone.utc).timestamp()
CONFIG = """
[prepayment.primary]
mode = "prepayment"
initial_credit = 3.00
emergency_credit_threshold = 1.00
top_up_amount = 15
[[prepayment.primary.debts]]
label = "Old account"
amount = 30
rate = 1
frequency = "day"
"""
PPMID = DeviceSettings("ppmid", "PPMID", demand_s=0, registers_s=0, prices_s=0, profile_s=0,
                       history_s=0, time_s=0, report=False)


def test_ppmid_shows_the_accounts_tops_up_and_selects_emergency_credit() -> None:
    config = loads(CONFIG)
    meter = TwinMeter(config.meter, START)
    run(meter, Scenario(config.scenario), START + 2 * 86400, 300)  # credit runs down below the threshold
    account = meter.prepayment[PRIMARY]
    assert 0 < account.credit < 1.0 or account.credit <= 0

    async def main():
        han = VirtualHan(config, meter, devices=[PPMID], step_s=10**9)  # the meter holds still
        await han.start()
        ppmid = han.devices[0]
        before = ppmid.readout.by_role("primary").prepayment.credit
        selected = await han.ppmid_key("emergency")
        rejected = await ppmid.top_up(1, "not a UTRN")
        accepted = await han.ppmid_key("top_up")
        held = (account.credit, account.emergency_credit, account.accumulated_debt)  # as the PPMID read them
        await han.stop()
        return han, ppmid, before, selected, rejected, accepted, held

    han, ppmid, before, selected, rejected, accepted, held = run_virtual(main(), meter.time)
    pri, sec = ppmid.readout.by_role("primary"), ppmid.readout.by_role("secondary")
    assert before is not None
    assert selected is True and rejected == ResultType.Rejected_Invalid_Top_Up
    assert accepted == ResultType.Accepted
    # After the top-up the PPMID read the account again: equal to the meter's, to the HAN's 1e-5 GBP.
    p = pri.prepayment
    assert p.prepayment_mode is True and p.last_top_up is not None and p.last_top_up[0] == 0
    credit, emergency, debt = held
    assert pri.money(p.credit) == Decimal(round(credit * 100000)) / 100000
    assert pri.money(p.emergency_credit) == Decimal(round(emergency * 100000)) / 100000
    assert pri.money(p.debt) == Decimal(round(debt * 100000)) / 100000
    assert p.debts[1][0] == "Old account" and 2 not in p.debts  # debts 2 and 3 are not configured
    assert account.total_added == 15.0 and len(account.top_ups) == 1
    assert sec.prepayment.prepayment_mode is False and sec.money(sec.prepayment.credit) == Decimal(10)
    summary = han.summary()
    assert summary["prepayment"][PRIMARY]["credit"] == round(account.credit, 5)
    assert summary["prepayment"][PRIMARY]["debt"] == round(account.accumulated_debt, 5)
    assert summary["prepayment"][SECONDARY]["mode"] == "credit"
    readout = summary["devices"]["PPMID"]["readout"]["elements"]["primary"]["prepayment"]
    assert readout["credit"] == float(pri.money(p.credit)) and readout["mode"] == "prepayment"
    text = summary_text(summary, 1.0)
    assert f"primary element, prepayment mode: credit {account.credit:.2f} GBP" in text
    assert "secondary element, credit mode: credit 10.00 GBP" in text
    # The PPMID asked the Prepayment cluster: reads, the selection, two top-ups.
    assert ppmid.requests[0x0705] >= 5
