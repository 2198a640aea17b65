from datetime import date, datetime, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from han_emu.han.config import example_text, loads
from han_emu.meter.model import Channel, Flow, TwinMeter
from han_emu.meter.profile import ProfileLog, THREE_MONTHS
from han_emu.meter.settings import PRIMARY, SECONDARY, MeterSettings


def ts(*args: int) -> float:
    return datetime(*args, tzinfo=timezone.utc).timestamp()


def meter_at(*start: int) -> TwinMeter:
    return TwinMeter(MeterSettings().validate(), ts(*start))


def test_export_tiers_accumulate_only_in_the_active_tier() -> None:
    # Thursday 3 Dec 2026 (GMT) exporting 1 kW all day on the secondary element.
    # Default export table on weekdays: T1 00-07, T2 07-16, T3 16-19, T4 19-24.
    m = meter_at(2026, 12, 3)
    m.set_flow(SECONDARY, Flow(export_w=1000.0))
    m.advance(ts(2026, 12, 4))
    el = m.elements[SECONDARY]
    assert [round(x) for x in el.export_tiers] == [7000, 9000, 3000, 5000]
    assert m.reading(Channel.SECONDARY_EXPORT) == 24000
    # Across midnight into Saturday 5 Dec: weekend profile, all tier 2.
    m.advance(ts(2026, 12, 5, 6))
    assert [round(x) for x in el.export_tiers] == [14000, 18000 + 6000, 6000, 10000]
    assert m.active_tier(SECONDARY, "export") == 2


def test_christmas_special_day_uses_weekend_tiers() -> None:
    # The example configuration makes 25 and 26 Dec 2026 special days.
    m = TwinMeter(loads(example_text()).meter, ts(2026, 12, 25))
    m.set_flow(SECONDARY, Flow(export_w=2000.0))
    m.advance(ts(2026, 12, 26))
    assert [round(x) for x in m.elements[SECONDARY].export_tiers] == [0, 48000, 0, 0]


def test_primary_import_economy7_tiers() -> None:
    # E7 default: tier 2 from 00:30 to 07:30 local.
    m = meter_at(2026, 12, 3)
    m.set_flow(PRIMARY, Flow(import_w=600.0))
    m.advance(ts(2026, 12, 4))
    assert [round(x) for x in m.elements[PRIMARY].import_tiers] == [600 * 17, 600 * 7]


def test_profile_intervals_sum_to_register_delta_and_daily_history() -> None:
    m = meter_at(2026, 11, 1)
    m.set_flow(SECONDARY, Flow(import_w=123.0, export_w=777.0))
    m.advance(ts(2026, 11, 11, 6))
    log = m.profiles[Channel.SECONDARY_EXPORT]
    assert log.newest_end == ts(2026, 11, 11, 6)
    assert sum(v for _, v in log.items() if v) == m.reading(Channel.SECONDARY_EXPORT)
    today = date(2026, 11, 11)
    now = m.reading(Channel.SECONDARY_EXPORT)
    assert m.daily.day(today, Channel.SECONDARY_EXPORT, now) == round(777 * 6)
    assert m.daily.day(today, Channel.SECONDARY_EXPORT, now, back=1) == round(777 * 24)
    assert m.daily.day(today, Channel.SECONDARY_EXPORT, now, back=8) == round(777 * 24)
    assert m.daily.day(today, Channel.SECONDARY_EXPORT, now, back=11) is None  # before the meter ran
    # Weeks start on Monday: Mon 9 Nov 00:00 to Wed 11 Nov 06:00 = 54 h.
    assert m.daily.week(today, Channel.SECONDARY_EXPORT, now) == round(777 * 54)
    assert m.daily.week(today, Channel.SECONDARY_EXPORT, now, back=1) == round(777 * 24 * 7)


