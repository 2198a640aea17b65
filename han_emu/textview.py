"""A plain-text view of the meter: the live display before the dashboard, and
the fallback when stdout is not a terminal."""

from __future__ import annotations

from datetime import datetime, timezone

from han_emu.meter.gbtime import local_datetime
from han_emu.meter.model import Channel, TwinMeter
from han_emu.meter.settings import ELEMENTS


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
