"""Number formatting and the small text charts the screens use."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from decimal import Decimal

from rich.text import Text

from han_emu.meter.gbtime import local_datetime, utc_offset

DASH = "-"
_BLOCKS = " ▁▂▃▄▅▆▇█"


def kwh(value: Decimal | None) -> str:
    return DASH if value is None else f"{value:.3f} kWh"


def kw(value: Decimal | None) -> str:
    return DASH if value is None else f"{value:.3f} kW"


def gbp(value: Decimal | None, places: int = 2) -> str:
    return DASH if value is None else f"£{value:.{places}f}"


def price(value: Decimal | None) -> str:
    return DASH if value is None else f"£{value:.4f}/kWh"


def utc(ts: float | None) -> str:
    return DASH if ts is None else datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def gb_local(ts: float | None) -> str:
    """GB local wall time with its zone name (GMT or BST)."""
    if ts is None:
        return DASH
    zone = "BST" if utc_offset(ts) else "GMT"
    return local_datetime(ts).strftime("%a %d %b %Y %H:%M:%S ") + zone


def clock(ts: float | None) -> str:
    return DASH if ts is None else datetime.fromtimestamp(ts, timezone.utc).strftime("%H:%M:%S")


def bar_chart(values: Sequence[Decimal | float | None], height: int = 4, top: float | None = None,
              style: str = "green", width: int = 1) -> Text:
    """Vertical bars, ``width`` columns per value, ``height`` rows of eighth blocks.

    Missing values are drawn as a dim dot on the baseline so gaps are visible.
    ``top`` fixes the full-scale value (the largest value by default).
    """
    numbers = [None if v is None else float(v) for v in values]
    scale = top if top is not None else max((v for v in numbers if v is not None), default=0.0)
    levels = [None if v is None else (0 if scale <= 0 else round(max(0.0, v) / scale * height * 8))
              for v in numbers]
    text = Text()
    for row in range(height, 0, -1):
        floor = (row - 1) * 8
        for level in levels:
            if level is None:
                text.append(("·" if row == 1 else " ") * width, style="dim")
            else:
                text.append(_BLOCKS[max(0, min(8, level - floor))] * width, style=style)
        if row > 1:
            text.append("\n")
    return text