def test_month_history_in_bst_uses_local_midnights() -> None:
    m = meter_at(2026, 5, 31, 23)  # 1 June 00:00 BST
    m.set_flow(PRIMARY, Flow(import_w=1000.0))
    m.advance(ts(2026, 7, 31, 23, 30))  # 1 Aug 00:30 BST
    now = m.reading(Channel.PRIMARY_IMPORT)
    today = date(2026, 8, 1)
    assert m.daily.month(today, Channel.PRIMARY_IMPORT, now) == 500
    assert m.daily.month(today, Channel.PRIMARY_IMPORT, now, back=1) == 31 * 24000
    assert m.daily.month(today, Channel.PRIMARY_IMPORT, now, back=2) == 30 * 24000


def test_profile_log_wraps_and_keeps_newest_three_months() -> None:
    log = ProfileLog(THREE_MONTHS)
    for i in range(1, 5001):
        log.append(i * 1800, i)
    assert len(log) == THREE_MONTHS
    assert log.newest_end == 5000 * 1800
    assert log.oldest_end == (5000 - THREE_MONTHS + 1) * 1800
    assert log.get(5000 * 1800) == 5000
    assert log.get((5000 - THREE_MONTHS) * 1800) is None  # overwritten
    assert log.newest_first(5000 * 1800, 3) == [5000, 4999, 4998]
    assert [v for _, v in log.items()] == list(range(5000 - THREE_MONTHS + 1, 5001))


def test_profile_gap_is_invalid() -> None:
    log = ProfileLog(10)
    log.append(1800, 5)
    log.append(4 * 1800, 7)
    assert log.newest_first(4 * 1800, 10) == [7, None, None, 5]


def test_meter_profile_holds_three_months_after_four() -> None:
    m = meter_at(2026, 1, 1)
    m.set_flow(SECONDARY, Flow(export_w=100.0))
    m.advance(ts(2026, 5, 1))
    log = m.profiles[Channel.SECONDARY_EXPORT]
    assert len(log) == THREE_MONTHS
    assert log.newest_end == ts(2026, 5, 1)
    assert log.oldest_end == ts(2026, 5, 1) - (THREE_MONTHS - 1) * 1800
    assert all(v == 50 for _, v in log.items())


def test_resume_marks_missed_intervals_invalid() -> None:
    m = meter_at(2026, 3, 1)
    m.set_flow(PRIMARY, Flow(import_w=1000.0))
    m.advance(ts(2026, 3, 1, 0, 45))
    m.resume(ts(2026, 3, 1, 3, 10))  # down from 00:45 to 03:10
    m.advance(ts(2026, 3, 1, 4))
    log = m.profiles[Channel.PRIMARY_IMPORT]
    assert log.newest_first(int(ts(2026, 3, 1, 4)), 8) == [
        500, 333, None, None, None, None, 250, 500
    ]
    # Registers hold what was measured: 45 min + 50 min at 1 kW.
    assert m.reading(Channel.PRIMARY_IMPORT) == 1583


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(0, 20000), st.floats(0, 20000), st.floats(1, 7200)
        ),
        min_size=1,
        max_size=30,
    )
)
def test_registers_never_decrease(steps: list[tuple[float, float, float]]) -> None:
    m = meter_at(2026, 3, 28, 22)  # across the BST change
    last = m.readings()
    last_tiers = [list(e.import_tiers) + list(e.export_tiers) for e in m.elements.values()]
    for imp, exp, dt in steps:
        m.set_flow(SECONDARY, Flow(import_w=imp, export_w=exp))
        m.set_flow(PRIMARY, Flow(import_w=exp, export_w=imp))
        m.advance(m.time + dt)
        now = m.readings()
        assert all(b >= a for a, b in zip(last, now))
        tiers = [list(e.import_tiers) + list(e.export_tiers) for e in m.elements.values()]
        assert all(b >= a for x, y in zip(last_tiers, tiers) for a, b in zip(x, y))
        last, last_tiers = now, tiers
    el = m.elements[SECONDARY]
    assert abs(sum(el.export_tiers) - el.export_wh) < 1e-6 * max(1.0, el.export_wh)
