"""What an IHD works out from its readout: the premises' figures now, and the
cost of each day, week and month.

**Both elements.**  A twin-element meter's secondary element imports too (a
heat pump or storage heaters on their own circuit), so the premises' import,
its cost per hour and the consumption of each period add the two elements;
each figure keeps its split (:class:`Split`).  A total is known only when
every element the display has seen gives its part: a total that silently
leaves one element out is the error this replaces.

**Period cost.**  The HAN carries registers and prices, not cost, and the
Metering cluster has no per-tier history.  Like a GB IHD, the display keeps
its own: each element's import tier registers as it first reads them in a GB
local day, within :data:`MARK_TOLERANCE_S` after midnight (a
:class:`TierMark`, with the tier prices and standing charge it held then).
The cost of a period is, over the segments between the marks it holds from
the period's first midnight to its end (the next period's first mark, or now),
the sum over tiers of (register at the segment's end - at its start) x that
tier's price at the segment's end, plus the standing charge for each day.
A period whose first midnight the display did not see has no cost (shown as
a dash), rather than a guess.  Standing charges count only where the display
has read one (Price StandingCharge); an element without one adds none.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import TYPE_CHECKING, Any, Protocol

from han_emu.meter.gbtime import local_date, local_midnight, month_start, week_start

if TYPE_CHECKING:
    from han_emu.readout.model import ElementReadout, Readout

IMPORT = "delivered"
EXPORT = "received"
ROLES = ("primary", "secondary")
KINDS = ("day", "week", "month")

#: A tier-register reading counts as the start of its GB local day when it is
#: read at most this long after midnight (a display reading its registers
#: every minute is well within it; one that was off at midnight is not).
MARK_TOLERANCE_S = 900.0
#: Marks kept: enough for the thirteenth previous month and the month after it.
MARK_KEEP_DAYS = 14 * 31


@dataclass(frozen=True)
class TierMark:
    """One element's import tier registers at the start of a GB local day
    (raw, as the HAN carries them), with the prices and standing charge the
    display held then."""

    at: float
    registers: Mapping[int, int]
    prices: Mapping[int, int]
    standing_charge: int | None


@dataclass(frozen=True)
class Split:
    """A premises figure and its parts: the primary and the secondary element."""

    total: Decimal | None
    primary: Decimal | None
    secondary: Decimal | None

    def to_json(self) -> dict[str, float | None]:
        return {k: None if v is None else float(v)
                for k, v in (("total", self.total), ("primary", self.primary), ("secondary", self.secondary))}


class Classifier(Protocol):
    """Ambient thresholds: a level name for an import power."""

    def level(self, kw: Decimal | None) -> str | None: ...


AMBIENT_LEVELS = ("Low", "Medium", "High")


# -- the HAN clock ------------------------------------------------------------------------------
def han_clock(readout: Readout, now: float | None) -> float | None:
    """The HAN time the display keeps: the Time cluster's value, run on by the
    display's own clock since it was read."""
    if readout.time_utc is None:
        return None
    if now is None or readout.time_read_at is None:
        return readout.time_utc
    return readout.time_utc + (now - readout.time_read_at)


def han_day(readout: Readout, now: float | None) -> date | None:
    t = han_clock(readout, now)
    return None if t is None else local_date(t)


# -- both elements --------------------------------------------------------------------------------
def split(readout: Readout, value: Callable[[ElementReadout], Decimal | None]) -> Split:
    """``value`` of each element, and their sum when every element seen gave one."""
    parts = {role: readout.by_role(role) for role in ROLES}
    values = {role: None if el is None else value(el) for role, el in parts.items()}
    seen = [values[role] for role, el in parts.items() if el is not None]
    total = None if not seen or any(v is None for v in seen) else sum((v for v in seen if v is not None), Decimal(0))
    return Split(total, values["primary"], values["secondary"])


def import_cost_per_hour(el: ElementReadout) -> Decimal | None:
    """An element's import now at its price now; nothing imported costs nothing
    even before its price is known."""
    kw = el.import_kw()
    if kw is None:
        return None
    if kw == 0:
        return Decimal(0)
    price = el.price_now(IMPORT)
    return None if price is None else kw * price


def import_now(readout: Readout) -> Split:
    return split(readout, lambda el: el.import_kw())


def cost_now(readout: Readout) -> Split:
    """GBP per hour at the import now and each element's current import price."""
    return split(readout, import_cost_per_hour)


# -- periods ------------------------------------------------------------------------------------
def _months_back(day: date, back: int) -> date:
    first = month_start(day)
    for _ in range(back):
        first = (first - timedelta(days=1)).replace(day=1)
    return first


def period_bounds(kind: str, today: date, back: int) -> tuple[date, date]:
    """The first day of the period ``back`` periods before the current one, and
    the first day of the period after it (GB IHD weeks start on Monday)."""
    if kind == "day":
        start = today - timedelta(days=back)
        return start, start + timedelta(days=1)
    if kind == "week":
        start = week_start(today) - timedelta(weeks=back)
        return start, start + timedelta(weeks=1)
    start = _months_back(today, back)
    return start, start + timedelta(days=calendar.monthrange(start.year, start.month)[1])


