"""RecordedScenario: observed readings, intervals and demand drive the meter onto them."""

from __future__ import annotations

import math

import pytest

from han_emu.han.config import load
from han_emu.meter.model import Channel
from han_emu.meter.recorded import Recording, RecordedScenario
from han_emu.meter.settings import PRIMARY, SECONDARY
from han_emu.meter.simulate import step

S = 1_704_067_200.0  # 2024-01-01 00:00 UTC, a half hour
# Export of the secondary element: constant power within each half hour (W).
EXPORT_W = [0, 500, 1500, 3000, 2200, 800, 0, 100]
IMPORT_W = [400, 300, 250, 2500, 600, 300, 350, 1200]


def energy(powers: list[float], ts: float) -> float:
    e = 0.0
    for k, p in enumerate(powers):
        a = S + k * 1800
        if ts <= a:
            break
        e += p * (min(ts, a + 1800) - a) / 3600
    return e


def recording(*, readings_every: float = 1200, offset: float = 420, intervals: bool = True,
              demand: bool = False) -> Recording:
    rec = Recording()
    t = S + offset
    while t <= S + 4 * 3600:
        rec.add_reading(SECONDARY, "export", t, math.floor(50_000 + energy(EXPORT_W, t)))
        rec.add_reading(PRIMARY, "import", t, math.floor(1_000_000 + energy(IMPORT_W, t)))
        t += readings_every
    if intervals:
        for k in range(8):
            rec.add_interval(SECONDARY, "export", int(S + (k + 1) * 1800), EXPORT_W[k] / 2)
            rec.add_interval(PRIMARY, "import", int(S + (k + 1) * 1800), IMPORT_W[k] / 2)
    if demand:
        for k in range(8):
            for j in range(6):
                ts = S + k * 1800 + j * 300 + 30
                rec.add_demand(SECONDARY, ts, -EXPORT_W[k])
                rec.add_demand(PRIMARY, ts, IMPORT_W[k])
    return rec


def drive(scenario: RecordedScenario, until: float, step_s: float):
    """Run a fresh meter to ``until``; yield (time, readings) after every step."""
    meter = scenario.new_meter(load(None).meter)
    seen = [(meter.time, meter.readings())]
    while meter.time < until:
        step(meter, scenario, min(until, meter.time + step_s))
        seen.append((meter.time, meter.readings()))
    return meter, seen


