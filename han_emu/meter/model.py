"""The twin-element ESME: two elements integrating power into registers.

Power is piecewise constant: the caller sets each element's flow, then
advances the meter to a later time.  The meter splits every advance at
half-hour boundaries, where it closes a profile interval on every channel,
re-evaluates the active TOU tiers (switching tables change tier only on half
hours) and, at GB local midnight, writes the daily read log.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from enum import IntEnum
from typing import Any

from han_emu.meter.daily import DailyLog
from han_emu.meter.gbtime import local_datetime
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
        self.daily = DailyLog(settings.daily_capacity)
        self.prepayment = {n: PrepaymentAccount.new(settings.element(n).prepayment, self.time) for n in ELEMENTS}
        self._interval_start = [0] * len(Channel)
        self._tiers: dict[str, tuple[int, int | None]] = {}
        #: Text messages for the displays (the Messaging cluster's), saved with the meter.
        self.messages = MessageBoard()
        self._retier()
        self._record_day_if_missing()

    # -- reading -----------------------------------------------------------
    def reading(self, channel: Channel) -> int:
        return self.elements[channel.element].register(channel.direction)

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
        """(start time, value so far) of the interval in progress."""
        start = int(self.time // PERIOD * PERIOD)
        if start == self.time:  # exactly on a boundary: the new interval is empty
            return start, 0
        return start, self.reading(channel) - self._interval_start[channel]

    def today(self) -> date:
        return local_datetime(self.time).date()

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
        boundary = (math.floor(self.time / PERIOD) + 1) * PERIOD
        if now >= boundary:
            self.time = boundary
            self._close_interval(boundary)  # the part measured before the gap
            last = int(now // PERIOD * PERIOD)
            if last > boundary:
                for p in self.profiles:
                    p.append(last, None)
                self.time = last
                self._retier()
        self.time = float(now)
        for name, flow in flows.items():
            self.elements[name].flow = flow
        for account in self.prepayment.values():  # nothing was used, nor charged, while down
            account.time = max(account.time, self.time)
        self._record_day_if_missing()

    # -- internals -----------------------------------------------------------
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
        local = local_datetime(end)
        if local.hour == 0 and local.minute == 0:
            self.daily.record(local.date(), now)
            for account in self.prepayment.values():
                account.take_snapshot(end, CAUSE_GENERAL)

    def _record_day_if_missing(self) -> None:
        today = self.today()
        if self.daily.reading(today, 0) is None:
            self.daily.record(today, self.readings())

    # -- persistence support (pure: the store decides where this goes) ----
    def core_state(self) -> dict[str, Any]:
        """Registers, clock, interval bookkeeping, the prepayment accounts and
        messages: everything but the profile and daily logs."""
        return {
            "time": self.time,
            "prepayment": {name: account.state() for name, account in self.prepayment.items()},
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
            "messages": self.messages.to_state(),
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
        meter.daily = DailyLog(settings.daily_capacity)
        for day, readings in daily_rows:
            meter.daily.record(day, tuple(readings))
        meter._interval_start = list(core["interval_start"])
        saved = core.get("prepayment") or {}  # state from before prepayment: accounts start afresh
        meter.prepayment = {
            n: PrepaymentAccount.from_state(settings.element(n).prepayment, saved[n]) if n in saved
            else PrepaymentAccount.new(settings.element(n).prepayment, meter.time)
            for n in ELEMENTS
        }
        meter.messages = MessageBoard.from_state(core.get("messages"))  # absent before messages
        meter._tiers = {}
        meter._retier()
        return meter
