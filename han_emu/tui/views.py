"""The figures the screens show, computed from a display's readout.

Pure functions over :class:`~han_emu.readout.model.Readout`: the widgets only
format what these return, and the tests compare these with the meter model.
Nothing here invents a value: what the display has not received is None and
is shown as a dash.

Both elements: import, cost and the consumption of each period are the
premises' (primary plus secondary element), with the split; the cost of a
period comes from each tier's register and price (``han_emu.readout.costs``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from han_emu.meter.gbtime import HALF_HOUR, local_midnight, week_start
from han_emu.readout import costs
from han_emu.readout.costs import Split, period_days as period_days
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
    """Consumption (and its cost) of one period, both elements, with the secondary's export."""

    label: str
    import_kwh: Decimal | None
    cost: Decimal | None
    export_kwh: Decimal | None
    import_split: Split = Split(None, None, None)
    cost_split: Split = Split(None, None, None)


def clock_now(readout: Readout, now: float | None) -> float | None:
    """The HAN time the display keeps (see :func:`han_emu.readout.costs.han_clock`)."""
    return costs.han_clock(readout, now)


def local_day(readout: Readout, now: float | None) -> date | None:
    return costs.han_day(readout, now)


def tier_rows(el: ElementReadout | None, direction: str) -> list[TierRow]:
    if el is None:
        return []
    active = el.active_tier.get(direction)
    tiers = sorted({t for d, t in el.tiers if d == direction} | {t for d, t in el.prices if d == direction})
    return [TierRow(t, el.kwh(el.tiers.get((direction, t))), el.money(el.prices.get((direction, t))), t == active)
            for t in tiers]


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
    """Import consumption and cost of both elements (with the split) and the
    secondary element's export for one period of the IHD's history."""
    sec = readout.by_role("secondary")
    imports = costs.period_import(readout, kind, back)
    cost = costs.period_cost(readout, kind, back, now)
    exp = sec.kwh(sec.history.get((kind, EXPORT, back))) if sec is not None else None
    return PeriodRow(_label(kind, back, local_day(readout, now)), imports.total, cost.total, exp, imports, cost)


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