def period_days(kind: str, today: date, back: int) -> int:
    """Days in the period ``back`` periods before the current one (the current
    one counts the days so far, today included)."""
    start, end = period_bounds(kind, today, back)
    return (today - start).days + 1 if back == 0 else (end - start).days


def note_tier_reading(readout: Readout, el: ElementReadout, now: float | None) -> None:
    """Called when ``el``'s import tier registers have just been read: the
    first reading of a GB local day within :data:`MARK_TOLERANCE_S` of its
    midnight becomes that day's :class:`TierMark`."""
    t = han_clock(readout, now)
    if t is None:
        return
    day = local_date(t)
    if day in el.day_marks or t - local_midnight(day) > MARK_TOLERANCE_S:
        return
    registers = {tier: raw for (d, tier), raw in el.tiers.items() if d == IMPORT}
    if not registers:
        return
    prices = {tier: raw for (d, tier), raw in el.prices.items() if d == IMPORT}
    el.day_marks[day] = TierMark(t, registers, prices, el.standing_charge)
    for old in [d for d in el.day_marks if (day - d).days > MARK_KEEP_DAYS]:
        del el.day_marks[old]


def _segment(el: ElementReadout, before: Mapping[int, int], after: Mapping[int, int],
             prices: Mapping[int, int], standing: int | None, days: int) -> Decimal | None:
    cost = Decimal(0)
    for tier in sorted(before.keys() | after.keys()):
        if tier not in before or tier not in after or after[tier] < before[tier]:
            return None  # a tier appeared, or a register went back: no cost to be had
        used = after[tier] - before[tier]
        if used == 0:
            continue
        price = el.money(prices.get(tier))
        kwh = el.kwh(used)
        if price is None or kwh is None:
            return None
        cost += kwh * price
    if standing is not None:
        charge = el.money(standing)
        if charge is None:
            return None
        cost += charge * days
    return cost


def element_period_cost(el: ElementReadout, kind: str, back: int, today: date) -> Decimal | None:
    """One element's cost of a period from its tier marks (see the module's notes)."""
    start, end = period_bounds(kind, today, back)
    last_day = today if back == 0 else end
    marks = sorted((d, m) for d, m in el.day_marks.items() if start <= d <= last_day)
    if not marks or marks[0][0] != start or (back and marks[-1][0] != end):
        return None
    cost = Decimal(0)
    for (d0, m0), (d1, m1) in pairwise(marks):
        part = _segment(el, m0.registers, m1.registers, m1.prices, m1.standing_charge, (d1 - d0).days)
        if part is None:
            return None
        cost += part
    if back == 0:
        d0, m0 = marks[-1]
        registers = {tier: raw for (d, tier), raw in el.tiers.items() if d == IMPORT}
        prices = {tier: raw for (d, tier), raw in el.prices.items() if d == IMPORT}
        part = _segment(el, m0.registers, registers, prices, el.standing_charge, (today - d0).days + 1)
        if part is None:
            return None
        cost += part
    return cost


def period_import(readout: Readout, kind: str, back: int) -> Split:
    """Import of both elements in a period, from the meter's own history attributes."""
    return split(readout, lambda el: el.kwh(el.history.get((kind, IMPORT, back))))


def period_cost(readout: Readout, kind: str, back: int, now: float | None) -> Split:
    today = han_day(readout, now)
    if today is None:
        return Split(None, None, None)
    return split(readout, lambda el: element_period_cost(el, kind, back, today))


# -- JSON ---------------------------------------------------------------------------------------
def premises_json(readout: Readout, now: float | None = None, ambient: Classifier | None = None,
                  depth: Mapping[str, int] | None = None) -> dict[str, Any]:
    """The premises' figures now and per period, each with its split.  Ambient
    per element is the meter's own IAmbientConsumptionIndicator; the total's
    level needs the display's thresholds (``ambient``)."""
    imp = import_now(readout)

    def indicator(role: str) -> str | None:
        el = readout.by_role(role)
        value = None if el is None else el.ambient
        return AMBIENT_LEVELS[value] if value is not None and 0 <= value < len(AMBIENT_LEVELS) else None

    periods: dict[str, Any] = {}
    for kind in KINDS:
        for back in range((depth or {}).get(kind, 0) + 1):
            periods[f"{kind}:{back}"] = {
                "import_kwh": period_import(readout, kind, back).to_json(),
                "cost": period_cost(readout, kind, back, now).to_json(),
            }
    return {
        "now": {
            "import_kw": imp.to_json(),
            "cost_per_hour": cost_now(readout).to_json(),
            "ambient": {"total": None if ambient is None else ambient.level(imp.total),
                        "primary": indicator("primary"), "secondary": indicator("secondary")},
        },
        "periods": periods,
    }
