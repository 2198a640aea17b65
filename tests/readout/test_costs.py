"""What an IHD works out from the HAN: both elements' import and cost now,
each period's cost from the tier registers and their prices, a pushed price
taken at once, and invalid history values kept out.

Every frame is written out by hand from the SE tables (Read Attributes
Response records: attribute id, status, ZCL type, little-endian value;
PublishPrice field by field); only the UTC times are packed by the helper.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

from han_emu.readout import Readout, ZclIngest
from han_emu.readout.costs import (
    MARK_TOLERANCE_S,
    Split,
    cost_now,
    element_period_cost,
    import_now,
    period_cost,
    period_days,
)
from han_emu.tui import views

ESI, IHD = 0x0000, 0x4D2C
PRIMARY, SECONDARY = 1, 2
TIME, METERING, PRICE = 0x000A, 0x0702, 0x0700
ZCL_EPOCH = 946_684_800  # 2000-01-01 00:00 UTC


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> float:
    return datetime(y, mo, d, h, mi, s, tzinfo=timezone.utc).timestamp()


def u(value: int, size: int) -> str:
    """A little-endian unsigned field, as the wire carries it."""
    return value.to_bytes(size, "little").hex()


def rsp(*records: str) -> bytes:
    """Read Attributes Response (server to client, general, TSN 0x01)."""
    return bytes.fromhex("18 01 01" + "".join(records))


def feed(ingest: ZclIngest, ep: int, cluster: int, zcl: bytes, now: float) -> None:
    ingest.frame(ESI, ep, IHD, 1, cluster, zcl, now)


def read_time(ingest: ZclIngest, now: float) -> None:
    # Time 0x0000, SUCCESS, UTCTime 0xE2
    feed(ingest, PRIMARY, TIME, rsp("0000 00 e2" + u(int(now) - ZCL_EPOCH, 4)), now)


def scaling_and_prices(ingest: ZclIngest, ep: int, tier_prices: dict[int, int], standing: int, now: float) -> None:
    # Multiplier 0x0301 uint24 1, Divisor 0x0302 uint24 1000: registers in Wh.
    feed(ingest, ep, METERING, rsp("0103 00 22 010000", "0203 00 22 e80300"), now)
    # PriceTrailingDigit 0x0617 bitmap8 0x40 (4 digits), StandingCharge 0x0301 uint32,
    # Tier N Block 1 Price 0x0410 + 0x10 (N - 1) uint32.
    records = ["1706 00 18 40", "0103 00 23" + u(standing, 4)]
    records += [u(0x0410 + 0x10 * (n - 1), 2) + "00 23" + u(p, 4) for n, p in tier_prices.items()]
    feed(ingest, ep, PRICE, rsp(*records), now)


def tiers(ingest: ZclIngest, ep: int, t1: int, t2: int, now: float) -> None:
    # CurrentTier1SummationDelivered 0x0100, Tier2 0x0102: uint48 (0x25), Wh.
    feed(ingest, ep, METERING, rsp("0001 00 25" + u(t1, 6), "0201 00 25" + u(t2, 6)), now)


# -- 8: both elements now -------------------------------------------------------------------------
def both_elements(secondary_w: int = 2000) -> Readout:
    readout = Readout()
    ingest = ZclIngest(readout)
    now = at(2026, 1, 14, 18)
    read_time(ingest, now)
    scaling_and_prices(ingest, PRIMARY, {1: 2850, 2: 1350}, 5320, now)
    scaling_and_prices(ingest, SECONDARY, {1: 1350}, 0, now)
    # InstantaneousDemand 0x0400 int24 (0x2A): +345 W; ActiveRegisterTierDelivered 0x0020 enum8 (0x30) 1.
    feed(ingest, PRIMARY, METERING, rsp("0004 00 2a 590100", "2000 00 30 01"), now)
    feed(ingest, SECONDARY, METERING, rsp("0004 00 2a" + u(secondary_w & 0xFFFFFF, 3), "2000 00 30 01"), now)
    return readout


def test_import_and_cost_now_count_both_elements_with_the_split() -> None:
    readout = both_elements()
    assert import_now(readout) == Split(Decimal("2.345"), Decimal("0.345"), Decimal("2.000"))
    assert cost_now(readout) == Split(Decimal("0.345") * Decimal("0.2850") + Decimal("2") * Decimal("0.1350"),
                                      Decimal("0.345") * Decimal("0.2850"), Decimal("2") * Decimal("0.1350"))
    now = readout.to_json(ambient=views.AmbientThresholds())["premises"]["now"]
    assert now["import_kw"] == {"total": 2.345, "primary": 0.345, "secondary": 2.0}
    assert now["cost_per_hour"]["total"] == float(Decimal("0.098325") + Decimal("0.27"))
    assert now["ambient"]["total"] == "Medium"  # 2.345 kW of the premises: between 1 and 3 kW


def test_an_exporting_secondary_adds_nothing_and_costs_nothing() -> None:
    readout = both_elements(secondary_w=-1500)
    assert import_now(readout) == Split(Decimal("0.345"), Decimal("0.345"), Decimal("0"))
    assert cost_now(readout).total == Decimal("0.345") * Decimal("0.2850")


def test_a_total_is_unknown_while_an_element_seen_has_not_given_its_part() -> None:
    readout = Readout()
    ingest = ZclIngest(readout)
    now = at(2026, 1, 14, 18)
    feed(ingest, PRIMARY, METERING, rsp("0004 00 2a 590100", "0103 00 22 010000", "0203 00 22 e80300"), now)
    feed(ingest, SECONDARY, METERING, rsp("0103 00 22 010000"), now)  # seen, no demand yet
    assert import_now(readout) == Split(None, Decimal("0.345"), None)


# -- 9: each period's cost from the tier registers -------------------------------------------------
SUN, MON, TUE = (2026, 1, 11), (2026, 1, 12), (2026, 1, 13)  # GMT: local time is UTC


def watched_three_days() -> tuple[Readout, ZclIngest]:
    """The primary's two tiers read just before Monday's midnight, just after it
    (the mark), in the evening, just after Tuesday's midnight, and after a price
    change on Tuesday."""
    readout = Readout()
    ingest = ZclIngest(readout)
    t = at(*SUN, 23, 58)
    read_time(ingest, t)
    scaling_and_prices(ingest, PRIMARY, {1: 2850, 2: 1350}, 5320, t)
    tiers(ingest, PRIMARY, 1_000_000, 500_000, t)
    tiers(ingest, PRIMARY, 1_000_010, 500_100, at(*MON, 0, 0, 40))
    # CurrentDayConsumptionDelivered 0x0401 uint24: the meter's own 6.110 kWh since midnight.
    feed(ingest, PRIMARY, METERING, rsp("0104 00 22" + u(6110, 3)), at(*MON, 18))
    tiers(ingest, PRIMARY, 1_004_010, 502_100, at(*MON, 18))
    return readout, ingest


def test_today_costs_each_tiers_register_difference_at_its_price() -> None:
    readout, _ = watched_three_days()
    now = at(*MON, 18)
    expected = Decimal("4.000") * Decimal("0.2850") + Decimal("2.000") * Decimal("0.1350") + Decimal("0.5320")
    assert period_cost(readout, "day", 0, now).primary == expected == Decimal("1.942")
    # What the dashboard shows is the same figure (before, the day's consumption at a lifetime average price).
    assert views.period_row(readout, "day", 0, now).cost == expected
    assert period_cost(readout, "week", 0, now).primary == expected  # Monday: the week's first day
    assert period_cost(readout, "month", 0, now).primary is None  # 1 January's midnight was not seen
    assert period_cost(readout, "day", 1, now).primary is None  # nor Sunday's


def test_past_periods_are_priced_segment_by_segment_at_the_prices_then() -> None:
    readout, ingest = watched_three_days()
    tiers(ingest, PRIMARY, 1_004_500, 505_000, at(*TUE, 0, 1))  # Tuesday's mark
    t = at(*TUE, 12)
    scaling_and_prices(ingest, PRIMARY, {1: 2850, 2: 1500}, 5320, t)  # tier 2 now GBP 0.15
    tiers(ingest, PRIMARY, 1_006_500, 506_000, t)
    monday = Decimal("4.490") * Decimal("0.2850") + Decimal("4.900") * Decimal("0.1350") + Decimal("0.5320")
    tuesday = Decimal("2.000") * Decimal("0.2850") + Decimal("1.000") * Decimal("0.1500") + Decimal("0.5320")
    assert period_cost(readout, "day", 1, t).primary == monday  # at Monday's prices: Tuesday's mark holds them
    assert period_cost(readout, "day", 0, t).primary == tuesday
    assert period_cost(readout, "week", 0, t).primary == monday + tuesday
    assert period_days("week", date(*TUE), 0) == 2


def test_a_mark_needs_a_reading_soon_after_midnight() -> None:
    readout, ingest = watched_three_days()
    tiers(ingest, PRIMARY, 1_004_500, 505_000, at(*TUE) + MARK_TOLERANCE_S + 1)
    pri = readout.by_role("primary")
    assert pri is not None and date(*TUE) not in pri.day_marks
    assert element_period_cost(pri, "day", 0, date(*TUE)) is None
    assert element_period_cost(pri, "day", 1, date(*TUE)) is None  # Monday's end was not seen either


# -- 10: a pushed price takes at once ---------------------------------------------------------------
def publish_price(tier: int, price: int, now: float, start: int = 0, tail: str = "") -> bytes:
    """PublishPrice (cluster-specific 0x09, TSN 0x22, command 0x00)."""
    return bytes.fromhex(
        "09 22 00"
        "01000000"  # ProviderID 1
        "06 546965722032"  # RateLabel "Tier 2"
        "02000000"  # IssuerEventID
        + u(int(now) - ZCL_EPOCH, 4)  # CurrentTime
        + "00"  # UnitOfMeasure: kWh
        "3a03"  # Currency 826 (GBP)
        + f"4{tier:x}"  # PriceTrailingDigit 4 / PriceTier
        + f"2{tier:x}"  # NumberOfPriceTiers 2 / RegisterTier
        + u(start, 4)  # StartTime (0 = now)
        + "ffff"  # DurationInMinutes: until changed
        + u(price, 4)
        + tail
    )


def test_a_pushed_price_changes_the_cost_per_hour_at_once() -> None:
    readout = both_elements()
    ingest = ZclIngest(readout)
    pri = readout.by_role("primary")
    assert pri is not None and pri.cost_per_hour() == Decimal("0.345") * Decimal("0.2850")
    now = at(2026, 1, 14, 18, 0, 30)
    # A price scheduled an hour ahead (GetScheduledPrices) changes nothing yet.
    feed(ingest, PRIMARY, PRICE, publish_price(2, 1400, now, start=int(now) - ZCL_EPOCH + 3600), now)
    assert pri.cost_per_hour() == Decimal("0.345") * Decimal("0.2850")
    # The tier changes to 2 at GBP 0.1390: pushed, in force now.
    feed(ingest, PRIMARY, PRICE, publish_price(2, 1390, now), now)
    assert pri.active_tier["delivered"] == 2
    assert pri.cost_per_hour() == Decimal("0.345") * Decimal("0.1390")
    assert cost_now(readout).primary == Decimal("0.345") * Decimal("0.1390")


def test_a_scheduled_price_is_not_the_current_price_until_it_starts() -> None:
    readout = both_elements()
    ingest = ZclIngest(readout)
    pri = readout.by_role("primary")
    assert pri is not None
    now = at(2026, 1, 14, 18, 0, 30)
    feed(ingest, PRIMARY, PRICE, publish_price(1, 2850, now), now)
    feed(ingest, PRIMARY, PRICE, publish_price(2, 1400, now, start=int(now) - ZCL_EPOCH + 3600), now)
    # The panels show the price in force, not the one an hour ahead.
    assert (pri.current_price.tier, pri.current_price.price) == (1, 2850)
    assert pri.next_price is not None and pri.next_price.start == now + 3600
    feed(ingest, PRIMARY, PRICE, publish_price(1, 2850, now + 3599), now + 3599)  # any frame: time passes
    assert pri.current_price.price == 2850 and pri.next_price is not None
    tiers(ingest, PRIMARY, 1_004_500, 505_000, now + 3600)  # the next frame after its start
    assert (pri.current_price.tier, pri.current_price.price) == (2, 1400) and pri.next_price is None
    assert pri.active_tier["delivered"] == 2 and pri.price_now() == Decimal("0.1400")


def test_a_pushed_generation_price_sets_the_export_tier() -> None:
    readout = both_elements()
    ingest = ZclIngest(readout)
    now = at(2026, 1, 14, 18, 0, 30)
    tail = ("ff" "c4090000"  # PriceRatio n/a, GenerationPrice 2500 (GBP 0.25)
            "ff" "ffffffff" "ff" "ff"  # GenerationPriceRatio, AlternateCost (none), its unit and digit
            "00" "00" "04" "03"  # block thresholds 0, PriceControl 0, 4 generation tiers, GenerationTier 3
            "00" "00" "00")  # extended tiers
    feed(ingest, SECONDARY, PRICE, publish_price(1, 1350, now, tail=tail), now)
    sec = readout.by_role("secondary")
    assert sec is not None and sec.active_tier["received"] == 3
    assert sec.price_now("received") == Decimal("0.25")


# -- history: invalid values -----------------------------------------------------------------------
def test_invalid_history_values_are_unknown_not_16777_kwh() -> None:
    readout = both_elements()
    ingest = ZclIngest(readout)
    now = at(2026, 1, 14, 18)
    # CurrentWeek 0x0430 uint24 0xFFFFFF (invalid), PreviousWeek 0x0432 uint24 1234 Wh,
    # CurrentMonth 0x0440 uint32 0xFFFFFFFF (invalid), PreviousMonth 0x0442 uint32 0x00FFFFFF (valid in 32 bits).
    feed(ingest, PRIMARY, METERING, rsp("3004 00 22 ffffff", "3204 00 22 d20400",
                                        "4004 00 23 ffffffff", "4204 00 23 ffffff00"), now)
    pri = readout.by_role("primary")
    assert pri is not None
    assert pri.history[("week", "delivered", 0)] is None
    assert pri.history[("week", "delivered", 1)] == 1234
    assert pri.history[("month", "delivered", 0)] is None
    assert pri.history[("month", "delivered", 1)] == 0xFFFFFF
    row = views.period_row(readout, "week", 0, now)
    assert row.import_kwh is None and row.import_split.primary is None
