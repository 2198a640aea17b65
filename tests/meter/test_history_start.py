"""What a new or restarted meter shows: history counted from its first
reading, the export TOU registers in the daily log, partial intervals, and
tier starts found however far back they lie."""

from __future__ import annotations

from datetime import date, datetime, timezone

from han_emu.meter.model import Channel, Flow, TwinMeter
from han_emu.meter.profile import PERIOD
from han_emu.meter.settings import SECONDARY, MeterSettings
from han_emu.meter.tariff import SwitchingTable


def ts(*args: int) -> float:
    return datetime(*args, tzinfo=timezone.utc).timestamp()


def test_current_week_and_month_count_from_the_first_reading() -> None:
    # Thursday 3 Dec 2026: no Monday (30 Nov) nor 1 Dec reading exists.
    m = TwinMeter(MeterSettings().validate(), ts(2026, 12, 3, 10))
    m.set_flow(SECONDARY, Flow(export_w=1000.0))
    m.advance(ts(2026, 12, 4, 12))  # 26 h later
    today = m.today()
    now = m.reading(Channel.SECONDARY_EXPORT)
    assert now == 26000
    assert m.daily.week(today, Channel.SECONDARY_EXPORT, now) == 26000
    assert m.daily.month(today, Channel.SECONDARY_EXPORT, now) == 26000
    assert m.daily.day(today, Channel.SECONDARY_EXPORT, now, back=1) == 14000  # 10:00 to midnight
    # Periods wholly before the meter stay invalid.
    assert m.daily.week(today, Channel.SECONDARY_EXPORT, now, back=1) is None
    assert m.daily.month(today, Channel.SECONDARY_EXPORT, now, back=1) is None
    assert m.daily.day(today, Channel.SECONDARY_EXPORT, now, back=2) is None


def test_previous_week_after_a_mid_week_start_counts_from_the_first_reading() -> None:
    m = TwinMeter(MeterSettings().validate(), ts(2026, 12, 3, 10))
    m.set_flow(SECONDARY, Flow(export_w=100.0))
    m.advance(ts(2026, 12, 8, 10))  # Tuesday of the next week
    today = m.today()
    now = m.reading(Channel.SECONDARY_EXPORT)
    # Thu 10:00 to Mon 00:00 = 86 h; this week so far: Mon 00:00 to Tue 10:00 = 34 h.
    assert m.daily.week(today, Channel.SECONDARY_EXPORT, now, back=1) == 8600
    assert m.daily.week(today, Channel.SECONDARY_EXPORT, now) == 3400
    assert m.daily.week(today, Channel.SECONDARY_EXPORT, now, back=2) is None


def test_first_reading_survives_a_restore_and_old_state_derives_it() -> None:
    settings = MeterSettings().validate()
    m = TwinMeter(settings, ts(2026, 12, 3, 10))
    m.set_flow(SECONDARY, Flow(export_w=1000.0))
    m.advance(ts(2026, 12, 5, 10))
    rows = [(ch, end, value) for ch in Channel for end, value in m.profiles[ch].items()]
    again = TwinMeter.restore(settings, m.core_state(), rows, m.daily.items())
    now = again.reading(Channel.SECONDARY_EXPORT)
    assert again.daily.week(again.today(), Channel.SECONDARY_EXPORT, now) == 48000
    old = {k: v for k, v in m.core_state().items() if k not in ("first_reading", "tariff_since", "tariffs")}
    older = TwinMeter.restore(settings, old, rows, m.daily.items())
    assert older.daily.first_day == date(2026, 12, 3)
    assert older.daily.week(older.today(), Channel.SECONDARY_EXPORT, now) == 48000


def test_daily_log_records_the_export_tou_registers() -> None:
    m = TwinMeter(MeterSettings().validate(), ts(2026, 12, 3))
    m.set_flow(SECONDARY, Flow(export_w=1000.0))
    m.advance(ts(2026, 12, 5))
    # Weekday export table: T1 00-07, T2 07-16, T3 16-19, T4 19-24.
    assert m.daily.export_tiers(date(2026, 12, 3)) == (0, 0, 0, 0)
    assert m.daily.export_tiers(date(2026, 12, 4)) == (7000, 9000, 3000, 5000)
    assert m.daily.export_tiers(date(2026, 12, 5)) == (14000, 18000, 6000, 10000)
    assert m.daily.reading(date(2026, 12, 5), Channel.SECONDARY_EXPORT) == 48000
    # A row saved before the tiers were logged has none, and still serves its channels.
    m.daily.record(date(2026, 12, 6), (1, 2, 3, 4))
    assert m.daily.export_tiers(date(2026, 12, 6)) is None
    assert m.daily.reading(date(2026, 12, 6), 3) == 4


def test_first_interval_after_a_mid_interval_start_is_partial() -> None:
    start = ts(2026, 12, 3, 10, 12)
    m = TwinMeter(MeterSettings().validate(), start)
    m.set_flow(SECONDARY, Flow(export_w=1800.0))
    first_end = int(ts(2026, 12, 3, 10, 30))
    # While it runs, its start time is when measuring began, not the half hour.
    m.advance(ts(2026, 12, 3, 10, 20))
    assert m.partial_interval(Channel.SECONDARY_EXPORT) == (int(start), 240)
    m.advance(ts(2026, 12, 3, 11, 30))
    log = m.profiles[Channel.SECONDARY_EXPORT]
    assert log.get(first_end) == 540  # 18 minutes at 1.8 kW: the value is kept
    assert m.interval_partial(first_end)
    assert not m.interval_partial(first_end + PERIOD)
    assert not m.interval_partial(first_end + 2 * PERIOD)
    assert m.partial_ends() == [first_end]


def test_resume_marks_the_cut_intervals_and_persists_them() -> None:
    settings = MeterSettings().validate()
    m = TwinMeter(settings, ts(2026, 12, 3, 10))
    m.set_flow(SECONDARY, Flow(export_w=1000.0))
    m.advance(ts(2026, 12, 3, 10, 10))  # stops 10 minutes into an interval
    m.resume(ts(2026, 12, 3, 12, 5))  # back 5 minutes into another
    m.advance(ts(2026, 12, 3, 13))
    cut = [int(ts(2026, 12, 3, 10, 30)), int(ts(2026, 12, 3, 12, 30))]
    assert m.partial_ends() == cut
    assert not m.interval_partial(int(ts(2026, 12, 3, 13)))
    rows = [(ch, end, value) for ch in Channel for end, value in m.profiles[ch].items()]
    again = TwinMeter.restore(settings, m.core_state(), rows, m.daily.items())
    assert again.partial_ends() == cut


def test_tier_start_of_a_flat_tariff_is_when_the_tariff_took_effect() -> None:
    flat = SwitchingTable.flat()
    since = ts(2026, 1, 1, 9, 10)
    for now in (ts(2026, 3, 1, 12), ts(2026, 3, 1, 12, 30), ts(2026, 11, 1, 3)):
        assert flat.current_start(now, since) == ts(2026, 1, 1, 9)


def test_tier_start_is_found_past_eight_days() -> None:
    # Import tier 2 from 12 Dec to 1 Jan (special days), tier 1 before: the
    # start of tier 2 lies 15 days back on 27 Dec.
    from han_emu.meter.tariff import DayProfile

    days = {date(2026, 12, d): "two" for d in range(12, 32)}
    table = SwitchingTable({"one": DayProfile(((0, 1),)), "two": DayProfile(((0, 2),))}, ("one",) * 7, days)
    assert table.current_start(ts(2026, 12, 27, 15), ts(2026, 1, 1)) == ts(2026, 12, 12)
