from datetime import date, datetime, timezone

import pytest

from han_emu.meter.gbtime import bst_window, local_datetime, local_midnight, utc_offset
from han_emu.meter.tariff import DayProfile, SwitchingTable, Tariff, TariffError
from decimal import Decimal


def ts(*args: int) -> float:
    return datetime(*args, tzinfo=timezone.utc).timestamp()


def test_bst_2026_window() -> None:
    # BST 2026: Sunday 29 March 01:00 UTC to Sunday 25 October 01:00 UTC.
    start, end = bst_window(2026)
    assert start == ts(2026, 3, 29, 1)
    assert end == ts(2026, 10, 25, 1)
    assert utc_offset(ts(2026, 3, 29, 0, 59)) == 0
    assert utc_offset(ts(2026, 3, 29, 1, 0)) == 3600
    assert utc_offset(ts(2026, 10, 25, 0, 59)) == 3600
    assert utc_offset(ts(2026, 10, 25, 1, 0)) == 0


def test_local_midnight_in_summer_is_2300_utc() -> None:
    assert local_midnight(date(2026, 7, 1)) == ts(2026, 6, 30, 23)
    assert local_midnight(date(2026, 12, 1)) == ts(2026, 12, 1)
    assert local_datetime(ts(2026, 6, 30, 23, 30)) == datetime(2026, 7, 1, 0, 30)


WEEKDAY = DayProfile(((0, 1), (420, 2), (960, 3), (1140, 4)))
WEEKEND = DayProfile(((0, 2),))
TABLE = SwitchingTable(
    {"weekday": WEEKDAY, "weekend": WEEKEND},
    ("weekday",) * 5 + ("weekend",) * 2,
    {date(2026, 12, 25): "weekend"},
)


def test_tier_follows_the_table_across_midnight() -> None:
    # Thursday 3 Dec 2026 (GMT): 23:30 is tier 4, Friday 00:00 back to tier 1.
    assert TABLE.tier_at(ts(2026, 12, 3, 23, 30)) == 4
    assert TABLE.tier_at(ts(2026, 12, 4, 0, 0)) == 1
    # Friday 23:59 tier 4; Saturday 00:00 is the weekend profile, tier 2.
    assert TABLE.tier_at(ts(2026, 12, 4, 23, 59)) == 4
    assert TABLE.tier_at(ts(2026, 12, 5, 0, 0)) == 2


def test_special_day_overrides_the_week() -> None:
    # Friday 25 Dec 2026 at 17:00 would be tier 3; the special day makes it 2.
    assert TABLE.tier_at(ts(2026, 12, 18, 17)) == 3
    assert TABLE.tier_at(ts(2026, 12, 25, 17)) == 2


def test_switching_uses_local_time_in_summer() -> None:
    # Wednesday 1 July 2026, 15:00 UTC = 16:00 BST: tier 3 starts.
    assert TABLE.tier_at(ts(2026, 7, 1, 14, 59)) == 2
    assert TABLE.tier_at(ts(2026, 7, 1, 15, 0)) == 3


@pytest.mark.parametrize(
    ("profile", "message"),
    [
        (DayProfile(((30, 1),)), "first switch must be at 00:00"),
        (DayProfile(((0, 1), (45, 2))), "not on a half hour"),
        (DayProfile(((0, 1), (60, 5))), "outside 1..4"),
        (DayProfile(((0, 1), (60, 2), (60, 3))), "must increase"),
    ],
)
def test_bad_day_profiles(profile: DayProfile, message: str) -> None:
    tariff = Tariff("x", (Decimal(1),) * 4, SwitchingTable({"d": profile}, ("d",) * 7))
    with pytest.raises(TariffError, match=message):
        tariff.validate("tariff.secondary.export")


def test_unknown_profile_in_week_is_named() -> None:
    table = SwitchingTable({"d": WEEKEND}, ("d",) * 6 + ("nope",))
    with pytest.raises(TariffError, match=r"week\.sunday: unknown day profile 'nope'"):
        Tariff("x", (Decimal(1),) * 2, table).validate("tariff.secondary.export")


def test_memoised_changes_are_the_search_at_every_second_of_a_half_hour() -> None:
    """changes() answers from its memo by half-hour slot: the same as searching afresh
    at every instant, across a day with several switches and a clock change."""
    table = SwitchingTable(
        {"weekday": DayProfile(((0, 1), (7 * 60, 2), (16 * 60, 3), (19 * 60, 2), (23 * 60 + 30, 1))),
         "weekend": DayProfile(((0, 1),))},
        ("weekday",) * 5 + ("weekend",) * 2,
    )
    start = datetime(2026, 10, 24, 20, 0, tzinfo=timezone.utc).timestamp()  # over the end of BST
    for ts in [start + 37.5 * i for i in range(2 * 24 * 96)]:
        for count in (1, 3):
            want = table._find_changes(ts, count, 8)
            assert table.changes(ts, count) == want
            assert table.changes(ts, count) == want  # the memo's answer
