"""Charts of airtime per hour against the GB-868 duty-cycle thresholds (matplotlib, Agg).

A chart is built as a matplotlib :class:`~matplotlib.figure.Figure` on the Agg
canvas (no display, no pyplot global state, safe in threads and tests) and
rendered to PNG bytes; writing the file is the caller's business.

Each transmitter's airtime is drawn per hour of the run as a staircase: the
buckets are whole hours, so a flat step is what the numbers say.  The
thresholds are per *rolling* hour; an hourly bucket under a line can still
hide a rolling hour above it, which is why the reports also give the peak
rolling hour.  2.4 GHz lines (the hub's leg to the ESME) are dotted: they are
measured, and no threshold applies to them.

matplotlib is imported here only, and this module only by the command line,
so the rest of the package starts without it.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MultipleLocator

from han_emu.air.phy import phy_named

if TYPE_CHECKING:
    from han_emu.study.compare import Comparison, DutyReport

THRESHOLDS: Mapping[str, tuple[str, str]] = {
    "limited": ("Limited", "#d99a00"),
    "critical": ("Critical", "#e0561b"),
    "regulated": ("Regulated", "#b00020"),
}
"""Threshold key -> (label, colour), lowest first."""

PALETTE = ("#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22")
HUB_COLOUR = "#000000"
SIZE_IN = (10.0, 5.6)
SUBTITLE_WIDTH = 95
"""Characters per subtitle line: it must fit over the plot area."""
ZOOM_BELOW = 0.05
"""Traffic peaking under this share of the lowest threshold also gets a zoomed inset."""
DPI = 100


@dataclass(frozen=True)
class Line:
    """One series of airtime per hour (seconds in each whole hour of the run)."""

    label: str
    hours_s: Sequence[float]
    colour: str | None = None
    style: str = "-"
    """matplotlib line style: "-" GB-868, ":" 2.4 GHz (measured only), "--" a baseline."""


def hourly_figure(lines: Sequence[Line], thresholds: Mapping[str, float], *, title: str,
                  subtitle: str = "", start: float | None = None, legend_title: str = "transmitter") -> Figure:
    """Staircases of airtime per hour with the thresholds drawn and labelled.

    ``thresholds`` maps "limited"/"critical"/"regulated" to seconds per hour;
    ``start`` (POSIX seconds) puts UTC times of day on the hour axis, else it
    counts hours from the first frame.
    """
    fig = Figure(figsize=SIZE_IN, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    n = max((len(line.hours_s) for line in lines), default=0)
    edges = list(range(max(n, 1) + 1))
    for i, line in enumerate(lines):
        values = list(line.hours_s) + [0.0] * (n - len(line.hours_s))
        if not values:
            values = [0.0]
        ax.stairs(values, edges[:len(values) + 1], label=line.label, linestyle=line.style, linewidth=1.8,
                  color=line.colour or PALETTE[i % len(PALETTE)], baseline=None)
    _thresholds(ax, thresholds)
    peak = max([v for line in lines for v in line.hours_s] + [0.0])
    top = max([peak] + list(thresholds.values()) + [1e-3])
    ax.set_ylim(0, top * 1.12)
    ax.set_xlim(0, len(edges) - 1)
    _hour_axis(ax, len(edges) - 1, start)
    if thresholds and 0 < peak < ZOOM_BELOW * min(thresholds.values()):
        _zoom(ax, lines, edges, n, peak)
    ax.set_ylabel("airtime per hour (s)")
    percent = ax.secondary_yaxis("right", functions=(lambda s: s / 36.0, lambda p: p * 36.0))
    percent.set_ylabel("duty cycle (% of the hour)")
    ax.grid(True, axis="y", color="#dddddd", linewidth=0.6)
    ax.grid(True, axis="x", color="#eeeeee", linewidth=0.5)
    ax.set_axisbelow(True)
    fig.suptitle(title, fontsize=13, fontweight="bold")
    if subtitle:
        ax.set_title(textwrap.fill(subtitle, SUBTITLE_WIDTH), fontsize=9, color="#444444")
    ax.legend(loc="upper left", bbox_to_anchor=(1.1, 1.0), fontsize="small", title=legend_title,
              title_fontsize="small", frameon=False)
    return fig


def _zoom(ax: Any, lines: Sequence[Line], edges: list[int], n: int, peak: float) -> None:
    """An inset at the traffic's own scale: lines far below the thresholds would
    otherwise sit flat on the axis."""
    inset = ax.inset_axes((0.08, 0.39, 0.45, 0.23))  # between the Limited and Critical lines
    for i, line in enumerate(lines):
        values = (list(line.hours_s) + [0.0] * (n - len(line.hours_s))) or [0.0]
        inset.stairs(values, edges[:len(values) + 1], linestyle=line.style, linewidth=1.4,
                     color=line.colour or PALETTE[i % len(PALETTE)], baseline=None)
    inset.set_ylim(0, peak * 1.15)
    inset.set_xlim(0, len(edges) - 1)
    inset.set_title(f"zoomed: 0 to {peak * 1.15:.3g} s", fontsize=8)
    inset.set_ylabel("s", fontsize=8)
    inset.tick_params(labelsize=7)
    inset.xaxis.set_major_locator(MultipleLocator(_hour_step(len(edges) - 1)))
    inset.xaxis.set_major_formatter(ax.xaxis.get_major_formatter())
    inset.grid(True, axis="y", color="#dddddd", linewidth=0.5)


def _thresholds(ax: Any, thresholds: Mapping[str, float]) -> None:
    for key, value in thresholds.items():
        name, colour = THRESHOLDS.get(key, (key.title(), "#b00020"))
        text = f"{name} {value:g} s/h ({value / 36.0:.2f} %)"
        ax.axhline(value, color=colour, linestyle="--", linewidth=1.2, label=text)
        ax.text(0.995, value, text, transform=ax.get_yaxis_transform(), ha="right", va="bottom",
                fontsize=8, color=colour)


def _hour_step(hours: int) -> int:
    """Hours between labelled ticks: at most about a dozen labels."""
    return next((s for s in (1, 2, 3, 4, 6, 12, 24) if hours <= 12 * s), -(-hours // 12))


def _hour_axis(ax: Any, hours: int, start: float | None) -> None:
    step = _hour_step(hours)
    ax.xaxis.set_major_locator(MultipleLocator(step))
    if step > 1:
        ax.xaxis.set_minor_locator(MultipleLocator(1))
    if start is None:
        ax.set_xlabel("hours from the first frame (h)")
        return
    ax.set_xlabel("time of day (UTC), start of each hour")

    def clock(x: float, _pos: int) -> str:
        return datetime.fromtimestamp(start + x * 3600.0, timezone.utc).strftime("%H:%M")

    ax.xaxis.set_major_formatter(FuncFormatter(clock))


def png_bytes(fig: Figure) -> bytes:
    """The figure as a PNG (no timestamp in it: the same chart gives the same bytes)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