@pytest.mark.parametrize("step_s", [10.0, 7.3, 60.0])
def test_meter_passes_through_every_reading_and_repeats_the_intervals(step_s: float) -> None:
    rec = recording()
    scenario = RecordedScenario(rec)
    assert scenario.start == S + 420  # the meter begins at the first reading (00:07) ...
    assert scenario.origin == S  # ... and its curves at the half hour before
    readings = rec.channel(SECONDARY, "export").readings
    last_t = readings[-1][0]
    meter, seen = drive(scenario, last_t, step_s)
    assert meter.reading(Channel.SECONDARY_EXPORT) == readings[-1][1]
    assert meter.reading(Channel.PRIMARY_IMPORT) == rec.channel(PRIMARY, "import").readings[-1][1]
    # Never decreasing, on every channel, at every step.
    for (_, a), (_, b) in zip(seen, seen[1:]):
        assert all(y >= x for x, y in zip(a, b))
    # At each reading's time the register shows it (within one Wh with coarse steps).
    at = dict(seen)
    for t, wh in readings:
        if t in at:
            assert abs(at[t][Channel.SECONDARY_EXPORT] - wh) <= (0 if step_s == 10.0 else 1)
    # Readings 20 minutes apart, off the half hours: only the intervals give the shape.
    # Steps on a grid through the half hours (the virtual HAN's) give them exactly;
    # a step straddling a half hour moves at most its length of the power change.
    slack = 0 if 1800 % step_s == 0 else 2
    for channel, powers in ((Channel.SECONDARY_EXPORT, EXPORT_W), (Channel.PRIMARY_IMPORT, IMPORT_W)):
        got = dict(meter.profiles[channel].items())
        assert sorted(e for e in got if e > S) == [int(S + (k + 1) * 1800) for k in range(7)]
        for k in range(7):
            assert abs(got[int(S + (k + 1) * 1800)] - powers[k] // 2) <= slack


def test_without_intervals_power_is_the_average_between_readings() -> None:
    rec = Recording()
    rec.add_reading(SECONDARY, "export", S, 1000)
    rec.add_reading(SECONDARY, "export", S + 3600, 2000)  # 1 kWh in an hour
    rec.add_reading(SECONDARY, "export", S + 5400, 2000)  # then nothing
    scenario = RecordedScenario(rec)
    meter, seen = drive(scenario, S + 1800, 10.0)
    assert meter.elements[SECONDARY].flow.export_w == pytest.approx(1000.0)
    assert meter.reading(Channel.SECONDARY_EXPORT) == 1500
    meter, seen = drive(scenario, S + 5400, 10.0)
    assert meter.reading(Channel.SECONDARY_EXPORT) == 2000
    assert meter.elements[SECONDARY].flow.export_w == pytest.approx(0.0, abs=1e-6)


def test_demand_shapes_energy_between_sparse_readings() -> None:
    rec = recording(readings_every=5400, intervals=False, demand=True)
    scenario = RecordedScenario(rec)
    readings = rec.channel(SECONDARY, "export").readings
    meter, seen = drive(scenario, readings[-1][0], 10.0)
    assert meter.reading(Channel.SECONDARY_EXPORT) == readings[-1][1]
    # Readings at 00:07, 01:37 and 03:07: only demand tells the shape, and the intervals follow it.
    got = dict(meter.profiles[Channel.SECONDARY_EXPORT].items())
    for k in range(1, 6):
        assert abs(got[int(S + (k + 1) * 1800)] - EXPORT_W[k] / 2) <= 30


def test_intervals_alone_drive_a_channel_without_readings() -> None:
    rec = Recording()
    rec.add_reading(PRIMARY, "import", S + 600, 10)  # something to anchor the period
    rec.add_reading(PRIMARY, "import", S + 3 * 3600, 10)
    for k in range(6):
        rec.add_interval(SECONDARY, "export", int(S + (k + 1) * 1800), EXPORT_W[k] / 2)
    scenario = RecordedScenario(rec)
    meter, _ = drive(scenario, S + 3 * 3600, 10.0)
    got = dict(meter.profiles[Channel.SECONDARY_EXPORT].items())
    assert [got[int(S + (k + 1) * 1800)] for k in range(6)] == [p // 2 for p in EXPORT_W[:6]]
    assert meter.reading(Channel.SECONDARY_EXPORT) == sum(EXPORT_W[:6]) // 2


def test_hold_keeps_the_last_power_and_loop_repeats_the_increments() -> None:
    rec = Recording()
    rec.add_reading(SECONDARY, "export", S, 0)
    rec.add_reading(SECONDARY, "export", S + 1800, 500)  # 1 kW
    rec.add_reading(SECONDARY, "export", S + 3600, 1500)  # 2 kW
    hold = RecordedScenario(rec)
    meter, _ = drive(hold, S + 7200, 10.0)
    assert meter.reading(Channel.SECONDARY_EXPORT) == 1500 + 2000
    loop = RecordedScenario(rec, after="loop")
    meter, seen = drive(loop, S + 5400, 10.0)
    assert meter.reading(Channel.SECONDARY_EXPORT) == 1500 + 500
    meter, seen = drive(loop, S + 7200, 10.0)
    assert meter.reading(Channel.SECONDARY_EXPORT) == 3000
    for (_, a), (_, b) in zip(seen, seen[1:]):
        assert b[Channel.SECONDARY_EXPORT] >= a[Channel.SECONDARY_EXPORT]


def test_anchoring_shifts_by_whole_half_hours_and_preloads_older_intervals() -> None:
    rec = recording()
    rec.add_interval(SECONDARY, "export", int(S), 77)  # an interval before the capture began
    moved = RecordedScenario(rec).anchored(S + 86400 * 3 + 1000)
    assert moved.start == S + 86400 * 3 + 420  # 00:07, three days on: at most half an hour before
    meter = moved.new_meter(load(None).meter)
    assert meter.time == moved.start
    assert meter.profiles[Channel.SECONDARY_EXPORT].get(int(S + 86400 * 3)) == 77
    assert meter.reading(Channel.SECONDARY_EXPORT) == 50_000  # the reading at 00:07


def test_a_lower_reading_never_moves_the_register_back() -> None:
    rec = Recording()
    rec.add_reading(SECONDARY, "export", S, 100)
    rec.add_reading(SECONDARY, "export", S + 600, 400)
    rec.add_reading(SECONDARY, "export", S + 1200, 50)  # garbled
    rec.add_reading(SECONDARY, "export", S + 1800, 600)
    meter, seen = drive(RecordedScenario(rec), S + 1800, 10.0)
    values = [r[Channel.SECONDARY_EXPORT] for _, r in seen]
    assert values == sorted(values) and values[-1] == 600


def test_an_empty_recording_is_refused() -> None:
    with pytest.raises(ValueError):
        RecordedScenario(Recording())


def test_a_meter_read_soon_after_it_started_never_shows_a_negative_register() -> None:
    # A capture of a fresh meter: 0 Wh at 00:25, then 2 kW, so the interval ending
    # 00:30 holds 166 Wh.  Spread over that whole half hour it would put the
    # register far below zero at 00:00 (a negative CurrentSummation on the air).
    rec = Recording()
    first = S + 1500
    for k in range(4):
        t = first + 1200 * k
        rec.add_reading(PRIMARY, "import", t, math.floor(2000 * (t - first) / 3600))
    rec.add_reading(PRIMARY, "import", S + 2000, -5)  # not a register value: ignored
    for k in range(3):
        end = S + 1800 * (k + 1)
        rec.add_interval(PRIMARY, "import", int(end), 2000 * (end - max(first, end - 1800)) // 3600)
    scenario = RecordedScenario(rec)
    assert min(min(c.energy) for c in scenario.curves.values()) >= 0
    assert scenario.start == first
    meter, seen = drive(scenario, first + 3600, 10.0)
    assert seen[0][1][Channel.PRIMARY_IMPORT] == 0
    assert all(min(r) >= 0 for _, r in seen)
    assert meter.reading(Channel.PRIMARY_IMPORT) == 2000
    assert meter.profiles[Channel.PRIMARY_IMPORT].get(int(S + 1800)) == 166
