"""Time-of-use tariffs: switching tables that pick the active tier, and prices.

A switching table works like a GBCS one: named day profiles (tier changes at
local times of day), a week profile that assigns a day profile to each weekday,
and special days that override the week.  Switch times fall on half-hour
boundaries, the granularity of GB settlement and of the profile log, so tier
changes always coincide with interval boundaries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Mapping

from han_emu.meter.gbtime import HALF_HOUR, local_datetime, local_midnight

MINUTES_PER_DAY = 24 * 60
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class TariffError(ValueError):
    """A switching table or price matrix that cannot work; names the field."""


@dataclass(frozen=True)
class DayProfile:
    """Tier changes through one local day: ``(minute_of_day, tier)`` pairs."""

    switches: tuple[tuple[int, int], ...]

    def validate(self, where: str, tiers: int) -> None:
        if not self.switches or self.switches[0][0] != 0:
            raise TariffError(f"{where}: the first switch must be at 00:00")
        last = -1
        for minute, tier in self.switches:
            if minute <= last:
                raise TariffError(f"{where}: switch times must increase")
            if not 0 <= minute < MINUTES_PER_DAY or minute % 30:
                raise TariffError(f"{where}: switch at minute {minute} is not on a half hour of the day")
            if not 1 <= tier <= tiers:
                raise TariffError(f"{where}: tier {tier} is outside 1..{tiers}")
            last = minute

    def tier_at(self, minute: int) -> int:
        tier = self.switches[0][1]
        for start, t in self.switches:
            if start > minute:
                break
            tier = t
        return tier


@dataclass(frozen=True)
class SwitchingTable:
    """Day profiles, the profile used on each weekday, and special days."""

    day_profiles: Mapping[str, DayProfile]
    week: tuple[str, str, str, str, str, str, str]
    special_days: Mapping[date, str] = field(default_factory=dict)
    #: Tier per half-hour slot: switches fall on half hours, so a slot's tier
    #: never changes and look-ups (hot in simulations) are memoised.
    _slots: dict[int, int] = field(default_factory=dict, compare=False, repr=False, hash=False)
    #: Tier starts already found, by (half-hour slot, look-back floor).
    _starts: dict[tuple[int, int], int] = field(default_factory=dict, compare=False, repr=False, hash=False)
    #: :meth:`changes` already found, by (half-hour slot, count, horizon).
    _changes: dict[tuple[int, int, int], tuple[tuple[int, int], ...]] = field(
        default_factory=dict, compare=False, repr=False, hash=False)

    def validate(self, where: str, tiers: int) -> None:
        for name, profile in self.day_profiles.items():
            profile.validate(f"{where}.day_profiles.{name}", tiers)
        for day, name in zip(WEEKDAYS, self.week, strict=True):
            if name not in self.day_profiles:
                raise TariffError(f"{where}.week.{day}: unknown day profile {name!r}")
        for day, name in self.special_days.items():
            if name not in self.day_profiles:
                raise TariffError(f"{where}.special_days.{day}: unknown day profile {name!r}")

    def tier_at(self, ts: float) -> int:
        """The active tier at POSIX time ``ts`` (GB local time decides)."""
        slot = int(ts // HALF_HOUR)
        tier = self._slots.get(slot)
        if tier is None:
            local = local_datetime(slot * HALF_HOUR)
            name = self.special_days.get(local.date()) or self.week[local.weekday()]
            tier = self.day_profiles[name].tier_at(local.hour * 60 + local.minute)
            if len(self._slots) > 20_000:
                self._slots.clear()
            self._slots[slot] = tier
        return tier

    def changes(self, ts: float, count: int, horizon_days: int = 8) -> list[tuple[int, int]]:
        """The next ``count`` tier changes after ``ts`` as (POSIX time, new tier),
        looking ``horizon_days`` ahead (switches fall on half hours).

        The answer is the same for every ``ts`` in one half hour (its tier, the
        half hours after it and the horizon's last one are), so it is memoised
        by slot: a display asks for the current price every few minutes."""
        whole = (horizon_days * 86400) % HALF_HOUR == 0
        key = (int(ts // HALF_HOUR), count, horizon_days)
        if whole:
            known = self._changes.get(key)
            if known is not None:
                return list(known)
        out = self._find_changes(ts, count, horizon_days)
        if whole:
            if len(self._changes) > 20_000:
                self._changes.clear()
            self._changes[key] = tuple(out)
        return out

    def _find_changes(self, ts: float, count: int, horizon_days: int) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        tier = self.tier_at(ts)
        t = int(ts // HALF_HOUR + 1) * HALF_HOUR
        end = ts + horizon_days * 86400
        while t <= end and len(out) < count:
            now = self.tier_at(t)
            if now != tier:
                out.append((t, now))
                tier = now
            t += HALF_HOUR
        return out

    def current_start(self, ts: float, since: float) -> int:
        """When the tier active at ``ts`` became active, looking back no
        further than ``since`` (the tier cannot have started before the
        tariff did: the answer is then ``since``'s half hour).

        Whole local days whose day profile keeps the tier are stepped over at
        once, so a flat tariff costs one step a day, not 48."""
        floor = int(since // HALF_HOUR) * HALF_HOUR
        key = (int(ts // HALF_HOUR), floor)
        known = self._starts.get(key)
        if known is not None:
            return known
        tier = self.tier_at(ts)
        t = int(ts // HALF_HOUR) * HALF_HOUR
        while t > floor:
            day = local_datetime(t - HALF_HOUR).date()
            name = self.special_days.get(day) or self.week[day.weekday()]
            if all(switch_tier == tier for _, switch_tier in self.day_profiles[name].switches):
                t = max(local_midnight(day), floor)  # the whole day kept the tier
            elif self.tier_at(t - HALF_HOUR) == tier:
                t -= HALF_HOUR
            else:
                break
        if len(self._starts) > 4096:
            self._starts.clear()
        self._starts[key] = t
        return t

    @classmethod
    def flat(cls) -> "SwitchingTable":
        profile = DayProfile(((0, 1),))
        return cls({"all": profile}, ("all",) * 7)


@dataclass(frozen=True)
class Tariff:
    """One direction's tariff on one element: tier prices in GBP per kWh, a
    standing charge in GBP per day, and the switching table."""

    label: str
    prices: tuple[Decimal, ...]
    switching: SwitchingTable
    standing_charge: Decimal = Decimal(0)

    @property
    def tiers(self) -> int:
        return len(self.prices)

    def validate(self, where: str) -> None:
        if not 1 <= self.tiers <= 48:
            raise TariffError(f"{where}.prices: a tariff has 1..48 tiers, got {self.tiers}")
        if any(p < 0 for p in self.prices):
            raise TariffError(f"{where}.prices: prices cannot be negative")
        if self.standing_charge < 0:
            raise TariffError(f"{where}.standing_charge: cannot be negative")
        self.switching.validate(f"{where}.switching", self.tiers)

    def tier_at(self, ts: float) -> int:
        return self.switching.tier_at(ts)

    def price_of(self, tier: int) -> Decimal:
        return self.prices[tier - 1]
