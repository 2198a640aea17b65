"""A scenario recorded from a real meter: observed readings become power flows.

A capture of a HAN shows a meter's registers only now and then (summations
when a display reads them or the meter reports, instantaneous demand, and
half-hour profile intervals through GetProfile).  :class:`Recording` holds
that time series per element and direction, in Wh and W; :class:`RecordedScenario`
turns it into the power the meter model must integrate so that its registers
pass through every observed value.

How the energy curve is built, per element and direction ("channel"):

* register readings are hard knots (never decreasing: a lower reading than
  an earlier one is dropped);
* a run of consecutive known profile intervals fixes the register at every
  half-hour boundary up to one offset, chosen to honour the readings inside
  or around the run, so the meter's own intervals repeat the recorded ones;
* between knots the energy follows the instantaneous demand seen (uniform
  when none was), so readings are met exactly and demand gives the shape;
* where a channel has no readings, intervals and then demand drive it alone.

Knots sit half a Wh above the integer reading (a register showing R holds
[R, R+1) Wh), so float integration never drops a displayed register by one.
No knot is ever below that half Wh: a run of intervals placed by a reading
taken soon after the meter started (its register near 0) would otherwise put
the register below zero before that reading, where no meter can be.

The meter begins where the capture begins (its first frame, or the first
observation when the span is not known), so a simulation as long as the
capture ends where the capture ends; the curves start at the half hour before,
which gives the interval in progress its opening register.

The meter is driven closed loop: :meth:`RecordedScenario.flows` knows the
power it handed out since the last call, hence where the meter's registers
are, and aims at the curve's value one step ahead (or at the next knot when
nearer), so however the caller steps the meter it lands on every knot.

After the recorded period the scenario either holds the last power of each
channel (``after="hold"``, the default: registers keep rising at the final
rate) or plays the recorded increments again and again (``after="loop"``).
The meter never goes backwards either way.  ``cheap_tier`` is accepted for
interface compatibility and ignored: a recording has no battery to steer.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from han_emu.meter.gbtime import local_datetime
from han_emu.meter.model import Channel, Flow, TwinMeter
from han_emu.meter.profile import PERIOD
from han_emu.meter.settings import ELEMENTS, MeterSettings

DIRECTIONS = ("import", "export")
After = Literal["hold", "loop"]
_HALF_WH = 0.5
_MIN_AIM_S = 0.5  # nearer knots are not aimed at (no power spikes from float dust)
_DAY = 86400.0


@dataclass
class ChannelSeries:
    """What was seen of one element in one direction: readings (t, Wh),
    tier readings {tier: [(t, Wh)]}, profile intervals {end: Wh or None}."""

    readings: list[tuple[float, float]] = field(default_factory=list)
    tiers: dict[int, list[tuple[float, float]]] = field(default_factory=dict)
    intervals: dict[int, float | None] = field(default_factory=dict)
    active_tiers: list[tuple[float, int]] = field(default_factory=list)


@dataclass
class ElementSeries:
    """One element: both directions plus the signed demand (t, W; + import)."""

    channels: dict[str, ChannelSeries] = field(default_factory=lambda: {d: ChannelSeries() for d in DIRECTIONS})
    demand: list[tuple[float, float]] = field(default_factory=list)


class Recording:
    """The observed time series of both elements (times are POSIX seconds UTC).

    Observations may be added in any order; they are sorted when used.
    ``span`` is the period the source covers (a capture's first and last
    frame), when known.
    """

    def __init__(self) -> None:
        self.elements: dict[str, ElementSeries] = {name: ElementSeries() for name in ELEMENTS}
        self.span: tuple[float, float] | None = None

    def channel(self, element: str, direction: str) -> ChannelSeries:
        return self.elements[element].channels[direction]

    def add_reading(self, element: str, direction: str, ts: float, wh: float) -> None:
        self.channel(element, direction).readings.append((float(ts), float(wh)))

    def add_tier_reading(self, element: str, direction: str, tier: int, ts: float, wh: float) -> None:
        self.channel(element, direction).tiers.setdefault(tier, []).append((float(ts), float(wh)))

    def add_demand(self, element: str, ts: float, watts: float) -> None:
        self.elements[element].demand.append((float(ts), float(watts)))

    def add_interval(self, element: str, direction: str, end: int, wh: float | None) -> None:
        """A half-hour profile interval ending at ``end`` (None: invalid)."""
        if end % PERIOD:
            raise ValueError(f"interval end {end} is not on a half hour")
        self.channel(element, direction).intervals[int(end)] = None if wh is None else float(wh)

    def add_active_tier(self, element: str, direction: str, ts: float, tier: int) -> None:
        self.channel(element, direction).active_tiers.append((float(ts), int(tier)))

    def times(self) -> list[float]:
        """Every observation time of readings and demand."""
        out: list[float] = []
        for el in self.elements.values():
            out.extend(t for t, _ in el.demand)
            for ch in el.channels.values():
                out.extend(t for t, _ in ch.readings)
                for rows in ch.tiers.values():
                    out.extend(t for t, _ in rows)
        return out

    def __bool__(self) -> bool:
        return bool(self.times())


# --- the energy curve of one channel -------------------------------------------------------


def _held(samples: list[tuple[float, float]], times: list[float], ts: float) -> float | None:
    """The sample in effect at ``ts`` (the latest at or before it)."""
    i = bisect_right(times, ts) - 1
    return samples[i][1] if i >= 0 else None


class _Curve:
    """Cumulative energy (Wh) of one channel as a piecewise-linear function."""

    def __init__(self, times: list[float], energy: list[float]) -> None:
        self.times = times
        self.energy = energy

    def at(self, ts: float) -> float:
        t, e = self.times, self.energy
        if ts <= t[0]:
            return e[0]
        if ts >= t[-1]:
            return e[-1]
        i = bisect_right(t, ts) - 1
        t0, t1 = t[i], t[i + 1]
        return e[i] + (e[i + 1] - e[i]) * (ts - t0) / (t1 - t0)

    def next_knot(self, ts: float) -> float | None:
        i = bisect_right(self.times, ts)
        return self.times[i] if i < len(self.times) else None

    def last_power_w(self) -> float:
        t, e = self.times, self.energy
        for i in range(len(t) - 1, 0, -1):
            if t[i] > t[i - 1]:
                return (e[i] - e[i - 1]) * 3600.0 / (t[i] - t[i - 1])
        return 0.0


def _clean_readings(rows: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Sorted, one per instant, never decreasing, never negative; each as the middle of its Wh."""
    out: list[tuple[float, float]] = []
    for ts, wh in sorted(rows):
        if wh < 0:
            continue  # a register is unsigned: not a reading
        e = wh + _HALF_WH
        if out and e < out[-1][1]:
            continue  # a register never goes back: an older or garbled value
        if out and ts == out[-1][0]:
            out[-1] = (ts, e)
        else:
            out.append((ts, e))
    return out


