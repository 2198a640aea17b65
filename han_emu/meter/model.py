"""The twin-element ESME: two elements integrating power into registers.

Power is piecewise constant: the caller sets each element's flow, then
advances the meter to a later time.  The meter splits every advance at
half-hour boundaries, where it closes a profile interval on every channel,
re-evaluates the active TOU tiers (switching tables change tier only on half
hours) and, at GB local midnight, writes the daily read log.

An interval the meter did not measure whole (it started, or resumed after
downtime, inside it) is logged as *partial*: its value is what was measured,
and :meth:`TwinMeter.interval_partial` tells it from a complete one.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import date
from enum import IntEnum
from typing import Any

from han_emu.meter.daily import DailyLog
from han_emu.meter.gbtime import local_date, local_datetime, local_midnight
from han_emu.meter.credit import CAUSE_GENERAL, PrepaymentAccount
from han_emu.meter.messages import MessageBoard
from han_emu.meter.profile import PERIOD, ProfileLog
from han_emu.meter.settings import ELEMENTS, PRIMARY, SECONDARY, MeterSettings


class Channel(IntEnum):
    """The four logged channels: (element, direction)."""

    PRIMARY_IMPORT = 0
    PRIMARY_EXPORT = 1
    SECONDARY_IMPORT = 2
    SECONDARY_EXPORT = 3

    @property
    def element(self) -> str:
        return PRIMARY if self < 2 else SECONDARY

    @property
    def direction(self) -> str:
        return "import" if self % 2 == 0 else "export"

    @classmethod
    def of(cls, element: str, direction: str) -> "Channel":
        return cls(ELEMENTS.index(element) * 2 + (0 if direction == "import" else 1))


#: (element, direction) of each channel, as its properties say: a register is
#: read this way for every attribute a display reads or the server reports.
_CHANNEL_PARTS: tuple[tuple[str, str], ...] = tuple((c.element, c.direction) for c in Channel)


@dataclass
class Flow:
    """Instantaneous power of one element, each direction non-negative."""

    import_w: float = 0.0
    export_w: float = 0.0
    reactive_import_var: float = 0.0
    reactive_export_var: float = 0.0

    def __post_init__(self) -> None:
        for name in ("import_w", "export_w", "reactive_import_var", "reactive_export_var"):
            value = getattr(self, name)
            if value < 0 or math.isnan(value):
                raise ValueError(f"{name} must be a non-negative number, got {value}")

    @property
    def demand_w(self) -> float:
        """Net demand, positive for import and negative for export (ZCL's sign)."""
        return self.import_w - self.export_w


@dataclass
class Element:
    """One measuring element: registers in Wh/varh (floats, never decreasing)."""

    name: str
    import_tiers: list[float]
    export_tiers: list[float]
    import_wh: float = 0.0
    export_wh: float = 0.0
    reactive_import_varh: float = 0.0
    reactive_export_varh: float = 0.0
    flow: Flow = field(default_factory=Flow)

    def accumulate(self, seconds: float, import_tier: int, export_tier: int | None) -> None:
        hours = seconds / 3600.0
        f = self.flow
        e_in = f.import_w * hours
        e_out = f.export_w * hours
        self.import_wh += e_in
        self.export_wh += e_out
        self.reactive_import_varh += f.reactive_import_var * hours
        self.reactive_export_varh += f.reactive_export_var * hours
        self.import_tiers[import_tier - 1] += e_in
        if export_tier is not None:
            self.export_tiers[export_tier - 1] += e_out

    def register(self, direction: str) -> int:
        """Whole Wh of the import or export register, as the HAN shows it."""
        return int(self.import_wh if direction == "import" else self.export_wh)

    def tier_register(self, direction: str, tier: int) -> int:
        tiers = self.import_tiers if direction == "import" else self.export_tiers
        return int(tiers[tier - 1])


class TwinMeter:
    """A SMETS2 twin-element electricity meter with the MP184 export data."""

    def __init__(self, settings: MeterSettings, start: float) -> None:
        self.settings = settings
        self.time = float(start)
        self.elements: dict[str, Element] = {}
        for name in ELEMENTS:
            s = settings.element(name)
            exports = s.export_tariff.tiers if s.export_tariff else 0
            self.elements[name] = Element(name, [0.0] * s.import_tariff.tiers, [0.0] * exports)
        self.profiles = tuple(ProfileLog(settings.profile_capacity) for _ in Channel)
        #: When the meter took its first reading: history and prices start there.
        self.first_reading = self.time
        #: When the configured tariffs took effect (the first reading, or the
        #: restart that found them changed): the IssuerEventIDs of tariff
        #: information count from it.
        self.tariff_since = self.time
        self.daily = DailyLog(settings.daily_capacity, local_datetime(self.time).date())
        self.prepayment = {n: PrepaymentAccount.new(settings.element(n).prepayment, self.time) for n in ELEMENTS}
        self._interval_start = [0] * len(Channel)
        self._partial_ends: set[int] = set()
        self._measuring_since = self.time
        if self.time % PERIOD:
            self._partial_ends.add(self._next_boundary())
        self._tiers: dict[str, tuple[int, int | None]] = {}
        #: Text messages for the displays (the Messaging cluster's), saved with the meter.
        self.messages = MessageBoard()
        self._retier()
        self._record_day_if_missing()

    # -- reading -----------------------------------------------------------
    def reading(self, channel: Channel) -> int:
        element, direction = _CHANNEL_PARTS[channel]  # Channel.element and .direction, looked up
        return self.elements[element].register(direction)

    def readings(self) -> tuple[int, ...]:
        return tuple(self.reading(c) for c in Channel)

    def active_tier(self, element: str, direction: str) -> int | None:
        """The tier accumulating now (None for a direction without TOU registers)."""
        imp, exp = self._tiers[element]
        return imp if direction == "import" else exp

    def tariff(self, element: str, direction: str):
        s = self.settings.element(element)
        return s.import_tariff if direction == "import" else s.export_tariff

    def partial_interval(self, channel: Channel) -> tuple[int, int]:
        """(start time, value so far) of the interval in progress.  The start
        is when measuring began when that was inside the interval (the meter
        started or came back then), so the value is never taken for a whole
        interval's."""
        start = int(self.time // PERIOD * PERIOD)
        if start == self.time:  # exactly on a boundary: the new interval is empty
            return start, 0
        return max(start, int(self._measuring_since)), self.reading(channel) - self._interval_start[channel]

    def interval_partial(self, end: int) -> bool:
        """True if the interval ending at ``end`` was (or is being) measured
        only in part: the meter started or resumed inside it."""
        return end in self._partial_ends

    def partial_ends(self) -> list[int]:
        """End times of the partial intervals still in the profile log (and
        of the one in progress, if partial), ascending."""
        return sorted(self._partial_ends)

    def daily_row(self) -> tuple[int, ...]:
        """What the daily read log records: the four channels' registers, then
        every element's export TOU registers (MP184 R6), whole Wh."""
        tiers = tuple(int(x) for name in ELEMENTS for x in self.elements[name].export_tiers)
        return self.readings() + tiers

    def today(self) -> date:
        return local_date(self.time)  # asked by every history attribute a display reads

    # -- driving -------------------------------------------------------------
    def set_flow(self, element: str, flow: Flow) -> None:
        self.elements[element].flow = flow

    def advance(self, to: float) -> None:
        """Integrate the current flows up to ``to``."""
        if to < self.time:
            raise ValueError("the meter cannot advance backwards in time")
        while self.time < to:
            boundary = (math.floor(self.time / PERIOD) + 1) * PERIOD
            end = min(to, boundary)
            dt = end - self.time
            for name, el in self.elements.items():
                imp, exp = self._tiers[name]
                before = el.import_wh
                el.accumulate(dt, imp, exp)
                self._charge(name, end, el.import_wh - before, imp)
            self.time = end
            if end == boundary:
                self._close_interval(boundary)

    def resume(self, now: float) -> None:
        """Continue after downtime: nothing was measured between the last state
        and ``now``, so the intervals wholly missed are invalid."""
        if now <= self.time:
            return
        flows = {n: e.flow for n, e in self.elements.items()}
        for el in self.elements.values():
            el.flow = Flow()
        boundary = self._next_boundary()
        self._partial_ends.add(boundary)  # the gap cut into the interval in progress
        if now >= boundary:
            self.time = boundary
            self._close_interval(boundary)  # the part measured before the gap
            last = int(now // PERIOD * PERIOD)
            if last > boundary:
                for p in self.profiles:
                    p.append(last, None)
                self.time = last
                self._retier()
            self._measuring_since = float(now)
            if now % PERIOD:
                self._partial_ends.add(self._next_boundary(now))
        self.time = float(now)
        for name, flow in flows.items():
            self.elements[name].flow = flow
        for account in self.prepayment.values():  # nothing was used, nor charged, while down
            account.time = max(account.time, self.time)
        self._record_day_if_missing()

    def tariffs_changed(self) -> None:
        """The tariffs were replaced mid-interval (new prices, a switching-table
        update): pick the active tiers again now rather than at the next half hour."""
        self._retier()

    def preset_register(self, element: str, direction: str, wh: float) -> float:
        """Lab: set ``element``'s ``direction`` register to ``wh`` (e.g. just below
        the rollover of the digits a display shows); returns the change.  The
        active tier's register and the interval in progress move with it, so
        neither the tier split nor the profile log sees a jump."""
        el = self.elements[element]
        channel = Channel.of(element, direction)
        before = self.reading(channel)
        delta = float(wh) - (el.import_wh if direction == "import" else el.export_wh)
        tier = self.active_tier(element, direction)
        if direction == "import":
            el.import_wh += delta
            tiers = el.import_tiers
        else:
            el.export_wh += delta
            tiers = el.export_tiers
        if tier is not None and tiers:
            tiers[tier - 1] += delta
        self._interval_start[channel] += self.reading(channel) - before
        return delta

    # -- internals -----------------------------------------------------------
    def _next_boundary(self, at: float | None = None) -> int:
        """End of the interval ``at`` (default: now) falls in."""
        return int((math.floor((self.time if at is None else at) / PERIOD) + 1) * PERIOD)
    def _charge(self, name: str, to: float, import_wh: float, tier: int) -> None:
        """The element's prepayment account pays for ``import_wh`` at the live tier's price."""
        tariff = self.settings.element(name).import_tariff
        self.prepayment[name].charge(to, import_wh / 1000.0, float(tariff.price_of(tier)),
                                     float(tariff.standing_charge))

    def _retier(self) -> None:
        for name in ELEMENTS:
            s = self.settings.element(name)
            exp = s.export_tariff.tier_at(self.time) if s.export_tariff else None
            self._tiers[name] = (s.import_tariff.tier_at(self.time), exp)

    def _close_interval(self, end: int) -> None:
        now = self.readings()
        for ch in Channel:
            self.profiles[ch].append(end, now[ch] - self._interval_start[ch])
        self._interval_start = list(now)
        self._retier()
        if self._partial_ends:
            oldest = self.profiles[0].oldest_end or end
            self._partial_ends = {e for e in self._partial_ends if e >= oldest}
        local = local_datetime(end)
        if local.hour == 0 and local.minute == 0:
            self.daily.record(local.date(), self.daily_row())
            for account in self.prepayment.values():
                account.take_snapshot(end, CAUSE_GENERAL)

    def _record_day_if_missing(self) -> None:
        today = self.today()
        if self.daily.reading(today, 0) is None:
            self.daily.record(today, self.daily_row())

    def tariff_fingerprint(self) -> str:
        """A digest of every configured tariff: a restart that finds it
        changed starts the tariffs' IssuerEventIDs afresh."""
        text = repr([(self.settings.element(n).import_tariff, self.settings.element(n).export_tariff)
                     for n in ELEMENTS])
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    # -- persistence support (pure: the store decides where this goes) ----
    def core_state(self) -> dict[str, Any]:
        """Registers, clock, interval bookkeeping, the prepayment accounts and
        messages: everything but the profile and daily logs."""
        return {
            "time": self.time,
            "first_reading": self.first_reading,
            "tariff_since": self.tariff_since,
            "tariffs": self.tariff_fingerprint(),
            "measuring_since": self._measuring_since,
            "partial_ends": self.partial_ends(),
            "prepayment": {name: account.state() for name, account in self.prepayment.items()},
            "messages": self.messages.to_state(),
            "interval_start": list(self._interval_start),
            "elements": {
                name: {
                    "import_wh": el.import_wh,
                    "export_wh": el.export_wh,
                    "reactive_import_varh": el.reactive_import_varh,
                    "reactive_export_varh": el.reactive_export_varh,
                    "import_tiers": list(el.import_tiers),
                    "export_tiers": list(el.export_tiers),
                }
                for name, el in self.elements.items()
            },
        }

    @classmethod
    def restore(
        cls,
        settings: MeterSettings,
        core: dict[str, Any],
        profile_rows: list[tuple[int, int, int | None]],
        daily_rows: list[tuple[date, tuple[int, ...]]],
    ) -> "TwinMeter":
        """Rebuild a meter from its core state and its log rows
        (``(channel, end, value)`` and ``(day, readings)``, oldest first)."""
        meter = cls.__new__(cls)
        meter.settings = settings
        meter.time = float(core["time"])
        meter.elements = {}
        for name in ELEMENTS:
            data = core["elements"][name]
            s = settings.element(name)
            imports = list(data["import_tiers"])
            exports = list(data["export_tiers"])
            want_exports = s.export_tariff.tiers if s.export_tariff else 0
            if len(imports) != s.import_tariff.tiers or len(exports) != want_exports:
                raise ValueError(
                    f"saved state of the {name} element has {len(imports)} import and "
                    f"{len(exports)} export tiers; the configuration now has "
                    f"{s.import_tariff.tiers} and {want_exports}"
                )
            meter.elements[name] = Element(
                name,
                imports,
                exports,
                data["import_wh"],
                data["export_wh"],
                data["reactive_import_varh"],
                data["reactive_export_varh"],
            )
        meter.profiles = tuple(ProfileLog(settings.profile_capacity) for _ in Channel)
        for channel, end, value in profile_rows:
            meter.profiles[channel].append(end, value)
        # State saved before the first reading was kept: the oldest day of a
        # log that never overflowed is the first reading's.
        first = core.get("first_reading")
        meter.daily = DailyLog(settings.daily_capacity)
        for day, readings in daily_rows:
            meter.daily.record(day, tuple(readings))
        if first is not None:
            meter.daily.first_day = local_datetime(float(first)).date()
        elif daily_rows and len(daily_rows) < settings.daily_capacity:
            meter.daily.first_day = daily_rows[0][0]
        if first is None:
            first = local_midnight(daily_rows[0][0]) if daily_rows else meter.time
        meter.first_reading = float(first)
        meter.tariff_since = float(core.get("tariff_since", meter.first_reading))
        if core.get("tariffs") != meter.tariff_fingerprint():
            meter.tariff_since = max(meter.tariff_since, math.ceil(meter.time))  # the tariffs changed
        meter._measuring_since = float(core.get("measuring_since", meter.first_reading))
        meter._partial_ends = {int(e) for e in core.get("partial_ends", ())}
        meter._interval_start = list(core["interval_start"])
        saved = core.get("prepayment") or {}  # state from before prepayment: accounts start afresh
        meter.messages = MessageBoard.from_state(core.get("messages"))  # absent before messages
        meter.prepayment = {
            n: PrepaymentAccount.from_state(settings.element(n).prepayment, saved[n]) if n in saved
            else PrepaymentAccount.new(settings.element(n).prepayment, meter.time)
            for n in ELEMENTS
        }
        meter._tiers = {}
        meter._retier()
        return meter
