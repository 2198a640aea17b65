"""A plain-text view of the meter: the live display before the dashboard, and
the fallback when stdout is not a terminal."""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import datetime, timezone
from typing import Any

from han_emu.meter.gbtime import local_datetime
from han_emu.meter.model import Channel, TwinMeter
from han_emu.meter.settings import ELEMENTS
from han_emu.readout import costs


def _kwh(wh: float | int | None) -> str:
    return "      -" if wh is None else f"{wh / 1000:10.3f}"


def render(meter: TwinMeter) -> str:
    """What the meter holds now, as a block of text."""
    lines = []
    utc = datetime.fromtimestamp(meter.time, timezone.utc)
    local = local_datetime(meter.time)
    lines.append(f"han-emu  twin-element ESME {meter.settings.serial}")
    lines.append(f"time     {utc:%Y-%m-%d %H:%M:%S} UTC   ({local:%H:%M} GB local)")
    lines.append("")
    today = meter.today()
    for name in ELEMENTS:
        el = meter.elements[name]
        f = el.flow
        lines.append(
            f"{name:<9} import {f.import_w / 1000:6.2f} kW   export {f.export_w / 1000:6.2f} kW   "
            f"demand {f.demand_w / 1000:+6.2f} kW"
        )
        for direction in ("import", "export"):
            ch = Channel.of(name, direction)
            tariff = meter.tariff(name, direction)
            tier = meter.active_tier(name, direction)
            reg = meter.reading(ch)
            mpan = meter.settings.mpans.of(name, direction) or "-"
            line = f"  {direction:<6} {_kwh(reg)} kWh  today {_kwh(meter.daily.day(today, ch, reg))} kWh  MPAN {mpan}"
            lines.append(line)
            if tariff is not None and tier is not None:
                tiers = el.import_tiers if direction == "import" else el.export_tiers
                cells = []
                for i, wh in enumerate(tiers, start=1):
                    mark = "*" if i == tier else " "
                    cells.append(f"{mark}T{i} {wh / 1000:.3f} kWh @ £{tariff.price_of(i):.4f}")
                lines.append("         " + "   ".join(cells))
        lines.append("")
    return "\n".join(lines)


def _fmt(value, spec: str, unit: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{unit}"


def render_readout(name: str, readout) -> str:
    """What a simulated display shows, one element per line block."""
    lines = [f"{name} sees:"]
    for el in sorted(readout.elements.values(), key=lambda e: e.endpoint):
        imp = el.kwh(el.summation.get("delivered"))
        exp = el.kwh(el.summation.get("received"))
        tier = el.active_tier.get("delivered")
        line = (
            f"  {el.role:<9} ep {el.endpoint}  import {_fmt(el.import_kw(), '.3f', ' kW')}"
            f"  export {_fmt(el.export_kw(), '.3f', ' kW')}  £/h {_fmt(el.cost_per_hour(), '.3f')}"
            f"  imp {_fmt(imp, '.3f', ' kWh')}  exp {_fmt(exp, '.3f', ' kWh')}  tier {_fmt(tier, 'd')}"
        )
        lines.append(line)
        rx = sorted((t, v) for (d, t), v in el.tiers.items() if d == "received")
        if rx:
            active = el.active_tier.get("received")
            cells = []
            for t, raw in rx:
                price = el.money(el.prices.get(("received", t)))
                mark = "*" if t == active else " "
                cells.append(f"{mark}E{t} {_fmt(el.kwh(raw), '.3f')} kWh @ £{_fmt(price, '.4f')}")
            lines.append("            " + "  ".join(cells))
        if el.export_mpan or el.site_id:
            lines.append(f"            MPAN import {el.site_id or '-'}  export {el.export_mpan or '-'}")
    imp, cost = costs.import_now(readout), costs.cost_now(readout)
    lines.append(f"  premises  import {_fmt(imp.total, '.3f', ' kW')} (primary {_fmt(imp.primary, '.3f')}"
                 f" + secondary {_fmt(imp.secondary, '.3f')})  £/h {_fmt(cost.total, '.3f')}"
                 f" ({_fmt(cost.primary, '.3f')} + {_fmt(cost.secondary, '.3f')})")
    return "\n".join(lines)


async def show_live(han: Any, *, terminal: bool, duration: float | None, interval: float, speed: float) -> None:
    """Refresh a text view of the meter and the first display until stopped or ``duration``
    wall seconds have passed: redrawn each second on a terminal, appended every ``interval``
    seconds otherwise."""
    deadline = None if duration is None else time.monotonic() + duration
    period = 1.0 if terminal else interval
    while deadline is None or time.monotonic() < deadline:
        text = render(han.meter)
        if han.devices:
            text += "\n" + render_readout(han.devices[0].name, han.devices[0].readout)
        if terminal:
            sys.stdout.write("\x1b[H\x1b[2J" + text + "\n(Ctrl-C to stop)\n")
        else:
            sys.stdout.write(text + "\n\n")
        sys.stdout.flush()
        wait = period if deadline is None else max(0.0, min(period, deadline - time.monotonic()))
        await asyncio.sleep(wait * speed)