def _chains(intervals: dict[int, float | None]) -> list[list[tuple[int, float]]]:
    """Runs of consecutive valid intervals, each as [(end, Wh), ...]."""
    runs: list[list[tuple[int, float]]] = []
    for end in sorted(intervals):
        v = intervals[end]
        if v is None or v < 0:
            continue
        if runs and runs[-1][-1][0] == end - PERIOD:
            runs[-1].append((end, v))
        else:
            runs.append([(end, v)])
    return runs


def _chain_knots(chain: list[tuple[int, float]], readings: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Boundary knots of one run of intervals, placed by the readings (or none
    when no reading pins the run).  Boundary k is C + cum[k]."""
    bounds = [chain[0][0] - PERIOD] + [end for end, _ in chain]
    cum = [0.0]
    for _, v in chain:
        cum.append(cum[-1] + v)
    times = [t for t, _ in readings]
    lo, hi = -math.inf, math.inf
    best: tuple[float, float] | None = None  # (uncertainty, C)
    first = bisect_left(times, bounds[0])
    last = bisect_right(times, bounds[-1])
    for ts, e in readings[first:last]:
        k = min(max(1, math.ceil((ts - bounds[0]) / PERIOD)), len(chain))
        a, v = bounds[k - 1], chain[k - 1][1]
        f = (ts - a) / PERIOD
        lo, hi = max(lo, e - cum[k]), min(hi, e - cum[k - 1])
        guess = (v * min(f, 1.0 - f), e - cum[k - 1] - v * f)
        if best is None or guess[0] < best[0]:
            best = guess
    before = readings[first - 1] if first > 0 else None
    after = readings[last] if last < len(readings) else None
    if before is not None:
        lo = max(lo, before[1])
    if after is not None:
        hi = min(hi, after[1] - cum[-1])
    lo = max(lo, _HALF_WH)  # the register at the run's first boundary is not below zero
    if best is None:
        if before is None or after is None:
            return []  # nothing pins the run down
        gap_before, gap_after = bounds[0] - before[0], after[0] - bounds[-1]
        slack = after[1] - before[1] - cum[-1]
        share = gap_before / (gap_before + gap_after) if gap_before + gap_after > 0 else 0.0
        best = (0.0, before[1] + slack * share)
    c = math.floor(best[1]) + _HALF_WH
    if lo <= hi:
        c = min(max(c, lo), hi)
    c = max(c, _HALF_WH)
    return [(float(b), c + s) for b, s in zip(bounds, cum)]


def _interval_power(intervals: dict[int, float | None], ts: float) -> float | None:
    end = (math.floor(ts / PERIOD) + 1) * PERIOD
    v = intervals.get(int(end))
    return None if v is None else v * 3600.0 / PERIOD


def _hint_breaks(lo: float, hi: float, demand_times: list[float], intervals: dict[int, float | None]) -> list[float]:
    """Times in (lo, hi) where the hinted power may change."""
    out = {t for t in demand_times if lo < t < hi}
    b = (math.floor(lo / PERIOD) + 1) * PERIOD
    if intervals:
        while b < hi:
            out.add(float(b))
            b += PERIOD
    return sorted(out)


def build_curve(series: ChannelSeries, demand: list[tuple[float, float]], direction: str,
                start: float, end: float) -> _Curve:
    """The channel's cumulative energy from ``start`` to ``end`` (see the module notes)."""
    sign = 1.0 if direction == "import" else -1.0
    demand = sorted(demand)
    dtimes = [t for t, _ in demand]
    intervals = series.intervals

    def hint(ts: float) -> float | None:
        p = _interval_power(intervals, ts)
        if p is not None:
            return p
        d = _held(demand, dtimes, ts)
        return None if d is None else max(0.0, sign * d)

    readings = [r for r in _clean_readings(series.readings) if start <= r[0] <= end]
    knots = list(readings)
    for chain in _chains(intervals):
        for ts, e in _chain_knots(chain, readings):
            if start <= ts <= end:
                knots.append((ts, e))
    knots = _monotone(knots, readings)

    if not knots:  # free running: intervals, then demand, from an empty register
        return _free(start, end, 0.0, hint, dtimes, intervals, None)
    times = [t for t, _ in knots]
    energy = [e for _, e in knots]
    # Between knots: shaped by the demand, uniform without it.
    out_t, out_e = [times[0]], [energy[0]]
    for i in range(len(times) - 1):
        t0, t1, e0, e1 = times[i], times[i + 1], energy[i], energy[i + 1]
        inner = [t for t in dtimes if t0 < t < t1]
        if inner and e1 > e0:
            edges = [t0, *inner, t1]
            weights = []
            for a, b in zip(edges, edges[1:]):
                d = _held(demand, dtimes, a)
                weights.append(max(0.0, sign * d) * (b - a) if d is not None else 0.0)
            total = sum(weights)
            if total > 0:
                acc = e0
                for b, w in zip(edges[1:-1], weights):
                    acc += (e1 - e0) * w / total
                    out_t.append(b)
                    out_e.append(acc)
        out_t.append(t1)
        out_e.append(e1)
    # Before the first knot and after the last: the hinted power.
    if out_t[0] > start:
        first_slope = _Curve(out_t[:2], out_e[:2]).last_power_w() if len(out_t) > 1 else 0.0
        head = _free(start, out_t[0], 0.0, hint, dtimes, intervals, first_slope)
        shift = out_e[0] - head.energy[-1]
        head_e = [max(0.0, e + shift) for e in head.energy]
        out_t, out_e = head.times[:-1] + out_t, head_e[:-1] + out_e
    if out_t[-1] < end:
        tail = _free(out_t[-1], end, out_e[-1], hint, dtimes, intervals, _Curve(out_t, out_e).last_power_w())
        out_t, out_e = out_t + tail.times[1:], out_e + tail.energy[1:]
    return _Curve(out_t, out_e)


def _monotone(knots: list[tuple[float, float]], readings: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Knots sorted by time, readings winning ties, each boundary knot kept
    between its neighbouring readings, energy never decreasing."""
    hard = dict(readings)
    rtimes = [t for t, _ in readings]
    by_time: dict[float, float] = {}
    for ts, e in knots:
        if ts in hard:
            by_time[ts] = hard[ts]
            continue
        i = bisect_left(rtimes, ts)
        if i > 0:
            e = max(e, readings[i - 1][1])
        if i < len(readings):
            e = min(e, readings[i][1])
        by_time.setdefault(ts, e)
    out: list[tuple[float, float]] = []
    top = 0.0  # a register is never below zero
    for ts in sorted(by_time):
        top = max(top, by_time[ts])
        out.append((ts, top))
    return out


def _free(lo: float, hi: float, e0: float, hint, dtimes: list[float], intervals: dict[int, float | None],
          fallback_w: float | None) -> _Curve:
    """Integrate the hinted power from ``lo`` to ``hi`` starting at ``e0``."""
    times, energy = [lo], [e0]
    edges = [lo, *_hint_breaks(lo, hi, dtimes, intervals), hi]
    for a, b in zip(edges, edges[1:]):
        if b <= a:
            continue
        p = hint(a)
        if p is None:
            p = fallback_w or 0.0
        times.append(b)
        energy.append(energy[-1] + p * (b - a) / 3600.0)
    if len(times) == 1:
        times.append(hi if hi > lo else lo + 1.0)
        energy.append(e0)
    return _Curve(times, energy)


# --- the scenario ---------------------------------------------------------------------------


class RecordedScenario:
    """Power flows that replay a :class:`Recording` on the meter model.

    Same interface as ``Scenario``: ``flows(ts, cheap_tier=False)`` with
    non-decreasing times, each call's flows integrated by the meter up to the
    next call.  ``shift`` moves the recording in time (a whole number of half
    hours keeps the profile intervals aligned; see :meth:`anchored`).
    """

    def __init__(self, recording: Recording, *, after: After = "hold", shift: float = 0.0) -> None:
        if after not in ("hold", "loop"):
            raise ValueError("after must be 'hold' or 'loop'")
        times = recording.times()
        if not times:
            raise ValueError("the recording holds no readings or demand")
        self.recording = recording
        self.after: After = after
        self.shift = float(shift)
        first, last = min(times), max(times)
        if recording.span is not None:  # the capture's own period, frames without readings included
            lo, hi = recording.span  # (a stray timestamp a day away is not the capture's period)
            first, last = min(first, max(lo, first - _DAY)), max(last, min(hi, last + _DAY))
        #: When the recorded period begins and ends (recorded time, before ``shift``).
        self.start_recorded, self.end_recorded = first, last
        #: The half hour at or before the start, where the curves begin.
        self.origin = math.floor(first / PERIOD) * PERIOD
        if self.end_recorded <= self.start_recorded:
            self.end_recorded = self.start_recorded + 1.0
        self.curves: dict[tuple[str, str], _Curve] = {}
        for name, el in recording.elements.items():
            for direction, series in el.channels.items():
                self.curves[(name, direction)] = build_curve(series, el.demand, direction,
                                                             self.origin, self.end_recorded)
        self._last: float | None = None
        self._meter_wh: dict[tuple[str, str], float] = {}
        self._power: dict[tuple[str, str], float] = {}

    # -- time ------------------------------------------------------------------------
    @property
    def start(self) -> float:
        """When the replayed period begins (the capture's first frame, or first observation)."""
        return self.start_recorded + self.shift

    @property
    def end(self) -> float:
        """When the replayed period ends (the last observation)."""
        return self.end_recorded + self.shift

    def anchored(self, start: float) -> "RecordedScenario":
        """The same recording shifted by whole half hours (so the profile
        intervals stay aligned) to begin at most half an hour before ``start``."""
        shift = math.floor((start - self.start_recorded) / PERIOD) * PERIOD
        return RecordedScenario(self.recording, after=self.after, shift=shift)

    # -- the curve ----------------------------------------------------------------------
    def energy_wh(self, element: str, direction: str, ts: float) -> float:
        """Where the register should be at ``ts`` (Wh), in and after the recorded period."""
        curve = self.curves[(element, direction)]
        t = ts - self.shift
        first, last = self.start_recorded, self.end_recorded
        if t <= last:
            return curve.at(t)
        if self.after == "hold":
            return curve.at(last) + curve.last_power_w() * (t - last) / 3600.0
        span = last - first
        loops, rest = divmod(t - first, span)
        gain = curve.at(last) - curve.at(first)
        return curve.at(first + rest) + loops * gain

    def _next_knot(self, element: str, direction: str, ts: float) -> float | None:
        curve = self.curves[(element, direction)]
        t = ts - self.shift
        first, last = self.start_recorded, self.end_recorded
        if t < last:
            k = curve.next_knot(t)
            return None if k is None else k + self.shift
        if self.after == "hold":
            return None
        span = last - first
        loops, rest = divmod(t - first, span)
        k = curve.next_knot(first + rest)
        base = first + loops * span + self.shift
        return base + span if k is None else base + (k - first)

    def flows(self, ts: float, cheap_tier: bool = False) -> dict[str, Flow]:
        """Flows at ``ts`` that bring each register onto the recorded curve."""
        last = self._last
        step = ts - last if last is not None and ts > last else 10.0
        out: dict[str, dict[str, float]] = {name: {} for name in ELEMENTS}
        for key in self.curves:
            target_now = self.energy_wh(*key, ts)
            if last is None or ts < last:
                have = target_now  # first call: the meter is where the curve starts
            else:
                have = self._meter_wh[key] + self._power.get(key, 0.0) * (ts - last) / 3600.0
            aim = ts + step
            knot = self._next_knot(*key, ts)
            if knot is not None and ts + _MIN_AIM_S <= knot < aim:
                aim = knot
            power = max(0.0, (self.energy_wh(*key, aim) - have) * 3600.0 / (aim - ts))
            self._meter_wh[key] = have
            self._power[key] = power
            out[key[0]][key[1]] = power
        self._last = ts
        return {name: Flow(p.get("import", 0.0), p.get("export", 0.0)) for name, p in out.items()}

    # -- the meter at the start -----------------------------------------------------------
    def registers_at(self, ts: float) -> dict[tuple[str, str], float]:
        return {key: self.energy_wh(*key, ts) for key in self.curves}

    def new_meter(self, settings: MeterSettings) -> TwinMeter:
        """A meter at :attr:`start` with the registers the recording implies
        there (and at the half hour before, where its interval in progress
        began), the tier registers at their first recorded values and the
        profile intervals recorded before the start already in its log."""
        start = self.start
        opened = math.floor(start / PERIOD) * PERIOD
        core_elements = {}
        interval_start = [0] * len(Channel)
        for name in ELEMENTS:
            s = settings.element(name)
            exports = s.export_tariff.tiers if s.export_tariff else 0
            tiers = {"import": [0.0] * s.import_tariff.tiers, "export": [0.0] * exports}
            for direction in DIRECTIONS:
                for tier, rows in self.recording.channel(name, direction).tiers.items():
                    if rows and 1 <= tier <= len(tiers[direction]):
                        tiers[direction][tier - 1] = min(rows)[1] + _HALF_WH
            imp = self.energy_wh(name, "import", start)
            exp = self.energy_wh(name, "export", start)
            interval_start[Channel.of(name, "import")] = int(min(imp, self.energy_wh(name, "import", opened)))
            interval_start[Channel.of(name, "export")] = int(min(exp, self.energy_wh(name, "export", opened)))
            core_elements[name] = {
                "import_wh": imp, "export_wh": exp, "reactive_import_varh": 0.0, "reactive_export_varh": 0.0,
                "import_tiers": tiers["import"], "export_tiers": tiers["export"],
            }
        core = {"time": start, "interval_start": interval_start, "elements": core_elements}
        rows: list[tuple[int, int, int | None]] = []
        for name in ELEMENTS:
            for direction in DIRECTIONS:
                ch = Channel.of(name, direction)
                for end, v in sorted(self.recording.channel(name, direction).intervals.items()):
                    end_here = end + int(self.shift)
                    if end_here <= start:
                        rows.append((ch, end_here, None if v is None else int(round(v))))
        readings = tuple(int(core_elements[c.element][f"{c.direction}_wh"]) for c in Channel)
        today: date = local_datetime(start).date()
        return TwinMeter.restore(settings, core, rows, [(today, readings)])

    def state(self) -> dict[str, float]:
        return {f"{el}_{d}_w": p for (el, d), p in self._power.items()}