# -- the study's reports ------------------------------------------------------------------

def _label(key: str, name: str) -> str:
    return key if not name or name == key else f"{name} ({key})"


def _thresholds_of(report: DutyReport) -> dict[str, float]:
    if report.limits is None:
        return {}
    return {"limited": report.limits.limited, "critical": report.limits.critical,
            "regulated": report.limits.suspended}


def report_figure(report: DutyReport) -> Figure:
    """One capture or simulation: every transmitter, the thresholds, the 2.4 GHz leg."""
    phy = phy_named(report.phy).band
    lines: list[Line] = []
    others = 0
    for key, dev in sorted(report.devices.items(), key=lambda kv: (kv[0] != "0x0000", -kv[1].airtime_s)):
        colour = HUB_COLOUR if key == "0x0000" else PALETTE[others % len(PALETTE)]
        others += key != "0x0000"
        lines.append(Line(f"{_label(key, dev.name)}: peak {dev.peak_hour_s:.3g} s", dev.hours_s, colour))
    for key, dev in report.leg.items():
        lines.append(Line(f"{dev.name} ({key}) on the 2.4 GHz leg: peak {dev.peak_hour_s:.3g} s", dev.hours_s,
                          HUB_COLOUR if key == "0x0000" else "#777777", ":"))
    extra = report.extra
    start = extra.get("start")
    if report.source == "simulation":
        variant = "with MP184" if extra.get("variant") == "with_mp184" else "without MP184"
        n = extra.get("sub_ghz_devices", len(report.devices) - 1)
        title = f"{phy} airtime per hour: virtual HAN, {n} sub-GHz display{'s' * (n != 1)}, {variant}"
        subtitle = (f"page {extra.get('page', 28)} channel {extra.get('channel', 0)}, "
                    f"{_duration(report.duration_s)} of virtual time")
    else:
        title = f"{phy} airtime per hour: {_basename(report.source)}"
        subtitle = f"{_duration(report.duration_s)} of capture"
        if report.limits is None:
            subtitle += ", measured (no duty-cycle rule on 2.4 GHz)"
    if start is not None:
        subtitle += f" from {datetime.fromtimestamp(start, timezone.utc):%Y-%m-%d %H:%M} UTC"
    if report.limits is not None:
        subtitle += "; thresholds and peaks per rolling hour"
    if report.leg:
        subtitle += "; dotted: 2.4 GHz, measured, not regulated"
    return hourly_figure(lines, _thresholds_of(report), title=title, subtitle=subtitle, start=start)


def comparison_figure(comparisons: Sequence[Comparison]) -> Figure:
    """The MP184 study: the hub's airtime per hour with (solid) and without
    (dashed) the MP184 items for each number of sub-GHz displays."""
    if not comparisons:
        raise ValueError("no comparison to draw")
    lines = []
    for i, c in enumerate(comparisons):
        colour = PALETTE[i % len(PALETTE)]
        n = c.sub_ghz_devices
        for rep, style, variant in ((c.with_mp184, "-", "with"), (c.without_mp184, "--", "without")):
            hub = rep.hub
            if hub is not None:
                lines.append(Line(f"{n} display{'s' * (n != 1)}, {variant} MP184: peak {hub.peak_hour_s:.3g} s",
                                  hub.hours_s, colour, style))
    first = comparisons[0].with_mp184
    extra = first.extra
    counts = ", ".join(str(c.sub_ghz_devices) for c in comparisons)
    subtitle = (f"page {extra.get('page', 28)} channel {extra.get('channel', 0)}, "
                f"{_duration(first.duration_s)} of virtual time, {counts} sub-GHz display(s); "
                "thresholds and peaks per rolling hour")
    return hourly_figure(lines, _thresholds_of(first), title="MP184 impact on the hub's GB-868 airtime per hour",
                         subtitle=subtitle, start=extra.get("start"), legend_title="hub (0x0000) with")


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:g} h"
    if seconds >= 60:
        return f"{seconds / 60:.3g} min"
    return f"{seconds:.3g} s"


def _basename(path: str) -> str:
    return path.replace("\\", "/").rsplit("/", 1)[-1]
