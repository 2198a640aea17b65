"""The prepayment account: credit follows consumption at the live tier price,
emergency credit, debt recovery, top-ups, and the account inside the meter."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from han_emu.meter.credit import (
    ACCEPTED,
    CAUSE_GENERAL,
    CAUSE_TOP_UP,
    CREDIT_EXHAUSTED,
    CREDIT_OK,
    EC_AVAILABLE,
    EC_ENABLED,
    EC_IN_USE,
    EC_SELECTED,
    LOW_CREDIT,
    REJECTED_DUPLICATE,
    REJECTED_INVALID,
    DebtSettings,
    PrepaymentAccount,
    PrepaymentError,
    PrepaymentSettings,
    lab_utrn,
    utrn_valid,
)
from han_emu.meter.model import Flow, TwinMeter
from han_emu.meter.settings import PRIMARY, SECONDARY, MeterSettings

D = Decimal
PREPAY = PrepaymentSettings(mode="prepayment", initial_credit=D("10"), emergency_credit_limit=D("5"),
                            emergency_credit_threshold=D("1"), low_credit_warning=D("2"), top_up_amount=D("10"))
DAY = 86400.0


def account(**kw) -> PrepaymentAccount:
    return PrepaymentAccount.new(replace(PREPAY, **kw), 0.0)


def test_prepayment_charges_energy_and_standing_charge() -> None:
    a = account()
    a.charge(3600.0, 2.0, 0.25, 0.48)  # 2 kWh at 25p, an hour of 48p a day
    assert a.credit == pytest.approx(10 - 0.50 - 0.02)
    assert a.time == 3600.0


def test_credit_mode_draws_nothing() -> None:
    a = account(mode="credit")
    a.charge(DAY, 100.0, 0.30, 1.0)
    assert a.credit == 10.0 and a.status() == CREDIT_OK
    assert a.top_up(lab_utrn(1), 2, DAY).result == ACCEPTED and a.credit == 20.0


def test_status_bits_through_low_emergency_and_exhausted() -> None:
    a = account()
    assert a.status() == EC_ENABLED | CREDIT_OK
    a.charge(1.0, 0.0, 0.0, 0.0)
    a._draw(8.5)  # 1.50 left: below the warning level, above the threshold
    assert a.status() == EC_ENABLED | LOW_CREDIT
    a._draw(0.75)  # 0.75: below the 1.00 threshold: emergency credit on offer
    assert a.status() == EC_ENABLED | LOW_CREDIT | EC_AVAILABLE
    assert a.select_emergency_credit()
    assert a.status() == EC_ENABLED | LOW_CREDIT | EC_SELECTED
    assert not a.select_emergency_credit()  # only once
    a._draw(2.75)  # credit to zero, then 2.00 of the 5.00 emergency credit
    assert (a.credit, a.emergency_credit) == (0.0, pytest.approx(3.0))
    assert a.status() == EC_ENABLED | EC_IN_USE | EC_SELECTED
    a._draw(4.0)  # the rest of the emergency credit and 1.00 beyond
    assert (a.credit, a.emergency_credit) == (pytest.approx(-1.0), 0.0)
    assert a.status() == EC_ENABLED | CREDIT_EXHAUSTED | EC_SELECTED


def test_exhausted_without_selecting_goes_negative_and_offers_emergency_credit() -> None:
    a = account(initial_credit=D("0.50"))
    a._draw(1.0)
    assert a.credit == pytest.approx(-0.5) and a.emergency_credit == 5.0
    assert a.status() == EC_ENABLED | CREDIT_EXHAUSTED | EC_AVAILABLE


def test_top_up_repays_emergency_credit_then_ends_the_selection() -> None:
    a = account(initial_credit=D("0.50"))
    assert a.select_emergency_credit()
    a._draw(3.5)  # 0.50 of credit, 3.00 of emergency credit
    result = a.top_up("00000000000000000001", 2, 100.0)
    assert (result.result, result.amount) == (ACCEPTED, 10.0)
    assert a.emergency_credit == pytest.approx(5.0) and a.credit == pytest.approx(7.0)
    assert not a.emergency_selected and a.total_added == 10.0
    assert a.top_ups[-1].code == "00000000000000000001" and a.top_ups[-1].device == 2
    assert a.snapshots[-1].cause == CAUSE_TOP_UP and a.snapshots[-1].credit == pytest.approx(7.0)


def test_a_small_top_up_repays_part_of_the_emergency_credit() -> None:
    a = account(initial_credit=D("0"), top_up_amount=D("2"))
    assert a.select_emergency_credit()
    a._draw(4.0)
    a.top_up(lab_utrn(7), 2, 1.0)
    assert (a.credit, a.emergency_credit, a.emergency_selected) == (0.0, pytest.approx(3.0), True)


@pytest.mark.parametrize("code", ["1234567890123456789", "123456789012345678901", "1234567890123456789X",
                                  "", "１２３４５６７８９０１２３４５６７８９０"])
def test_malformed_utrns_are_refused(code: str) -> None:
    a = account()
    assert not utrn_valid(code)
    assert a.top_up(code, 2, 0.0).result == REJECTED_INVALID
    assert a.credit == 10.0 and not a.top_ups


def test_a_utrn_is_accepted_once() -> None:
    a = account()
    code = lab_utrn(42)
    assert code == "00000000000000000042" and utrn_valid(code)
    assert a.top_up(code, 2, 0.0).result == ACCEPTED
    assert a.top_up(code, 2, 1.0) .result == REJECTED_DUPLICATE
    assert a.credit == 20.0


def test_time_based_debt_is_recovered_by_the_second_while_in_credit() -> None:
    a = account(debts=(DebtSettings("Old", D("3.00"), "time", rate=D("1.00"), frequency="day"),))
    a.charge(DAY / 2, 0.0, 0.0, 0.0)
    assert a.debts[0].amount == pytest.approx(2.5) and a.credit == pytest.approx(9.5)
    a.charge(10 * DAY, 0.0, 0.0, 0.0)  # recovers what is left, never more
    assert a.debts[0].amount == 0.0 and a.credit == pytest.approx(7.0)


def test_time_based_debt_pauses_without_credit() -> None:
    a = account(initial_credit=D("0"), debts=(DebtSettings("Old", D("3"), "time", rate=D("1"), frequency="hour"),))
    a.charge(3600.0, 0.0, 0.0, 0.0)
    assert a.debts[0].amount == 3.0 and a.credit == 0.0


def test_percentage_debt_takes_its_share_of_each_top_up() -> None:
    a = account(debts=(DebtSettings("Fee", D("1.50"), "percentage", percentage=D("10")),))
    a.top_up(lab_utrn(1), 2, 0.0)
    assert a.debts[0].amount == pytest.approx(0.5) and a.credit == pytest.approx(19.0)
    a.top_up(lab_utrn(2), 2, 1.0)  # only the 0.50 still owed
    assert a.debts[0].amount == 0.0 and a.credit == pytest.approx(28.5)
    assert a.accumulated_debt == 0.0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"mode": "payg"}, r"^p\.mode: credit or prepayment"),
        ({"top_up_amount": D("0")}, r"^p\.top_up_amount: must be above zero"),
        ({"emergency_credit_limit": D("-1")}, r"^p\.emergency_credit_limit: cannot be negative"),
        ({"debts": (DebtSettings("x", D(1)),) * 4}, r"^p\.debts: at most 3"),
        ({"debts": (DebtSettings("x", D(1), "catch-up"),)}, r"^p\.debts\[0\]\.method"),
        ({"debts": (DebtSettings("x", D(1), frequency="fortnight"),)}, r"^p\.debts\[0\]\.frequency"),
        ({"debts": (DebtSettings("a label too long", D(1)),)}, r"^p\.debts\[0\]\.label: at most 12 bytes"),
        ({"debts": (DebtSettings("x", D(1), "percentage", percentage=D(101)),)}, r"^p\.debts\[0\]\.percentage"),
    ],
)
def test_settings_errors_name_the_field(change: dict, message: str) -> None:
    with pytest.raises(PrepaymentError, match=message):
        replace(PREPAY, **change).validate("p")


# -- inside the meter ----------------------------------------------------------------------
def ts(*args: int) -> float:
    return datetime(*args, tzinfo=timezone.utc).timestamp()


def prepay_meter(**kw) -> MeterSettings:
    base = MeterSettings()
    return replace(base, primary=replace(base.primary, prepayment=replace(PREPAY, **kw))).validate()


def test_meter_charges_each_import_tier_at_its_price() -> None:
    # Thursday 3 Dec 2026 (GMT): E7 tier 2 (0.135) 00:30-07:30, tier 1 (0.285) otherwise
    settings = prepay_meter(initial_credit=D("20"))
    meter = TwinMeter(settings, ts(2026, 12, 3))
    meter.set_flow(PRIMARY, Flow(import_w=1000.0))
    meter.set_flow(SECONDARY, Flow(import_w=1000.0))
    meter.advance(ts(2026, 12, 3, 8))
    # 0.5 h at tier 1 + 7 h at tier 2 + 0.5 h at tier 1, and 8 h of the 0.532/day standing charge
    expected = 20 - (1.0 * 0.285 + 7.0 * 0.135) - 0.532 * 8 / 24
    assert meter.prepayment[PRIMARY].credit == pytest.approx(expected)
    assert meter.prepayment[SECONDARY].credit == 10.0  # the secondary element is in credit mode


def test_meter_takes_a_snapshot_at_local_midnight() -> None:
    meter = TwinMeter(prepay_meter(), ts(2026, 12, 3, 23))
    meter.advance(ts(2026, 12, 4, 1))
    snaps = meter.prepayment[PRIMARY].snapshots
    assert [(s.time, s.cause) for s in snaps] == [(ts(2026, 12, 4), CAUSE_GENERAL)]


def test_account_survives_core_state_and_old_state_starts_afresh() -> None:
    settings = prepay_meter(debts=(DebtSettings("Old", D("3"), "time", rate=D("1")),))
    meter = TwinMeter(settings, ts(2026, 12, 3))
    meter.set_flow(PRIMARY, Flow(import_w=500.0))
    meter.advance(ts(2026, 12, 3, 6))
    a = meter.prepayment[PRIMARY]
    assert a.select_emergency_credit() is False  # plenty of credit
    a.top_up(lab_utrn(5), 2, meter.time)
    core = meter.core_state()
    back = TwinMeter.restore(settings, core, [], [])
    b = back.prepayment[PRIMARY]
    assert b.state() == a.state()
    old = {k: v for k, v in core.items() if k != "prepayment"}  # a state file from before prepayment
    fresh = TwinMeter.restore(settings, old, [], []).prepayment[PRIMARY]
    assert fresh.credit == 10.0 and fresh.time == meter.time and not fresh.top_ups


def test_downtime_is_not_charged() -> None:
    meter = TwinMeter(prepay_meter(), ts(2026, 12, 3))
    meter.resume(ts(2026, 12, 10))
    meter.advance(ts(2026, 12, 10, 0, 0, 1))
    assert meter.prepayment[PRIMARY].credit == pytest.approx(10 - 0.532 / 86400)
