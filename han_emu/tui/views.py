"""The figures the screens show, computed from a display's readout.

Pure functions over :class:`~han_emu.readout.model.Readout`: the widgets only
format what these return, and the tests compare these with the meter model.
Nothing here invents a value: what the display has not received is None and
is shown as a dash.

Cost: the HAN carries consumption and tier prices, not cost.  Like an IHD
that was not watching all along, a period's cost is its consumption at the
average import price weighted by the meter's own tier registers, plus the
standing charge for the days of the period (see :func:`period_cost`).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from han_emu.meter.gbtime import HALF_HOUR, local_datetime, local_midnight, week_start
from han_emu.readout.model import HISTORY_DEPTH, ElementReadout, Readout
# The IHD screen's ambient levels are the ESI's own: one class, one setting.
from han_emu.server.metering import AmbientThresholds as AmbientThresholds

IMPORT = "delivered"
EXPORT = "received"
SLOT = HALF_HOUR


@dataclass(frozen=True)
class TierRow:
    tier: int
    kwh: Decimal | None
    price: Decimal | None
    active: bool


@dataclass(frozen=True)
class PeriodRow:
    """Consumption (and its cost) of one period, with the secondary's export."""

    label: str
    import_kwh: Decimal | None
    cost: Decimal | None
    export_kwh: Decimal | None


def clock_now(readout: Readout, now: float | None) -> float | None:
    """The HAN time the display keeps: the Time cluster's value, run on by the
    display's own clock since it was read."""
    if readout.time_utc is None:
        return None
    if now is None or readout.time_read_at is None:
        return readout.time_utc
    return readout.time_utc + (now - readout.time_read_at)


def local_day(readout: Readout, now: float | None) -> date | None:
    t = clock_now(readout, now)
    return None if t is None else local_datetime(t).date()


def tier_rows(el: ElementReadout | None, direction: str) -> list[TierRow]:
    if el is None:
        return []
    active = el.active_tier.get(direction)
    tiers = sorted({t for d, t in el.tiers if d == direction} | {t for d, t in el.prices if d == direction})
    return [TierRow(t, el.kwh(el.tiers.get((direction, t))), el.money(el.prices.get((direction, t))), t == active)
            for t in tiers]


def average_import_price(el: ElementReadout) -> Decimal | None:
    """Import price weighted by the tier registers (the current price if they are empty)."""
    rows = [r for r in tier_rows(el, IMPORT) if r.kwh is not None]
    total = sum((r.kwh for r in rows if r.kwh is not None), Decimal(0))
    if total > 0 and all(r.price is not None for r in rows):
        return sum((r.kwh * r.price for r in rows if r.kwh is not None and r.price is not None), Decimal(0)) / total
    return el.price_now(IMPORT)


def period_days(kind: str, today: date, back: int) -> int:
    """Days in the period ``back`` periods before the current one (the current
    one counts the days so far, today included)."""
    if kind == "day":
        return 1
    if kind == "week":
        return (today - week_start(today)).days + 1 if back == 0 else 7
    if back == 0:
        return today.day
    first = today.replace(day=1)
    for _ in range(back):
        first = (first - timedelta(days=1)).replace(day=1)
    return calendar.monthrange(first.year, first.month)[1]


def period_cost(el: ElementReadout, kwh: Decimal | None, days: int) -> Decimal | None:
    """``kwh`` at the average import price plus ``days`` of standing charge."""
    price = average_import_price(el)
    if kwh is None or price is None:
        return None
    standing = el.money(el.standing_charge) or Decimal(0)
    return kwh * price + standing * days


def _label(kind: str, back: int, today: date | None) -> str:
    if back == 0:
        return {"day": "Today", "week": "This week", "month": "This month"}[kind]
    if today is not None and kind == "day":
        return (today - timedelta(days=back)).strftime("%a %d %b")
    if today is not None and kind == "month":
        first = today.replace(day=1)
        for _ in range(back):
            first = (first - timedelta(days=1)).replace(day=1)
        return first.strftime("%b %Y")
    if today is not None and kind == "week":
        return "w/c " + (week_start(today) - timedelta(weeks=back)).strftime("%d %b")
    return f"-{back}"


def period_row(readout: Readout, kind: str, back: int, now: float | None) -> PeriodRow:
    """Import consumption and cost (primary element) and the secondary element's
    export for one period of the IHD's history."""
    pri, sec = readout.by_role("primary"), readout.by_role("secondary")
    today = local_day(readout, now)
    imp = cost = exp = None
    if pri is not None:
        imp = pri.kwh(pri.history.get((kind, IMPORT, back)))
        if today is not None:
            cost = period_cost(pri, imp, period_days(kind, today, back))
    if sec is not None:
        exp = sec.kwh(sec.history.get((kind, EXPORT, back)))
    return PeriodRow(_label(kind, back, today), imp, cost, exp)


def current_periods(readout: Readout, now: float | None) -> list[PeriodRow]:
    return [period_row(readout, kind, 0, now) for kind in ("day", "week", "month")]


def history(readout: Readout, kind: str, now: float | None) -> list[PeriodRow]:
    """The previous periods a SMETS2 IHD keeps: 8 days, 5 weeks, 13 months."""
    return [period_row(readout, kind, back, now) for back in range(1, HISTORY_DEPTH[kind] + 1)]


def export_profile_days(readout: Readout, now: float | None, days: int = 3) -> list[tuple[date, list[Decimal | None]]]:
    """The secondary element's half-hourly export (profile channel 1) for today
    and the days before, 48 slots a day in GB local time, newest day first.
    Slots the display has not fetched are None."""
    sec = readout.by_role("secondary")
    today = local_day(readout, now)
    if sec is None or today is None:
        return []
    intervals = sec.profile.get(1, {})
    out = []
    for back in range(days):
        day = today - timedelta(days=back)
        start = local_midnight(day)
        end = local_midnight(day + timedelta(days=1))
        slots = (end - start) // SLOT  # 46 or 50 on clock-change days
        values = [sec.kwh(intervals.get(start + (i + 1) * SLOT)) for i in range(slots)]
        out.append((day, values))
    return out


def mpans(readout: Readout) -> dict[str, str | None]:
    pri, sec = readout.by_role("primary"), readout.by_role("secondary")
    return {
        "primary import": pri.site_id if pri else None,
        "primary export": pri.export_mpan if pri else None,
        "secondary import": sec.site_id if sec else None,
        "secondary export": sec.export_mpan if sec else None,
    }
