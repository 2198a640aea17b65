"""The duty-cycle ledger: rolling hour, state ladder with GBCS alerts, discards.

Defaults per the GB-868 rules: pages 28/29 suspend at 100 s/h, page 30 at
90 s/h, critical at 75 s/h; the Limited default is 36 s/h (1 %).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from han_emu.air.dutycycle import (
    DEFAULT_LIMITS,
    AirtimeLedger,
    AlertCode,
    DutyCycleEvent,
    DutyCycleLedger,
    DutyCycleLimits,
    DutyCycleState,
)
from han_emu.air.phy import InvalidChannelError
from han_emu.meter.clock import VirtualClock

N, L, C, S = (DutyCycleState.NORMAL, DutyCycleState.LIMITED,
              DutyCycleState.CRITICAL, DutyCycleState.SUSPENDED)
T0 = 1_700_000_000.0  # a realistic POSIX time, where float resolution matters


def steps(events: list[DutyCycleEvent]) -> list[tuple[float, DutyCycleState, DutyCycleState, int]]:
    return [(e.time - T0, e.previous, e.state, int(e.alert)) for e in events]


# -- limits -------------------------------------------------------------------


def test_default_limits_per_page() -> None:
    assert DEFAULT_LIMITS[28] == DutyCycleLimits(36.0, 75.0, 100.0)
    assert DEFAULT_LIMITS[29] == DutyCycleLimits(36.0, 75.0, 100.0)
    assert DEFAULT_LIMITS[30] == DutyCycleLimits(36.0, 75.0, 90.0)
    assert DEFAULT_LIMITS[30].as_percent() == pytest.approx((1.0, 75 / 36, 2.5))


def test_limits_from_percent_and_hundredths() -> None:
    # One vendor's example: 1.0 %, 1.8 %, 2.5 % = 36, 64.8, 90 s/h.
    a = DutyCycleLimits.from_percent(1.0, 1.8, 2.5)
    b = DutyCycleLimits.from_hundredths(100, 180, 250)
    for lim in (a, b):
        assert (lim.limited, lim.critical, lim.suspended) == pytest.approx((36.0, 64.8, 90.0))


@pytest.mark.parametrize(
    ("limited", "critical", "suspended"),
    [
        (75, 75, 100),   # limited == critical
        (80, 75, 100),   # limited > critical
        (36, 100, 100),  # critical == suspended
        (36, 110, 100),  # critical > suspended
        (0, 75, 100),    # nothing is "limited" at zero
        (-1, 75, 100),
        (36, 75, 3601),  # more than an hour per hour
    ],
)
def test_limits_validation(limited: float, critical: float, suspended: float) -> None:
    with pytest.raises(ValueError, match="limited < critical < suspended"):
        DutyCycleLimits(limited, critical, suspended)


def test_state_for() -> None:
    lim = DEFAULT_LIMITS[28]
    assert [lim.state_for(x) for x in (0, 35.999999, 36, 74.9, 75, 99.99, 100, 500)] == [
        N, N, L, L, C, C, S, S,
    ]


def test_limits_only_for_sub_ghz_pages() -> None:
    with pytest.raises(ValueError, match="pages 28-30"):
        DutyCycleLedger({0: DutyCycleLimits(1, 2, 3)})
    with pytest.raises(ValueError, match="pages 28-30"):
        DutyCycleLedger().set_limits(0, DutyCycleLimits(1, 2, 3), now=0)


# -- the rolling window -----------------------------------------------------


def test_window_rolls_off_exactly_one_hour_later() -> None:
    ledger = DutyCycleLedger()
    assert ledger.offer("esme", 28, 3, 10.0, now=T0)
    assert ledger.usage("esme", 28, 3, now=T0 + 3599.999).airtime == 10.0
    assert ledger.usage("esme", 28, 3, now=T0 + 3599.999999).airtime == 10.0
    u = ledger.usage("esme", 28, 3, now=T0 + 3600)
    assert u.airtime == 0.0
    assert u.peak == 10.0
    assert u.frames == 1 and u.total_airtime == 10.0


def test_window_sum_and_percent() -> None:
    ledger = AirtimeLedger()
    for i in range(4):
        ledger.record("ihd", 0, 15, 9.0, now=T0 + 1000 * i)  # 0, 1000, 2000, 3000
    u = ledger.usage("ihd", 0, 15, now=T0 + 3500)
    assert u.airtime == 36.0
    assert u.percent == pytest.approx(1.0)
    assert ledger.usage("ihd", now=T0 + 4599.9).airtime == 27.0  # the frame at 0 has left
    u = ledger.usage("ihd", now=T0 + 4600)  # ... and now the one at 1000
    assert u.airtime == 18.0
    assert u.state is DutyCycleState.TRACKING_OFF
    assert u.peak == 36.0 and u.peak_percent == pytest.approx(1.0)


def test_running_sum_does_not_drift() -> None:
    ledger = DutyCycleLedger()
    for i in range(5000):
        ledger.offer_psdu("ihd", 28, 0, 127, now=T0 + i * 0.5)
    u = ledger.usage("ihd", now=T0 + 2500)
    assert u.airtime == 5000 * 11120 / 1e6 == 55.6
    assert u.total_airtime == 55.6
    assert ledger.usage("ihd", now=T0 + 2500 + 3600).airtime == 0.0


def test_peak_is_the_highest_rolling_hour() -> None:
    ledger = AirtimeLedger()
    ledger.record("d", 28, 1, 5.0, now=T0)
    ledger.record("d", 28, 1, 7.0, now=T0 + 3000)       # window 12
    ledger.record("d", 28, 1, 2.0, now=T0 + 3700)       # first gone: 9
    ledger.record("d", 28, 1, 1.0, now=T0 + 7000)       # 3
    u = ledger.usage("d", now=T0 + 7000)
    assert (u.airtime, u.peak) == (3.0, 12.0)


# -- the state ladder ---------------------------------------------------------


def test_every_transition_up_and_down_with_its_alert() -> None:
    ledger = DutyCycleLedger()
    # Up: 25 -> 36 (Limited) -> 75 (Critical) -> 100 (Suspended), thresholds reached exactly.
    assert ledger.offer("esme", 28, 5, 25.0, now=T0)
    assert ledger.offer("esme", 28, 5, 11.0, now=T0 + 10)
    assert ledger.offer("esme", 28, 5, 39.0, now=T0 + 20)
    assert ledger.offer("esme", 28, 5, 25.0, now=T0 + 30)
    assert steps(ledger.drain_events()) == [
        (10, N, L, 0x8F20),
        (20, L, C, 0x8F22),
        (30, C, S, 0x8F24),
    ]
    # Down, one step each as the frames leave the window one hour after they were sent.
    assert ledger.usage("esme", now=T0 + 3600).state is C
    assert steps(ledger.drain_events()) == [(3600, S, C, 0x8F25)]
    assert ledger.usage("esme", now=T0 + 3610).state is L
    assert steps(ledger.drain_events()) == [(3610, C, L, 0x8F23)]
    assert ledger.usage("esme", now=T0 + 3620).state is N
    assert steps(ledger.drain_events()) == [(3620, L, N, 0x8F21)]


def test_down_steps_carry_the_instant_of_crossing() -> None:
    ledger = DutyCycleLedger()
    for dt, a in ((0, 25.0), (10, 11.0), (20, 39.0), (30, 25.0)):
        ledger.offer("esme", 28, 5, a, now=T0 + dt)
    ledger.drain_events()
    events = ledger.tick(now=T0 + 9999)  # noticed late, dated exactly
    assert steps(events) == [
        (3600, S, C, 0x8F25),
        (3610, C, L, 0x8F23),
        (3620, L, N, 0x8F21),
    ]
    assert [e.airtime for e in events] == [75.0, 64.0, 25.0]
    assert ledger.drain_events() == events


def test_one_frame_crossing_several_thresholds_raises_each_alert() -> None:
    ledger = DutyCycleLedger()
    ledger.offer("esme", 29, 8, 100.0, now=T0)
    assert steps(ledger.drain_events()) == [
        (0, N, L, 0x8F20), (0, L, C, 0x8F22), (0, C, S, 0x8F24),
    ]
    ledger.tick(now=T0 + 3600)
    assert steps(ledger.drain_events()) == [
        (3600, S, C, 0x8F25), (3600, C, L, 0x8F23), (3600, L, N, 0x8F21),
    ]


def test_just_below_a_threshold_stays() -> None:
    ledger = DutyCycleLedger()
    ledger.offer("esme", 28, 0, 35.999999, now=T0)
    assert ledger.usage("esme", now=T0).state is N
    ledger.offer("esme", 28, 0, 0.000001, now=T0 + 1)
    assert ledger.usage("esme", now=T0 + 1).state is L


# -- regulation ----------------------------------------------------------------


def test_discard_while_suspended() -> None:
    ledger = DutyCycleLedger()
    assert ledger.offer("esme", 28, 5, 99.99, now=T0)
    # Below the limit: sent, though it takes the device over.
    assert ledger.offer_psdu("esme", 28, 5, 127, now=T0 + 1)
    assert ledger.usage("esme", now=T0 + 1).state is S
    ledger.drain_events()
    assert not ledger.offer_psdu("esme", 28, 5, 127, now=T0 + 2)
    assert not ledger.offer("esme", 28, 5, 0.5, now=T0 + 3)
    events = ledger.drain_events()
    assert [(e.alert, e.previous, e.state, e.discarded) for e in events] == [
        (AlertCode.MESSAGE_DISCARDED, S, S, True)
    ] * 2
    u = ledger.usage("esme", now=T0 + 3)
    assert u.airtime == pytest.approx(99.99 + 0.01112)
    assert (u.discarded, u.discarded_airtime) == (2, pytest.approx(0.51112))
    assert u.frames == 2
    assert u.headroom == 0.0
    # Once the big frame has left the window the device may transmit again.
    assert ledger.offer("esme", 28, 5, 0.5, now=T0 + 3600)
    assert ledger.usage("esme", now=T0 + 3600).state is N


def test_suspension_is_per_device_and_channel() -> None:
    ledger = DutyCycleLedger()
    ledger.offer("esme", 28, 5, 100.0, now=T0)
    assert not ledger.offer("esme", 28, 5, 0.01, now=T0 + 1)
    assert ledger.offer("esme", 28, 6, 0.01, now=T0 + 1)
    assert ledger.offer("ihd", 28, 5, 0.01, now=T0 + 1)


def test_page_30_suspends_at_90_seconds() -> None:
    ledger = DutyCycleLedger()
    ledger.offer("a", 30, 0, 90.0, now=T0)
    ledger.offer("b", 28, 0, 90.0, now=T0)
    ledger.offer("c", 29, 0, 90.0, now=T0)
    assert ledger.usage("a", now=T0).state is S
    assert ledger.usage("b", now=T0).state is C
    assert ledger.usage("c", now=T0).state is C
    assert ledger.usage("a", now=T0).headroom == 0.0
    assert ledger.usage("b", now=T0).headroom == 10.0


def test_custom_limits_and_runtime_change() -> None:
    ledger = DutyCycleLedger({28: DutyCycleLimits.from_percent(1.0, 1.8, 2.5)})
    ledger.offer("esme", 28, 1, 70.0, now=T0)
    assert ledger.usage("esme", now=T0).state is C  # 70 >= 64.8
    ledger.drain_events()
    events = ledger.set_limits(28, DutyCycleLimits(60.0, 65.0, 70.0), now=T0 + 1)
    assert steps(events) == [(1, C, S, 0x8F24)]
    events = ledger.set_limits(28, DEFAULT_LIMITS[28], now=T0 + 2)
    assert steps(events) == [(2, S, C, 0x8F25), (2, C, L, 0x8F23)]
    assert ledger.limits[28] == DEFAULT_LIMITS[28]


def test_regulated_ledger_refuses_2_4_ghz() -> None:
    with pytest.raises(ValueError, match="AirtimeLedger"):
        DutyCycleLedger().offer("esme", 0, 11, 0.001, now=T0)


def test_invalid_channel_is_refused() -> None:
    with pytest.raises(InvalidChannelError):
        DutyCycleLedger().offer("esme", 29, 9, 0.001, now=T0)
    with pytest.raises(InvalidChannelError):
        AirtimeLedger().record("esme", 0, 27, 0.001, now=T0)


# -- the measuring ledger -------------------------------------------------------


def test_airtime_ledger_never_regulates() -> None:
    ledger = AirtimeLedger()
    for i in range(3):
        assert ledger.record_psdu("esme", 0, 11, 127, now=T0 + i)
        assert ledger.record("esme", 28, 0, 200.0, now=T0 + i)
    assert ledger.drain_events() == []
    assert ledger.usage("esme", 0, 11, now=T0 + 3).airtime == 0.012768  # 3 x 4256 us
    assert ledger.usage("esme", 28, 0, now=T0 + 3).state is DutyCycleState.TRACKING_OFF
    assert ledger.usage("esme", 28, 0, now=T0 + 3).headroom is None


# -- time, clocks, listeners, summaries -----------------------------------------


def test_time_cannot_run_backwards() -> None:
    ledger = DutyCycleLedger()
    ledger.offer("esme", 28, 0, 1.0, now=T0)
    with pytest.raises(ValueError, match="backwards"):
        ledger.offer("esme", 28, 0, 1.0, now=T0 - 0.001)
    with pytest.raises(ValueError, match="backwards"):
        ledger.summary(now=T0 - 1)


def test_needs_a_time_or_a_clock() -> None:
    with pytest.raises(ValueError, match="no clock"):
        DutyCycleLedger().offer("esme", 28, 0, 1.0)


def test_negative_airtime_is_refused() -> None:
    with pytest.raises(ValueError):
        AirtimeLedger().record("esme", 28, 0, -1.0, now=T0)


def test_clock_drives_the_window() -> None:
    clock = VirtualClock(T0)
    ledger = DutyCycleLedger(clock=clock)
    seen: list[DutyCycleEvent] = []
    unsubscribe = ledger.subscribe(seen.append)
    ledger.offer("esme", 30, 2, 40.0)
    assert [e.alert for e in seen] == [AlertCode.LIMITED_ACTION_TAKEN]
    clock.advance(3600)
    assert ledger.usage("esme").airtime == 0.0
    assert [e.alert for e in seen] == [AlertCode.LIMITED_ACTION_TAKEN, AlertCode.BELOW_LIMITED]
    assert seen[1].time == T0 + 3600
    unsubscribe()
    ledger.offer("esme", 30, 2, 40.0)
    assert len(seen) == 2


def test_usage_needs_page_and_channel_when_ambiguous() -> None:
    ledger = AirtimeLedger()
    ledger.record("esme", 28, 0, 1.0, now=T0)
    ledger.record("esme", 28, 1, 1.0, now=T0)
    with pytest.raises(ValueError, match="2 channels"):
        ledger.usage("esme", now=T0)
    with pytest.raises(ValueError, match="0 channels"):
        ledger.usage("nobody", now=T0)
    quiet = ledger.usage("nobody", 28, 0, now=T0)
    assert (quiet.airtime, quiet.frames, quiet.state) == (0.0, 0, DutyCycleState.TRACKING_OFF)
    assert [u.channel for u in ledger.device_usage("esme", now=T0)] == [0, 1]


def test_summary_across_devices() -> None:
    ledger = DutyCycleLedger()
    ledger.offer("esme", 28, 0, 80.0, now=T0)
    ledger.offer("ihd1", 28, 0, 40.0, now=T0 + 1)
    ledger.offer("ihd2", 28, 0, 1.0, now=T0 + 2)
    ledger.offer("ihd2", 28, 0, 1.0, now=T0 + 3602)
    s = ledger.summary(now=T0 + 3602)
    assert ledger.devices() == ["esme", "ihd1", "ihd2"]
    assert s.airtime == 1.0
    assert s.total_airtime == 122.0
    assert s.frames == 4
    assert s.peak == 80.0
    assert s.busiest is not None and s.busiest.device == "ihd2"
    assert s.states == {N: 3}
    s = ledger.summary(now=T0 + 3602)
    assert s.discarded == 0


def test_history_is_bounded() -> None:
    ledger = DutyCycleLedger(history=2)
    ledger.offer("esme", 28, 0, 100.0, now=T0)
    assert [e.state for e in ledger.drain_events()] == [C, S]


# -- against a brute-force model ------------------------------------------------

offers = st.lists(
    st.tuples(st.floats(0, 1200, allow_nan=False), st.integers(1, 30_000_000)),
    min_size=1, max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(offers)
def test_matches_brute_force(raw: list[tuple[float, int]]) -> None:
    limits = DutyCycleLimits(20.0, 40.0, 60.0)
    ledger = DutyCycleLedger({28: limits})
    sent: list[tuple[float, int]] = []
    t = T0
    state = N
    for gap, us in raw:
        t += gap
        in_window = sum(a for s, a in sent if s + 3600 > t)
        expect = limits.state_for(in_window / 1e6) is not S
        assert ledger.offer_us("d", 28, 0, us, now=t) is expect
        if expect:
            sent.append((t, us))
        in_window = sum(a for s, a in sent if s + 3600 > t)
        u = ledger.usage("d", now=t)
        assert round(u.airtime * 1e6) == in_window
        assert u.state is limits.state_for(in_window / 1e6)
    # Events form one unbroken ladder from Normal to the final state.
    for e in ledger.drain_events():
        if e.discarded:
            assert e.state is S
            continue
        assert e.previous is state and abs(e.state - e.previous) == 1
        state = e.state
    assert state is ledger.usage("d", now=t).state
